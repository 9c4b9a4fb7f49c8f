/**
 * Exact decimals for config values that must not pass through binary floating point
 * (contract.md section 3: `points_per_kg` is taken from its written form, 1.16 is 116/100).
 */

/** A non-negative decimal as written: digits, optionally a point and more digits (`2`, `1.16`, `0.5`). */
export const DECIMAL_TEXT = /^[0-9]+(\.[0-9]+)?$/;

/**
 * The canonical written form of a non-negative decimal: no exponent, no leading zeros in the
 * integer part, no trailing zeros in the fraction (`"01.50"` -> `"1.5"`, `2` -> `"2"`,
 * `1e-7` -> `"0.0000001"`). A number is taken in its shortest round-trip form (`String(n)`), so
 * callers that still have the source text should pass that instead.
 *
 * Throws a RangeError for a negative or non-finite number or a string that is not `DECIMAL_TEXT`:
 * the schema checks both before calling it.
 */
export function canonicalDecimal(value: number | string): string {
  const text = typeof value === "number" ? numberToPlainText(value) : value;
  const match = DECIMAL_TEXT.exec(text);
  if (!match) throw new RangeError(`not a non-negative decimal: ${String(value)}`);
  const [intPart = "0", fracPart = ""] = text.split(".");
  const int = intPart.replace(/^0+(?=[0-9])/, "");
  const frac = fracPart.replace(/0+$/, "");
  return frac === "" ? int : `${int}.${frac}`;
}

/** `String(n)` without exponent notation (`1e-7` -> `0.0000001`, `1.5e+21` -> `1500…0`). */
function numberToPlainText(n: number): string {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`not a non-negative finite number: ${n}`);
  const text = String(n);
  const exp = /^([0-9]+)(?:\.([0-9]+))?e([+-][0-9]+)$/.exec(text);
  if (!exp) return text;
  const digits = (exp[1] ?? "") + (exp[2] ?? "");
  // Position of the decimal point counted from the start of `digits`.
  const point = (exp[1] ?? "").length + Number(exp[3]);
  if (point <= 0) return `0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return digits + "0".repeat(point - digits.length);
  return `${digits.slice(0, point)}.${digits.slice(point)}`;
}
