/**
 * The number a text indicator shows for a weight, as the encoders of the text protocols write it:
 * the display digits with the decimal point in place and at least one digit before it ("12.34",
 * "0.05", "1234"). Padding, sign and unit are each protocol's.
 */
import { type DisplayUnit, gramsToDisplayed } from "../grams.js";

/**
 * `grams` shown in `unit` with `decimals` decimals, rounded half away from zero (grams.ts).
 *
 * @returns the sign (false for a value that rounds to zero) and the unsigned decimal text
 * @throws RangeError when `grams` is not a safe integer or `decimals` is not an integer 0..9
 */
export function displayedNumber(grams: number, unit: DisplayUnit, decimals: number): { negative: boolean; text: string } {
  const { negative, digits } = gramsToDisplayed(grams, unit, decimals);
  const all = digits.toString().padStart(decimals + 1, "0");
  return { negative, text: decimals === 0 ? all : `${all.slice(0, -decimals)}.${all.slice(-decimals)}` };
}
