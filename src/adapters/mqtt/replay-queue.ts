/**
 * The replays asked of the publisher (the `replay` command, contract.md section 4: the held events
 * of a seq range are published again), as a queue of cursors over the database. Memory stays flat
 * whatever the range: one page of events at a time.
 *
 * A second replay while one runs is QUEUED, not merged: it runs once those before it are done, in
 * the order asked (a range asked again while it is still queued is not added twice). At most
 * {@link MAX_QUEUED_REPLAYS} wait; a further one is refused (the caller logs it; the central system
 * asks again). Replays are not durable: a disconnect drops them all (the central system, still
 * missing the events, asks again).
 */
import type { StoredEvent } from "../outbox/outbox.js";

/** Replays waiting or running, at most. */
export const MAX_QUEUED_REPLAYS = 16;

/** Reads up to `limit` held events with `afterSeq < seq <= toSeq` (`toSeq` undefined: no bound), ascending. */
export type HeldPageReader = (afterSeq: number, toSeq: number | undefined, limit: number) => StoredEvent[];

interface Cursor {
  /** The last seq taken (or `fromSeq - 1` before the first). */
  afterSeq: number;
  readonly fromSeq: number;
  readonly toSeq: number | undefined;
}

/** What {@link ReplayQueue.add} did with a range. */
export type ReplayAdded = "started" | "queued" | "duplicate" | "full";

export class ReplayQueue {
  private readonly cursors: Cursor[] = [];
  /** Read from the database for the head cursor, not yet taken, ascending. */
  private page: StoredEvent[] = [];

  /** True while a replay runs or waits. */
  get busy(): boolean {
    return this.cursors.length > 0;
  }

  /** Queues the range `fromSeq..toSeq`, both inclusive (`toSeq` undefined: up to the newest held event when the replay gets there). */
  add(fromSeq: number, toSeq: number | undefined): ReplayAdded {
    if (this.cursors.some((c) => c.fromSeq === fromSeq && c.toSeq === toSeq && c.afterSeq === fromSeq - 1)) return "duplicate";
    if (this.cursors.length >= MAX_QUEUED_REPLAYS) return "full";
    this.cursors.push({ afterSeq: fromSeq - 1, fromSeq, toSeq });
    return this.cursors.length === 1 ? "started" : "queued";
  }

  /**
   * The next event to publish again, `undefined` when every replay is done. Reads a page of
   * `pageSize` with `read` when the last one is used up; a replay whose range has nothing more
   * ends and the next begins. `read` may throw (storage): the cursor stays where it was.
   */
  next(read: HeldPageReader, pageSize: number): StoredEvent | undefined {
    for (;;) {
      const head = this.cursors[0];
      if (head === undefined) return undefined;
      if (this.page.length === 0) this.page = read(head.afterSeq, head.toSeq, pageSize);
      const event = this.page.shift();
      if (event !== undefined) {
        head.afterSeq = event.seq;
        return event;
      }
      this.cursors.shift();
    }
  }

  /** Drops every replay (a disconnect); returns how many were running or waiting. */
  clear(): number {
    const n = this.cursors.length;
    this.cursors.length = 0;
    this.page = [];
    return n;
  }
}
