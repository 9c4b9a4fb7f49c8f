/**
 * yaohua-a9: Yaohua XK3190-A9 / A9+ / A26 and clones, continuous output `tf=0`.
 * Source of every layout fact here: shared/protocols/scales.md, section "yaohua-a9".
 *
 * 12 bytes: `02` STX, sign `+`/`-`, six ASCII digits (no decimal point, most significant first),
 * ASCII `0`..`4` = how many of the digits are decimals, two ASCII characters of the XOR of bytes
 * 2..9 (high nibble first; nibble + 0x30 if <= 9, else + 0x37), `03` ETX. No unit (it is configured
 * on the indicator, and given to us by configuration) and no stability flag.
 */
import { z } from "zod";
import { ETX, SPACE, STX, isDecimalDigit } from "../bytes.js";
import { defineProtocol, serial8N1 } from "../device-protocol.js";
import { displayedToGrams, gramsToDisplayed } from "../grams.js";
import { COMPLETE, MORE, StxFramer, type LayoutVerdict } from "../stx-framer.js";
import type { BufferedFramer, ScaleFrame, WeightUnit } from "../types.js";
import { weightUnitOption } from "./unit-option.js";
import { isXorChecksumChar, writeXorChecksum, xorChecksumMatches, xorOf, type XorChecksumStyle } from "./xor-checksum.js";

/** Length of one frame, STX and ETX included. */
export const A9_FRAME_BYTES = 12;
const SIGN = 1;
const FIRST_DIGIT = 2;
const LAST_DIGIT = 7;
const DECIMALS = 8;
const CHECK_HI = 9;
const CHECK_LO = 10;
const END = 11;
const PLUS = 0x2b;
const MINUS = 0x2d;

/** How the two checksum characters are written (xor-checksum.ts); the decoder accepts both styles. */
export type A9ChecksumStyle = XorChecksumStyle;

/** Why byte `i` (0-based) of a candidate frame is wrong, or undefined when it fits the layout. */
function byteProblem(frame: Uint8Array, i: number): string | undefined {
  const b = frame[i] ?? -1;
  if (i === 0) return b === STX ? undefined : "missing STX";
  if (i === SIGN) return b === PLUS || b === MINUS ? undefined : "bad sign byte";
  if (i >= FIRST_DIGIT && i <= LAST_DIGIT) {
    if (isDecimalDigit(b)) return undefined;
    // Tolerated variant: spaces instead of leading zeros (scales.md preamble). Only leading, and
    // the last digit is always a digit.
    const leadingSpace = b === SPACE && i < LAST_DIGIT && (i === FIRST_DIGIT || frame[i - 1] === SPACE);
    return leadingSpace ? undefined : "bad digit byte";
  }
  if (i === DECIMALS) return b >= 0x30 && b <= 0x34 ? undefined : "bad decimals byte";
  if (i === CHECK_HI || i === CHECK_LO) return isXorChecksumChar(b) ? undefined : "bad checksum character";
  return i === END && b === ETX ? undefined : "missing ETX";
}

/** XOR of bytes 2..9 (1-based) of a frame. */
function xorOfBody(frame: Uint8Array): number {
  return xorOf(frame, SIGN, DECIMALS);
}

/**
 * Decodes one whole yaohua-a9 frame.
 *
 * @param frame exactly 12 bytes, STX to ETX
 * @param unit the unit configured on the indicator (the frame carries none)
 * @returns `{kind: "weight", grams, stable: null, mode: "gross"}` with the displayed value in integer
 *   grams, rounded half away from zero (exact, no float); or `discarded` with the frame and the reason
 *   (wrong length, a byte that breaks the layout, bad checksum). Never throws.
 */
export function decodeYaohuaA9(frame: Uint8Array, unit: WeightUnit): ScaleFrame {
  const discard = (reason: string): ScaleFrame => ({ kind: "discarded", bytes: frame.slice(), reason });
  if (frame.length !== A9_FRAME_BYTES) return discard("wrong frame length");
  for (let i = 0; i < A9_FRAME_BYTES; i++) {
    const problem = byteProblem(frame, i);
    if (problem !== undefined) return discard(problem);
  }
  if (!xorChecksumMatches(frame[CHECK_HI] ?? 0, frame[CHECK_LO] ?? 0, xorOfBody(frame))) return discard("bad checksum");
  // Six digits at most: a safe integer, which displayedToGrams converts exactly.
  let digits = 0;
  for (let i = FIRST_DIGIT; i <= LAST_DIGIT; i++) {
    const b = frame[i] ?? SPACE;
    digits = digits * 10 + (b === SPACE ? 0 : b - 0x30);
  }
  const decimals = (frame[DECIMALS] ?? 0x30) - 0x30;
  const grams = displayedToGrams(frame[SIGN] === MINUS, digits, decimals, unit);
  return { kind: "weight", grams, stable: null, mode: "gross" };
}

