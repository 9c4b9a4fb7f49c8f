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
 * The text is the same as `JSON.stringify` of that object (a property test holds it to that), but
 * is joined from parts without building the nested object: `JSON.stringify` of the id, time,
 * subject and `data` alone; the parts fixed by the station and the kind (`source`, `type`,
 * `station_id` and the keys between them) made once and kept ({@link envelopeHeads}); numbers,
 * booleans and the boot id written as `JSON.stringify` writes them. This runs inside every
 * deposit's commit, where each call saved counts three to four times over, since the commit runs
 * right after the thread has waited on the disk (README, "Performance", commit latency). When
 * `data` has a key that may be an array index ("7"), which an object lists before its other keys,
 * the object itself is serialised instead.
 *
 * @throws TypeError when `data` cannot be serialised (a BigInt, a cycle).
 */
export function envelopeJson(e: EnvelopeFields): string {
  const own = JSON.stringify(e.data);
  // Index keys come first in `own`; in the envelope they would come before station_id.
  const first = own.charCodeAt(2);
  if (first >= 0x30 && first <= 0x39) return envelopeObjectJson(e);
  // `own` is "{}" or "{...}": its members go between seq and boot_id.
  const members = own.length > 2 ? "," + own.slice(1, -1) : "";
  const head = envelopeHeads(e.stationId, e.kind);
  return (
    '{"specversion":"1.0","id":' +
    JSON.stringify(e.id) +
    head.sourceToTime +
    JSON.stringify(e.time) +
    ',"subject":' +
    JSON.stringify(e.subject) +
    head.contentTypeToSeq +
    numberJson(e.seq) +
    members +
    ',"boot_id":' +
    bootIdJson(e.stamp.boot_id) +
    ',"mono_ms":' +
    numberJson(e.stamp.mono_ms) +
    (e.stamp.clock_synced ? ',"clock_synced":true}}' : ',"clock_synced":false}}')
  );
}

/** The parts of an envelope's text fixed by the station and the kind (see {@link envelopeJson}). */
interface EnvelopeHeads {
  /** `,"source":"smartbin/<station>","type":"smartbin.<kind>.v1","time":` */
  sourceToTime: string;
  /** `,"datacontenttype":"application/json","data":{"station_id":"<station>","seq":` */
  contentTypeToSeq: string;
}

/** At most this many station and kind pairs are kept; a station has one id and a handful of kinds. */
const HEADS_KEPT = 32;
const heads = new Map<string, EnvelopeHeads>();

/** The {@link EnvelopeHeads} of a station and kind, made at first use and kept (up to {@link HEADS_KEPT}). */
function envelopeHeads(stationId: string, kind: string): EnvelopeHeads {
  const key = `${stationId}\n${kind}`;
  let head = heads.get(key);
  if (head === undefined) {
    if (heads.size >= HEADS_KEPT) heads.clear();
    head = {
      sourceToTime: `,"source":${JSON.stringify(`smartbin/${stationId}`)},"type":${JSON.stringify(`smartbin.${kind}.v1`)},"time":`,
      contentTypeToSeq: `,"datacontenttype":"application/json","data":{"station_id":${JSON.stringify(stationId)},"seq":`,
    };
    heads.set(key, head);
  }
  return head;
}

/** A number as `JSON.stringify` writes it (`null` for null, NaN and the infinities), without its call. */
function numberJson(n: number | null): string {
  return n !== null && Number.isFinite(n) ? String(n) : "null";
}

let lastBootId: string | null = null;
let lastBootIdJson = "null";

/** `JSON.stringify` of the boot id, kept for the last one seen (one per boot, so nearly always the same). */
function bootIdJson(bootId: string | null): string {
  if (bootId !== lastBootId) {
    lastBootIdJson = JSON.stringify(bootId);
    lastBootId = bootId;
  }
  return lastBootIdJson;
}

/**
 * {@link envelopeJson} by building the envelope object and serialising it whole: what it does for
 * `data` with index-like keys, and the reference its joined form is tested against.
 */
export function envelopeObjectJson(e: EnvelopeFields): string {
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
