/**
 * The two-character XOR checksum of the Yaohua indicators' frames (shared/protocols/scales.md:
 * yaohua-a9 bytes 10-11, the XOR of bytes 2..9; yaohua-a12 "two ASCII hex characters of the XOR of
 * bytes 1-11 (nibble rule as above)"): the XOR byte's high nibble then its low nibble, each written
 * as an ASCII character, nibble + 0x30 if <= 9, else + 0x37 ("1B").
 */
import { hexDigitByte } from "../bytes.js";

/**
 * How the two checksum characters are written. `hex`: nibble + 0x30 if <= 9, else + 0x37 ("1B").
 * `plus30`: nibble + 0x30 always ("1;"), which some models use (scales.md, yaohua-a9, command mode
 * note). Decoders accept both, and lower-case hex, per nibble.
 */
export type XorChecksumStyle = "hex" | "plus30";

/** XOR of `bytes[from..to]`, both ends included. */
export function xorOf(bytes: Uint8Array, from: number, to: number): number {
  let x = 0;
  for (let i = from; i <= to; i++) x ^= bytes[i] ?? 0;
  return x;
}

/** A byte either checksum style can write for some nibble, in either case. */
export function isXorChecksumChar(b: number): boolean {
  return (b >= 0x30 && b <= 0x3f) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

/** True when `char` writes `nibble` in the `hex` style (either case) or the `plus30` style. */
function charWrites(char: number, nibble: number): boolean {
  if (char === 0x30 + nibble) return true;
  return nibble > 9 && (char === 0x37 + nibble || char === 0x57 + nibble);
}

/** True when the characters `hi`, `lo` write the checksum byte `x` (any style, per nibble). */
export function xorChecksumMatches(hi: number, lo: number, x: number): boolean {
  return charWrites(hi, x >> 4) && charWrites(lo, x & 0xf);
}

/** Writes the checksum byte `x` as two characters at `frame[at]`, `frame[at + 1]`. */
export function writeXorChecksum(frame: Uint8Array, at: number, x: number, style: XorChecksumStyle): void {
  const write = (nibble: number): number => (style === "hex" ? hexDigitByte(nibble) : 0x30 + nibble);
  frame[at] = write(x >> 4);
  frame[at + 1] = write(x & 0xf);
}
