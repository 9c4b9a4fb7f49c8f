import type { Database as Db, Statement, Transaction } from "better-sqlite3";

/**
 * The end of every stored envelope recorded while the clock was not synchronised: `clock_synced` is
 * the last key of `data`, and `data` the last of the envelope (envelope.ts).
 */
export const UNSYNCED_TAIL = '"clock_synced":false}}';

/** The `meta` key holding the highest seq ever handed to the publisher among pages with unsynchronised events. */
export const SENT_MARK_KEY = "sent_through_seq";

/** Events looked at per correction page (each page one short transaction). */
export const CORRECTION_PAGE = 200;

/** The synchronised clock, read when a correction page runs. */
export interface SyncedClock {
  /** This boot's id: only events of this boot are corrected. */
  bootId: string;
  /** The wall clock now, epoch ms (synchronised). */
  wallMs: number;
  /** The monotonic clock since boot now, ms (the clock of `data.mono_ms`). */
  monoMs: number;
}

/** A stored event's new payload and `time` column after correction. */
export interface Corrected {
  payload: string;
  time: string;
}

/** The station's own time stamps: RFC 3339 UTC with milliseconds (contract.md section 4). */
const STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * The corrected form of one stored envelope (contract.md section 2, last rule of "Other station
 * alarms"), or `null` when it is not to be corrected: only an event of `clock.bootId` with
 * `clock_synced: false` and an integer `mono_ms` is. Its `time` becomes its `mono_ms` read through the
 * synchronised clock, `wallMs - (monoMs - mono_ms)`; every other stamp of its `data` (a top-level key
 * ending in `_at` whose value is an RFC 3339 UTC stamp with milliseconds: `started_at`, `ended_at`)
 * moves by the same amount, the difference between the synchronised clock and the clock that made
 * the stamps; `clock_synced` becomes true. Everything else keeps its bytes and its key order.
 */
export function correctEnvelope(payload: string, clock: SyncedClock): Corrected | null {
  if (!payload.endsWith(UNSYNCED_TAIL)) return null;
  let doc: { time?: unknown; data?: Record<string, unknown> };
  try {
    doc = JSON.parse(payload) as typeof doc;
  } catch {
    return null;
  }
  const data = doc.data;
  if (typeof data !== "object" || data === null || data.clock_synced !== false || data.boot_id !== clock.bootId) return null;
  const monoMs = data.mono_ms;
  if (typeof monoMs !== "number" || !Number.isSafeInteger(monoMs) || typeof doc.time !== "string") return null;
  const recorded = Date.parse(doc.time);
  const corrected = clock.wallMs - (clock.monoMs - monoMs);
  const time = isoOrNull(corrected);
  if (Number.isNaN(recorded) || time === null) return null;
  const shift = corrected - recorded;
  doc.time = time;
  for (const [key, value] of Object.entries(data)) {
    if (!key.endsWith("_at") || typeof value !== "string" || !STAMP.test(value)) continue;
    const moved = isoOrNull(Date.parse(value) + shift);
    if (moved !== null) data[key] = moved;
  }
  data.clock_synced = true;
  return { payload: JSON.stringify(doc), time };
}

function isoOrNull(ms: number): string | null {
  const d = new Date(Math.round(ms));
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** What one correction page did. */
export interface CorrectionPage {
  /** The highest seq looked at (the next page starts after it); the `afterSeq` given when none. */
  lastSeq: number;
  /** Events rewritten. */
  corrected: number;
  /** Nothing pending is left after `lastSeq`. */
  done: boolean;
}

/**
 * The rewrite of never-sent events when the clock becomes synchronised, page by page: each page one
 * IMMEDIATE transaction over at most `limit` pending events with `seq` above both `afterSeq` and the
 * sent mark ({@link SENT_MARK_KEY}, read inside the transaction), so an event handed to the publisher
 * is never changed (a re-sent event is the same message, byte for byte: contract.md section 4).
 */
export class TimeCorrector {
  private readonly pending: Statement<[number, number], { seq: number; payload: string }>;
  private readonly update: Statement<[string, string, number]>;
  private readonly sentMark: Statement<[string], { value: string }>;
  private readonly tx: Transaction<(afterSeq: number, limit: number, clock: () => SyncedClock) => CorrectionPage>;

  constructor(db: Db) {
    this.pending = db.prepare<[number, number], { seq: number; payload: string }>(
      "SELECT seq, payload FROM events WHERE published_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
    );
    this.update = db.prepare<[string, string, number]>("UPDATE events SET time = ?, payload = ? WHERE seq = ? AND published_at IS NULL");
    this.sentMark = db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?");
    this.tx = db.transaction((afterSeq: number, limit: number, clock: () => SyncedClock): CorrectionPage => {
      const from = Math.max(afterSeq, this.mark());
      const rows = this.pending.all(from, limit);
      // Read inside the transaction, after the lock is held: the stamps are of this instant.
      const now = clock();
      let corrected = 0;
      for (const row of rows) {
        const next = correctEnvelope(row.payload, now);
        if (next === null) continue;
        corrected += this.update.run(next.time, next.payload, row.seq).changes;
      }
      return { lastSeq: rows.at(-1)?.seq ?? from, corrected, done: rows.length < limit };
    });
  }

  /**
   * Corrects one page (see the class).
   *
   * @throws the SQLite error (SQLITE_BUSY when another process holds the write lock); nothing of the
   *   page is changed then.
   */
  page(afterSeq: number, limit: number, clock: () => SyncedClock): CorrectionPage {
    return this.tx.immediate(afterSeq, limit, clock);
  }

  /** The sent mark stored in the database (0 when none). */
  mark(): number {
    const n = Number(this.sentMark.get(SENT_MARK_KEY)?.value ?? 0);
    return Number.isSafeInteger(n) ? n : 0;
  }
}
