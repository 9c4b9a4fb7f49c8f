import { existsSync } from "node:fs";

import type { Statement } from "better-sqlite3";

import { SmartbinError } from "../../errors.js";
import type { StoredEvent } from "./outbox.js";
import { openOutboxReadOnly, type ReadOnlyOutbox } from "./read-only-open.js";
import { checkReadable } from "./schema.js";

/** Events read per query by {@link OutboxReader.pages}, by default. */
export const READ_PAGE_SIZE = 256;

/** One event held in the outbox, as `smartbin outbox list` and `export` see it. */
export interface HeldEvent extends StoredEvent {
  /** The CloudEvents `subject` (bin id, device id or station id). */
  subject: string;
  /** The CloudEvents `time`: when the event was recorded, RFC 3339 UTC with milliseconds. */
  time: string;
  /** When the broker acknowledged it (RFC 3339), `null` while it is pending. */
  published_at: string | null;
}

/** Which held events {@link OutboxReader.pages} yields. */
export interface ReadFilter {
  /** Only events the broker has not acknowledged yet. */
  pendingOnly?: boolean;
  /** Only events with `seq >= sinceSeq` (inclusive, as `--since`). */
  sinceSeq?: number;
  /** Events per query (and per yielded page), at least 1; default {@link READ_PAGE_SIZE}. */
  pageSize?: number;
}

/**
 * A read-only view of the outbox database for the technician's commands (`smartbin outbox list`,
 * `export`; contract.md section 1), safe beside a running `smartbin run`: a read-only connection that
 * never creates or writes the database (on a read-only file system, a private copy: see
 * `openOutboxReadOnly`), a WAL reader (writers are not blocked) with the outbox's busy
 * timeout. Events are read in pages by `seq`, each page its own short read, so neither the whole
 * table nor a read snapshot is held while the caller writes a page to a slow pipe (a snapshot kept
 * open would stop the station's WAL checkpoints for as long as the technician's pager stays open).
 */
export class OutboxReader {
  private readonly page: { all: Statement<[number, number, number], HeldEvent>; pending: Statement<[number, number, number], HeldEvent> };

  private constructor(
    private readonly source: ReadOnlyOutbox,
    private readonly path: string,
    /** The highest seq held when the reader was opened: later events are not listed. */
    readonly lastHeldSeq: number,
  ) {
    const db = source.db;
    const columns = "SELECT seq, id, kind, subject, time, payload, published_at FROM events";
    this.page = {
      all: db.prepare(`${columns} WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`),
      // Served by the partial index events_unpublished, as the publisher's drain is.
      pending: db.prepare(`${columns} WHERE published_at IS NULL AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`),
    };
  }

  /**
   * Opens the outbox at `path` read-only.
   *
   * @returns `null` when there is no outbox there: no file (nothing is created), or a file created
   *   but not yet migrated by `smartbin run`.
   * @throws SmartbinError `OUTBOX_OPEN_FAILED` when the file exists but cannot be read as an outbox
   *   (permissions, corruption, a newer schema version that does not admit this one).
   */
  static open(path: string): OutboxReader | null {
    if (!existsSync(path)) return null;
    let source: ReadOnlyOutbox | undefined;
    try {
      source = openOutboxReadOnly(path);
      if (checkReadable(source.db, path) === 0) {
        source.close();
        return null;
      }
      const last = source.db.prepare<[], { last: number }>("SELECT COALESCE(MAX(seq), 0) AS last FROM events").get();
      return new OutboxReader(source, path, last?.last ?? 0);
    } catch (err) {
      source?.close();
      // Removed between the existence check and the open: as far as we know, there is none.
      if (!existsSync(path)) return null;
      throw readError(path, err);
    }
  }

  /**
   * The held events matching `filter`, oldest first, up to {@link lastHeldSeq}, one page (at most
   * `pageSize` events) per iteration: only one page is in memory at a time, and no read
   * transaction stays open between pages, so pages may come from different snapshots (an event
   * may be published or pruned meanwhile; none is yielded twice or out of order).
   *
   * @throws SmartbinError `OUTBOX_OPEN_FAILED` when a page cannot be read (after the busy timeout,
   *   or a corrupt page).
   */
  *pages(filter: ReadFilter = {}): Generator<HeldEvent[], void, undefined> {
    const size = Math.max(1, Math.floor(filter.pageSize ?? READ_PAGE_SIZE));
    const stmt = filter.pendingOnly === true ? this.page.pending : this.page.all;
    let after = Math.max(0, Math.floor(filter.sinceSeq ?? 0) - 1);
    for (;;) {
      let rows: HeldEvent[];
      try {
        rows = stmt.all(after, this.lastHeldSeq, size);
      } catch (err) {
        throw readError(this.path, err);
      }
      if (rows.length === 0) return;
      yield rows;
      if (rows.length < size) return;
      after = rows[rows.length - 1]!.seq;
    }
  }

  /** Closes the connection (and removes the private copy read from a read-only folder); idempotent. */
  close(): void {
    this.source.close();
  }
}

function readError(path: string, err: unknown): SmartbinError {
  if (err instanceof SmartbinError) return err;
  return new SmartbinError("OUTBOX_OPEN_FAILED", `cannot read outbox database ${path}`, { path }, { cause: err });
}
