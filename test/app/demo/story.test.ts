import { describe, expect, it } from "vitest";
import { demoConfig, storyContext } from "../../../src/app/demo/demo.js";
import {
  addDeposit,
  count,
  emptySummary,
  formatSummary,
  localTime,
  pointsText,
  storyLine,
  type StoryContext,
} from "../../../src/app/demo/story.js";
import type { DepositData, PointsReason } from "../../../src/domain/types.js";

/** The demo's own context: food_waste 2 per kg from 200 g, recyclable 1.16 per kg, recycle bin at most 10 kg, no rule for residual. */
const ctx: StoryContext = storyContext(demoConfig("/tmp/never.db", "mqtt://127.0.0.1:1"));

function deposit(over: Partial<DepositData> & { points_reason: PointsReason }): DepositData {
  return {
    bin_id: "kitchen",
    category: "food_waste",
    card_id: "0008844356",
    reader_id: "reader-card",
    gross_before_g: 3_200,
    gross_after_g: 4_450,
    net_g: 1_250,
    points: 2,
    rules_version: "2026-11",
    started_at: "2026-11-29T14:36:21.002Z",
    ended_at: "2026-11-29T14:36:37.950Z",
    ...over,
  };
}

/** 14:36:37 local time, whatever the machine's zone. */
const AT = new Date(2026, 10, 29, 14, 36, 37, 950).getTime();

describe("count and localTime", () => {
  it("says 1 point, 2 points, 0 points", () => {
    expect(count(1, "point")).toBe("1 point");
    expect(count(2, "point")).toBe("2 points");
    expect(count(0, "deposit")).toBe("0 deposits");
    expect(count(1, "deposit")).toBe("1 deposit");
  });

  it("gives the local time as HH:MM:SS, zero-padded", () => {
    expect(localTime(new Date(2026, 0, 2, 3, 4, 5).getTime())).toBe("03:04:05");
    expect(localTime(AT)).toBe("14:36:37");
  });
});

describe("the demo's story context", () => {
  it("holds each bin's effective max_net_g and the rules as written", () => {
    expect(ctx.maxNetG).toEqual({ kitchen: 50_000, recycle: 10_000, residual: 50_000 });
    expect(ctx.rules).toEqual({ food_waste: { pointsPerKg: "2", minNetG: 200 }, recyclable: { pointsPerKg: "1.16", minNetG: 0 } });
  });
});

describe("story lines", () => {
  it("an identification: time, masked card, reader and the bins it opened", () => {
    const line = storyLine({ kind: "identification", at: AT, cardId: "0008844356", readerId: "reader-card", bins: ["kitchen", "recycle"] }, ctx);
    expect(line).toBe("14:36:37  identified  ******4356 at reader-card (bins open: kitchen, recycle)");
  });

  it("a deposit: weight, category, bin, masked card and points with the rule", () => {
    expect(storyLine({ kind: "deposit", at: AT, data: deposit({ points_reason: "awarded" }) }, ctx)).toBe(
      "14:36:37  deposit     1.250 kg of food_waste into kitchen by ******4356: 2 points (2 per kg)",
    );
  });

  it("an alarm: code, subject and message", () => {
    const line = storyLine({ kind: "alarm", at: AT, subject: "recycle", code: "implausible_weight", message: "too heavy" }, ctx);
    expect(line).toBe("14:36:37  alarm       implausible_weight (recycle): too heavy");
  });

  it("never prints the card id in full", () => {
    const lines = [
      storyLine({ kind: "identification", at: AT, cardId: "0008844356", readerId: "r", bins: [] }, ctx),
      storyLine({ kind: "deposit", at: AT, data: deposit({ points_reason: "awarded" }) }, ctx),
    ];
    for (const line of lines) expect(line).not.toContain("0008844356");
  });
});

describe("why a deposit earned what it did", () => {
  const rows: Array<[string, Partial<DepositData> & { points_reason: PointsReason }, string]> = [
    ["awarded, plural", { points: 2, points_reason: "awarded" }, "2 points (2 per kg)"],
    ["awarded, singular", { bin_id: "recycle", category: "recyclable", net_g: 900, points: 1, points_reason: "awarded" }, "1 point (1.16 per kg)"],
    [
      "awarded, rounded down to nothing",
      { net_g: 400, points: 0, points_reason: "awarded" },
      "0 points: 0.400 kg at 2 per kg comes to less than 1 point (rounded down)",
    ],
    ["below the minimum", { net_g: 150, points: 0, points_reason: "below_minimum" }, "0 points: below the minimum of 200 g for food_waste"],
    ["no rule", { bin_id: "residual", category: "residual", points: 0, points_reason: "no_rule" }, "0 points: no points rule for residual"],
    [
      "implausible",
      { bin_id: "recycle", category: "recyclable", net_g: 12_400, points: 0, points_reason: "implausible" },
      "0 points: implausible weight, above the bin's maximum of 10000 g (alarm raised)",
    ],
    ["blocked card", { points: 0, points_reason: "blocked_card" }, "0 points: the card is blocked"],
    ["daily cap", { points: 1, points_reason: "daily_cap" }, "1 point: the card reached its daily cap of points"],
  ];
  it.each(rows)("%s", (_name, over, expected) => {
    expect(pointsText(deposit(over), ctx)).toBe(expected);
  });

  it("an award of 0 points at a rate of 0 says so, and no line ever says '0 points (awarded)'", () => {
    const free: StoryContext = { ...ctx, rules: { food_waste: { pointsPerKg: "0", minNetG: 0 } } };
    expect(pointsText(deposit({ points: 0, points_reason: "awarded" }), free)).toBe("0 points: food_waste earns 0 points per kg");
    for (const [, over] of rows) expect(pointsText(deposit(over), ctx)).not.toMatch(/\(awarded\)|\b1 points\b/);
  });
});

describe("the closing summary", () => {
  it("a totals line with plurals, then a table of deposits, kilograms and points per category", () => {
    const s = emptySummary();
    addDeposit(s, deposit({ points: 2, points_reason: "awarded" }));
    addDeposit(s, deposit({ net_g: 150, points: 0, points_reason: "below_minimum" }));
    addDeposit(s, deposit({ bin_id: "recycle", category: "recyclable", net_g: 12_400, points: 0, points_reason: "implausible" }));
    s.events = 4;
    s.alarms = 1;
    expect(formatSummary(s)).toEqual([
      "demo summary: 3 deposits, 2 points, 1 alarm, 4 events",
      "  category    deposits      kg  points",
      "  food_waste         2   1.400       2",
      "  recyclable         1  12.400       0",
      "  total              3  13.800       2",
    ]);
  });

  it("one category: no total row; nothing received: the totals line only", () => {
    const s = emptySummary();
    addDeposit(s, deposit({ points: 1, points_reason: "awarded" }));
    s.events = 1;
    expect(formatSummary(s)).toEqual([
      "demo summary: 1 deposit, 1 point, 0 alarms, 1 event",
      "  category    deposits     kg  points",
      "  food_waste         1  1.250       1",
    ]);
    expect(formatSummary(emptySummary())).toEqual(["demo summary: 0 deposits, 0 points, 0 alarms, 0 events"]);
  });
});
