/**
 * em4100-ascii: 125 kHz EM4100 readers (RDM6300 / RDM630 and clones), transmit only.
 * Source of every layout fact here: shared/protocols/readers.md, section "em4100-ascii"; the
 * default card id form is fixed by contract.md section 4 (`card_id`).
 *
 * 14 bytes: `02` STX, ten ASCII hex characters (one version/customer byte, then four tag bytes), two
 * ASCII hex characters of the XOR of those five bytes, `03` ETX. Variant: 13 bytes, the checksum one
 * raw byte. A tag held in the field repeats its frame about every 50 ms; collapsing the repeats
 * into one presentation is the machine's job (`repeat_gap_ms`, `min_reads`), not the framer's.
 * Noise can produce frames that pass the checksum (readers.md); those whose five data bytes are all
 * `00` or all `FF` are decoded as `noise` (contract.md section 4, "Readers").
 */
import { z } from "zod";
import { ETX, STX, hexDigitByte, hexDigitValue, isHexDigit, latin1, toHex } from "../bytes.js";
import { defineProtocol, serial8N1 } from "../device-protocol.js";
import { COMPLETE, MORE, StxFramer, invalidVerdicts, type LayoutVerdict } from "../stx-framer.js";
import type { BufferedFramer, ReaderFrame } from "../types.js";
import { formatCardNumber } from "./card-id.js";

/**
 * How a tag is written as `cardId` (readers.md, "How the same tag is written"):
 * - `dec10`: "8H10D", the last four data bytes as a 10-digit zero-padded decimal (`0008844356`);
 *   the contract's default.
 * - `hex10`: the five data bytes as 10 upper-case hex characters (`100086F444`).
 * - `wiegand26`: "facility,card", the third data byte and the last two bytes in decimal
 *   (`134,62532`); this form drops a byte, so two tags can share it.
 * - `w26`: the same two numbers zero-padded to 3+5 digits as printed on cards (`134,62532`; tag
 *   `00005D1DA5` is `093,07589`); equal to the `w26` of the same tag read through a Wiegand-26 or
 *   Wiegand-34 reader (./card-id.ts).
 * - `hex`: the card number (the last four data bytes) as 8 upper-case hex characters (`0086F444`);
 *   equal to the `hex` of the same tag read through a Wiegand-34 reader.
 * The first three are the forms installed stations use; their output never changes.
 */
export const EM4100_CARD_FORMATS = ["dec10", "hex10", "wiegand26", "w26", "hex"] as const;

/** One of {@link EM4100_CARD_FORMATS} (config `readers[].card_id_format`). */
export type Em4100CardFormat = (typeof EM4100_CARD_FORMATS)[number];

/** Length of the standard frame (two hex checksum characters). */
export const EM4100_FRAME_BYTES = 14;
/** Length of the variant whose checksum is one raw byte. */
export const EM4100_RAW_CHECKSUM_FRAME_BYTES = 13;
const DATA_CHARS = 10;
const FIRST_DATA = 1;
const LAST_DATA = FIRST_DATA + DATA_CHARS - 1;
const CHECK = LAST_DATA + 1;

/** Which frame layout an encoder writes: 14 bytes with a hex checksum, or 13 with a raw one. */
export type Em4100Variant = "hex" | "raw";

/** The five data bytes of a frame whose positions 1..10 are hex characters. */
function dataBytes(frame: Uint8Array): Uint8Array {
  const data = new Uint8Array(5);
  for (let i = 0; i < 5; i++) {
    const hi = hexDigitValue(frame[FIRST_DATA + 2 * i] ?? 0);
    const lo = hexDigitValue(frame[FIRST_DATA + 2 * i + 1] ?? 0);
    data[i] = (hi << 4) | lo;
  }
  return data;
}

function xorOf(data: Uint8Array): number {
  return data.reduce((x, b) => x ^ b, 0);
}

/** Writes five data bytes as a card id in the given form. */
export function formatCardId(data: Uint8Array, format: Em4100CardFormat): string {
  const byte = (i: number): number => data[i] ?? 0;
  switch (format) {
    case "dec10": {
      const value = ((byte(1) << 24) >>> 0) + (byte(2) << 16) + (byte(3) << 8) + byte(4);
      return value.toString().padStart(10, "0");
    }
    case "hex10":
      return Array.from(data.subarray(0, 5), (b) => b.toString(16).toUpperCase().padStart(2, "0")).join("");
    case "wiegand26":
      return `${byte(2)},${(byte(3) << 8) + byte(4)}`;
    case "w26":
    case "hex":
      return formatCardNumber(data.subarray(1, 5), format) as string;
  }
}

/**
 * Judges a candidate frame after byte `length - 1` arrived. The 13/14-byte ambiguity resolves at
 * byte 12 (0-based): ETX there ends the raw-checksum variant; in the 14-byte layout it is the second
 * checksum character, a hex digit, never ETX.
 */
