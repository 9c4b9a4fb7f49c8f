/**
 * yaohua-a12: Yaohua XK3190-A12 / A12E, continuous output.
 * Source of the layout: shared/protocols/scales.md, section "yaohua-a12"; field variants from a
 * field driver (the MCUSH instrument library's XK3190A12 class, which reads `ww000.000lb`,
 * `wn-0000.1kg` and `wt000.000kg` lines ending at the unit).
 *
 * 15 bytes: `W`, then `G` gross or `N` net, seven characters of weight including the decimal point
 * (a leading `-` when negative; a trailing space when there is no decimal point), the unit `kg` (or
 * `lb`), two ASCII hex characters of the XOR of bytes 1-11 (nibble + 0x30 if <= 9, else + 0x37:
 * xor-checksum.ts), CR LF. Example: `WG004.139kg3D` CR LF is 4.139 kg gross. Overload and underload
 * replace the first nine characters with spaces followed by `OL` or `LO`. No stability flag.
 *
 * Variants accepted without options, each unambiguous: lower case (`ww` gross, `wn` net, `wt` tare,
 * as the field driver reads them; `kg`/`KG`); a line without the two checksum characters (13 bytes,
 * as the field driver's lines end at the unit); spaces instead of leading zeros; the `OL`/`LO` frame
 * read either way scales.md's sentence allows (seven spaces, `OL`, the unit; or nine spaces, `OL`).
 */
import { z } from "zod";
import { CR, LF, SPACE, asciiBytes } from "../bytes.js";
import { crLfLineFramer } from "../crlf-lines.js";
import { defineProtocol, serial8N1 } from "../device-protocol.js";
import { displayedToGrams } from "../grams.js";
import type { BufferedFramer, ScaleFrame } from "../types.js";
import { readDecimalField } from "./decimal-field.js";
import { displayedNumber } from "./displayed-number.js";
import { isXorChecksumChar, writeXorChecksum, xorChecksumMatches, xorOf } from "./xor-checksum.js";

/** Characters before the checksum: `W`, mode, seven of weight, two of unit. */
const BODY_CHARS = 11;
/** A whole line without its CR LF: the body and two checksum characters. */
export const A12_LINE_CHARS = BODY_CHARS + 2;
/**
 * Longest line kept, terminator excluded: twice a frame, so a line that lost its line end shows as
 * one discarded run rather than many.
 */
export const A12_MAX_LINE_BYTES = 32;

const W_UPPER = 0x57;
const W_LOWER = 0x77;
const NOT_A_FRAME = "not a W<mode><weight><unit> frame";

/** A byte upper-cased if it is a lower-case letter. */
function upper(b: number | undefined): number {
  return b !== undefined && b >= 0x61 && b <= 0x7a ? b - 0x20 : (b ?? 0);
}

/** `kg` or `lb` (either case) at `line[at]`, `line[at + 1]`, or undefined. */
function unitAt(line: Uint8Array, at: number): "kg" | "lb" | undefined {
  const a = upper(line[at]);
  const b = upper(line[at + 1]);
  if (a === 0x4b && b === 0x47) return "kg";
  if (a === 0x4c && b === 0x42) return "lb";
  return undefined;
}

/** The mode byte's meaning: `G`/`W` gross, `N` net, `T` tare (either case), or undefined. */
function modeOf(b: number | undefined): "gross" | "net" | "tare" | undefined {
  switch (upper(b)) {
    case 0x47:
    case 0x57:
      return "gross";
    case 0x4e:
      return "net";
    case 0x54:
      return "tare";
    default:
      return undefined;
  }
}

/**
 * `OL`/`LO` in a body of spaces: after `W` and the mode or two spaces, spaces, `OL` or `LO` (either
 * case), spaces, perhaps the unit. Undefined for anything else.
 */
function noWeightOf(body: Uint8Array): "overload" | "underload" | undefined {
  const head = body[0];
  if (!((head === W_UPPER || head === W_LOWER) && modeOf(body[1]) !== undefined) && !(head === SPACE && body[1] === SPACE)) {
    return undefined;
  }
  let i = 2;
  while (i < BODY_CHARS && body[i] === SPACE) i++;
  const a = upper(body[i]);
  const b = upper(body[i + 1]);
  const reason = a === 0x4f && b === 0x4c ? "overload" : a === 0x4c && b === 0x4f ? "underload" : undefined;
  if (reason === undefined) return undefined;
  i += 2;
  while (i < BODY_CHARS && body[i] === SPACE) i++;
  return i === BODY_CHARS || (i === BODY_CHARS - 2 && unitAt(body, i) !== undefined) ? reason : undefined;
}

/**
 * Decodes one yaohua-a12 line.
 *
 * @param line the line without its CR LF: 13 characters, or 11 without the checksum
 * @returns `weight` (`stable: null`: the frame carries no stability flag; `G`/`w` gross, `N` net) in
 *   integer grams, converted exactly from kg or lb and rounded half away from zero; `no_weight` for
 *   `OL` (overload) and `LO` (underload); `ignored` for a `T` (tare) line; `discarded` with the
 *   line and the reason for anything else. Never throws.
 */
