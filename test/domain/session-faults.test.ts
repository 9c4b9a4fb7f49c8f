/**
 * Faults at the worst instant of a session (found by attacking the machine as the field would): a
 * card shown while the last bag still settles, a door's GPIO line failing while it is open, a
 * shutdown with a door open, a button pressed after the bin stopped being ready, and the daily cap
 * on a board whose clock is not set yet. Each case failed before its fix.
 */
import { describe, expect, it } from "vitest";

import { EARLIEST_SET_WALL_MS } from "../../src/domain/session.js";
import { compilePointsTable } from "../../src/domain/points.js";
import type { StationInput } from "../../src/domain/station-types.js";
import { doorClosed, doorContext, doorOpened, locks, press, readyWithDoors } from "../support/doors.js";
import { ANNA, BORIS, READY, card, close, eventSummary, flush, notices, recorded, run, sessionWrites, storage, testContext, tick, weigh, wobble } from "../support/machine.js";

const ctx = doorContext();
/** `card bin net points close_reason` of each deposit recorded. */
const deposits = (effects: Parameters<typeof recorded>[0]) =>
  recorded(effects).flatMap((e) => (e.kind === "deposit" ? [`${e.data.card_id} ${e.data.bin_id} ${e.data.net_g}g ${e.data.points}p ${e.data.close_reason}`] : []));

/** Anna drops 2 kg into kitchen (12 kg before) and closes the door; the indicator still swings when Boris shows his card. */
const annaBagSettling = (c = ctx): StationInput[] => [
  ...readyWithDoors(c),
  card(ANNA, 1000),
  press("kitchen", 1100),
  doorOpened("kitchen", 1200),
  wobble("scale-1", 13_500, 1900),
  doorClosed("kitchen", 2000),
  wobble("scale-1", 14_200, 2010),
  card(BORIS, 2050),
];
const KITCHEN_IDLE_DEPOSIT = "deposit kitchen 2000g 4 awarded idle";
const SETTLING = "identification refused: a scale of the open session is still settling (a bag just landed); show the card again";

describe("another card while the open session's last bag is still settling", () => {
  it("is refused: the bag is Anna's, measured once it settles; Boris's card shown again opens his own session on the new weight", () => {
    const first = run([...annaBagSettling(), press("kitchen", 2100), ...weigh("scale-1", 14_000, 2300)], ctx);
    expect(notices(first.effects, "warn")).toContain(SETTLING);
    expect(first.effects).toContainEqual({ type: "indicate", signal: "refused" });
    expect(first.state.session).toMatchObject({ phase: "open", cardId: ANNA });
    // Settled: Boris again closes Anna's session (her bag, her points) and opens his own.
    const again = run([card(BORIS, 2500), press("kitchen", 2600), tick(60_000)], ctx, first.state);
    expect(deposits(again.effects)).toEqual([`${ANNA} kitchen 2000g 4p other_identification`]);
    expect(again.state.session.phase).toBe("idle");
  });

  it("the same in door_mode all, where the card itself unlocks", () => {
    const all = doorContext({ mode: "all" });
    const { effects } = run([...annaBagSettling(all), ...weigh("scale-1", 14_000, 2300), tick(60_000)], all);
    expect(notices(effects, "warn")).toContain(SETTLING);
    expect(deposits(effects)).toEqual([`${ANNA} kitchen 2000g 4p idle`]);
  });

  it("the same on bins without doors", () => {
    const inputs = [...READY, card(ANNA, 1000), wobble("scale-2", 4000, 1500), wobble("scale-2", 5200, 1600), card(BORIS, 1650), ...weigh("scale-2", 5000, 1900), tick(60_000)];
    const { effects } = run(inputs);
    expect(notices(effects, "warn")).toContain(SETTLING);
    expect(deposits(effects)).toEqual([`${ANNA} recycle 2000g 2p idle`]);
  });

  it("a collector's card too: Anna's bag stays hers, not part of the collection", () => {
    const inputs: StationInput[] = [{ type: "set_cards", collectors: [BORIS], version: "1", mono: 0, wall: 0 }, ...annaBagSettling(), ...weigh("scale-1", 14_000, 2300), tick(60_000)];
    const { effects } = run(inputs, ctx);
    expect(notices(effects, "warn")).toContain(SETTLING);
    expect(eventSummary(effects)).toEqual([KITCHEN_IDLE_DEPOSIT]);
  });
});

