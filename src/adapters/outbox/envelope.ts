import type { RecordStamp } from "../boot-clock.js";

/** What one durable event's CloudEvents envelope is made of. */
export interface EnvelopeFields {
  /** The CloudEvents `id` (a UUIDv7). */
  id: string;
  /** `station.id`: `source` is `smartbin/<stationId>`, and `data.station_id`. */
  stationId: string;
  /** `data.seq`. */
  seq: number;
  /** The event kind: `type` is `smartbin.<kind>.v1`. */
  kind: string;
  subject: string;
  /** RFC 3339 UTC with milliseconds. */
  time: string;
  /** The event's own fields, without the {@link RESERVED_DATA_KEYS}. */
  data: Record<string, unknown>;
  /** When it was recorded on the board's time line: `data.boot_id`, `data.mono_ms`, `data.clock_synced`. */
  stamp: RecordStamp;
}

/** Keys the outbox sets in `data` itself; a caller's data may not contain them. */
export const RESERVED_DATA_KEYS = ["station_id", "seq", "boot_id", "mono_ms", "clock_synced"] as const;

/**
 * The CloudEvents 1.0 envelope of contract.md section 4 as the JSON text that is stored and sent
 * byte for byte: `{specversion, id, source, type, time, subject, datacontenttype, data: {station_id,
 * seq, ...data, boot_id, mono_ms, clock_synced}}`, keys in this order.
 *
 * @throws TypeError when `data` cannot be serialised (a BigInt, a cycle).
 */
export function envelopeJson(e: EnvelopeFields): string {
  return JSON.stringify({
    specversion: "1.0",
    id: e.id,
    source: `smartbin/${e.stationId}`,
    type: `smartbin.${e.kind}.v1`,
    time: e.time,
    subject: e.subject,
    datacontenttype: "application/json",
    data: {
      station_id: e.stationId,
      seq: e.seq,
      ...e.data,
      boot_id: e.stamp.boot_id,
      mono_ms: e.stamp.mono_ms,
      clock_synced: e.stamp.clock_synced,
    },
  });
}