export function decodeYaohuaA12(line: Uint8Array): ScaleFrame {
  const discard = (reason: string): ScaleFrame => ({ kind: "discarded", bytes: line.slice(), reason });
  const n = line.length;
  if (n !== A12_LINE_CHARS && n !== BODY_CHARS) return discard("wrong frame length");
  for (let i = 0; i < n; i++) {
    const b = line[i] ?? 0;
    if (b < 0x20 || b > 0x7e) return discard("non-printable byte in line");
  }
  if (n === A12_LINE_CHARS) {
    const hi = line[BODY_CHARS] ?? 0;
    const lo = line[BODY_CHARS + 1] ?? 0;
    if (!isXorChecksumChar(hi) || !isXorChecksumChar(lo)) return discard("bad checksum character");
    if (!xorChecksumMatches(hi, lo, xorOf(line, 0, BODY_CHARS - 1))) return discard("bad checksum");
  }
  const head = line[0];
  const mode = modeOf(line[1]);
  const unit = unitAt(line, BODY_CHARS - 2);
  const field = readDecimalField(line, 2, BODY_CHARS - 2, "minus");
  if ((head === W_UPPER || head === W_LOWER) && mode !== undefined && unit !== undefined && field !== undefined) {
    if (mode === "tare") return { kind: "ignored", reason: "tare frame (T)" };
    const grams = displayedToGrams(field.negative, field.digits, field.decimals, unit);
    return { kind: "weight", grams, stable: null, mode };
  }
  const noWeight = noWeightOf(line);
  if (noWeight !== undefined) return { kind: "no_weight", reason: noWeight };
  const framed = (head === W_UPPER || head === W_LOWER) && mode !== undefined && unit !== undefined;
  return discard(framed ? "bad weight field" : NOT_A_FRAME);
}

/** What `encodeYaohuaA12` writes. */
export interface A12Reading {
  /** Integer grams, negative allowed; shown rounded half away from zero to the display step. */
  grams: number;
  /** `G` or `N` (`w`/`n` in lower case). */
  mode: "gross" | "net";
  /** Display unit (default `kg`). */
  unit?: "kg" | "lb";
  /** Digits after the decimal point, 0..5 (default 2; 0 writes no point and a trailing space). */
  decimals?: number;
  /** Writes the lower-case variant (`ww`/`wn`); default false. */
  lowercase?: boolean;
  /** Writes the two checksum characters (default true). */
  checksum?: boolean;
}

/**
 * Encodes one yaohua-a12 line as scales.md describes it (`WG004.139kg3D` CR LF): the value
 * zero-padded to seven characters after an optional `-`. For simulators and tests;
 * `decodeYaohuaA12` gives back `grams` rounded to the display step.
 *
 * @throws RangeError when `grams` is not a safe integer, `decimals` is not 0..5, or the value does
 *   not fit seven characters
 */
export function encodeYaohuaA12(reading: A12Reading): Uint8Array {
  const { grams, mode, unit = "kg", decimals = 2, lowercase = false, checksum = true } = reading;
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 5) {
    throw new RangeError(`yaohua-a12 shows 0..5 decimals, got ${decimals}`);
  }
  const { negative, text: number } = displayedNumber(grams, unit, decimals);
  // Seven characters: the sign, if any, then zeros; without a decimal point, a trailing space.
  const width = 7 - (negative ? 1 : 0) - (decimals === 0 ? 1 : 0);
  if (number.length > width) throw new RangeError(`${grams} g in ${unit} does not fit yaohua-a12's seven characters`);
  const field = `${negative ? "-" : ""}${number.padStart(width, "0")}${decimals === 0 ? " " : ""}`;
  const head = lowercase ? (mode === "gross" ? "ww" : "wn") : mode === "gross" ? "WG" : "WN";
  const body = asciiBytes(`${head}${field}${unit}`);
  const out = new Uint8Array(body.length + (checksum ? 2 : 0) + 2);
  out.set(body);
  if (checksum) writeXorChecksum(out, BODY_CHARS, xorOf(body, 0, BODY_CHARS - 1), "hex");
  out[out.length - 2] = CR;
  out[out.length - 1] = LF;
  return out;
}

/**
 * A framer for a yaohua-a12 stream: lines ended by CR, LF or CR LF (the checksum characters are
 * ASCII hex, never a line end), each decoded with `decodeYaohuaA12`. A line cut by opening the port
 * has the wrong length or checksum and is discarded; a line longer than `A12_MAX_LINE_BYTES` is
 * discarded in bounded pieces.
 */
export function createYaohuaA12Framer(): BufferedFramer<ScaleFrame> {
  return crLfLineFramer(A12_MAX_LINE_BYTES, decodeYaohuaA12);
}

/**
 * The yaohua-a12 registry entry (shared/protocols/scales.md, "yaohua-a12"): no options (the frame
 * carries its unit, its mode and its checksum); 8N1 at 9600 baud by default (scales.md gives no line
 * settings for the A12; these are the family's, as for yaohua-a9). Its encoder writes a gross `WG`
 * frame in kg with `decimals` (default 2) and ignores `stable` (the frame has no stability flag).
 */
export const yaohuaA12 = defineProtocol({
  name: "yaohua-a12",
  kind: "scale",
  summary: "Yaohua XK3190-A12/A12E continuous output (WG004.139kg3D lines with an XOR checksum, kg or lb)",
  source: "shared/protocols/scales.md, yaohua-a12",
  port: serial8N1(9600),
  defaults: {},
  options: z.object({}),
  createFramer: () => createYaohuaA12Framer(),
  decode: (line) => decodeYaohuaA12(line),
  encode: (sample) => encodeYaohuaA12({ grams: sample.grams, mode: "gross", decimals: sample.decimals ?? 2 }),
});