describe("a door's GPIO line fails while the door is open", () => {
  const failAt = (mono: number): StationInput => ({ type: "gpio_error", line: 27, message: "gpiomon for line 27 ended: exit code SIGKILL", binId: "kitchen", mono, wall: mono });

  it("locks the door at once; the session closes idle_close_s later with the bag; another card is not held off by that door", () => {
    const opened = run([...readyWithDoors(ctx), card(ANNA, 1000), press("kitchen", 1100), doorOpened("kitchen", 1200)], ctx);
    expect(locks(opened.state, ctx)).toBe("kitchen:unlocked");
    const failed = run([failAt(1300), ...weigh("scale-1", 14_000, 2300)], ctx, opened.state);
    expect(locks(failed.state, ctx)).toBe("kitchen:locked");
    expect(notices(failed.effects, "warn")).toContain("door locked: a GPIO line of its bin failed");
    expect(eventSummary(failed.effects)).toEqual(["alarm gpio_error kitchen"]);
    // idle_close_s (5 s) from the failure.
    const closed = run([tick(6_299), tick(6_300)], ctx, failed.state);
    expect(deposits(closed.effects)).toEqual([`${ANNA} kitchen 2000g 4p idle`]);
    expect(closed.state.session.phase).toBe("idle");
    expect(locks(closed.state, ctx)).toBe("kitchen:locked");
  });

  it("another card closes the session (the failed door is no longer waited for) and the failed bin is not in the new one", () => {
    const inputs = [...readyWithDoors(ctx), card(ANNA, 1000), press("kitchen", 1100), doorOpened("kitchen", 1200), failAt(1300), ...weigh("scale-1", 14_000, 2300), card(BORIS, 2500)];
    const { effects, state } = run(inputs, ctx);
    expect(notices(effects, "warn")).not.toContain("identification ignored: a door of the open session is open");
    expect(deposits(effects)).toEqual([`${ANNA} kitchen 2000g 4p other_identification`]);
    const session = state.session.phase === "open" ? state.session : null;
    expect(session?.cardId).toBe(BORIS);
    expect(session?.doorBins ?? []).not.toContain("kitchen");
  });
});

describe("a shutdown while a door of the session is open", () => {
  const doorOpen = [...readyWithDoors(ctx), card(ANNA, 1000), press("kitchen", 1100), doorOpened("kitchen", 1200)];

  it("waits: the door closing with the bag settled closes the session with its deposit (shutdown)", () => {
    const waiting = run([...doorOpen, flush(1300)], ctx);
    expect(waiting.state.session.phase).toBe("open");
    expect(notices(waiting.effects)).toContain("shutdown: waiting for the session's open door to close before closing it");
    expect(notices(waiting.effects)).not.toContain("session closed");
    const done = run([...weigh("scale-1", 13_000, 1800), doorClosed("kitchen", 1900), tick(1901)], ctx, waiting.state);
    expect(deposits(done.effects)).toEqual([`${ANNA} kitchen 1000g 2p shutdown`]);
    expect(locks(done.state, ctx)).toBe("kitchen:locked");
  });

  it("a door still open at the final flush leaves the session stored, to be measured at the next start", () => {
    const { state, effects } = run([...doorOpen, flush(1300), { type: "flush", final: true, mono: 3800, wall: 3800 }], ctx);
    expect(state.session.phase).toBe("open");
    expect(notices(effects, "warn")).toContain("shutdown while a door of the session is open: the session stays stored and is measured at the next start");
    expect(recorded(effects)).toEqual([]);
  });
});

