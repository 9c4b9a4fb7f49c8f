/**
 * Fill-level sensors in the station machine (issue 9 item 2; contract.md section 2 `level_sensors:`
 * and "Other station alarms"): the median over at least 5 readings, the fill level, `bin_full` /
 * `bin_ok` with hysteresis (full at full_mm, no longer full below 90 %), the weight's and the
 * sensor's verdicts combined, a full bin not ready, restarts without repeated alarms, and the
 * `level_sensor_offline` / `level_sensor_online` link alarms. Pure: inputs and a manual clock.
 */
import { describe, expect, it } from "vitest";
import { fillPercent, levelSaysFull, medianOf } from "../../src/domain/level-state.js";
import { statusOf } from "../../src/domain/station-machine.js";
import type { LevelSensorSpec, StationContext, StationInput } from "../../src/domain/station-types.js";
import type { LevelFrame } from "../../src/protocol/types.js";
import { ANNA, READY, WALL0, card, close, eventSummary, open, recorded, run, testContext, weigh } from "../support/machine.js";

const SENSOR: LevelSensorSpec = { id: "level-1", binId: "kitchen", emptyMm: 1200, fullMm: 250, medianWindowMs: 3000, noValidFramesMs: 5000 };
const ctxWith = (over: Partial<StationContext> = {}): StationContext => testContext({ levelSensors: [SENSOR], ...over });

const distance = (mm: number): LevelFrame => ({ kind: "distance", mm, strength: null, temperatureC: null });
const levelData = (mono: number, frames: LevelFrame[], bytes = 4 * frames.length): StationInput => ({
  type: "level_data",
  sensorId: "level-1",
  bytes,
  frames,
  mono,
  wall: WALL0 + mono,
});
/** One reading every 100 ms from `from` (ms) for `ms`, at `mm` (a function of the time, or a constant). */
function readings(from: number, ms: number, mm: number | ((t: number) => number)): StationInput[] {
  const out: StationInput[] = [];
  for (let t = from; t < from + ms; t += 100) out.push(levelData(t, [distance(typeof mm === "number" ? mm : mm(t))]));
  return out;
}
const alarms = (effects: Parameters<typeof recorded>[0]) => recorded(effects).filter((e) => e.kind === "alarm");

describe("the median and the fill level", () => {
  it("is the middle reading; the fill level is clamped to 0..100 % with one decimal", () => {
    expect(medianOf([5, 1, 9, 3, 7])).toBe(5);
    expect(medianOf([1, 2, 3, 10])).toBe(3);
    expect(fillPercent(1200, SENSOR)).toBe(0);
    expect(fillPercent(1300, SENSOR)).toBe(0);
    expect(fillPercent(725, SENSOR)).toBe(50);
    expect(fillPercent(250, SENSOR)).toBe(100);
    expect(fillPercent(100, SENSOR)).toBe(100);
    expect(fillPercent(1000, SENSOR)).toBe(21.1);
  });

  it("says full at full_mm, and once full, until the fill level is below 90 %", () => {
    expect(levelSaysFull(false, 251, SENSOR)).toBe(false);
    expect(levelSaysFull(false, 250, SENSOR)).toBe(true);
    // 90 % is 1200 - 0.9 * 950 = 345 mm.
    expect(levelSaysFull(true, 345, SENSOR)).toBe(true);
    expect(levelSaysFull(true, 346, SENSOR)).toBe(false);
  });

  it("has no median before 5 readings, and shows it in the status once it has", () => {
    const ctx = ctxWith();
    let { state } = run([open("level-1"), ...readings(0, 400, 1000)], ctx);
    expect(statusOf(state, ctx).levels).toEqual({ "level-1": { bin_id: "kitchen", distance_mm: null, fill_percent: null } });
    ({ state } = run(readings(400, 100, 1000), ctx, state));
    expect(statusOf(state, ctx).levels).toEqual({ "level-1": { bin_id: "kitchen", distance_mm: 1000, fill_percent: 21.1 } });
    expect(statusOf(state, ctx).devices["level-1"]).toBe("online");
    expect(statusOf(state, ctx).full_bins).toEqual([]);
  });

  it("counts readings closer than 100 ms once (a TF-Luna at 100 Hz spans the same window as a DYP-A02 at 10 Hz)", () => {
    const ctx = ctxWith();
    const fast: StationInput[] = [];
    for (let t = 0; t < 450; t += 10) fast.push(levelData(t, [distance(1000)]));
    const { state } = run([open("level-1"), ...fast], ctx);
    expect(state.levels?.["level-1"]?.readings).toHaveLength(5);
  });
});

