/**
 * What a simulated device shows over time (`smartbin simulate`, issue 9 item 5): a scale's weight
 * program, a level sensor's distance program and a reader's card presentations, as pure functions of the elapsed time so that they are
 * tested without a clock.
 */
import type { LevelSample, ReaderSample, ScaleSample } from "../../protocol/index.js";

/**
 * A simulated quantity over time, in the unit of the plan that holds it (a scale's grams, a level
 * sensor's mm): steady, or a ramp from one value to another that then stays at the end value.
 */
export type ValueProgram =
  | { kind: "steady"; value: number }
  /** From `from` to `to` in `seconds` (linear), then `to` for good. */
  | { kind: "ramp"; from: number; to: number; seconds: number };

/** How a simulated scale behaves. */
export interface ScalePlan {
  program: ValueProgram;
  /** Each frame's weight moves by a uniform random amount within ± this (grams); 0: none. */
  noiseG: number;
  /** Digits after the decimal point the display shows (the encoder rounds to them). */
  decimals: number;
}

/**
 * The sample to encode `elapsedMs` after start. While a ramp runs the display is unstable; a
 * steady or finished program is stable (noise is display jitter and leaves the flag alone, so
 * the station's own stability window decides). `random()` is uniform in [0, 1).
 */
export function scaleSampleAt(plan: ScalePlan, elapsedMs: number, random: () => number): ScaleSample {
  const { value, settled } = programAt(plan.program, elapsedMs, plan.noiseG, random);
  return { grams: value, stable: settled, decimals: plan.decimals };
}

/**
 * A program's value `elapsedMs` after start (a weight's grams or a distance's mm: the program's
 * numbers, whatever their unit), moved by uniform noise within ± `noise`, rounded; `settled` once
 * a ramp has ended (a steady program always is).
 */
function programAt(program: ValueProgram, elapsedMs: number, noise: number, random: () => number): { value: number; settled: boolean } {
  let value: number;
  let settled = true;
  if (program.kind === "steady") value = program.value;
  else {
    const fraction = program.seconds <= 0 ? 1 : Math.min(1, elapsedMs / (program.seconds * 1000));
    value = program.from + (program.to - program.from) * fraction;
    settled = fraction >= 1;
  }
  if (noise > 0) value += (random() * 2 - 1) * noise;
  return { value: Math.round(value), settled };
}

/** How a simulated fill-level sensor behaves. */
export interface LevelPlan {
  /** The distance over time, in mm (a {@link ValueProgram} in millimetres). */
  program: ValueProgram;
  /** Each reading moves by a uniform random amount within ± this (mm); 0: none. */
  noiseMm: number;
  /** The signal strength sent, for protocols that carry one (tf-luna). */
  strength: number;
}

/** The reading to encode `elapsedMs` after start (never below 0 mm). `random()` is uniform in [0, 1). */
export function levelSampleAt(plan: LevelPlan, elapsedMs: number, random: () => number): LevelSample {
  const { value } = programAt(plan.program, elapsedMs, plan.noiseMm, random);
  return { mm: Math.max(0, value), strength: plan.strength };
}

/** How a simulated reader presents its cards. */
export interface ReaderPlan {
  /** The identifiers, in turn (then from the first again). */
  cards: readonly string[];
  /** One presentation starts every this many ms (the first at 0). */
  everyMs: number;
  /** A presented card stays in the field this long (ms). */
  holdMs: number;
  /**
   * While a card is held, a frame this often (ms): the protocol's `heldTagRepeatMs` (an RDM6300
   * repeats about every 50 ms); absent: one frame per presentation.
   */
  repeatMs?: number;
}

/**
 * The card in the field `elapsedMs` after start, or `null` between presentations, and the
 * presentation's number (0, 1, …).
 */
export function cardAt(plan: ReaderPlan, elapsedMs: number): { sample: ReaderSample; presentation: number } | null {
  const presentation = Math.floor(elapsedMs / plan.everyMs);
  const into = elapsedMs - presentation * plan.everyMs;
  if (into >= Math.min(plan.holdMs, plan.everyMs)) return null;
  const tag = plan.cards[presentation % plan.cards.length];
  return tag === undefined ? null : { sample: { tag }, presentation };
}
