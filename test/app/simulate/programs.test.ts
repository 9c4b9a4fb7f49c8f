import { describe, expect, it } from "vitest";
import { cardAt, levelSampleAt, scaleSampleAt, type LevelPlan, type ReaderPlan, type ScalePlan } from "../../../src/app/simulate/programs.js";

const noRandom = (): number => 0.5;

describe("scaleSampleAt", () => {
  it("a steady weight is the weight, stable, with the plan's decimals", () => {
    const plan: ScalePlan = { program: { kind: "steady", value: 12340 }, noiseG: 0, decimals: 2 };
    expect(scaleSampleAt(plan, 0, noRandom)).toEqual({ grams: 12340, stable: true, decimals: 2 });
    expect(scaleSampleAt(plan, 3_600_000, noRandom)).toEqual({ grams: 12340, stable: true, decimals: 2 });
  });

  it("a ramp moves linearly and unstable from FROM to TO in SECONDS, then stays at TO, stable", () => {
    const plan: ScalePlan = { program: { kind: "ramp", from: 1000, to: 3000, seconds: 4 }, noiseG: 0, decimals: 2 };
    expect(scaleSampleAt(plan, 0, noRandom)).toEqual({ grams: 1000, stable: false, decimals: 2 });
    expect(scaleSampleAt(plan, 1000, noRandom)).toEqual({ grams: 1500, stable: false, decimals: 2 });
    expect(scaleSampleAt(plan, 4000, noRandom)).toEqual({ grams: 3000, stable: true, decimals: 2 });
    expect(scaleSampleAt(plan, 9000, noRandom)).toEqual({ grams: 3000, stable: true, decimals: 2 });
    const down: ScalePlan = { program: { kind: "ramp", from: 500, to: -500, seconds: 1 }, noiseG: 0, decimals: 1 };
    expect(scaleSampleAt(down, 500, noRandom).grams).toBe(0);
  });

  it("noise stays within ± noiseG, at both ends of the random range", () => {
    const plan: ScalePlan = { program: { kind: "steady", value: 5000 }, noiseG: 30, decimals: 0 };
    expect(scaleSampleAt(plan, 0, () => 0).grams).toBe(4970);
    expect(scaleSampleAt(plan, 0, () => 0.999999).grams).toBe(5030);
    expect(scaleSampleAt(plan, 0, () => 0.5).grams).toBe(5000);
  });
});

describe("cardAt", () => {
  const plan: ReaderPlan = { cards: ["A", "B"], everyMs: 5000, holdMs: 1000, repeatMs: 50 };

  it("presents each card in turn for holdMs at the start of each everyMs period, nothing in between", () => {
    expect(cardAt(plan, 0)).toEqual({ sample: { tag: "A" }, presentation: 0 });
    expect(cardAt(plan, 999)).toEqual({ sample: { tag: "A" }, presentation: 0 });
    expect(cardAt(plan, 1000)).toBeNull();
    expect(cardAt(plan, 4999)).toBeNull();
    expect(cardAt(plan, 5000)).toEqual({ sample: { tag: "B" }, presentation: 1 });
    expect(cardAt(plan, 10_500)).toEqual({ sample: { tag: "A" }, presentation: 2 });
  });
});

describe("levelSampleAt", () => {
  it("ramps the distance (a bin filling up), then holds it; noise within ± noiseMm, never below 0 mm; the strength as planned", () => {
    const plan: LevelPlan = { program: { kind: "ramp", from: 1000, to: 240, seconds: 10 }, noiseMm: 0, strength: 300 };
    expect(levelSampleAt(plan, 0, () => 0.5)).toEqual({ mm: 1000, strength: 300 });
    expect(levelSampleAt(plan, 5000, () => 0.5)).toEqual({ mm: 620, strength: 300 });
    expect(levelSampleAt(plan, 60_000, () => 0.5)).toEqual({ mm: 240, strength: 300 });
    const noisy: LevelPlan = { program: { kind: "steady", value: 5 }, noiseMm: 10, strength: 1000 };
    expect(levelSampleAt(noisy, 0, () => 0).mm).toBe(0);
    expect(levelSampleAt(noisy, 0, () => 0.999999).mm).toBe(15);
  });
});
