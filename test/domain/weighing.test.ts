import { describe, expect, it } from "vitest";
import { ScaleTracker, type ScaleUpdate } from "../../src/domain/weighing.js";

/** Steady readings every 100 ms from `fromMs` to `toMs` inclusive; returns every update. */
function hold(tracker: ScaleTracker, grams: number, fromMs: number, toMs: number): ScaleUpdate[] {
  const out: ScaleUpdate[] = [];
  for (let mono = fromMs; mono <= toMs; mono += 100) {
    out.push(tracker.push({ grams, indicatorStable: null, mono }));
  }
  return out;
}

const changes = (updates: ScaleUpdate[]) => updates.filter((u) => u.changed).length;

function onlineTracker(changeThresholdG = 40): ScaleTracker {
  const tracker = new ScaleTracker({ scaleId: "scale-1", changeThresholdG });
  tracker.setOnline(true);
  return tracker;
}

describe("ScaleTracker", () => {
  it("starts offline with no accepted weight", () => {
    expect(new ScaleTracker({ scaleId: "scale-1" }).view()).toEqual({
      scaleId: "scale-1",
      online: false,
      stable: false,
      acceptedG: null,
    });
  });

  it("accepts the first stable value as a weight change", () => {
    const tracker = onlineTracker();
    const updates = hold(tracker, 12000, 0, 1500);
    expect(changes(updates)).toBe(1);
    expect(updates.find((u) => u.changed)?.view).toEqual({
      scaleId: "scale-1",
      online: true,
      stable: true,
      acceptedG: 12000,
    });
  });

  it("ignores a stable change of 39 g and accepts one of 40 g (threshold 40)", () => {
    const tracker = onlineTracker(40);
    hold(tracker, 12000, 0, 1500);
    const small = hold(tracker, 12039, 1600, 3500);
    expect(changes(small)).toBe(0);
    expect(tracker.view()).toMatchObject({ stable: true, acceptedG: 12000 });
    const enough = hold(tracker, 12040, 3600, 5500);
    expect(changes(enough)).toBe(1);
    expect(tracker.view().acceptedG).toBe(12040);
    const down = hold(tracker, 12000, 5600, 7500);
    expect(changes(down)).toBe(1);
    expect(tracker.view().acceptedG).toBe(12000);
  });

  it("compares with the accepted weight, not the previous stable value, so creep adds up", () => {
    const tracker = onlineTracker(40);
    hold(tracker, 1000, 0, 1500);
    hold(tracker, 1030, 1600, 3500);
    expect(tracker.view().acceptedG).toBe(1000);
    hold(tracker, 1060, 3600, 5500);
    expect(tracker.view().acceptedG).toBe(1060);
  });

  it("reports viewChanged only when the view changes", () => {
    const tracker = onlineTracker();
    const updates = hold(tracker, 500, 0, 1500);
    // Becoming stable with the first accepted weight is the only view change.
    expect(updates.filter((u) => u.viewChanged).map((u) => u.view.acceptedG)).toEqual([500]);
  });

  it("noWeight() (OL/LO) makes it unstable and keeps the accepted weight; the window starts again", () => {
    const tracker = onlineTracker();
    hold(tracker, 500, 0, 1500);
    expect(tracker.noWeight()).toEqual({
      view: { scaleId: "scale-1", online: true, stable: false, acceptedG: 500 },
      changed: false,
      viewChanged: true,
    });
    expect(tracker.push({ grams: 500, indicatorStable: null, mono: 1600 }).view.stable).toBe(false);
  });

  it("going offline keeps the last accepted weight; coming back starts a new window", () => {
    const tracker = onlineTracker();
    hold(tracker, 500, 0, 1500);
    expect(tracker.setOnline(false)).toMatchObject({
      view: { online: false, stable: false, acceptedG: 500 },
      viewChanged: true,
    });
    expect(tracker.setOnline(false).viewChanged).toBe(false);
    expect(tracker.setOnline(true).view).toEqual({
      scaleId: "scale-1",
      online: true,
      stable: false,
      acceptedG: 500,
    });
    const back = hold(tracker, 520, 5000, 6000);
    expect(changes(back)).toBe(0);
    expect(tracker.view()).toMatchObject({ stable: true, acceptedG: 500 });
  });

  it("feeds decoded frames", () => {
    const tracker = onlineTracker();
    for (let mono = 0; mono <= 1000; mono += 100) {
      tracker.pushFrame({ kind: "weight", grams: 700, stable: true, mode: "gross" }, mono);
    }
    expect(tracker.view()).toMatchObject({ stable: true, acceptedG: 700 });
    const ignored = tracker.pushFrame({ kind: "ignored", reason: "tare frame" }, 1100);
    expect(ignored).toMatchObject({ viewChanged: false });
    const flagged = tracker.pushFrame({ kind: "weight", grams: 700, stable: false, mode: "gross" }, 1200);
    expect(flagged.view.stable).toBe(false);
    expect(tracker.pushFrame({ kind: "no_weight", reason: "overload" }, 1300).view).toMatchObject({
      stable: false,
      acceptedG: 700,
    });
  });

  it("is never stable while offline, even if samples arrive", () => {
    const tracker = new ScaleTracker({ scaleId: "scale-1" });
    const updates = hold(tracker, 900, 0, 1500);
    expect(updates.at(-1)?.view).toEqual({ scaleId: "scale-1", online: false, stable: false, acceptedG: 900 });
  });

  it("refuses a negative change threshold", () => {
    expect(() => new ScaleTracker({ scaleId: "s", changeThresholdG: -1 })).toThrow(RangeError);
  });
});
