import { describe, expect, it } from "vitest";
import type { StationInput } from "../../src/domain/station-types.js";
import { ANNA, BORIS, READY, card, close, eventSummary, notices, run, sessionWrites, weigh, wobble } from "../support/machine.js";

/**
 * A shutdown (SIGTERM, a service restart, an upgrade) while a bag is still settling must not lose
 * it: the session closes once the scales settle, or stays stored for the next start.
 */
const flush = (mono: number, final = false): StationInput => ({ type: "flush", final, mono, wall: 1_800_000_000_000 + mono });

/** Anna opens at 1 s; a bag lands on the kitchen scale at 2 s and is still swinging. */
const SWINGING = [...READY, card(ANNA, 1000), wobble("scale-1", 14_100, 2000)];

describe("shutdown during a deposit", () => {
  it("a settled session closes at once, reason shutdown", () => {
    const { state, effects } = run([...READY, card(ANNA, 1000), ...weigh("scale-1", 14_500, 2000), flush(2500)]);
    expect(eventSummary(effects)).toEqual(["deposit kitchen 2500g 5 awarded shutdown"]);
    expect(state.session.phase).toBe("idle");
  });

  it("a bag still settling waits: the session closes the moment the scale is stable, with the bag", () => {
    const waiting = run([...SWINGING, flush(2100)]);
    expect(eventSummary(waiting.effects)).toEqual([]);
    expect(waiting.state.session.phase).toBe("open");
    expect(notices(waiting.effects, "info")).toContain("shutdown: waiting for the session's scales to settle before closing it");
    const settled = run([...weigh("scale-1", 14_500, 2800)], undefined, waiting.state);
    expect(eventSummary(settled.effects)).toEqual(["deposit kitchen 2500g 5 awarded shutdown"]);
    expect(sessionWrites(settled.effects)).toEqual(["put", "delete"]);
    expect(settled.state.session.phase).toBe("idle");
  });

  it("a scale lost while waiting counts as settled (its last accepted weight)", () => {
    const { effects } = run([...SWINGING, flush(2100), close("scale-1", 2500)]);
    expect(eventSummary(effects)).toEqual(["alarm scale_offline scale-1"]);
    // 12 kg -> 12 kg: nothing to deposit, but the session is closed and its row deleted.
    expect(sessionWrites(effects)).toEqual(["put", "delete"]);
  });

  it("while waiting, another card is refused and does not close the session", () => {
    const { state, effects } = run([...SWINGING, flush(2100), card(BORIS, 2200)]);
    expect(eventSummary(effects)).toEqual([]);
    expect(state.session.phase === "open" && state.session.cardId).toBe(ANNA);
    expect(notices(effects, "warn")).toContain("identification refused: the station is shutting down");
  });

  it("a final flush that still finds it settling leaves it stored for the next start: nothing recorded, nothing deleted", () => {
    const { state, effects } = run([...SWINGING, flush(2100), flush(5100, true)]);
    expect(eventSummary(effects)).toEqual([]);
    expect(sessionWrites(effects)).toEqual(["put"]);
    expect(state.session.phase).toBe("open");
    expect(notices(effects, "warn").some((m) => m.startsWith("shutdown while a scale of the session is still settling"))).toBe(true);
  });

  it("a second flush while waiting changes nothing", () => {
    const once = run([...SWINGING, flush(2100)]);
    const twice = run([flush(2200)], undefined, once.state);
    expect(twice.effects).toEqual([]);
    expect(twice.state).toEqual(once.state);
  });
});
