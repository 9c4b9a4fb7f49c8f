import { existsSync } from "node:fs";

import type { Database as Db } from "better-sqlite3";

import { SmartbinError } from "../../errors.js";
import { openOutboxReadOnly, type ReadOnlyOutbox } from "./read-only-open.js";
import { checkReadable } from "./schema.js";

/**
 * What `smartbin outbox status --json` reports (contract.md section 1, `outbox status`).
 * Ages are in seconds.
 */
export interface OutboxStatus {
  /** Events not yet acknowledged by the broker. */
  pending: number;
  /** Acknowledged events still held (until pruned). */
  published: number;
  /** Seconds since the oldest pending event's `time`, `null` when nothing is pending. */
  oldest_pending_age_s: number | null;
  /** The last `seq` assigned, 0 when none. Never lowered by pruning. */
  last_seq: number;
}

/** The status of a database that does not exist yet (or is not migrated yet). */
export const EMPTY_STATUS: Readonly<OutboxStatus> = { pending: 0, published: 0, oldest_pending_age_s: null, last_seq: 0 };

/** Prepares the status queries once and returns the function that runs them. */
export function prepareStatusQuery(db: Db): (now: Date) => OutboxStatus {
  const pending = db.prepare<[], { n: number; oldest: string | null }>(
    "SELECT COUNT(*) AS n, MIN(time) AS oldest FROM events WHERE published_at IS NULL",
  );
  const total = db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM events");
  const lastSeq = db.prepare<[], { value: number }>("SELECT value FROM counter WHERE name = 'seq'");
  return (now) => {
    const p = pending.get() ?? { n: 0, oldest: null };
    const all = total.get()?.n ?? 0;
    return {
      pending: p.n,
      published: all - p.n,
      oldest_pending_age_s: p.oldest === null ? null : ageSeconds(p.oldest, now),
      last_seq: lastSeq.get()?.value ?? 0,
    };
  };
}

/** Seconds from an RFC 3339 time to `now`, millisecond precision, never negative (clock steps). */
function ageSeconds(time: string, now: Date): number {
  const ms = now.getTime() - Date.parse(time);
  return Math.max(0, ms) / 1000;
}

/** `Outbox.readStatus` (outbox.ts): the status of the database at `path`, read-only, beside a running station. */
export function readOutboxStatus(path: string, now: Date): OutboxStatus {
  if (!existsSync(path)) return { ...EMPTY_STATUS };
  let source: ReadOnlyOutbox | undefined;
  try {
    source = openOutboxReadOnly(path);
    const db = source.db;
    // A newer database is read when it says this version can (its columns are a superset).
    if (checkReadable(db, path) === 0) return { ...EMPTY_STATUS };
    const query = prepareStatusQuery(db);
    // One read transaction: all counts come from the same snapshot.
    return db.transaction(() => query(now))();
  } catch (err) {
    // Removed between the existence check and the open: it does not exist, as far as we know.
  if (!existsSync(path)) return { ...EMPTY_STATUS };
    if (err instanceof SmartbinError) throw err;
    throw new SmartbinError(
      "OUTBOX_OPEN_FAILED",
      `cannot read outbox database ${path}`,
      { path },
      { cause: err },
    );
  } finally {
    source?.close();
  }
}
