/**
 * iso14443-text: ISO 14443 (MIFARE and other 13.56 MHz) card readers that print the card's UID as
 * a text line. Source: shared/protocols/readers.md, "ISO 14443 (MIFARE) UIDs" (4, 7 or 10 bytes;
 * readers disagree on byte order, some printing the UID reversed, and on text form: hex, decimal of
 * the 4-byte value, decimals of each byte concatenated; the station normalises to one configured
 * form) and "ascii-line" (one identifier per line, CR/LF, optional STX/ETX).
 *
 * Why a protocol of its own rather than options on ascii-line: the UID is a number with a length
 * and a byte order, not a string, so a line must be *parsed* (hex or decimal, 4/7/10 bytes) and
 * *rewritten* (the configured order and form), and a line that is no UID of a valid length must be
 * discarded and counted; ascii-line's contract (contract.md section 4: the id is the line, or a
 * pattern's capture) stays as it is. Lines are framed and unwrapped exactly as ascii-line's
 * (`decodeAsciiLine`, same `pattern` option), then:
 *
 * - `uid_text: hex` (default): 8, 14 or 20 hex digits (4, 7, 10 bytes), either case, optionally
 *   with one separator between every two digits (`04:A2:2B:1C`, `04 A2 2B 1C`, `04-A2-2B-1C`).
 * - `uid_text: dec`: the 4-byte UID as exactly 10 decimal digits, zero-padded (`0472621572`), at
 *   most 4294967295. Fewer digits are refused, not padded: a line cut when the port opened
 *   (`2621572`) would otherwise be another card. 7- and 10-byte UIDs have no decimal text here.
 * - `uid_byte_order`: `msb_first` (default) when the reader prints UID0, the first byte the card
 *   sends in anticollision (ISO/IEC 14443-3; the manufacturer byte, 04 for NXP, of 7-byte UIDs),
 *   first, as NFC tools show it; `lsb_first` when it prints the bytes reversed (for `dec`: when UID0
 *   is the *least* significant byte of the value, as many 10-digit "IC card" readers print it).
 *
 * The card id is then written in `card_id_format` (`hex`, default: 2 upper-case hex characters per
 * byte; `dec10`: a 4-byte UID as 10-digit decimal) with `card_id_byte_order` (default
 * `msb_first`: UID0 first / most significant). So a hex reader printing `04A22B1C` and a decimal
 * reader printing `0472621572` (the reversed value 0x1C2BA204) both give `04A22B1C`.
 *
 * Never guessed: a line of another length, with other characters, with mixed separators, or a
 * decimal of the wrong size is `discarded` with the reason; a UID of all 00 or all FF is `noise`.
 * "Decimals of each byte concatenated" (readers.md) is not accepted: without padding it cannot be
 * split back into bytes (`4162431628` could be 4-162-43-16-28 or 41-62-43-162-8); set such a
 * reader to hex.
 */
import { z } from "zod";
import { CR, ETX, LF, STX } from "../bytes.js";
import { defineProtocol, serial8N1 } from "../device-protocol.js";
import { LineFramer } from "../line-framer.js";
import type { BufferedFramer, ReaderFrame } from "../types.js";
import { ASCII_LINE_MAX_BYTES, compileIdPattern, decodeAsciiLine, encodeAsciiLine, idPatternProblem, type IdPattern } from "./ascii-line.js";
import { hexOf } from "./card-id.js";

/** How a reader prints the UID. */
export const UID_TEXTS = ["hex", "dec"] as const;
export type UidText = (typeof UID_TEXTS)[number];
/** Byte orders: `msb_first` = UID0 first (most significant); `lsb_first` = reversed. */
export const UID_BYTE_ORDERS = ["msb_first", "lsb_first"] as const;
export type UidByteOrder = (typeof UID_BYTE_ORDERS)[number];
/** Card id forms of an ISO 14443 UID. */
export const ISO14443_CARD_FORMATS = ["hex", "dec10"] as const;
export type Iso14443CardFormat = (typeof ISO14443_CARD_FORMATS)[number];

/** UID lengths in bytes (ISO/IEC 14443-3: single, double, triple size). */
export const UID_LENGTHS: readonly number[] = [4, 7, 10];

/** What a station knows of its reader and its back office (the protocol's options, typed). */
export interface Iso14443Options {
  uidText?: UidText;
  uidByteOrder?: UidByteOrder;
  format?: Iso14443CardFormat;
  cardIdByteOrder?: UidByteOrder;
  pattern?: IdPattern;
}