describe("a button pressed after the bin or the station stopped being ready", () => {
  it("is refused when the bin's scale went offline: the door stays locked", () => {
    const { effects, state } = run([...readyWithDoors(ctx), card(ANNA, 1000), close("scale-1", 1050), press("kitchen", 1100)], ctx);
    expect(notices(effects)).toContain("button refused: the bin's scale is offline or has no valid weight");
    expect(notices(effects)).not.toContain("door unlocked");
    expect(locks(state, ctx)).toBe("kitchen:locked");
  });

  it("is refused on a storage fault and on a power failure", () => {
    const fault = run([...readyWithDoors(ctx), card(ANNA, 1000), storage("fault", 1050), press("kitchen", 1100)], ctx);
    expect(notices(fault.effects)).toContain("button refused: storage fault");
    expect(locks(fault.state, ctx)).toBe("kitchen:locked");
    const power = run([...readyWithDoors(ctx), card(ANNA, 1000), { type: "contact", contact: "power_fail", active: true, mono: 1050, wall: 1050 }, press("kitchen", 1100)], ctx);
    expect(notices(power.effects)).toContain("button refused: power failure (the power_fail input is active)");
    expect(locks(power.state, ctx)).toBe("kitchen:locked");
  });

  it("still unlocks a ready bin (the rule refuses only what is not ready)", () => {
    const { state } = run([...readyWithDoors(ctx), card(ANNA, 1000), press("kitchen", 1100)], ctx);
    expect(locks(state, ctx)).toBe("kitchen:unlocked");
  });
});

describe("the daily cap while the wall clock is not set (a board without a real-time clock, before NTP)", () => {
  const base = testContext();
  const capped = { ...base, points: compilePointsTable({ rulesVersion: "x", dailyCap: 10, categories: { food_waste: { pointsPerKg: 2, minNetG: 0 }, recyclable: { pointsPerKg: 2, minNetG: 0 } } }) };
  const WALL_TODAY = Date.parse("2026-11-29T10:00:00Z");
  const WALL_UNSET = 5 * 60_000; // 1970, as the board boots
  const deposit = (mono: number, wall: number, grams: number): StationInput[] => [
    { type: "identified", cardId: ANNA, readerId: "reader-2", sessionId: `s-${mono}`, mono, wall },
    { type: "scale_data", scaleId: "scale-1", bytes: 18, frames: [{ kind: "weight", grams, stable: true, mode: "gross" }], mono: mono + 100, wall: wall + 100 },
    { type: "scale_data", scaleId: "scale-1", bytes: 18, frames: [{ kind: "weight", grams, stable: true, mode: "gross" }], mono: mono + 110, wall: wall + 110 },
    { type: "tick", mono: mono + 10_000, wall: wall + 10_000 },
  ];
  const restoredAtCap: StationInput = { type: "restore", daily: { day: "2026-11-29", points: { [ANNA]: 10 } }, mono: 0, wall: WALL_UNSET };

  it("counts on the day of the count in force, whose rows it keeps: the cap is not earned twice in one real day", () => {
    const inputs: StationInput[] = [restoredAtCap, ...READY.map((i) => ({ ...i, wall: WALL_UNSET + i.mono })), ...deposit(1000, WALL_UNSET + 1000, 17_000), ...deposit(20_000, WALL_TODAY, 22_000)];
    const { effects } = run(inputs, capped);
    const points = recorded(effects).flatMap((e) => (e.kind === "deposit" ? [e.data.points] : []));
    expect(points).toEqual([0, 0]);
    // The unset clock's deposit deleted no row of today's count.
    const metas = effects.flatMap((e) => (e.type === "record" && e.meta ? [e.meta] : []));
    expect(metas.every((m) => !Object.values(m).includes(null))).toBe(true);
  });

  it("a set clock on a new day starts a new count as before", () => {
    const nextDay = Date.parse("2026-11-30T08:00:00Z");
    expect(EARLIEST_SET_WALL_MS).toBe(Date.UTC(2026, 0, 1));
    expect(nextDay).toBeGreaterThan(EARLIEST_SET_WALL_MS);
    const { effects } = run([restoredAtCap, ...READY.map((i) => ({ ...i, wall: nextDay })), ...deposit(1000, nextDay + 1000, 17_000)], capped);
    expect(recorded(effects).flatMap((e) => (e.kind === "deposit" ? [e.data.points] : []))).toEqual([10]);
  });
});

