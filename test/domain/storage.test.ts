/**
 * The storage rules of the station machine (issue 7, items 1 and 4): busy only shows on the status,
 * space levels with their once-per-crossing alarms, and the fail-safe rule at the budget or the floor.
 */
import { describe, expect, it } from "vitest";
import { statusOf } from "../../src/domain/station-machine.js";
import { spaceClear, spaceLevel } from "../../src/domain/storage.js";
import type { SpaceAlarm, StationEffect, StationInput } from "../../src/domain/station-types.js";
import { ANNA, BORIS, READY, WALL0, card, eventSummary, notices, run, storage, testContext, weigh } from "../support/machine.js";

const MIB = 1_048_576;
/** A measurement: `usedMb` of a 100 MiB budget, `freeMb` free against a 10 MiB floor. */
const space = (usedMb: number, mono: number, freeMb = 1000, alarm?: SpaceAlarm): StationInput => ({
  type: "storage_space",
  space: { usedBytes: usedMb * MIB, budgetBytes: 100 * MIB, freeBytes: freeMb * MIB, floorBytes: 10 * MIB },
  ...(alarm ? { alarm } : {}),
  mono,
  wall: WALL0 + mono,
});

const storageAlarms = (effects: StationEffect[]) => eventSummary(effects).filter((e) => e.startsWith("alarm storage_"));

describe("storage space levels", () => {
  it.each([
    [50, 1000, "ok", true],
    [89.9, 1000, "ok", false],
    [90, 1000, "nearly_full", false],
    [99.9, 1000, "nearly_full", false],
    [100, 1000, "full", false],
    [10, 20, "ok", false], // exactly twice the floor: not below it, but not above it either
    [10, 19.9, "nearly_full", false],
    [10, 9.9, "full", false],
    [79.9, 20.1, "ok", true],
  ] as const)("%s MiB of 100 used, %s MiB free (floor 10): %s, clear %s", (used, free, level, clear) => {
    const m = { usedBytes: used * MIB, budgetBytes: 100 * MIB, freeBytes: free * MIB, floorBytes: 10 * MIB };
    expect(spaceLevel(m)).toBe(level);
    expect(spaceClear(m)).toBe(clear);
  });
});

describe("storage in the station machine", () => {
  it("storage_nearly_full once at 90 %, nothing while it stays between 80 and 90, storage_ok once under 80 %", () => {
    const { effects, state } = run([space(50, 0), space(90, 100), space(95, 200), space(85, 300), space(92, 400), space(81, 500), space(79, 600), space(70, 700)]);
    expect(storageAlarms(effects)).toEqual(["alarm storage_nearly_full st-001", "alarm storage_ok st-001"]);
    const records = effects.filter((e) => e.type === "record");
    expect(records.map((r) => r.type === "record" && r.storageAlarm)).toEqual(["nearly_full", "ok"]);
    expect(state.storage).toMatchObject({ space: "ok", spaceAlarm: "ok" });
    const first = records[0]!.type === "record" ? records[0]!.events[0]! : undefined;
    expect(first?.data).toMatchObject({ code: "storage_nearly_full", used_bytes: 90 * MIB, max_size_bytes: 100 * MIB, free_bytes: 1000 * MIB, min_free_bytes: 10 * MIB });
  });

  it("the free-space floor: nearly full below twice it, ok only above twice it again", () => {
    const { effects } = run([space(10, 0, 500), space(10, 100, 15), space(10, 200, 5), space(10, 300, 20), space(10, 400, 21)]);
    expect(storageAlarms(effects)).toEqual(["alarm storage_nearly_full st-001", "alarm storage_ok st-001"]);
    expect(notices(effects, "error")).toEqual(["storage full: no new sessions until space is back"]);
  });

  it("not at every start: the level stored with the last alarm comes with the first measurement", () => {
    // Restarted while still nearly full: no second alarm.
    expect(storageAlarms(run([space(95, 0, 1000, "nearly_full"), space(96, 100)]).effects)).toEqual([]);
    // Restarted after space came back while the station was stopped: the crossing is reported.
    expect(storageAlarms(run([space(50, 0, 1000, "nearly_full")]).effects)).toEqual(["alarm storage_ok st-001"]);
    // Restarted with nothing stored (first start) and fine: nothing.
    expect(storageAlarms(run([space(50, 0)]).effects)).toEqual([]);
  });

  it("at the budget a card opens no session (fail safe); the open session's own card and the session go on; after pruning, cards work again", () => {
    const atBudget = run([...READY, space(100, 500), card(ANNA, 1000)]);
    expect(atBudget.state.session.phase).toBe("idle");
    expect(atBudget.state.counters.sessionsRefused).toBe(1);
    expect(notices(atBudget.effects, "warn")).toContain("session refused: storage full");

    const open = run([...READY, card(ANNA, 1000), space(100, 1500), card(ANNA, 2000), card(BORIS, 2500), ...weigh("scale-1", 13_250, 3000)]);
    expect(open.state.session.phase).toBe("open");
    expect(open.state.session.phase === "open" && open.state.session.cardId).toBe(ANNA);
    expect(open.state.counters.sessionsRefused).toBe(1); // Boris only
    const closed = run([{ type: "tick", mono: 9000, wall: WALL0 + 9000 }], testContext(), open.state);
    expect(eventSummary(closed.effects)).toEqual(["deposit kitchen 1250g 2 awarded idle"]);

    const pruned = run([space(70, 10_000), card(BORIS, 10_500)], testContext(), closed.state);
    expect(pruned.state.session.phase).toBe("open");
  });

  it("below the floor a card opens no session either", () => {
    const { state } = run([...READY, space(10, 500, 9), card(ANNA, 1000)]);
    expect(state.session.phase).toBe("idle");
  });

  it("busy is not a fault: the status says busy, sessions still open; the status reports the space level", () => {
    const ctx = testContext();
    const busy = run([...READY, storage("busy", 500), card(ANNA, 1000)], ctx);
    expect(busy.state.session.phase).toBe("open");
    expect(statusOf(busy.state, ctx).storage).toEqual({ state: "busy", space: "ok", message: "disk I/O error" });
    const nearly = run([space(91, 0)], ctx);
    expect(statusOf(nearly.state, ctx).storage).toEqual({ state: "ok", space: "nearly_full" });
    expect(nearly.effects.filter((e) => e.type === "status_changed")).toHaveLength(1);
    expect(JSON.parse(JSON.stringify(nearly.state))).toEqual(nearly.state);
  });
});
