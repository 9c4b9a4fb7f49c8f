/**
 * Stability detection for one scale (contract.md section 2, config `scales[].stable_window_ms`,
 * `stable_tolerance_g`): the samples of the last window (at least `minSamples` of them) span at most
 * the tolerance, and the indicator does not say "unstable". Pure: time comes in with each sample.
 */

/** One weight reading, as decoded from an indicator frame. */
export interface WeightSample {
  /** Displayed weight in integer grams. */
  grams: number;
  /** The indicator's own flag: `false` = it says unstable, `null` = the protocol carries no flag. */
  indicatorStable: boolean | null;
  /** When it was read, in milliseconds on a monotonic clock. */
  mono: number;
}

/**
 * Options of a {@link StabilityDetector}. The tolerance is given either in grams (`toleranceG`,
 * default 20) or in scale divisions (`toleranceDivisions` × `divisionG`, e.g. 2 divisions of 10 g),
 * never both.
 */
export type StabilityOptions = {
  /** Length of the window in milliseconds (default 1000). */
  windowMs?: number;
  /** Fewest samples a window needs to be judged stable (default 3). */
  minSamples?: number;
} & (
  | { toleranceG?: number; toleranceDivisions?: undefined; divisionG?: undefined }
  | { toleranceDivisions: number; divisionG: number; toleranceG?: undefined }
);

/** {@link StabilityOptions} with defaults applied and the tolerance in grams. */
export interface ResolvedStabilityOptions {
  windowMs: number;
  minSamples: number;
  toleranceG: number;
}

/** Result of {@link StabilityDetector.push}: the stable value in integer grams, or not stable. */
export type StabilityResult = { stable: true; valueG: number } | { stable: false; valueG: null };

export const DEFAULT_STABLE_WINDOW_MS = 1000;
export const DEFAULT_STABLE_TOLERANCE_G = 20;
export const DEFAULT_STABLE_MIN_SAMPLES = 3;

/**
 * The retained samples must cover at least this fraction of the window: their span
 * (newest.mono - oldest.mono) plus one sample period, the median of the times between them (the
 * lower one of an even count), must reach `0.8 × windowMs`. Samples older than the window are
 * dropped, so at a steady period `P` the span is the window minus less than one `P`, and the span
 * plus `P` always reaches the window: any rate at which the window holds `minSamples` samples is
 * judged (with the defaults, a frame every 500 ms or more often), with 20 % left for jitter, while a
 * burst after a gap (three samples 10 ms apart: 30 ms) is not mistaken for a full window; the median
 * keeps one long gap from counting as a period. (The span alone, against 0.8, left dead bands: a
 * scale sending every 250.3 ms, or every 340 ms, was never stable with a 1 s window, while one at
 * 3.3 Hz was.) Slower indicators need a longer window: see {@link slowestFramePeriodMs}.
 */
export const STABLE_WINDOW_COVERAGE = 0.8;

/**
 * The longest time between two samples at which the window can still hold `minSamples` of them
 * (`windowMs / (minSamples - 1)`; the whole window when `minSamples` is 1 or 2). A scale whose frames
 * come further apart than that is never stable.
 */
export function slowestFramePeriodMs(options: ResolvedStabilityOptions): number {
  return options.windowMs / Math.max(1, options.minSamples - 1);
}

const NOT_STABLE: StabilityResult = { stable: false, valueG: null };

/**
 * Applies defaults and converts a tolerance in divisions to grams.
 * @throws RangeError when a value is out of range (config validation prevents that at run time).
 */
export function resolveStabilityOptions(options: StabilityOptions = {}): ResolvedStabilityOptions {
  const windowMs = options.windowMs ?? DEFAULT_STABLE_WINDOW_MS;
  const minSamples = options.minSamples ?? DEFAULT_STABLE_MIN_SAMPLES;
  let toleranceG: number;
  if (options.toleranceDivisions !== undefined) {
    if (!(Number.isFinite(options.divisionG) && options.divisionG > 0)) {
      throw new RangeError(`divisionG must be a positive number, got ${options.divisionG}`);
    }
    if (!(Number.isFinite(options.toleranceDivisions) && options.toleranceDivisions >= 0)) {
      throw new RangeError(`toleranceDivisions must be >= 0, got ${options.toleranceDivisions}`);
    }
    toleranceG = options.toleranceDivisions * options.divisionG;
  } else {
    toleranceG = options.toleranceG ?? DEFAULT_STABLE_TOLERANCE_G;
  }
  if (!(Number.isFinite(windowMs) && windowMs > 0)) {
    throw new RangeError(`windowMs must be a positive number, got ${windowMs}`);
  }
  if (!(Number.isInteger(minSamples) && minSamples >= 1)) {
    throw new RangeError(`minSamples must be an integer >= 1, got ${minSamples}`);
  }
  if (!(Number.isFinite(toleranceG) && toleranceG >= 0)) {
    throw new RangeError(`tolerance must be >= 0 g, got ${toleranceG}`);
  }
  return { windowMs, minSamples, toleranceG };
}

