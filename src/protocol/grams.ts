/**
 * Exact conversion between an indicator's displayed value and integer grams.
 *
 * An indicator shows an integer of digits with N of them after the decimal point, in some unit.
 * Converting through a float (`12.34 * 453.59237`) can land on the wrong side of a .5 and misround,
 * so the conversion is done on BigInt rationals: grams = digits * num / (10^N * den), rounded half
 * away from zero (contract.md section 5: "Weights in other units are converted to grams, rounded
 * half away from zero (1 lb = 453.59237 g)").
 */

/** Units an indicator may display; `WeightUnit` (types.ts) is the configurable subset. */
export type DisplayUnit = "g" | "kg" | "t" | "lb" | "oz";

/** Every display unit, lower case as written in frames. */
export const DISPLAY_UNITS: readonly DisplayUnit[] = ["g", "kg", "t", "lb", "oz"];

/**
 * Grams per unit as an exact fraction num/den. Sources: the international avoirdupois pound is
 * exactly 0.45359237 kg (1959 agreement) and the ounce is 1/16 of it, 28.349523125 g; a tonne is
 * 1,000,000 g.
 */
const GRAMS_PER_UNIT: Record<DisplayUnit, { num: bigint; den: bigint }> = {
  g: { num: 1n, den: 1n },
  kg: { num: 1000n, den: 1n },
  t: { num: 1_000_000n, den: 1n },
  lb: { num: 45_359_237n, den: 100_000n },
  oz: { num: 28_349_523_125n, den: 1_000_000_000n },
};

/** round(n / d) half away from zero, for n >= 0 and d > 0. */
function roundHalfUp(n: bigint, d: bigint): bigint {
  return (2n * n + d) / (2n * d);
}

/** GRAMS_PER_UNIT as Numbers, for the exact fast path of `displayedToGrams`. */
const GRAMS_PER_UNIT_NUMBER: Record<DisplayUnit, { num: number; den: number }> = {
  g: { num: 1, den: 1 },
  kg: { num: 1000, den: 1 },
  t: { num: 1_000_000, den: 1 },
  lb: { num: 45_359_237, den: 100_000 },
  oz: { num: 28_349_523_125, den: 1_000_000_000 },
};

/** 10^i for the decimals an indicator shows, exact as Numbers. */
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/**
 * Converts a displayed value to integer grams, rounded half away from zero.
 *
 * With `digits` a Number the rational is computed in Numbers while every intermediate is an integer
 * below 2^53 (so exact: a product or sum of exact integers that stays below 2^53 is exact, and so is
 * the floor of a quotient whose numerator does), which covers every weight the line protocols show
 * in g, kg and t and all but the longest in lb and oz; otherwise, and for a bigint, on BigInt.
 *
 * @param negative the displayed sign (a negative zero gives 0, never -0)
 * @param digits the displayed digits without the decimal point, as a non-negative integer (a
 *   Number must be a safe integer)
 * @param decimals how many of those digits are after the decimal point (0 or more)
 * @param unit the displayed (or configured) unit
 * @returns integer grams; callers keep `digits` small enough (at most 9 digits) that it is a safe integer
 */
export function displayedToGrams(
  negative: boolean,
  digits: bigint | number,
  decimals: number,
  unit: DisplayUnit,
): number {
  if (typeof digits === "number") {
    const { num, den } = GRAMS_PER_UNIT_NUMBER[unit];
    const scale = POW10[decimals];
    if (scale !== undefined) {
      const d = scale * den;
      const twiceN = 2 * digits * num;
      if (d <= Number.MAX_SAFE_INTEGER && twiceN + d <= Number.MAX_SAFE_INTEGER) {
        const magnitude = Math.floor((twiceN + d) / (2 * d));
        if (magnitude === 0) return 0;
        return negative ? -magnitude : magnitude;
      }
    }
    return displayedToGrams(negative, BigInt(digits), decimals, unit);
  }
  const { num, den } = GRAMS_PER_UNIT[unit];
  const magnitude = roundHalfUp(digits * num, 10n ** BigInt(decimals) * den);
  if (magnitude === 0n) return 0;
  return Number(negative ? -magnitude : magnitude);
}

/**
 * The inverse, for encoders: the displayed digits (no decimal point) that show `grams` in `unit`
 * with `decimals` decimals, rounded half away from zero.
 *
 * @throws RangeError when `grams` is not a safe integer or `decimals` is not an integer 0..9
 */
export function gramsToDisplayed(
  grams: number,
  unit: DisplayUnit,
  decimals: number,
): { negative: boolean; digits: bigint } {
  if (!Number.isSafeInteger(grams)) throw new RangeError(`grams must be a safe integer, got ${grams}`);
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 9) {
    throw new RangeError(`decimals must be an integer 0..9, got ${decimals}`);
  }
  const { num, den } = GRAMS_PER_UNIT[unit];
  const magnitude = BigInt(Math.abs(grams));
  const digits = roundHalfUp(magnitude * 10n ** BigInt(decimals) * den, num);
  return { negative: grams < 0 && digits !== 0n, digits };
}

/** The unit named by some text (case-insensitive: `KG`, `Lb`), or undefined. */
export function parseDisplayUnit(text: string): DisplayUnit | undefined {
  const lower = text.toLowerCase();
  return DISPLAY_UNITS.find((u) => u === lower);
}