/** The value of a hex digit's character code, or -1. */
function nibble(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * The digit values of a hex UID's text: hex digits only (`04A22B1C`), or pairs with one separator
 * (`:`, `-` or space, the same one throughout) between every two (`04:a2:2b:1c`); `null` for any
 * other text. (A loop rather than regular expressions: this runs for every line a reader sends.)
 */
function hexDigits(text: string): number[] | null {
  const digits: number[] = [];
  const separated = text.length >= 5 && nibble(text.charCodeAt(2)) < 0;
  const separator = separated ? text.charCodeAt(2) : -1;
  if (separated && separator !== 0x3a && separator !== 0x2d && separator !== 0x20) return null;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (separated && i % 3 === 2) {
      if (code !== separator) return null;
      continue;
    }
    const value = nibble(code);
    if (value < 0) return null;
    digits.push(value);
  }
  // With separators, every group is two digits: the text ends on a pair.
  if (separated && text.length % 3 !== 2) return null;
  return digits.length === 0 ? null : digits;
}

/**
 * The UID's bytes, UID0 first, from the text a reader printed.
 *
 * @returns the bytes, or `{problem}` saying why the text is no UID of a valid length
 */
export function parseUid(text: string, uidText: UidText, order: UidByteOrder): Uint8Array | { problem: string } {
  let bytes: Uint8Array;
  if (uidText === "hex") {
    const digits = hexDigits(text);
    if (digits === null) return { problem: "not a hex UID (hex digits, optionally one separator : - or space between every two)" };
    if (digits.length % 2 !== 0 || !UID_LENGTHS.includes(digits.length / 2)) {
      return { problem: `wrong length: ${digits.length} hex digits (expected 8, 14 or 20: a 4, 7 or 10-byte UID)` };
    }
    bytes = new Uint8Array(digits.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (digits[2 * i]! << 4) | digits[2 * i + 1]!;
  } else {
    if (!/^[0-9]+$/.test(text)) return { problem: "not a decimal UID (digits only)" };
    if (text.length !== 10) return { problem: `wrong length: ${text.length} digits (expected 10: a 4-byte UID, zero-padded)` };
    const value = Number(text);
    if (value > 0xffff_ffff) return { problem: `${text} is above 4294967295 (no 4-byte UID)` };
    bytes = Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
  }
  return order === "lsb_first" ? bytes.reverse() : bytes;
}

/**
 * Writes a UID (UID0 first) as a card id.
 *
 * @returns the id, or `{problem}` for `dec10` of a UID that is not 4 bytes
 */
export function formatUid(uid: Uint8Array, format: Iso14443CardFormat, order: UidByteOrder): string | { problem: string } {
  const bytes = order === "lsb_first" ? uid.slice().reverse() : uid;
  if (format === "hex") return hexOf(bytes);
  if (bytes.length !== 4) return { problem: `a ${bytes.length}-byte UID has no dec10 form (only 4-byte UIDs do)` };
  return ((bytes[0]! * 0x1000000) + (bytes[1]! << 16) + (bytes[2]! << 8) + bytes[3]!).toString().padStart(10, "0");
}

/**
 * Decodes one line (as the framer delimits it) into a card id.
 *
 * @returns `id`; `noise` for a UID of all 00 or all FF; `discarded` with the reason for a line that
 *   ascii-line would discard (framing, pattern), is no UID of a valid length, or has no form of the
 *   configured kind. Never throws.
 */
export function decodeIso14443Line(line: Uint8Array, opts: Iso14443Options = {}): ReaderFrame {
  const text = decodeAsciiLine(line, opts.pattern);
  if (text.kind !== "id") return text;
  const uid = parseUid(text.cardId, opts.uidText ?? "hex", opts.uidByteOrder ?? "msb_first");
  if (!(uid instanceof Uint8Array)) return { kind: "discarded", bytes: line.slice(), reason: uid.problem };
  if (uid.every((b) => b === 0) || uid.every((b) => b === 0xff)) {
    return { kind: "noise", bytes: line.slice(), reason: `UID all ${uid[0] === 0 ? "00" : "FF"}` };
  }
  const id = formatUid(uid, opts.format ?? "hex", opts.cardIdByteOrder ?? "msb_first");
  return typeof id === "string" ? { kind: "id", cardId: id } : { kind: "discarded", bytes: line.slice(), reason: id.problem };
}

/**
 * Writes a UID as a reader configured with `opts` prints it, then CR LF (simulators and tests).
 *
 * @param uidHex the UID, UID0 first, 8/14/20 hex characters
 * @throws RangeError for another `uidHex`, or `dec` of a UID that is not 4 bytes
 */
export function encodeIso14443(uidHex: string, opts: Pick<Iso14443Options, "uidText" | "uidByteOrder"> = {}): Uint8Array {
  const uid = parseUid(uidHex, "hex", "msb_first");
  if (!(uid instanceof Uint8Array)) throw new RangeError(`a UID is 8, 14 or 20 hex characters, got ${uidHex}`);
  const printed = opts.uidByteOrder === "lsb_first" ? uid.reverse() : uid;
  if (opts.uidText === "dec") {
    const id = formatUid(printed, "dec10", "msb_first");
    if (typeof id !== "string") throw new RangeError(id.problem);
    return encodeAsciiLine(id);
  }
  return encodeAsciiLine(hexOf(printed));
}

/** The options as typed values. */
function optionsOf(o: z.output<typeof iso14443Options>): Iso14443Options {
  return {
    uidText: o.uid_text,
    uidByteOrder: o.uid_byte_order,
    format: o.card_id_format,
    cardIdByteOrder: o.card_id_byte_order,
    ...(o.pattern !== undefined ? { pattern: compileIdPattern(o.pattern) } : {}),
  };
}

/**
 * A framer for an iso14443-text reader: lines as ascii-line frames them (CR, LF, CR LF or ETX; a
 * STX starts a frame; longer than {@link ASCII_LINE_MAX_BYTES}: discarded), each decoded with
 * {@link decodeIso14443Line}.
 */
export function createIso14443Framer(opts: Iso14443Options = {}): BufferedFramer<ReaderFrame> {
  return new LineFramer<ReaderFrame>({
    maxLineBytes: ASCII_LINE_MAX_BYTES,
    isTerminator: (b) => b === CR || b === LF || b === ETX,
    keepsTerminator: (b) => b === ETX,
    startByte: STX,
    decode: (line) => decodeIso14443Line(line, opts),
  });
}

const order = (what: string) =>
  z
    .enum(UID_BYTE_ORDERS)
    .default("msb_first")
    .describe(
      `${what}: msb_first = UID0 (the card's first byte, 04 for NXP 7-byte UIDs) first, or most significant in a ` +
        "decimal; lsb_first = the bytes reversed.",
    );

const iso14443Options = z.object({
  uid_text: z
    .enum(UID_TEXTS)
    .default("hex")
    .describe(
      "How the reader prints the UID: hex = 8, 14 or 20 hex digits (4, 7, 10-byte UIDs), optionally with : - or " +
        "space between bytes; dec = a 4-byte UID as exactly 10 decimal digits, zero-padded. Other lines are discarded.",
    ),
  uid_byte_order: order("Byte order the reader prints"),
  card_id_format: z
    .enum(ISO14443_CARD_FORMATS)
    .default("hex")
    .describe("How UIDs are written as card_id: hex = upper-case hex, 2 characters a byte; dec10 = a 4-byte UID as 10-digit decimal (longer UIDs are discarded)."),
  card_id_byte_order: order("Byte order of card_id"),
  pattern: z
    .string()
    .superRefine((source, ctx) => {
      const problem = idPatternProblem(source);
      if (problem !== undefined) {
        ctx.addIssue({ code: "custom", message: `expected ${problem.expected}, found ${JSON.stringify(source)} (${problem.reason})` });
      }
    })
    .optional()
    .describe(
      "Optional regular expression (RE2 syntax, as ascii-line's) a line must match; its first capture group, if " +
        "any, is the UID text (e.g. ^UID:([0-9A-F]+)$ for a reader with a prefix).",
    )
    .meta({ examples: ["^UID:([0-9A-F]+)$"] }),
});

/**
 * The iso14443-text registry entry (shared/protocols/readers.md, "ISO 14443 (MIFARE) UIDs"):
 * options `uid_text`, `uid_byte_order`, `card_id_format`, `card_id_byte_order`, `pattern`; 9600 8N1
 * by default (as ascii-line: readers.md gives no line settings for text-mode readers); `min_reads` 1
 * (one line per presentation). Its encoder writes `tag` (the UID in hex, UID0 first) as the reader
 * with these options prints it.
 */
export const iso14443Text = defineProtocol({
  name: "iso14443-text",
  kind: "reader",
  summary: "ISO 14443 (MIFARE) readers printing the card UID as text (hex or decimal, either byte order), one per line",
  source: "shared/protocols/readers.md, ISO 14443 (MIFARE) UIDs",
  port: serial8N1(9600),
  defaults: { minReads: 1 },
  options: iso14443Options,
  createFramer: (o) => createIso14443Framer(optionsOf(o)),
  decode: (line, o) => decodeIso14443Line(line, optionsOf(o)),
  encode: (sample, o) => encodeIso14443(sample.tag, { uidText: o.uid_text, uidByteOrder: o.uid_byte_order }),
});