/**
 * Judges one scale's stream of samples. The window holds the samples at most `windowMs` older than
 * the newest one. It is stable when all of these hold:
 * - it holds at least `minSamples` samples;
 * - they cover at least {@link STABLE_WINDOW_COVERAGE} of the window, their span plus their median
 *   period (no verdict from a short burst; a single sample covers nothing);
 * - max - min <= tolerance;
 * - no sample in it has `indicatorStable === false` (`null` means no flag: judged by the window).
 *
 * The stable value is the median of the window, the lower median for an even count (always a
 * reading the indicator actually showed), rounded to integer grams.
 */
export class StabilityDetector {
  readonly options: ResolvedStabilityOptions;
  private samples: readonly WeightSample[] = [];

  /** @throws RangeError on out-of-range options (see {@link resolveStabilityOptions}). */
  constructor(options: StabilityOptions = {}) {
    this.options = resolveStabilityOptions(options);
  }

  /**
   * Adds a sample and judges the window ending at it. A sample whose `mono` is earlier than the
   * previous one (a clock that went back) or whose weight is not a finite number starts a new window.
   */
  push(sample: WeightSample): StabilityResult {
    const { samples, result } = pushSample(this.samples, sample, this.options);
    this.samples = samples;
    return result;
  }

  /** Forgets the window (port reopened, or a frame saying there is no valid weight). */
  reset(): void {
    this.samples = [];
  }
}

/**
 * The pure form of {@link StabilityDetector.push}: the window after `sample` (a new array; the
 * input is not changed) and its verdict. The station machine keeps `samples` in its plain state.
 * A sample whose `mono` is earlier than the previous one (a clock that went back) or whose weight
 * is not a finite number starts a new window.
 */
export function pushSample(
  samples: readonly WeightSample[],
  sample: WeightSample,
  options: ResolvedStabilityOptions,
): { samples: WeightSample[]; result: StabilityResult } {
  if (!Number.isFinite(sample.grams) || !Number.isFinite(sample.mono)) return { samples: [], result: NOT_STABLE };
  const last = samples[samples.length - 1];
  const kept = last !== undefined && sample.mono < last.mono ? [] : samples;
  const windowStart = sample.mono - options.windowMs;
  let drop = 0;
  while (drop < kept.length && kept[drop]!.mono < windowStart) drop++;
  const window = kept.slice(drop);
  window.push({ grams: sample.grams, indicatorStable: sample.indicatorStable, mono: sample.mono });
  return { samples: window, result: judgeWindow(window, options) };
}

/** The verdict on one window (see {@link StabilityDetector}). */
export function judgeWindow(window: readonly WeightSample[], options: ResolvedStabilityOptions): StabilityResult {
  const { minSamples, windowMs, toleranceG } = options;
  const oldest = window[0];
  const newest = window[window.length - 1];
  if (oldest === undefined || newest === undefined || window.length < minSamples) return NOT_STABLE;
  if (!coversWindow(window, windowMs * STABLE_WINDOW_COVERAGE)) return NOT_STABLE;
  let min = Infinity;
  let max = -Infinity;
  for (const s of window) {
    if (s.indicatorStable === false) return NOT_STABLE;
    if (s.grams < min) min = s.grams;
    if (s.grams > max) max = s.grams;
  }
  if (max - min > toleranceG) return NOT_STABLE;
  // A steady display (every sample the same) is the common case: its median needs no sort.
  if (max === min) return { stable: true, valueG: Math.round(min) };
  return { stable: true, valueG: lowerMedian(window.map((s) => s.grams)) };
}

/**
 * Whether the window's span plus its median sample period (the lower median of an even count of
 * periods) reaches `neededMs` (see {@link STABLE_WINDOW_COVERAGE}). The span alone decides when it
 * is enough, as it is at 5 Hz and faster with the defaults, so the periods are sorted only for
 * slower scales.
 */
function coversWindow(window: readonly WeightSample[], neededMs: number): boolean {
  const n = window.length;
  if (n < 2) return false;
  const span = window[n - 1]!.mono - window[0]!.mono;
  if (span >= neededMs) return true;
  const periods: number[] = [];
  for (let i = 1; i < n; i++) periods.push(window[i]!.mono - window[i - 1]!.mono);
  periods.sort((a, b) => a - b);
  return span + periods[(periods.length - 1) >> 1]! >= neededMs;
}

/** The lower median of a non-empty list, rounded to an integer. */
function lowerMedian(values: number[]): number {
  const sorted = values.sort((a, b) => a - b);
  return Math.round(sorted[(sorted.length - 1) >> 1]!);
}
