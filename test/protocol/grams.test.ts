import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DISPLAY_UNITS, displayedToGrams, gramsToDisplayed, parseDisplayUnit } from "../../src/protocol/grams.js";

describe("displayedToGrams", () => {
  it.each([
    // [negative, digits, decimals, unit, grams]
    [false, 2000n, 2, "kg", 20000],
    [true, 15n, 1, "kg", -1500],
    [false, 4139n, 3, "kg", 4139],
    [false, 1234n, 0, "g", 1234],
    [false, 4139n, 3, "g", 4],
    [false, 1500n, 3, "t", 1_500_000],
    [false, 2000n, 2, "lb", 9072], // 20 lb = 9071.8474 g
    [false, 1000n, 2, "oz", 283], // 10 oz = 283.49523125 g
    [true, 25n, 4, "lb", -1], // 0.0025 lb = 1.13398... g
  ] as const)("%s %s e-%s %s -> %s g", (negative, digits, decimals, unit, grams) => {
    expect(displayedToGrams(negative, digits, decimals, unit)).toBe(grams);
  });

  it("rounds exact halves away from zero", () => {
    // 50000 lb = 22679618.5 g exactly; 800000 oz is the same mass.
    expect(displayedToGrams(false, 50000n, 0, "lb")).toBe(22679619);
    expect(displayedToGrams(true, 50000n, 0, "lb")).toBe(-22679619);
    expect(displayedToGrams(false, 800000n, 0, "oz")).toBe(22679619);
    // -0.0025 kg = -2.5 g: Math.round would give -2.
    expect(displayedToGrams(true, 25n, 4, "kg")).toBe(-3);
    expect(displayedToGrams(false, 5n, 4, "kg")).toBe(1);
  });

  it("does not misround where float arithmetic does", () => {
    // 0.5005 * 1000 is 500.49999999999994 in binary floating point; exactly it is 500.5 -> 501.
    expect(Math.round(0.5005 * 1000)).toBe(500);
    expect(displayedToGrams(false, 5005n, 4, "kg")).toBe(501);
  });

  it("gives the same grams from Number digits (the exact fast path) as from BigInt digits", () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.oneof(fc.integer({ min: 0, max: 999_999_999 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
        fc.integer({ min: 0, max: 12 }),
        fc.constantFrom(...DISPLAY_UNITS),
        (negative, digits, decimals, unit) => {
          const exact = displayedToGrams(negative, BigInt(digits), decimals, unit);
          expect(displayedToGrams(negative, digits, decimals, unit)).toBe(exact);
        },
      ),
      { numRuns: 2000 },
    );
    // Exact halves and the edges of the fast path.
    for (const unit of DISPLAY_UNITS) {
      for (const digits of [0, 5, 25, 50000, 800000, 999_999_999, 2 ** 52, Number.MAX_SAFE_INTEGER]) {
        for (const decimals of [0, 1, 4, 9, 10]) {
          expect(displayedToGrams(true, digits, decimals, unit)).toBe(displayedToGrams(true, BigInt(digits), decimals, unit));
        }
      }
    }
  });

  it("never returns negative zero", () => {
    expect(Object.is(displayedToGrams(true, 0n, 2, "kg"), 0)).toBe(true);
    expect(Object.is(displayedToGrams(true, 4n, 4, "kg"), 0)).toBe(true);
    expect(Object.is(displayedToGrams(true, 0, 2, "kg"), 0)).toBe(true);
    expect(Object.is(displayedToGrams(true, 4, 4, "kg"), 0)).toBe(true);
  });
});

describe("gramsToDisplayed", () => {
  it("converts grams to displayed digits, half away from zero", () => {
    expect(gramsToDisplayed(12340, "kg", 2)).toEqual({ negative: false, digits: 1234n });
    expect(gramsToDisplayed(-1500, "kg", 1)).toEqual({ negative: true, digits: 15n });
    expect(gramsToDisplayed(5, "kg", 2)).toEqual({ negative: false, digits: 1n });
    expect(gramsToDisplayed(-5, "kg", 2)).toEqual({ negative: true, digits: 1n });
    expect(gramsToDisplayed(-4, "kg", 2)).toEqual({ negative: false, digits: 0n });
    expect(gramsToDisplayed(9072, "lb", 2)).toEqual({ negative: false, digits: 2000n });
    expect(gramsToDisplayed(283, "oz", 2)).toEqual({ negative: false, digits: 998n });
  });

  it("refuses non-integer grams and bad decimals", () => {
    expect(() => gramsToDisplayed(1.5, "kg", 2)).toThrow(RangeError);
    expect(() => gramsToDisplayed(Number.NaN, "kg", 2)).toThrow(RangeError);
    expect(() => gramsToDisplayed(1, "kg", -1)).toThrow(RangeError);
    expect(() => gramsToDisplayed(1, "kg", 10)).toThrow(RangeError);
    expect(() => gramsToDisplayed(1, "kg", 1.5)).toThrow(RangeError);
  });
});

describe("parseDisplayUnit", () => {
  it("reads units case-insensitively and nothing else", () => {
    expect(parseDisplayUnit("kg")).toBe("kg");
    expect(parseDisplayUnit("KG")).toBe("kg");
    expect(parseDisplayUnit("Lb")).toBe("lb");
    expect(parseDisplayUnit("oz")).toBe("oz");
    expect(parseDisplayUnit("t")).toBe("t");
    expect(parseDisplayUnit("pcs")).toBeUndefined();
    expect(parseDisplayUnit("")).toBeUndefined();
  });
});
