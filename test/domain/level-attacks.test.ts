/**
 * Fill-level sensors under what the field does to them (issue 9 item 2; contract.md section 2
 * `level_sensors:` and "Other station alarms"): a reading that hovers around full_mm, readings far
 * out of range, a sensor unplugged while its bin is full, and a sensor fault during a resident's
 * deposit. Pure: inputs and a manual clock.
 */
import { describe, expect, it } from "vitest";
import type { LevelSensorSpec, StationContext, StationInput } from "../../src/domain/station-types.js";
import type { LevelFrame } from "../../src/protocol/types.js";
import { ANNA, READY, WALL0, card, close, eventSummary, open, recorded, run, testContext, weigh } from "../support/machine.js";

const SENSOR: LevelSensorSpec = { id: "level-1", binId: "kitchen", emptyMm: 1200, fullMm: 250, medianWindowMs: 3000, noValidFramesMs: 5000 };
const ctxWith = (over: Partial<StationContext> = {}): StationContext => testContext({ levelSensors: [SENSOR], ...over });
const distance = (mm: number): LevelFrame => ({ kind: "distance", mm, strength: null, temperatureC: null });
const levelData = (mono: number, frames: LevelFrame[]): StationInput => ({
  type: "level_data",
  sensorId: "level-1",
  bytes: 4 * frames.length,
  frames,
  mono,
  wall: WALL0 + mono,
});
function readings(from: number, ms: number, mm: (t: number) => number): StationInput[] {
  const out: StationInput[] = [];
  for (let t = from; t < from + ms; t += 100) out.push(levelData(t, [distance(mm(t))]));
  return out;
}
const binAlarms = (effects: Parameters<typeof eventSummary>[0]) => eventSummary(effects).filter((e) => / bin_(full|ok) /.test(e));

describe("level sensor attacks", () => {
  it("a reading oscillating around full_mm (±40 mm every reading, for a minute) raises one bin_full and no bin_ok", () => {
    const { effects } = run([open("level-1"), ...readings(0, 60_000, (t) => (Math.floor(t / 100) % 2 === 0 ? 210 : 290))], ctxWith());
    expect(binAlarms(effects)).toEqual(["alarm bin_full kitchen"]);
  });

  it("a median wandering across full_mm but not past the 90 % line (345 mm; a bag surface settling, 240..340 mm) stays one bin_full", () => {
    const wave = (t: number) => 290 + Math.round(50 * Math.sin(t / 5000));
    const { effects } = run([open("level-1"), ...readings(0, 120_000, wave)], ctxWith());
    expect(binAlarms(effects)).toEqual(["alarm bin_full kitchen"]);
  });

  it("readings far out of range (a reflection at 60 m, a spike at 0) in a few frames move nothing", () => {
    const spikes = (t: number) => (Math.floor(t / 100) % 7 === 3 ? 60_000 : Math.floor(t / 100) % 11 === 5 ? 31 : 1000);
    const { state, effects } = run([open("level-1"), ...readings(0, 20_000, spikes)], ctxWith());
    expect(binAlarms(effects)).toEqual([]);
    expect(state.levels?.["level-1"]?.medianMm).toBe(1000);
  });

  it("a sensor unplugged while its bin is full: level_sensor_offline, no bin_ok; it stays full (not ready) until the sensor sees it emptied", () => {
    const ctx = ctxWith();
    let { state, effects } = run([...READY, open("level-1"), ...readings(200, 4000, () => 240)], ctx);
    expect(binAlarms(effects)).toEqual(["alarm bin_full kitchen"]);
    ({ state, effects } = run([close("level-1", 5000, "disconnected: read error")], ctx, state));
    expect(eventSummary(effects)).toEqual(["alarm level_sensor_offline level-1"]);
    expect(state.full?.kitchen).toBe(true);
    // Back, still full: online, no second bin_full.
    ({ state, effects } = run([open("level-1", 9000), ...readings(9100, 2000, () => 240)], ctx, state));
    expect(eventSummary(effects)).toEqual(["alarm level_sensor_online level-1"]);
    // Back with a few readings of an emptied bin (fewer than 5 after the reopen): no bin_ok yet, then bin_ok.
    ({ state, effects } = run([close("level-1", 12_000), open("level-1", 13_000), ...readings(13_100, 300, () => 1150)], ctx, state));
    expect(binAlarms(effects)).toEqual([]);
    ({ state, effects } = run(readings(13_400, 1000, () => 1150), ctx, state));
    expect(binAlarms(effects)).toEqual(["alarm bin_ok kitchen"]);
  });

  it("a sensor fault in the middle of a deposit does not cost the resident the points: the deposit is recorded and awarded", () => {
    const ctx = ctxWith();
    let { state } = run([...READY, open("level-1"), ...readings(200, 1000, () => 1000)], ctx);
    let effects;
    ({ state, effects } = run([card(ANNA, 2000), ...weigh("scale-1", 13_500, 3000), close("level-1", 3500, "disconnected: read error"), ...weigh("scale-1", 13_500, 3600)], ctx, state));
    ({ state, effects } = run([{ type: "tick", mono: 20_000, wall: WALL0 + 20_000 }], ctx, state));
    const deposits = recorded(effects).filter((e) => e.kind === "deposit");
    expect(deposits).toHaveLength(1);
    expect(deposits[0]).toMatchObject({ data: { points_reason: "awarded" } });
    expect((deposits[0]?.data.points as number) > 0).toBe(true);
  });

  it("a bin that becomes full during a deposit still gets the deposit recorded and awarded (full only stops the next session)", () => {
    const ctx = ctxWith();
    let { state } = run([...READY, open("level-1"), ...readings(200, 1000, () => 1000)], ctx);
    let effects;
    ({ state, effects } = run([card(ANNA, 2000), ...readings(2100, 3000, () => 240), ...weigh("scale-1", 13_500, 5200)], ctx, state));
    expect(binAlarms(effects)).toEqual(["alarm bin_full kitchen"]);
    ({ state, effects } = run([{ type: "tick", mono: 20_000, wall: WALL0 + 20_000 }], ctx, state));
    const deposits = recorded(effects).filter((e) => e.kind === "deposit");
    expect(deposits).toHaveLength(1);
    expect(deposits[0]).toMatchObject({ data: { net_g: 1500, points_reason: "awarded" } });
  });
});
