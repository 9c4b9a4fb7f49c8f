/**
 * Roles and rules (contract.md section 2 "Roles", section 3 "Points") through the pure machine:
 * collectors, maintenance, blocked cards, `set_cards`, the daily cap counted across sessions and
 * restored after a restart, and roles of sessions recovered after a restart.
 */
import { describe, expect, it } from "vitest";
import { earnedOn } from "../../src/domain/daily-points.js";
import { compilePointsTable, localDay } from "../../src/domain/points.js";
import type { StationEffect, StationInput } from "../../src/domain/station-types.js";
import { doorClosed, doorContext, doorOpened, locks, press, readyWithDoors } from "../support/doors.js";
import {
  ANNA,
  BORIS,
  READY,
  STORED_SESSION,
  WALL0,
  card,
  eventSummary,
  open,
  recorded,
  recoverInput,
  run,
  testContext,
  tick,
  weigh,
} from "../support/machine.js";

const COLLECTOR = "0000000777";
const TECH = "0000000888";
const BLOCKED = "0000000999";

const lists = (mono = 0): StationInput => ({
  type: "set_cards",
  collectors: [COLLECTOR],
  maintenance: [TECH],
  blocked: [BLOCKED],
  version: "v1",
  mono,
  wall: WALL0 + mono,
});

const metaWrites = (effects: StationEffect[]) => effects.flatMap((e) => (e.type === "record" && e.meta ? Object.keys(e.meta) : []));
const metaOf = (effects: StationEffect[]) => effects.flatMap((e) => (e.type === "record" && e.meta ? [e.meta] : []));

describe("collectors", () => {
  const ctx = doorContext({ fullG: 12_000 });

  it("a collector's session unlocks every door, full ones too, and the weight removed is a collection event", () => {
    const { state, effects } = run([lists(), ...readyWithDoors(ctx), card(COLLECTOR, 1000)], ctx);
    expect(locks(state, ctx)).toBe("kitchen:unlocked");
    expect(eventSummary(effects)).toEqual(["alarm bin_full kitchen"]);
    const emptied = run([doorOpened("kitchen", 2000), ...weigh("scale-1", 400, 3000), doorClosed("kitchen", 4000), tick(9000)], ctx, state);
    expect(eventSummary(emptied.effects)).toEqual(["alarm bin_ok kitchen", "collection kitchen 11600g idle"]);
    const collection = recorded(emptied.effects).find((e) => e.kind === "collection");
    expect(collection?.data).toMatchObject({ bin_id: "kitchen", card_id: COLLECTOR, removed_g: 11_600, gross_before_g: 12_000, gross_after_g: 400, rules_version: "2026-11" });
  });

  it("weight that rose in a collector's session is no event (no deposit, no points)", () => {
    const { effects } = run([lists(), ...readyWithDoors(ctx), card(COLLECTOR, 1000), doorOpened("kitchen", 2000), ...weigh("scale-1", 13_000, 3000), doorClosed("kitchen", 4000), tick(9000)], ctx);
    expect(eventSummary(effects).filter((e) => !e.includes("bin_full"))).toEqual([]);
  });

  it("a card read while the collector's door is open (during an emptying) is ignored", () => {
    const { state } = run([lists(), ...readyWithDoors(ctx), card(COLLECTOR, 1000), doorOpened("kitchen", 2000), card(ANNA, 2500)], ctx);
    expect(state.session.phase === "open" && state.session.cardId).toBe(COLLECTOR);
  });

  it("a door the collector's session unlocked on a bin whose scale has no weight locks again when the session closes", () => {
    // Found by test/domain/crash.property.test.ts: recycle's scale gave no weight since the start
    // (its cable was pulled while the station was down), so its door is unlocked but measures nothing.
    const both = doorContext({ both: true });
    const start: StationInput[] = [lists(), open("scale-1"), open("scale-2"), open("reader-2"), ...weigh("scale-1", 12_000, 100), doorClosed("kitchen", 50), doorClosed("recycle", 50)];
    const { state } = run([...start, card(COLLECTOR, 1000)], both);
    expect(locks(state, both)).toBe("kitchen:unlocked recycle:unlocked");
    // Another card ends the collector's session at once; the resident's new session (select mode) waits for a button.
    const after = run([card(ANNA, 2000)], both, state);
    expect(after.state.session.phase === "open" && after.state.session.cardId).toBe(ANNA);
    expect(locks(after.state, both)).toBe("kitchen:locked recycle:locked");
    // A maintenance session closed by its own timer (idle_close_s after kitchen's door closed), before recycle's open_timeout_s.
    const maintenance = run([...start, card(TECH, 1000), doorOpened("kitchen", 2000), doorClosed("kitchen", 3000), tick(8000)], both);
    expect(maintenance.state.session.phase).toBe("idle");
    expect(locks(maintenance.state, both)).toBe("kitchen:locked recycle:locked");
  });
});