function checkLayout(frame: Uint8Array, length: number): LayoutVerdict {
  const i = length - 1;
  const b = frame[i] ?? -1;
  if (i >= FIRST_DATA && i <= LAST_DATA) return isHexDigit(b) ? MORE : INVALID["non-hex data character"];
  if (i === CHECK) return MORE; // a hex character, or the variant's raw checksum byte
  if (i === CHECK + 1) {
    if (b === ETX) return COMPLETE;
    return isHexDigit(b) && isHexDigit(frame[CHECK] ?? -1) ? MORE : INVALID["bad checksum characters"];
  }
  return b === ETX ? COMPLETE : INVALID["missing ETX"];
}

/** The framer's `invalid` verdicts, made once (`checkLayout` runs per byte). */
const INVALID = invalidVerdicts(["non-hex data character", "bad checksum characters", "missing ETX"]);

/**
 * Decodes one whole em4100-ascii frame (14 bytes, or the 13-byte raw-checksum variant); hex
 * characters are accepted in either case.
 *
 * @param frame the frame, STX to ETX
 * @param format how to write `cardId` (default `dec10`, the contract's form)
 * @returns `{kind: "id", cardId}`; `noise` with the frame and the reason when the checksum is right
 *   but the five data bytes are all `00` or all `FF` (contract.md section 4, "Readers": such frames are
 *   noise, never an id), or the card number (data bytes 2 to 5) is (no card carries number 0 or
 *   4294967295; a module's noise can pass the checksum with any version byte); or `discarded` with the frame and the reason (wrong length, framing, non-hex
 *   character, bad checksum). Other one-off frames that pass the checksum are left to `min_reads`.
 *   Never throws.
 */
export function decodeEm4100(frame: Uint8Array, format: Em4100CardFormat = "dec10"): ReaderFrame {
  const n = frame.length;
  if (n !== EM4100_FRAME_BYTES && n !== EM4100_RAW_CHECKSUM_FRAME_BYTES) return discarded(frame, "wrong frame length");
  if (frame[0] !== STX || frame[n - 1] !== ETX) return discarded(frame, "missing STX or ETX");
  // The five data bytes, without allocating: the version byte, then the card number (bytes 2-5,
  // big-endian, as dec10 prints it), and their XOR.
  let version = 0;
  let cardNumber = 0;
  let xor = 0;
  for (let i = 0; i < 5; i++) {
    const hi = hexDigitValue(frame[FIRST_DATA + 2 * i] ?? -1);
    const lo = hexDigitValue(frame[FIRST_DATA + 2 * i + 1] ?? -1);
    if (hi < 0 || lo < 0) return discarded(frame, "non-hex data character");
    const d = (hi << 4) | lo;
    xor ^= d;
    if (i === 0) version = d;
    else cardNumber = cardNumber * 256 + d;
  }
  let checksum: number;
  if (n === EM4100_FRAME_BYTES) {
    const hi = hexDigitValue(frame[CHECK] ?? -1);
    const lo = hexDigitValue(frame[CHECK + 1] ?? -1);
    if (hi < 0 || lo < 0) return discarded(frame, "bad checksum characters");
    checksum = (hi << 4) | lo;
  } else {
    checksum = frame[CHECK] ?? -1;
  }
  if (checksum !== xor) return discarded(frame, "bad checksum");
  if (cardNumber === 0 || cardNumber === ALL_FF) {
    const fill = cardNumber === 0 ? 0x00 : 0xff;
    // The five data bytes all 00 or all FF; else the card number alone (the four bytes after the
    // version byte, printed on the card as dec10) all 00 or all FF is no issued card either: it
    // would reach the events as 0000000000 or 4294967295 whatever the version byte says.
    const reason = version === fill ? NOISE_REASONS[fill].tag : NOISE_REASONS[fill].number;
    return { kind: "noise", bytes: frame.slice(), reason };
  }
  return { kind: "id", cardId: cardIdOf(frame, cardNumber, format) };
}

/** A card number whose four bytes are all FF. */
const ALL_FF = 0xffff_ffff;

/**
 * Why a frame that passes the checksum is noise, by the byte that fills its data (contract.md
 * section 4: data bytes all 00 or all FF are noise, never a tag).
 */
const NOISE_REASONS = {
  [0x00]: { tag: `tag data all ${toHex(Uint8Array.of(0x00))}`, number: `card number all ${toHex(Uint8Array.of(0x00))}` },
  [0xff]: { tag: `tag data all ${toHex(Uint8Array.of(0xff))}`, number: `card number all ${toHex(Uint8Array.of(0xff))}` },
} as const;

/**
 * `formatCardId` of a checked frame's data, from the frame itself: the data characters upper-cased
 * (hex10), or the card number (dec10, wiegand26).
 */
