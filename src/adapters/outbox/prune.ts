import type { Database as Db, Statement } from "better-sqlite3";
import type { Logger } from "pino";

import { SmartbinError } from "../../errors.js";
import { failureOf } from "./failure.js";

/** Published events deleted per transaction when pruning (each a short hold of the write lock). */
export const PRUNE_BATCH = 500;

const DAY_MS = 86_400_000;

/** What {@link Pruner.batch} deletes. */
export interface PruneOptions {
  /** Only events published more than this many days ago (fractions allowed); without it, any published event. */
  retentionDays?: number;
  /** At most this many (default {@link PRUNE_BATCH}). */
  limit?: number;
}

/**
 * Pruning of published events (issue 7, item 4): in small batches, oldest first, each batch its own
 * short transaction, so another writer (and the station's own commits) never waits long for the
 * write lock. Pending events are never deleted; `seq` keeps counting (its counter is apart).
 */
export class Pruner {
  private readonly before: Statement<[string, number]>;
  private readonly oldest: Statement<[number]>;

  constructor(
    private readonly db: Db,
    private readonly path: string,
    private readonly logger: Logger,
    private readonly now: () => Date,
  ) {
    // Oldest first, one batch per statement: rowid order is seq order, so the scan stops early.
    this.before = db.prepare<[string, number]>(
      "DELETE FROM events WHERE seq IN (SELECT seq FROM events" +
        " WHERE published_at IS NOT NULL AND published_at < ? ORDER BY seq LIMIT ?)",
    );
    this.oldest = db.prepare<[number]>(
      "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE published_at IS NOT NULL ORDER BY seq LIMIT ?)",
    );
  }

  /**
   * Deletes one batch of published events, oldest first by seq: with `retentionDays`, those
   * published more than that long ago; without it, any (storage nearly full: pruned before their
   * retention ends).
   *
   * @returns the number deleted (0: nothing left to prune).
   * @throws SmartbinError `OUTBOX_COMMIT_FAILED` (context `reason`: `busy`, `full` or `failed`).
   */
  batch(opts: PruneOptions): number {
    const limit = opts.limit ?? PRUNE_BATCH;
    const cutoff = opts.retentionDays === undefined ? null : new Date(this.now().getTime() - opts.retentionDays * DAY_MS).toISOString();
    try {
      const deleted = cutoff === null ? this.oldest.run(limit).changes : this.before.run(cutoff, limit).changes;
      if (deleted > 0) this.logger.debug({ deleted, ...(cutoff === null ? { early: true } : { cutoff }) }, "pruned published events");
      return deleted;
    } catch (err) {
      throw new SmartbinError("OUTBOX_COMMIT_FAILED", "cannot prune published events", { path: this.path, reason: failureOf(err) }, { cause: err });
    }
  }

  /**
   * Moves the WAL's content into the database and truncates the WAL file (after pruning under space
   * pressure, so the WAL's length stops counting). Best effort: with a reader or another writer in
   * the way it gives up after the busy timeout.
   */
  truncateWal(): void {
    try {
      this.db.pragma("wal_checkpoint(TRUNCATE)");
    } catch (err) {
      this.logger.debug({ err }, "WAL checkpoint not done");
    }
  }
}