describe("maintenance", () => {
  it("unlocks every door and records no deposit, collection or unattributed weight: only a maintenance event", () => {
    const ctx = doorContext();
    const { state, effects } = run(
      [lists(), ...readyWithDoors(ctx), card(TECH, 1000), doorOpened("kitchen", 2000), ...weigh("scale-1", 9000, 3000), ...weigh("scale-2", 5000, 3000), doorClosed("kitchen", 4000), tick(9000)],
      ctx,
    );
    expect(eventSummary(effects)).toEqual(["maintenance idle"]);
    expect(state.session.phase).toBe("idle");
  });
});

describe("blocked cards", () => {
  it("unlock nothing; on bins without doors their deposits earn 0 points (blocked_card)", () => {
    const ctx = doorContext();
    const { state, effects } = run([lists(), ...readyWithDoors(ctx), card(BLOCKED, 1000), press("kitchen", 1500), ...weigh("scale-2", 4000, 2000), tick(7000)], ctx);
    expect(locks(state, ctx)).toBe("kitchen:locked");
    expect(eventSummary(effects)).toEqual(["deposit recycle 1000g 0 blocked_card idle"]);
  });

  it("do not end another card's session", () => {
    const ctx = testContext();
    const { state } = run([lists(), ...READY, card(ANNA, 1000), card(BLOCKED, 2000)], ctx);
    expect(state.session.phase === "open" && state.session.cardId).toBe(ANNA);
  });
});

describe("set_cards", () => {
  it("replaces the given lists, keeps the others, and is stored (meta cards) in the database", () => {
    const ctx = testContext();
    const first = run([lists()], ctx);
    expect(metaWrites(first.effects)).toEqual(["cards"]);
    const second = run([{ type: "set_cards", blocked: [], version: "v2", mono: 1, wall: WALL0 }], ctx, first.state);
    expect(second.state.cards).toEqual({ collectors: [COLLECTOR], maintenance: [TECH], blocked: [], version: "v2" });
  });
});

