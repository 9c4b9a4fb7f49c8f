/**
 * The one way the machine records an alarm (contract section 4, `P/S/events/alarm`): a `record`
 * effect with one alarm event, and optionally `meta` values committed in the same transaction (the
 * level an alarm reports, so that a restart neither repeats it nor misses a crossing).
 */
import type { AlarmEventData, StationEffect } from "./station-types.js";

/** A record effect of one alarm; `subject` is the device id, else the bin id, else the station id. */
export function alarmEffect(subject: string, data: AlarmEventData, meta?: Readonly<Record<string, string>>): StationEffect {
  return { type: "record", events: [{ kind: "alarm", subject, data }], ...(meta ? { meta } : {}) };
}
