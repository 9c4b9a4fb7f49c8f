import { describe, expect, it } from "vitest";
import { COLLECTOR_CARD_ID, demoConfig, DoorWatch, KITCHEN_DOOR, storyContext } from "../../../src/app/demo/demo.js";
import {
  addCollection,
  addDeposit,
  count,
  emptySummary,
  formatSummary,
  localTime,
  pointsText,
  storyLine,
  type StoryContext,
} from "../../../src/app/demo/story.js";
import type { CollectionEventData, DoorState, StationState } from "../../../src/domain/station-types.js";
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

function collection(over: Partial<CollectionEventData> = {}): CollectionEventData {
  return {
    bin_id: "kitchen",
    card_id: "0012340777",
    removed_g: 11_600,
    gross_before_g: 11_600,
    gross_after_g: 0,
    rules_version: "2026-11",
    session_id: "0190a0b0-0000-7000-8000-000000000000",
    started_at: "2026-11-29T14:36:21.002Z",
    ended_at: "2026-11-29T14:36:37.950Z",
    close_reason: "idle",
    ...over,
  };
}

describe("the demo's config", () => {
  it("gives the kitchen bin a door on the simulated backend, in the database's folder, and lists the collector's card", () => {
    const config = demoConfig("/tmp/demo-x/demo.db", "mqtt://127.0.0.1:1");
    expect(config.gpio).toMatchObject({ backend: "simulated", simulated_dir: "/tmp/demo-x/gpio" });
    const kitchen = config.bins.find((b) => b.id === "kitchen")!;
    expect(kitchen.door).toMatchObject({
      lock: { line: KITCHEN_DOOR.lock },
      closed: { line: KITCHEN_DOOR.closed },
      button: { line: KITCHEN_DOOR.button },
      lamp: { line: KITCHEN_DOOR.lamp },
    });
    expect(config.bins.filter((b) => b.door !== undefined).map((b) => b.id)).toEqual(["kitchen"]);
    expect(config.session.door_mode).toBe("select");
    expect(config.cards.collectors).toEqual([COLLECTOR_CARD_ID]);
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
    const item = { kind: "identification", at: AT, cardId: "0008844356", readerId: "reader-card", bins: ["kitchen", "recycle"], waitingDoors: [], role: "resident" } as const;
    expect(storyLine(item, ctx)).toBe("14:36:37  identified  ******4356 at reader-card (bins open: kitchen, recycle)");
    expect(storyLine({ ...item, waitingDoors: ["kitchen"] }, ctx)).toBe(
      "14:36:37  identified  ******4356 at reader-card (bins open: kitchen, recycle; the door of kitchen opens with its button)",
    );
    expect(storyLine({ ...item, waitingDoors: ["kitchen", "recycle"] }, ctx)).toMatch(/; the doors of kitchen, recycle open with their buttons\)$/);
  });

  it("a collector's identification says every door unlocks", () => {
    const item = { kind: "identification", at: AT, cardId: "0012340777", readerId: "reader-card", bins: ["kitchen", "recycle"], waitingDoors: [], role: "collector" } as const;
    expect(storyLine(item, ctx)).toBe("14:36:37  identified  ******0777 at reader-card, a collector: every door unlocks (bins open: kitchen, recycle)");
  });

  it("a door: unlocked, opened, closed and locked, locked again", () => {
    const door = (change: "unlocked" | "opened" | "closed" | "relocked", locked: boolean) => storyLine({ kind: "door", at: AT, binId: "kitchen", change, locked }, ctx);
    expect(door("unlocked", false)).toBe("14:36:37  door        of kitchen unlocked");
    expect(door("opened", false)).toBe("14:36:37  door        of kitchen opened");
    expect(door("opened", true)).toBe("14:36:37  door        of kitchen opened while locked");
    expect(door("closed", true)).toBe("14:36:37  door        of kitchen closed and locked");
    expect(door("closed", false)).toBe("14:36:37  door        of kitchen closed");
    expect(door("relocked", true)).toBe("14:36:37  door        of kitchen locked again");
  });

  it("a collection: kilograms removed, the bin and the masked collector's card", () => {
    expect(storyLine({ kind: "collection", at: AT, data: collection() }, ctx)).toBe("14:36:37  collection  11.600 kg emptied from kitchen by ******0777");
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
      storyLine({ kind: "identification", at: AT, cardId: "0008844356", readerId: "r", bins: [], waitingDoors: [], role: "resident" }, ctx),
      storyLine({ kind: "deposit", at: AT, data: deposit({ points_reason: "awarded" }) }, ctx),
      storyLine({ kind: "collection", at: AT, data: collection({ card_id: "0008844356" }) }, ctx),
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
      "demo summary: 3 deposits, 2 points, 0 collections, 1 alarm, 4 events",
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
      "demo summary: 1 deposit, 1 point, 0 collections, 0 alarms, 1 event",
      "  category    deposits     kg  points",
      "  food_waste         1  1.250       1",
    ]);
    expect(formatSummary(emptySummary())).toEqual(["demo summary: 0 deposits, 0 points, 0 collections, 0 alarms, 0 events"]);
  });

  it("collections: counted in the totals line, then a table of the bins emptied", () => {
    const s = emptySummary();
    addDeposit(s, deposit({ points: 2, points_reason: "awarded" }));
    addCollection(s, collection());
    addCollection(s, collection({ removed_g: 2_500 }));
    addCollection(s, collection({ bin_id: "recycle", removed_g: 41_000 }));
    s.events = 4;
    expect(formatSummary(s)).toEqual([
      "demo summary: 1 deposit, 2 points, 3 collections, 0 alarms, 4 events",
      "  category    deposits     kg  points",
      "  food_waste         1  1.250       2",
      "  emptied bin  collections      kg",
      "  kitchen                2  14.100",
      "  recycle                1  41.000",
    ]);
  });
});

describe("door lines from the station's state", () => {
  const closedLocked: DoorState = { closed: true, locked: true, unlockedMono: null, openMono: null, forced: false, leftOpen: false, lineError: null };
  const state = (door: Partial<DoorState>): StationState => ({ doors: { kitchen: { ...closedLocked, ...door } } }) as unknown as StationState;
  const changes = (watch: DoorWatch, door: Partial<DoorState>) =>
    watch.changes(state(door), AT).map((i) => (i.kind === "door" ? `${i.change}${i.locked ? " (locked)" : ""}` : i.kind));

  it("a deposit through the door: unlocked, opened, closed and locked; nothing while nothing changes", () => {
    const watch = new DoorWatch();
    expect(changes(watch, { closed: null })).toEqual([]); // not read yet
    expect(changes(watch, {})).toEqual([]);
    expect(changes(watch, { locked: false })).toEqual(["unlocked"]);
    expect(changes(watch, { locked: false })).toEqual([]);
    expect(changes(watch, { locked: false, closed: false })).toEqual(["opened"]);
    expect(changes(watch, { locked: true, closed: true })).toEqual(["closed (locked)"]);
    expect(changes(watch, {})).toEqual([]);
  });

  it("unlocked and opened between two looks: both lines, in order; a door never opened locked again", () => {
    const watch = new DoorWatch();
    changes(watch, {});
    expect(changes(watch, { locked: false, closed: false })).toEqual(["unlocked", "opened"]);
    expect(changes(watch, { locked: false, closed: true })).toEqual(["closed"]);
    expect(changes(watch, { locked: true })).toEqual(["relocked (locked)"]);
    expect(changes(watch, { closed: false })).toEqual(["opened (locked)"]);
  });
});