describe("points rules", () => {
  const capped = (dailyCap: number) =>
    testContext({
      points: compilePointsTable({
        rulesVersion: "2026-12",
        categories: { food_waste: { pointsPerKg: "2", minNetG: 0 }, recyclable: { pointsPerDeposit: 5, minNetG: 500 } },
        rounding: "half_up",
        dailyCap,
      }),
      localDay: (t: number) => localDay(t, "Asia/Shanghai"),
    });

  it("points_per_deposit, half_up rounding and the daily cap across sessions, with the reason daily_cap", () => {
    const ctx = capped(10);
    const { state, effects } = run(
      [
        ...READY,
        card(ANNA, 1000),
        ...weigh("scale-1", 14_750, 2000), // 2750 g * 2 / 1000 = 5.5 -> 6 (half_up)
        ...weigh("scale-2", 3600, 2000), // points_per_deposit 5 (600 g >= 500 g)
        tick(7000),
        card(ANNA, 8000),
        ...weigh("scale-1", 15_750, 9000), // 2 points by the formula, 0 left today
        tick(14_000),
      ],
      ctx,
    );
    expect(eventSummary(effects)).toEqual([
      "deposit kitchen 2750g 6 awarded idle",
      "deposit recycle 600g 4 daily_cap idle",
      "deposit kitchen 1000g 0 daily_cap idle",
    ]);
    const day = localDay(WALL0, "Asia/Shanghai");
    expect(earnedOn(state.daily, day, ANNA)).toBe(10);
    // One close, one row: the card's, with the day's total (the second close earned nothing).
    const rows = metaOf(effects);
    expect(rows).toEqual([{ [`daily_points/${ANNA}`]: JSON.stringify({ day, points: 10 }), daily_points_day: day }]);
  });

  it("a close writes only the rows of the cards it credited, however many cards earned that day", () => {
    const ctx = capped(1000);
    const cards = Array.from({ length: 150 }, (_, i) => String(1_000_000 + i).padStart(10, "0"));
    const inputs: StationInput[] = [...READY];
    cards.forEach((c, i) => inputs.push(card(c, 1000 + i * 10_000), ...weigh("scale-1", 12_000 + (i + 1) * 250, 2000 + i * 10_000), tick(7000 + i * 10_000)));
    const { state, effects } = run(inputs, ctx);
    const rows = metaOf(effects);
    expect(rows).toHaveLength(150);
    for (const [i, r] of rows.entries()) expect(Object.keys(r)).toEqual([`daily_points/${cards[i]}`, "daily_points_day"]);
    // Past the latest additions' size, every card's count is still there.
    const day = localDay(WALL0, "Asia/Shanghai");
    expect(cards.map((c) => earnedOn(state.daily, day, c))).toEqual(cards.map(() => 1));
    // Then the first card again: its row says its whole day.
    const again = run([card(cards[0]!, 2_000_000), ...weigh("scale-1", 12_000 + 150 * 250 + 2000, 2_001_000), tick(2_006_000)], ctx, state);
    expect(metaOf(again.effects)).toEqual([{ [`daily_points/${cards[0]}`]: JSON.stringify({ day, points: 5 }), daily_points_day: day }]);
  });

  it("a new day's first credit deletes the previous day's rows; a step never changes the state it was given", () => {
    const ctx = capped(1000);
    const first = run([...READY, card(ANNA, 1000), ...weigh("scale-1", 14_000, 2000), tick(7000), card(BORIS, 8000), ...weigh("scale-1", 15_000, 9000), tick(14_000)], ctx);
    const before = JSON.stringify(first.state.daily);
    const nextDay = 86_400_000;
    const next = run([card(BORIS, nextDay), ...weigh("scale-1", 16_000, nextDay + 1000), tick(nextDay + 6000)], ctx, first.state);
    expect(JSON.stringify(first.state.daily)).toBe(before);
    const day = localDay(WALL0 + nextDay, "Asia/Shanghai");
    expect(metaOf(next.effects)).toEqual([{ [`daily_points/${ANNA}`]: null, [`daily_points/${BORIS}`]: JSON.stringify({ day, points: 2 }), daily_points_day: day }]);
    expect(earnedOn(next.state.daily, day, ANNA)).toBe(0);
  });

  it("a card id that names an object's property (__proto__, constructor) is counted like any other", () => {
    const ctx = capped(3);
    const odd = ["__proto__", "constructor"];
    const inputs: StationInput[] = [...READY];
    odd.forEach((c, i) => inputs.push(card(c, 1000 + i * 20_000), ...weigh("scale-1", 14_000 + i * 2000, 2000 + i * 20_000), tick(7000 + i * 20_000)));
    inputs.push(card("__proto__", 50_000), ...weigh("scale-1", 18_000, 51_000), tick(56_000));
    const { state, effects } = run(inputs, ctx);
    expect(eventSummary(effects)).toEqual(["deposit kitchen 2000g 3 daily_cap idle", "deposit kitchen 2000g 3 daily_cap idle", "deposit kitchen 2000g 0 daily_cap idle"]);
    expect(earnedOn(state.daily, localDay(WALL0, "Asia/Shanghai"), "__proto__")).toBe(3);
  });

  it("the daily count restored from the database survives a restart; a new local day starts from zero", () => {
    const ctx = capped(10);
    const day = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(WALL0);
    const restore: StationInput = { type: "restore", daily: { day, points: { [ANNA]: 9 } }, mono: 0, wall: WALL0 };
    const today = run([restore, ...READY, card(ANNA, 1000), ...weigh("scale-1", 14_000, 2000), tick(7000)], ctx);
    expect(eventSummary(today.effects)).toEqual(["deposit kitchen 2000g 1 daily_cap idle"]);
    const yesterday: StationInput = { type: "restore", daily: { day: "2000-01-01", points: { [ANNA]: 10 } }, mono: 0, wall: WALL0 };
    const fresh = run([yesterday, ...READY, card(ANNA, 1000), ...weigh("scale-1", 14_000, 2000), tick(7000)], ctx);
    expect(eventSummary(fresh.effects)).toEqual(["deposit kitchen 2000g 4 awarded idle"]);
  });

  it("the reasons come in the contract's order: blocked_card before implausible", () => {
    const base = testContext();
    const ctx = testContext({ bins: base.bins.map((b) => ({ ...b, maxNetG: 1000 })) });
    const { effects } = run([lists(), ...READY, card(BLOCKED, 1000), ...weigh("scale-1", 14_000, 2000), tick(7000)], ctx);
    // Implausible too (2000 g above max_net_g 1000 g), but blocked_card comes first: no implausible alarm either.
    expect(eventSummary(effects)).toEqual(["deposit kitchen 2000g 0 blocked_card idle"]);
  });
});

describe("recovered sessions keep their role", () => {
  it("a collector's session interrupted by a restart closes as a collection, not a deposit", () => {
    const ctx = testContext();
    const stored = { ...STORED_SESSION, card_id: COLLECTOR, role: "collector" as const };
    const { effects } = run([lists(), recoverInput([stored], 0), ...READY.slice(0, 4), ...weigh("scale-1", 1000, 100), ...weigh("scale-2", 3000, 100)], ctx);
    expect(eventSummary(effects)).toEqual(["collection kitchen 11000g restart"]);
  });

  it("the role is stored with the open session", () => {
    const ctx = doorContext();
    const { effects } = run([lists(), ...readyWithDoors(ctx), card(COLLECTOR, 1000)], ctx);
    const put = effects.find((e) => e.type === "record" && e.session?.op === "put");
    expect(put?.type === "record" && put.session?.op === "put" && put.session.state.role).toBe("collector");
  });
});

it("BORIS is a plain resident without lists", () => {
  const { state } = run([...READY, card(BORIS, 1000)]);
  expect(state.session.phase === "open" && state.session.role).toBeUndefined();
});