describe("bin_full and bin_ok from a level sensor", () => {
  it("a bin filling up: bin_full once when the median reaches full_mm, with the sensor's reading; the bin is then not ready", () => {
    const ctx = ctxWith();
    // 1000 mm falling to 240 mm over 6 s, then steady.
    let { state, effects } = run([...READY, open("level-1"), ...readings(200, 8000, (t) => Math.max(240, 1000 - Math.round((t - 200) / 8)))], ctx);
    const full = alarms(effects);
    expect(full.map((a) => a.kind === "alarm" && a.data.code)).toEqual(["bin_full"]);
    expect(full[0]).toMatchObject({ subject: "kitchen", data: { code: "bin_full", bin_id: "kitchen", device_id: "level-1", full_mm: 250, fill_percent: 100 } });
    expect(full[0]?.kind === "alarm" && (full[0].data.distance_mm as number)).toBeLessThanOrEqual(250);
    expect(statusOf(state, ctx).full_bins).toEqual(["kitchen"]);
    const meta = effects.flatMap((e) => (e.type === "record" && e.events.length > 0 && e.meta ? [e.meta] : []));
    expect(meta.at(-1)).toEqual({ bins_full: JSON.stringify({ kitchen: true }), bins_full_by: JSON.stringify({ kitchen: { level: true } }) });
    // Only recycle is ready now: a card opens a session on recycle alone.
    ({ state, effects } = run([card(ANNA, 9000)], ctx, state));
    expect(state.session.phase === "open" && state.session.bins.map((b) => b.binId)).toEqual(["recycle"]);
  });

  it("a hand or a bag passing under the sensor (1 s of near readings in a 3 s window) is not full", () => {
    const ctx = ctxWith();
    const { state, effects } = run([open("level-1"), ...readings(0, 3000, 1000), ...readings(3000, 1000, 150), ...readings(4000, 3000, 1000)], ctx);
    expect(alarms(effects)).toEqual([]);
    expect(state.full?.kitchen).not.toBe(true);
  });

  it("bin_ok only below 90 %: 92 % stays full, 85 % is bin_ok", () => {
    const ctx = ctxWith();
    let { state, effects } = run([open("level-1"), ...readings(0, 4000, 240)], ctx);
    expect(eventSummary(effects)).toEqual(["alarm bin_full kitchen"]);
    // 92 % is 326 mm; 85 % is 392 mm.
    ({ state, effects } = run(readings(4000, 4000, 326), ctx, state));
    expect(eventSummary(effects)).toEqual([]);
    ({ state, effects } = run(readings(8000, 4000, 392), ctx, state));
    expect(eventSummary(effects)).toEqual(["alarm bin_ok kitchen"]);
    expect(alarms(effects)[0]).toMatchObject({ data: { code: "bin_ok", device_id: "level-1", distance_mm: 392, fill_percent: 85.1 } });
    expect(state.full?.kitchen).toBe(false);
  });

  it("combines with the weight: full while either says so, bin_full and bin_ok once each", () => {
    const ctx = ctxWith({
      bins: testContext().bins.map((b) => (b.binId === "kitchen" ? { ...b, fullG: 13_000 } : b)),
    });
    // The weight says full first.
    let { state, effects } = run([...READY, open("level-1"), ...readings(200, 1000, 1000), ...weigh("scale-1", 13_500, 1500)], ctx);
    expect(eventSummary(effects).filter((e) => e.includes("bin_"))).toEqual(["alarm bin_full kitchen"]);
    // The sensor too: no second alarm.
    ({ state, effects } = run(readings(2000, 4000, 240), ctx, state));
    expect(eventSummary(effects)).toEqual([]);
    // The weight falls below 90 % (a collector took some out): the sensor still says full, no bin_ok.
    ({ state, effects } = run(weigh("scale-1", 5000, 6500), ctx, state));
    expect(eventSummary(effects).filter((e) => e.includes("bin_"))).toEqual([]);
    expect(state.full?.kitchen).toBe(true);
    // The sensor sees the bin emptied: bin_ok, from the sensor.
    ({ state, effects } = run(readings(7000, 4000, 1100), ctx, state));
    expect(eventSummary(effects)).toEqual(["alarm bin_ok kitchen"]);
    expect(state.fullBy?.kitchen).toEqual({ weight: false, level: false });
  });

  it("after a restart with the stored state, a bin still full repeats no alarm; from a database without bins_full_by, a full bin waits for every source", () => {
    const ctx = ctxWith({
      bins: testContext().bins.map((b) => (b.binId === "kitchen" ? { ...b, fullG: 20_000 } : b)),
    });
    const restore: StationInput = { type: "restore", full: { kitchen: true }, fullBy: { kitchen: { weight: false, level: true } }, mono: 0, wall: WALL0 };
    let { effects } = run([restore, ...READY, open("level-1"), ...readings(200, 4000, 240)], ctx);
    expect(eventSummary(effects).filter((e) => e.includes("bin_"))).toEqual([]);
    // Without bins_full_by: the weight (12 kg, under 90 % of 20 kg) alone does not make it ok; the sensor's reading does.
    const old: StationInput = { type: "restore", full: { kitchen: true }, mono: 0, wall: WALL0 };
    ({ effects } = run([old, ...READY], ctx));
    expect(eventSummary(effects).filter((e) => e.includes("bin_"))).toEqual([]);
    ({ effects } = run([old, ...READY, open("level-1"), ...readings(200, 1000, 1000)], ctx));
    expect(eventSummary(effects).filter((e) => e.includes("bin_"))).toEqual(["alarm bin_ok kitchen"]);
  });
});