describe("a door bin whose door never opened while unlocked earns nothing", () => {
  it("unlocked, not opened, locked again: weight that rises there is no deposit (first_deposit_timeout closes with nothing) but an unattributed change", () => {
    const { effects, state } = run([...readyWithDoors(ctx), card(ANNA, 1000), press("kitchen", 1100), tick(17_000), ...weigh("scale-1", 15_000, 20_000), tick(40_000)], ctx);
    expect(deposits(effects)).toEqual([]);
    expect(eventSummary(effects)).toEqual(["alarm unattributed_weight_change kitchen"]);
    expect(state.session.phase).toBe("idle");
  });

  it("forced open after it locked again: door_forced, and the forced weight is nobody's deposit", () => {
    const inputs = [...readyWithDoors(ctx), card(ANNA, 1000), press("kitchen", 1100), tick(17_000), doorOpened("kitchen", 18_000), ...weigh("scale-1", 15_000, 19_000), doorClosed("kitchen", 19_500), tick(40_000)];
    const { effects } = run(inputs, ctx);
    expect(deposits(effects)).toEqual([]);
    expect(eventSummary(effects)).toEqual(["alarm door_forced kitchen", "alarm unattributed_weight_change kitchen"]);
  });

  it("the bin is stored with the session as its door opens, with the baseline of its unlock; the bag is the resident's", () => {
    const unlocked = run([...readyWithDoors(ctx), card(ANNA, 1000), press("kitchen", 1100)], ctx);
    // Stored at the card (no bin yet); nothing more at the unlock: a crash now has nothing to measure.
    expect(sessionWrites(unlocked.effects)).toEqual(["put"]);
    const opened = run([...weigh("scale-1", 12_030, 1150), doorOpened("kitchen", 1200)], ctx, unlocked.state);
    expect(sessionWrites(opened.effects)).toEqual(["put"]);
    const row = opened.effects.flatMap((e) => (e.type === "record" && e.session?.op === "put" ? [e.session.state] : []))[0]!;
    expect(row.bins).toContainEqual({ bin_id: "kitchen", baseline_g: 12_000, baseline_mode: "gross" });
    const atCard = unlocked.effects.flatMap((e) => (e.type === "record" && e.session?.op === "put" ? [e.session.state] : []))[0]!;
    expect(atCard.bins.map((b) => b.bin_id)).not.toContain("kitchen");
    const closed = run([...weigh("scale-1", 14_000, 1800), doorClosed("kitchen", 2000), tick(8_000)], ctx, opened.state);
    expect(deposits(closed.effects)).toEqual([`${ANNA} kitchen 2000g 4p idle`]);
  });

  it("a bin unlocked twice keeps the baseline of its first unlock", () => {
    const inputs = [...readyWithDoors(ctx), card(ANNA, 1000), press("kitchen", 1100), tick(17_000), ...weigh("scale-1", 12_500, 18_000), press("kitchen", 18_100), doorOpened("kitchen", 18_200), ...weigh("scale-1", 14_500, 19_000), doorClosed("kitchen", 19_500), tick(40_000)];
    const { effects } = run(inputs, ctx);
    // 12 kg at the first unlock: the 500 g that came while it was locked again is counted with the bag, as before.
    expect(deposits(effects)).toEqual([`${ANNA} kitchen 2500g 5p idle`]);
  });
});