/** What `encodeYaohuaA9` writes. */
export interface A9Reading {
  /** Integer grams, negative allowed; shown rounded half away from zero to the display step. */
  grams: number;
  /** The unit the indicator displays (configured on it; the frame does not say). */
  unit: WeightUnit;
  /** Digits after the decimal point, 0..4. */
  decimals: number;
  /** How to write the checksum characters (default `hex`). */
  checksum?: A9ChecksumStyle;
}

/**
 * Encodes a weight as one yaohua-a9 frame, as the indicator would send it (for simulators and
 * tests). `decodeYaohuaA9(encodeYaohuaA9(r), r.unit)` gives back `r.grams` rounded to the display step.
 *
 * @returns 12 bytes, STX to ETX
 * @throws RangeError when `grams` is not a safe integer, `decimals` is not 0..4, or the value needs
 *   more than six digits
 */
export function encodeYaohuaA9(reading: A9Reading): Uint8Array {
  const { grams, unit, decimals, checksum = "hex" } = reading;
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 4) {
    throw new RangeError(`yaohua-a9 shows 0..4 decimals, got ${decimals}`);
  }
  const { negative, digits } = gramsToDisplayed(grams, unit, decimals);
  const text = digits.toString();
  if (text.length > LAST_DIGIT - FIRST_DIGIT + 1) {
    throw new RangeError(`yaohua-a9 shows six digits; ${grams} g needs ${text}`);
  }
  const frame = new Uint8Array(A9_FRAME_BYTES);
  frame[0] = STX;
  frame[SIGN] = negative ? MINUS : PLUS;
  const padded = text.padStart(6, "0");
  for (let i = 0; i < 6; i++) frame[FIRST_DIGIT + i] = padded.charCodeAt(i);
  frame[DECIMALS] = 0x30 + decimals;
  writeXorChecksum(frame, CHECK_HI, xorOfBody(frame), checksum);
  frame[END] = ETX;
  return frame;
}

/**
 * A framer for a yaohua-a9 stream: STX-synchronised 12-byte frames, each decoded with
 * `decodeYaohuaA9`. Bytes outside frames (a frame cut by opening the port, noise) become
 * `discarded` values; memory stays bounded whatever arrives.
 *
 * @param opts.unit the unit configured on the indicator
 */
export function createYaohuaA9Framer(opts: { unit: WeightUnit }): BufferedFramer<ScaleFrame> {
  const { unit } = opts;
  return new StxFramer<ScaleFrame>({
    maxFrameBytes: A9_FRAME_BYTES,
    check(frame, length): LayoutVerdict {
      const problem = byteProblem(frame, length - 1);
      if (problem !== undefined) return { kind: "invalid", reason: problem };
      return length === A9_FRAME_BYTES ? COMPLETE : MORE;
    },
    decode: (frame) => decodeYaohuaA9(frame, unit),
  });
}

/**
 * The yaohua-a9 registry entry (shared/protocols/scales.md, "yaohua-a9"): option `unit`, the unit
 * the indicator displays (the frame carries none); 8N1 at 9600 baud by default (the manual allows
 * 600 to 9600 set on the indicator; 1200 and 9600 are common). Its encoder writes `decimals`
 * (default 2) and ignores `stable` (the frame has no stability flag).
 */
export const yaohuaA9 = defineProtocol({
  name: "yaohua-a9",
  kind: "scale",
  summary: "Yaohua XK3190-A9/A9+/A26 and clones, continuous output tf=0 (12-byte STX frames, no unit)",
  source: "shared/protocols/scales.md, yaohua-a9",
  port: serial8N1(9600),
  defaults: {},
  options: z.object({
    unit: weightUnitOption(
      "Unit the indicator displays (g, kg or lb): the yaohua-a9 frame carries none, so the weight is read in this unit.",
    ),
  }),
  createFramer: (options) => createYaohuaA9Framer(options),
  decode: (frame, options) => decodeYaohuaA9(frame, options.unit),
  encode: (sample, options) =>
    encodeYaohuaA9({ grams: sample.grams, unit: options.unit, decimals: sample.decimals ?? 2 }),
});
