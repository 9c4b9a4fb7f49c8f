/**
 * A fill-level sensor's readings and the bin's fill level (issue 9 item 2; contract.md section 2,
 * `level_sensors:`; shared/protocols/level-sensors.md: "a bin's fill level comes from a median over
 * several samples (a bag or a hand passing under the sensor is not full)"). Pure functions over
 * {@link LevelSensorState}.
 *
 * - **Readings.** Each distance frame is one reading; readings closer than
 *   {@link READING_SPACING_MS} to the last one kept are skipped (a TF-Luna streams 100 a second, a
 *   DYP-A02 about 10), so the window holds the same span of time whatever the sensor's rate.
 * - **Median.** The readings of the last `median_window_s`, and at least the last
 *   {@link MEDIAN_MIN_READINGS} whatever their age, at most {@link MAX_LEVEL_READINGS}: no median
 *   before 5 readings. A hand or a falling bag fills fewer than half of a window's readings and so
 *   never moves the median.
 * - **Fill level** = `(empty_mm - median) / (empty_mm - full_mm)`, in percent, clamped to 0..100.
 * - **Full** (the sensor's verdict, src/domain/bin-full.ts combines it with the weight's): the
 *   median reaches `full_mm` (fill 100 %); once full, the bin stays full until the fill falls below
 *   {@link LEVEL_OK_BELOW_PERCENT} % (the weight rule's 90 %: contract "Other station alarms").
 * - Offline: readings are dropped (the median of the next session on the line is built afresh);
 *   the last median, fill level and verdict are kept, as a scale keeps its accepted weight.
 */
import { linkOnline } from "./device-link.js";
import { initialLink } from "./device-link.js";
import type { LevelReading, LevelSensorSpec, LevelSensorState } from "./station-types.js";

/** The median needs at least this many readings (issue 9: "a median over at least 5 readings"). */
export const MEDIAN_MIN_READINGS = 5;
/** Readings closer together than this (ms) count once: the first of them. */
export const READING_SPACING_MS = 100;
/** At most this many readings are kept per sensor (memory bound: a long window is sampled thinner). */
export const MAX_LEVEL_READINGS = 64;
/** Once full, the sensor says "no longer full" below this fill level, in percent. */
export const LEVEL_OK_BELOW_PERCENT = 90;
/** The retained status is published again when the fill level moved by this many points since it was last. */
export const LEVEL_STATUS_STEP_PERCENT = 5;

/** A sensor before its port opened. */
export const initialLevel: LevelSensorState = { link: initialLink, readings: [], medianMm: null, fillPercent: null, noReading: null };

/** The median of some integers (the mean of the middle two, rounded, for an even count). @throws RangeError when empty */
export function medianOf(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
}

/** The fill level of a distance, exact (unrounded), clamped to 0..100 %. */
function fillExact(mm: number, spec: LevelSensorSpec): number {
  const span = spec.emptyMm - spec.fullMm;
  if (span <= 0) return mm <= spec.fullMm ? 100 : 0;
  return Math.min(100, Math.max(0, ((spec.emptyMm - mm) * 100) / span));
}

/** The fill level of a distance in percent, 0..100, one decimal. */
export function fillPercent(mm: number, spec: LevelSensorSpec): number {
  return Math.round(fillExact(mm, spec) * 10) / 10;
}

/**
 * The sensor's verdict on its bin for a median distance: full when the median reaches `full_mm`;
 * when it said full before (`wasFull`), full while the fill level is at least 90 %.
 */
export function levelSaysFull(wasFull: boolean, medianMm: number, spec: LevelSensorSpec): boolean {
  return wasFull ? fillExact(medianMm, spec) >= LEVEL_OK_BELOW_PERCENT : medianMm <= spec.fullMm;
}

/**
 * One distance reading at `mono`: kept (unless within {@link READING_SPACING_MS} of the last kept
 * one), the window pruned, the median and fill level recomputed. Readings count only while the
 * link is online.
 */
export function addReading(level: LevelSensorState, mm: number, mono: number, spec: LevelSensorSpec): LevelSensorState {
  if (!linkOnline(level.link)) return level;
  const last = level.readings[level.readings.length - 1];
  if (last !== undefined && mono - last.mono < READING_SPACING_MS && mono >= last.mono) return { ...level, noReading: null };
  let readings: LevelReading[] = [...level.readings, { mono, mm }];
  let drop = 0;
  while (readings.length - drop > MEDIAN_MIN_READINGS && readings[drop]!.mono < mono - spec.medianWindowMs) drop++;
  drop = Math.max(drop, readings.length - MAX_LEVEL_READINGS);
  if (drop > 0) readings = readings.slice(drop);
  if (readings.length < MEDIAN_MIN_READINGS) return { ...level, readings, noReading: null };
  const medianMm = medianOf(readings.map((r) => r.mm));
  return { ...level, readings, medianMm, fillPercent: fillPercent(medianMm, spec), noReading: null };
}

/** The link went offline or came back: the readings start afresh (the last median and verdict stay). */
export function levelLinkChanged(level: LevelSensorState): LevelSensorState {
  return level.readings.length === 0 ? level : { ...level, readings: [] };
}
