import { describe, expect, it } from "vitest";
import { persisted } from "../../src/domain/session.js";
import type { PersistedSession, StationInput } from "../../src/domain/station-types.js";
import type { ScaleFrame } from "../../src/protocol/types.js";
import { ANNA, READY, card, eventSummary, notices, open, recorded, recoverInput, run, scaleData, tick } from "../support/machine.js";

/**
 * The indicator's tare key switches its display between gross and net: a bin holding 5 kg shows
 * `NT 0` after a tare and `GS 5 kg` again when the tare is cleared. Weights on either side of such
 * a switch are on different bases and are never subtracted into a deposit.
 */
const frame = (grams: number, mode: "gross" | "net"): ScaleFrame => ({ kind: "weight", grams, stable: true, mode });
/** Two stable frames 10 ms apart ending at `mono`, in `mode`. */
const weighIn = (grams: number, mode: "gross" | "net", mono: number): StationInput[] => [
  scaleData("scale-1", mono - 10, [frame(grams, mode)]),
  scaleData("scale-1", mono, [frame(grams, mode)]),
];

describe("a tare set or cleared with the indicator's keys", () => {
  it("tared before the card, cleared during the session: no deposit for what was already in the bin, a tare_changed alarm", () => {
    // kitchen holds 12 kg (READY, gross); the tare key makes it read NT 0; Anna shows her card; the tare is cleared.
    const { state, effects } = run([...READY, ...weighIn(0, "net", 500), card(ANNA, 1000), ...weighIn(12_000, "gross", 2000), tick(8000)]);
    expect(eventSummary(effects)).toEqual(["alarm tare_changed kitchen"]);
    expect(recorded(effects)[0]!.data).toMatchObject({ code: "tare_changed", bin_id: "kitchen", device_id: "scale-1", gross_before_g: 0, gross_after_g: 12_000 });
    expect(notices(effects, "warn").filter((m) => m.startsWith("indicator switched between gross and net"))).toHaveLength(2);
    expect(state.session.phase).toBe("idle");
  });

  it("switched there and back within the session (net -> gross -> net): still no deposit", () => {
    const { effects } = run([
      ...READY,
      ...weighIn(0, "net", 500),
      card(ANNA, 1000),
      ...weighIn(12_000, "gross", 2000),
      ...weighIn(5000, "net", 3000),
      tick(9000),
    ]);
    expect(eventSummary(effects)).toEqual(["alarm tare_changed kitchen"]);
  });

  it("a deposit weighed wholly on the net display is a deposit as usual", () => {
    const { effects } = run([...READY, ...weighIn(0, "net", 500), card(ANNA, 1000), ...weighIn(1250, "net", 2000), tick(8000)]);
    expect(eventSummary(effects)).toEqual(["deposit kitchen 1250g 2 awarded idle"]);
  });

  it("the other bins of the session are measured as usual", () => {
    const { effects } = run([
      ...READY,
      card(ANNA, 1000),
      ...weighIn(0, "net", 1500),
      scaleData("scale-2", 1990, [frame(3600, "gross")]),
      scaleData("scale-2", 2000, [frame(3600, "gross")]),
      tick(8000),
    ]);
    expect(eventSummary(effects)).toEqual(["alarm tare_changed kitchen", "deposit recycle 600g 0 awarded idle"]);
  });

  it("a restart: the stored baseline's display is compared with the scale's after the restart", () => {
    const { state } = run([...READY, ...weighIn(0, "net", 500), card(ANNA, 1000)]);
    if (state.session.phase !== "open") throw new Error("expected an open session");
    const stored = JSON.parse(JSON.stringify(persisted(state.session))) as PersistedSession;
    expect(stored.bins[0]).toEqual({ bin_id: "kitchen", baseline_g: 0, baseline_mode: "net" });
    const after = run([
      recoverInput([stored], 0),
      open("scale-1", 10),
      open("scale-2", 10),
      ...weighIn(12_000, "gross", 500),
      scaleData("scale-2", 490, [frame(3000, "gross")]),
      scaleData("scale-2", 500, [frame(3000, "gross")]),
    ]);
    expect(eventSummary(after.effects)).toEqual(["alarm tare_changed kitchen"]);
  });
});
