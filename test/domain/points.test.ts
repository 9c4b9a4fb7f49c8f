import { describe, expect, it } from "vitest";
import { compilePointsTable, computePoints, localDay, parseDecimal } from "../../src/domain/points.js";
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

describe("rounding, points per deposit, the daily cap and blocked cards (contract section 3)", () => {
  const table = (rounding: "floor" | "half_up", dailyCap: number | null = null) =>
    compilePointsTable({
      rulesVersion: "v",
      categories: { food_waste: { pointsPerKg: "1.16", minNetG: 0 }, glass: { pointsPerDeposit: 3, minNetG: 200 } },
      rounding,
      dailyCap,
    });

  it.each([
    // 1250 g * 1.16 / 1000 = 1.45: floor 1, half_up 1
    [1250, "floor", 1],
    [1250, "half_up", 1],
    // 1294 g * 1.16 / 1000 = 1.50104: floor 1, half_up 2
    [1294, "half_up", 2],
    [1294, "floor", 1],
  ] as const)("%i g at 1.16 points/kg, %s: %i", (netG, rounding, points) => {
    expect(computePoints({ netG, category: "food_waste", table: table(rounding) })).toEqual({ points, reason: "awarded" });
  });

  it("half_up takes exactly one half up, computed exactly (no binary floating point)", () => {
    const half = compilePointsTable({ rulesVersion: "v", categories: { c: { pointsPerKg: "0.5", minNetG: 0 } }, rounding: "half_up" });
    expect(computePoints({ netG: 1000, category: "c", table: half }).points).toBe(1); // 0.5 -> 1
    expect(computePoints({ netG: 999, category: "c", table: half }).points).toBe(0); // 0.4995 -> 0
    expect(computePoints({ netG: 3000, category: "c", table: half }).points).toBe(2); // 1.5 -> 2
  });

  it("points_per_deposit gives its points for any weight at or above min_net_g", () => {
    expect(computePoints({ netG: 200, category: "glass", table: table("floor") })).toEqual({ points: 3, reason: "awarded" });
    expect(computePoints({ netG: 199, category: "glass", table: table("floor") })).toEqual({ points: 0, reason: "below_minimum" });
    expect(computePoints({ netG: 40_000, category: "glass", table: table("floor") })).toEqual({ points: 3, reason: "awarded" });
  });

  it("the daily cap gives what is left, with daily_cap whenever that is less than the formula", () => {
    expect(computePoints({ netG: 200, category: "glass", table: table("floor", 10), earnedToday: 8 })).toEqual({ points: 2, reason: "daily_cap" });
    expect(computePoints({ netG: 200, category: "glass", table: table("floor", 10), earnedToday: 7 })).toEqual({ points: 3, reason: "awarded" });
    expect(computePoints({ netG: 200, category: "glass", table: table("floor", 10), earnedToday: 12 })).toEqual({ points: 0, reason: "daily_cap" });
    // A formula of 0 is never "capped".
    expect(computePoints({ netG: 100, category: "food_waste", table: table("floor", 10), earnedToday: 10 })).toEqual({ points: 0, reason: "awarded" });
  });

  it("a blocked card earns 0 with blocked_card, before every other reason", () => {
    expect(computePoints({ netG: 90_000, category: "nothing", table: table("floor"), maxNetG: 50_000, blocked: true })).toEqual({ points: 0, reason: "blocked_card" });
  });

  it("refuses a rule with both or neither of points_per_kg and points_per_deposit", () => {
    expect(() => compilePointsTable({ rulesVersion: "v", categories: { c: { pointsPerKg: 1, pointsPerDeposit: 1, minNetG: 0 } } })).toThrow(RangeError);
    expect(() => compilePointsTable({ rulesVersion: "v", categories: { c: { minNetG: 0 } } })).toThrow(RangeError);
  });
});

describe("localDay", () => {
  it("is the calendar day in the station's time zone, not UTC's", () => {
    const t = Date.parse("2026-12-06T17:30:00.000Z");
    expect(localDay(t, "UTC")).toBe("2026-12-06");
    expect(localDay(t, "Asia/Shanghai")).toBe("2026-12-07");
    expect(localDay(t, "America/New_York")).toBe("2026-12-06");
  });
});
