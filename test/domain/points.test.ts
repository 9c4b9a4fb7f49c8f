import { describe, expect, it } from "vitest";
import { compilePointsTable, computePoints, parseDecimal } from "../../src/domain/points.js";
import type { PointsReason } from "../../src/domain/types.js";

describe("parseDecimal", () => {
  it.each([
    [1.16, 116n, 100n],
    ["1.16", 116n, 100n],
    ["2.50", 250n, 100n],
    [2, 2n, 1n],
    [0, 0n, 1n],
    ["0.000", 0n, 1000n],
    [0.1, 1n, 10n],
    [1e-7, 1n, 10_000_000n],
    ["1.5E3", 1500n, 1n],
    ["2.5e-1", 25n, 100n],
    [1e21, 10n ** 21n, 1n],
    [".5", 5n, 10n],
    ["5.", 5n, 1n],
    ["007.50", 750n, 100n],
  ] as const)("%s is %s/%s", (value, num, den) => {
    expect(parseDecimal(value)).toEqual({ num, den });
  });

  const invalid = [Number.NaN, Infinity, -Infinity, -1, -0.5, "-1", "", " 1", "abc", "1.2.3", "1e", "0x10"];
  it.each([...invalid, "1e999", "+1"])("refuses %s with a RangeError", (value) => {
    expect(() => parseDecimal(value)).toThrow(RangeError);
  });
});

describe("computePoints", () => {
  // netG (g), points_per_kg, min_net_g, expected points, expected reason, what the row is about
  type Row = [number, number | string, number, number, PointsReason, string];
  const rows: Row[] = [
    [25_000, 1.16, 0, 29, "awarded", "25 kg at 1.16 (float gives 28)"],
    [25_000, "1.16", 0, 29, "awarded", "the same, written as a string"],
    [3000, 1.1, 0, 3, "awarded", "3 kg at 1.1"],
    [10_000, 0.1, 0, 1, "awarded", "10 kg at 0.1"],
    [9999, 0.1, 0, 0, "awarded", "just under a point floors to 0"],
    [1250, 2, 0, 2, "awarded", "the contract's example"],
    [1000, "2.50", 0, 2, "awarded", "2.5 points floor to 2"],
    [1200, "2.50", 0, 3, "awarded", "exactly 3"],
    [499, 10, 500, 0, "below_minimum", "one gram below min_net_g"],
    [500, 10, 500, 5, "awarded", "exactly min_net_g"],
    [5000, 0, 0, 0, "awarded", "a rate of 0 is awarded 0"],
    [10_000_000_000, 1e-7, 0, 1, "awarded", "1e-7 per kg on 10,000 t"],
    [2_000_000_000, "123456.789", 0, 246_913_578_000, "awarded", "2,000 t at a large rate"],
    [Number.MAX_SAFE_INTEGER, 1, 0, 9_007_199_254_740, "awarded", "the largest safe gram count"],
  ];

  it.each(rows)("%i g at %s (min %i) → %i %s: %s", (netG, pointsPerKg, minNetG, points, reason) => {
    const table = compilePointsTable({
      rulesVersion: "2026-11",
      categories: { food_waste: { pointsPerKg, minNetG } },
    });
    expect(computePoints({ netG, category: "food_waste", table })).toEqual({ points, reason });
  });

  it("is no_rule without a table", () => {
    expect(computePoints({ netG: 25_000, category: "food_waste", table: null })).toEqual({
      points: 0,
      reason: "no_rule",
    });
  });

  it("is no_rule for a category the table has no rule for (including Object.prototype names)", () => {
    const table = compilePointsTable({
      rulesVersion: "2026-11",
      categories: { food_waste: { pointsPerKg: 2, minNetG: 0 } },
    });
    expect(table.rulesVersion).toBe("2026-11");
    for (const category of ["recyclable", "constructor", "__proto__"]) {
      expect(computePoints({ netG: 25_000, category, table })).toEqual({ points: 0, reason: "no_rule" });
    }
  });

  it("checks no_rule before below_minimum", () => {
    const table = compilePointsTable({ rulesVersion: "v", categories: {} });
    expect(computePoints({ netG: 0, category: "food_waste", table }).reason).toBe("no_rule");
  });

  it("refuses grams that are not a non-negative integer, and points beyond a safe integer", () => {
    const table = compilePointsTable({
      rulesVersion: "v",
      categories: { c: { pointsPerKg: 1e6, minNetG: 0 } },
    });
    for (const netG of [-1, 1.5, Number.NaN]) {
      expect(() => computePoints({ netG, category: "c", table })).toThrow(RangeError);
    }
    expect(() => computePoints({ netG: Number.MAX_SAFE_INTEGER, category: "c", table })).toThrow(RangeError);
  });

  it("refuses a table with a bad rate or minimum", () => {
    const table = (rule: { pointsPerKg: number | string; minNetG: number }) => () =>
      compilePointsTable({ rulesVersion: "v", categories: { c: rule } });
    expect(table({ pointsPerKg: -1, minNetG: 0 })).toThrow(RangeError);
    expect(table({ pointsPerKg: "1,5", minNetG: 0 })).toThrow(RangeError);
    expect(table({ pointsPerKg: 1, minNetG: -5 })).toThrow(RangeError);
  });
});
