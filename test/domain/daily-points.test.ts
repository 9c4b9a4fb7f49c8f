/**
 * The daily cap's count (src/domain/daily-points.ts): a persistent tally whose additions never
 * change an earlier tally, and the rows the database kept, gathered at start.
 */
import { describe, expect, it } from "vitest";
import { RECENT_MAX, addPoints, cardsIn, earnedOn, gatherStored, tallyOf, type DailyTallyState } from "../../src/domain/daily-points.js";

const row = (card: string, day: string, points: number) => ({ key: `daily_points/${card}`, value: JSON.stringify({ day, points }) });

describe("the tally", () => {
  it("adds per card and day; another day starts from zero; an earlier tally never changes", () => {
    const a = addPoints(undefined, "2026-12-07", "A", 3);
    const b = addPoints(a, "2026-12-07", "A", 2);
    expect([earnedOn(a, "2026-12-07", "A"), earnedOn(b, "2026-12-07", "A"), earnedOn(b, "2026-12-07", "B")]).toEqual([3, 5, 0]);
    expect(earnedOn(b, "2026-12-08", "A")).toBe(0);
    const c = addPoints(b, "2026-12-08", "B", 1);
    expect([earnedOn(c, "2026-12-08", "A"), earnedOn(c, "2026-12-08", "B"), cardsIn(c)]).toEqual([0, 1, ["B"]]);
    expect(earnedOn(undefined, "2026-12-07", "A")).toBe(0);
  });

  it("folds the latest additions into the rest once more than RECENT_MAX cards gathered, keeping every count", () => {
    let t: DailyTallyState | undefined;
    const seen: DailyTallyState[] = [];
    const n = RECENT_MAX * 3 + 5;
    for (let i = 0; i < n; i++) {
      t = addPoints(t, "d", `card-${i}`, i + 1);
      seen.push(t);
      expect(Object.keys(t.recent).length).toBeLessThanOrEqual(RECENT_MAX);
    }
    expect(Object.keys(t!.base).length + Object.keys(t!.recent).length).toBe(n);
    for (let i = 0; i < n; i++) expect(earnedOn(t, "d", `card-${i}`)).toBe(i + 1);
    // A card in the older half, credited again: its total, not its addition.
    const again = addPoints(t, "d", "card-0", 10);
    expect(earnedOn(again, "d", "card-0")).toBe(11);
    expect(earnedOn(t, "d", "card-0")).toBe(1);
    // Each tally along the way still says what it said.
    expect(earnedOn(seen[10], "d", "card-11")).toBe(0);
    expect(earnedOn(seen[10], "d", "card-10")).toBe(11);
    expect(cardsIn(again).length).toBe(n);
  });

  it("is made from what the database gave back", () => {
    const t = tallyOf({ day: "d", points: JSON.parse('{"A": 4, "__proto__": 1}') as Record<string, number> });
    expect([earnedOn(t, "d", "A"), earnedOn(t, "d", "__proto__"), earnedOn(t, "d", "constructor"), earnedOn(t, "d", "toString")]).toEqual([4, 1, 0, 0]);
    // Plain data, as the machine's whole state is.
    expect(JSON.parse(JSON.stringify(addPoints(t, "d", "__proto__", 2)))).toEqual({ day: "d", base: JSON.parse('{"A": 4, "__proto__": 1}'), recent: JSON.parse('{"__proto__": 3}') });
  });
});

describe("the rows kept, gathered at start", () => {
  it("takes the latest day's card rows; an earlier day's rows are stale", () => {
    const g = gatherStored(undefined, [row("A", "2026-12-06", 7), row("B", "2026-12-07", 2), row("C", "2026-12-07", 5)]);
    expect(g).toEqual({ daily: { day: "2026-12-07", points: { B: 2, C: 5 } }, stale: ["daily_points/A"], malformed: [] });
  });

  it("a whole-day row of an earlier version counts when it is of the count's day", () => {
    const legacy = { day: "2026-12-07", points: { A: 9, B: 1 } };
    expect(gatherStored(legacy, [row("A", "2026-12-07", 10)]).daily).toEqual({ day: "2026-12-07", points: { A: 10, B: 1 } });
    expect(gatherStored(legacy, [row("A", "2026-12-07", 10)], "2026-12-07").daily).toEqual({ day: "2026-12-07", points: { A: 10, B: 1 } });
    expect(gatherStored(legacy, []).daily).toEqual(legacy);
    // Of an earlier day than the card rows: not counted.
    expect(gatherStored({ day: "2026-12-06", points: { A: 9 } }, [row("B", "2026-12-07", 1)]).daily).toEqual({ day: "2026-12-07", points: { B: 1 } });
  });

  it("the count's day is the stored day row, not the latest day among the rows (the local day can go back)", () => {
    const rows = [row("A", "2026-11-29", 2), row("C", "2026-11-28", 5)];
    expect(gatherStored(undefined, rows, "2026-11-28")).toEqual({ daily: { day: "2026-11-28", points: { C: 5 } }, stale: ["daily_points/A"], malformed: [] });
    // The whole-day row of 0.2.0, of a later day than the stored day: not counted.
    expect(gatherStored({ day: "2026-11-29", points: { A: 2 } }, [row("C", "2026-11-28", 5)], "2026-11-28").daily).toEqual({ day: "2026-11-28", points: { C: 5 } });
    // No day row (a database 0.2.0 wrote), or one not in the form of a day: the latest day.
    expect(gatherStored(undefined, rows, null).daily?.day).toBe("2026-11-29");
    expect(gatherStored(undefined, rows, "tomorrow").daily?.day).toBe("2026-11-29");
    // A stored day with no rows of it: an empty count of that day.
    expect(gatherStored(undefined, rows, "2026-11-30").daily).toEqual({ day: "2026-11-30", points: {} });
  });

  it("a card in both the whole-day row and its own row gets the larger figure (a day's count only grows)", () => {
    const legacy = { day: "2026-11-29", points: { A: 5, B: 1 } };
    expect(gatherStored(legacy, [row("A", "2026-11-29", 2), row("B", "2026-11-29", 3)], "2026-11-29").daily).toEqual({ day: "2026-11-29", points: { A: 5, B: 3 } });
  });

  it("rows not in the expected form are ignored and listed", () => {
    const rows = [
      { key: "daily_points/A", value: "{not json" },
      { key: "daily_points/B", value: JSON.stringify({ day: "2026-12-07", points: -1 }) },
      { key: "daily_points/C", value: JSON.stringify({ day: "2026-12-07", points: 1.5 }) },
      { key: "daily_points/D", value: "null" },
      { key: "daily_points/F", value: JSON.stringify({ day: "today", points: 1 }) },
      row("E", "2026-12-07", 3),
      row("__proto__", "2026-12-07", 1),
    ];
    expect(gatherStored(undefined, rows)).toEqual({ daily: { day: "2026-12-07", points: JSON.parse('{"E": 3, "__proto__": 1}') }, stale: [], malformed: ["daily_points/A", "daily_points/B", "daily_points/C", "daily_points/D", "daily_points/F"] });
    expect(gatherStored(undefined, [])).toEqual({ stale: [], malformed: [] });
  });
});