function cardIdOf(frame: Uint8Array, cardNumber: number, format: Em4100CardFormat): string {
  switch (format) {
    case "dec10":
      return cardNumber.toString().padStart(10, "0");
    case "hex10":
      return latin1(frame.subarray(FIRST_DATA, LAST_DATA + 1)).toUpperCase();
    case "wiegand26":
      return `${(cardNumber >>> 16) & 0xff},${cardNumber & 0xffff}`;
    case "w26":
      return `${((cardNumber >>> 16) & 0xff).toString().padStart(3, "0")},${(cardNumber & 0xffff).toString().padStart(5, "0")}`;
    case "hex":
      return latin1(frame.subarray(FIRST_DATA + 2, LAST_DATA + 1)).toUpperCase();
  }
}

/** A `discarded` result holding a copy of the frame (callers may reuse theirs). */
function discarded(frame: Uint8Array, reason: string): ReaderFrame {
  return { kind: "discarded", bytes: frame.slice(), reason };
}

/**
 * Encodes a tag as the reader sends it (for simulators and tests).
 *
 * @param tagHex10 the five data bytes as 10 hex characters, either case (`100086F444`)
 * @param variant `hex` (default): the 14-byte frame; `raw`: the 13-byte raw-checksum variant
 * @returns the frame, data and checksum characters in upper case
 * @throws RangeError when `tagHex10` is not exactly 10 hex characters
 */
export function encodeEm4100(tagHex10: string, variant: Em4100Variant = "hex"): Uint8Array {
  if (!/^[0-9A-Fa-f]{10}$/.test(tagHex10)) {
    throw new RangeError(`a tag is 10 hex characters, got ${tagHex10}`);
  }
  const upper = tagHex10.toUpperCase();
  const frame = new Uint8Array(variant === "hex" ? EM4100_FRAME_BYTES : EM4100_RAW_CHECKSUM_FRAME_BYTES);
  frame[0] = STX;
  for (let i = 0; i < DATA_CHARS; i++) frame[FIRST_DATA + i] = upper.charCodeAt(i);
  const checksum = xorOf(dataBytes(frame));
  if (variant === "hex") {
    frame[CHECK] = hexDigitByte(checksum >> 4);
    frame[CHECK + 1] = hexDigitByte(checksum & 0xf);
  } else {
    frame[CHECK] = checksum;
  }
  frame[frame.length - 1] = ETX;
  return frame;
}

/**
 * A framer for an em4100-ascii stream: STX-synchronised frames of 14 bytes or the 13-byte variant
 * (both may arrive on one stream), each decoded with `decodeEm4100`. A frame cut by opening the
 * port, and noise, become `discarded` values; memory stays bounded whatever arrives.
 *
 * @param opts.format how to write `cardId` (default `dec10`)
 */
export function createEm4100Framer(opts: { format?: Em4100CardFormat } = {}): BufferedFramer<ReaderFrame> {
  const format = opts.format ?? "dec10";
  return new StxFramer<ReaderFrame>({
    maxFrameBytes: EM4100_FRAME_BYTES,
    check: checkLayout,
    decode: (frame) => decodeEm4100(frame, format),
  });
}

/**
 * The em4100-ascii registry entry (shared/protocols/readers.md, "em4100-ascii"): option
 * `card_id_format` (default `dec10`, the contract's `card_id` form); 9600 8N1; `min_reads` 2 by
 * default, since the modules repeat the frame about every 50 ms while a tag is in the field and a
 * one-off frame is noise (contract.md section 2). Its encoder writes the 14-byte frame of `tag`
 * (10 hex characters).
 */
export const em4100Ascii = defineProtocol({
  name: "em4100-ascii",
  kind: "reader",
  summary: "125 kHz EM4100 readers (RDM6300/RDM630 and clones), 14-byte STX/ETX frames",
  source: "shared/protocols/readers.md, em4100-ascii",
  port: serial8N1(9600),
  // readers.md, em4100-ascii: the module repeats the frame about every 50 ms while a tag is held.
  defaults: { minReads: 2, heldTagRepeatMs: 50 },
  options: z.object({
    card_id_format: z
      .enum(EM4100_CARD_FORMATS)
      .default("dec10")
      .describe(
        "How em4100-ascii tags are written as card_id: dec10 = last four bytes as 10-digit decimal " +
          "(0008844356), hex10 = the five bytes in hex (100086F444), wiegand26 = facility,card unpadded " +
          "(134,62532; 93,7589), w26 = facility,card zero-padded 3+5 as printed on cards (093,07589), hex = the " +
          "last four bytes in hex (0086F444). w26 equals the w26 of the same tag through a wiegand reader; dec10 " +
          "and hex equal those of a Wiegand-34 reader.",
      ),
  }),
  createFramer: (options) => createEm4100Framer({ format: options.card_id_format }),
  decode: (frame, options) => decodeEm4100(frame, options.card_id_format),
  encode: (sample) => encodeEm4100(sample.tag),
});