describe("the sensor's link", () => {
  it("level_sensor_offline with the port's reason when it is lost, level_sensor_online when it is back; a clean start is no alarm", () => {
    const ctx = ctxWith();
    let { state, effects } = run([open("level-1"), ...readings(0, 1000, 1000)], ctx);
    expect(eventSummary(effects)).toEqual([]);
    ({ state, effects } = run([close("level-1", 1500, "silent: no data for 5000 ms")], ctx, state));
    expect(alarms(effects)).toMatchObject([{ subject: "level-1", data: { code: "level_sensor_offline", device_id: "level-1", bin_id: "kitchen", reason: "silent: no data for 5000 ms" } }]);
    expect(statusOf(state, ctx).devices["level-1"]).toBe("offline");
    // The last median stays for the status; the readings start afresh.
    expect(state.levels?.["level-1"]).toMatchObject({ medianMm: 1000, readings: [] });
    ({ state, effects } = run([open("level-1", 9000)], ctx, state));
    // Open again, but online only at the sensor's first valid frame (a port may now lead elsewhere).
    expect(alarms(effects)).toEqual([]);
    ({ state, effects } = run(readings(9100, 100, 1000), ctx, state));
    expect(alarms(effects)).toMatchObject([{ data: { code: "level_sensor_online", device_id: "level-1" } }]);
  });

  it("a sensor missing at start is level_sensor_offline", () => {
    const { effects } = run([close("level-1", 0, "open failed: No such file or directory")], ctxWith());
    expect(eventSummary(effects)).toEqual(["alarm level_sensor_offline level-1"]);
  });

  it("bytes that never form a valid frame over silence_timeout_s: offline with reason no valid frames; online at the next valid frame", () => {
    const ctx = ctxWith();
    const junk: StationInput[] = [];
    for (let t = 0; t <= 6000; t += 500) junk.push(levelData(t, [{ kind: "discarded", bytes: new Uint8Array(40), reason: "no start byte (FF)" }], 40));
    let { state, effects } = run([open("level-1"), ...junk], ctx);
    expect(alarms(effects)).toMatchObject([{ data: { code: "level_sensor_offline", reason: "no valid frames" } }]);
    ({ state, effects } = run([levelData(6100, [{ kind: "no_reading", reason: "no echo (0 mm: nothing in range)" }])], ctx, state));
    expect(eventSummary(effects)).toEqual(["alarm level_sensor_online level-1"]);
    expect(state.counters.devices["level-1"]).toMatchObject({ discarded: 13, frames: 14 });
  });
});
