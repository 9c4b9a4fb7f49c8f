/**
 * Reading the weight field of a text indicator's frame, byte by byte (no strings, no regular
 * expressions: decoders run once per frame at thousands of times a serial line's rate). The field is
 * a padded decimal number as yaohua-a12 (`004.139`, `-0001.5`, `001234 `), cas-22 (`000013.5`,
 * `   13.50`) and ohaus (`   12.73`) write it: spaces, an optional sign, spaces, digits with at most
 * one decimal point between digits, spaces.
 */
import { MINUS, PLUS, POINT, SPACE, isDecimalDigit } from "../bytes.js";

/** A number as a field shows it: its sign, its digits without the point, how many are decimals. */
export interface DecimalField {
  negative: boolean;
  /** The digits as an integer (a safe one: at most 15 digits are read). */
  digits: number;
  decimals: number;
}

/** Which signs a field may carry. */
export type FieldSigns = "none" | "minus" | "plus-or-minus";

/** Most digits read: beyond, the value would not be a safe integer. */
const MAX_DIGITS = 15;

/**
 * Reads `bytes[from, to)` as a padded decimal number.
 *
 * @returns the number, or undefined when the field is anything else (no digit, a point without
 *   digits on both sides, two points, a sign not allowed, a byte that is none of these, digits split
 *   by spaces, more than 15 digits)
 */
export function readDecimalField(bytes: Uint8Array, from: number, to: number, signs: FieldSigns): DecimalField | undefined {
  let i = from;
  while (i < to && bytes[i] === SPACE) i++;
  let negative = false;
  const sign = bytes[i];
  if (i < to && ((sign === MINUS && signs !== "none") || (sign === PLUS && signs === "plus-or-minus"))) {
    negative = sign === MINUS;
    i++;
    while (i < to && bytes[i] === SPACE) i++;
  }
  let digits = 0;
  let count = 0;
  let decimals = -1;
  for (; i < to; i++) {
    const b = bytes[i] ?? 0;
    if (isDecimalDigit(b)) {
      digits = digits * 10 + (b - 0x30);
      count++;
      if (decimals >= 0) decimals++;
    } else if (b === POINT && decimals < 0 && count > 0) {
      decimals = 0;
    } else {
      break;
    }
  }
  if (count === 0 || count > MAX_DIGITS || decimals === 0) return undefined;
  while (i < to && bytes[i] === SPACE) i++;
  return i === to ? { negative, digits, decimals: Math.max(0, decimals) } : undefined;
}
