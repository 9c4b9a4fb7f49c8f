import { describe, expect, it } from "vitest";
import { persisted } from "../../src/domain/session.js";
import type { PersistedSession } from "../../src/domain/station-types.js";
import { ANNA, BORIS, STORED_SESSION, card, eventSummary, flush, notices, open, recorded, recoverInput, run, sessionWrites, tick, weigh } from "../support/machine.js";

const STORED = STORED_SESSION;

const START = [recoverInput([STORED], 0), open("scale-1", 10), open("scale-2", 10), open("reader-1", 10)];

describe("restart mid-session (contract section 2)", () => {
  it("closes once with close_reason restart as soon as every scale is back, measuring each bin", () => {
    const { state, effects } = run([...START, ...weigh("scale-1", 13_250, 2000), ...weigh("scale-2", 3000, 2500), tick(70_000)]);
    expect(eventSummary(effects)).toEqual(["deposit kitchen 1250g 2 awarded restart"]);
    const deposit = recorded(effects)[0]!;
    expect(deposit.data).toMatchObject({ session_id: STORED.session_id, card_id: ANNA, gross_before_g: 12_000 });
    expect(sessionWrites(effects)).toEqual(["delete"]);
    expect(state.session.phase).toBe("idle");
  });

  it("at recover_timeout_s: deposits for the bins whose scales are back, one session_interrupted alarm for the rest", () => {
    const { effects } = run([...START, ...weigh("scale-1", 13_250, 2000), tick(59_999)]);
    expect(eventSummary(effects)).toEqual([]);
    const late = run([...START, ...weigh("scale-1", 13_250, 2000), tick(60_000)]);
    expect(eventSummary(late.effects)).toEqual(["deposit kitchen 1250g 2 awarded restart", "alarm session_interrupted st-001"]);
    expect(recorded(late.effects)[1]!.data).toMatchObject({
      session_id: STORED.session_id,
      card_id: ANNA,
      bin_ids: ["recycle"],
      baselines_g: { recycle: 3000 },
    });
  });

  it("refuses identifications until the recovered session has closed, then serves them", () => {
    const { state, effects } = run([...START, ...weigh("scale-1", 12_000, 1000), card(BORIS, 1500)]);
    expect(state.session.phase).toBe("recovering");
    expect(notices(effects, "warn").some((m) => m.startsWith("identification refused"))).toBe(true);
    const after = run([...weigh("scale-2", 3000, 2000), card(BORIS, 3000)], undefined, state);
    expect(after.state.session.phase).toBe("open");
  });

  it("a shutdown during recovery records nothing and keeps the stored row", () => {
    const { effects } = run([...START, flush(500)]);
    expect(recorded(effects)).toEqual([]);
    expect(sessionWrites(effects)).toEqual([]);
  });

  it("round-trips: what an open session persists is what recovery reads", () => {
    const ready = [open("scale-1"), open("scale-2"), ...weigh("scale-1", 12_000, 100), ...weigh("scale-2", 3000, 100)];
    const { state } = run([...ready, card(ANNA, 1000), ...weigh("scale-1", 14_000, 2000)]);
    if (state.session.phase !== "open") throw new Error("expected an open session");
    const stored = JSON.parse(JSON.stringify(persisted(state.session))) as PersistedSession;
    const again = run([recoverInput([stored], 0), open("scale-1", 10), open("scale-2", 10), ...weigh("scale-1", 14_000, 500), ...weigh("scale-2", 3000, 500)]);
    expect(eventSummary(again.effects)).toEqual(["deposit kitchen 2000g 4 awarded restart"]);
    expect(recorded(again.effects)[0]!.data.session_id).toBe(state.session.id);
  });

  it("several stored sessions (never expected) are each closed once, in order", () => {
    const second = { ...STORED, session_id: "0190f1a2-0000-7000-8000-000000000002", bins: [{ bin_id: "kitchen", baseline_g: 13_250 }] };
    const { effects } = run([recoverInput([STORED, second], 0), open("scale-1", 10), open("scale-2", 10), ...weigh("scale-1", 14_000, 500), ...weigh("scale-2", 3000, 500)]);
    expect(eventSummary(effects)).toEqual(["deposit kitchen 2000g 4 awarded restart", "deposit kitchen 750g 1 awarded restart"]);
    expect(sessionWrites(effects)).toEqual(["delete", "delete"]);
  });
});
