/**
 * Whether a bin is full (contract.md section 2, "Other station alarms": `bin_full` when a bin's
 * gross weight reaches its `full_g` "or its fill-level sensor says full"; `bin_ok` when it falls
 * below 90 % of `full_g` "or the sensor says so"; "a full bin is not ready").
 *
 * A bin has up to two sources: its weight (when it has `full_g`) and its level sensor (when one
 * looks into it). Each judges with its own hysteresis (src/domain/station-machine.ts for the weight,
 * src/domain/level-state.ts for the sensor), and the bin is full while either says so: `bin_full`
 * when the first source says full, `bin_ok` only when no source says full any longer. The alarm
 * carries the details of the source that decided.
 *
 * Restarts: the bin's state (`full`, meta `bins_full`) and each source's verdict (`fullBy`, meta
 * `bins_full_by`) are stored in the same transaction as the alarm (or alone, when a source changes
 * without changing the bin), and restored at start, so a restart repeats no alarm. A source that
 * has not judged since the start counts as what the stored bin state says (a database from before
 * level sensors has no `bins_full_by`), so a full bin stays full until each of its sources has
 * said otherwise.
 */
import { alarmEffect } from "./alarms.js";
import { META_KEYS, type FullSources, type StationContext, type StationEffect, type StationState } from "./station-types.js";

/** A source of a bin's full state. */
export type FullSource = keyof FullSources;

/** What the deciding source says about itself, for the alarm and the log. */
export interface FullReport {
  /** Alarm data besides `code` and `bin_id` (e.g. `gross_g`, `full_g`; `device_id`, `distance_mm`, `fill_percent`). */
  details: Record<string, unknown>;
  /** The alarm's message when the bin becomes full, and when it no longer is. */
  fullMessage: string;
  okMessage: string;
  /** Fields of the log line. */
  fields: Record<string, unknown>;
}

/** What `source` said last about the bin, else what the stored bin state says (see the file's comment). */
export function priorVerdict(state: StationState, binId: string, source: FullSource): boolean {
  return state.fullBy?.[binId]?.[source] ?? state.full?.[binId] === true;
}

/** The sources a bin has in `ctx`. */
function sourcesOf(binId: string, ctx: StationContext): FullSource[] {
  const out: FullSource[] = [];
  const bin = ctx.bins.find((b) => b.binId === binId);
  if (bin?.fullG !== undefined && bin.fullG !== null) out.push("weight");
  if (ctx.levelSensors?.some((l) => l.binId === binId) === true) out.push("level");
  return out;
}

/**
 * `source` judged the bin full (`verdict` true) or not: records the source's verdict and, when the
 * bin's combined state changes, the `bin_full` / `bin_ok` alarm (with `report`'s details), the
 * status change and a log line.
 */
export function judgeBinFull(
  state: StationState,
  binId: string,
  source: FullSource,
  verdict: boolean,
  report: FullReport,
  ctx: StationContext,
  effects: StationEffect[],
): StationState {
  const before = state.fullBy?.[binId] ?? {};
  const wasFull = state.full?.[binId] === true;
  const sources: FullSources = { ...before, [source]: verdict };
  const isFull = sourcesOf(binId, ctx).some((s) => (s === source ? verdict : (sources[s] ?? wasFull)));
  const fullBy = { ...state.fullBy, [binId]: sources };
  if (isFull === wasFull) {
    if (before[source] === verdict) return state;
    effects.push({ type: "record", events: [], meta: { [META_KEYS.fullBy]: JSON.stringify(fullBy) } });
    return { ...state, fullBy };
  }
  const full = { ...state.full, [binId]: isFull };
  effects.push({ type: "notice", level: isFull ? "warn" : "info", msg: isFull ? "bin full" : "bin no longer full", fields: { bin: binId, ...report.fields } });
  effects.push(
    alarmEffect(
      binId,
      { code: isFull ? "bin_full" : "bin_ok", bin_id: binId, ...report.details, message: isFull ? report.fullMessage : report.okMessage },
      { [META_KEYS.full]: JSON.stringify(full), [META_KEYS.fullBy]: JSON.stringify(fullBy) },
    ),
  );
  effects.push({ type: "status_changed" });
  return { ...state, full, fullBy };
}
