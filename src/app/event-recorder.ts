import type { RecordStamp } from "../adapters/boot-clock.js";
import type { Logger } from "../adapters/log/logger.js";
import type { DurableEvent, SessionWrite, SpaceAlarm } from "../domain/station-types.js";
import { SmartbinError } from "../errors.js";

/** One transaction's worth: events (in order) and the stored session's change. */
export interface RecordBatch {
  events: readonly DurableEvent[];
  session?: SessionWrite;
  /** The batch holds a storage alarm: the level it reports is stored with it ({@link STORAGE_ALARM_KEY}). */
  storageAlarm?: SpaceAlarm;
  /** `meta` values written in the same transaction (the machine's stored values: station-types META_KEYS); `null` deletes. */
  meta?: Readonly<Record<string, string | null>>;
}

/** The outbox `meta` key under which the last storage alarm's level is stored with that alarm. */
export const STORAGE_ALARM_KEY = "storage_alarm";

/** A batch as the outbox commits it (and as a spill file holds it). */
export interface CommitBatchOf {
  events: Array<{ kind: string; subject: string; data: Record<string, unknown> }>;
  /** The stored session's change (a {@link SessionWrite}; read back from a spill file, its state is unchecked). */
  session?: { op: "put"; id: string; state: unknown } | { op: "delete"; id: string };
  /** When the batch was recorded, RFC 3339 UTC (set when it had to wait); default: the commit's time. */
  time?: string;
  /** Its `boot_id`, `mono_ms` and `clock_synced` when it was recorded (set with `time`); default: the commit's. */
  stamp?: RecordStamp;
  /** `meta` rows written in the same transaction; `null` deletes the row. */
  meta?: Record<string, string | null>;
}

/** A spill file's batches (written at a shutdown that could not commit them), committed as one. */
export interface SpillOf {
  id: string;
  batches: Array<CommitBatchOf & { time: string }>;
}

/** What the recorder needs of the outbox: one transaction per batch, seqs in event order. */
export interface CommitPort {
  /**
   * Commits one batch in one transaction.
   *
   * @throws an error whose `context.reason` is `"busy"` (a SmartbinError) when another process holds
   *   the write lock: the same commit is retried soon; any other error is a storage fault.
   */
  commit(batch: CommitBatchOf): Array<{ seq: number }>;
  /** Commits a spill file's batches and marks it committed, all in one transaction; throws as `commit`. */
  commitSpill?(spill: SpillOf): Array<Array<{ seq: number }>>;
  /** Writes batches to the spill file for the next start; returns its path; throws when it cannot. */
  spill?(batches: Array<CommitBatchOf & { time: string }>): string;
  /**
   * Where on the board's time line an event recorded now is (boot, monotonic ms, clock synced); a
   * batch that has to wait is stamped with it, as with its `time`. Never throws.
   */
  recordStamp?(): RecordStamp;
}

/** The outbox's commit state, as the status reports it. */
export type CommitState = "ok" | "busy" | "fault";

export interface EventRecorderDeps {
  outbox: CommitPort;
  logger: Logger;
  /** After each committed event, in commit order: the caller acknowledges it (log, publish). */
  onCommitted: (event: DurableEvent, seq: number) => void;
  /** The commit state changed: `busy` or `fault` with the error's message, `ok` with `null`. */
  onStateChanged: (state: CommitState, message: string | null) => void;
  /** Calls `fn` once after `ms` (the runner's clock); returns a cancel function. */
  after: (ms: number, fn: () => void) => () => void;
  /** Wall clock, epoch ms: the recording time of a batch that has to wait. */
  wall: () => number;
}

/** A waiting entry: one batch, or a spill file's batches (one transaction). */
type Entry = { batch: CommitBatchOf & { time: string }; events: readonly DurableEvent[] } | { spill: SpillOf };

/** Retries of a commit that met another process's write lock: 25 ms, doubling to this cap. */
const BUSY_RETRY_FIRST_MS = 25;
const BUSY_RETRY_MAX_MS = 250;

/**
 * Commits durable events before anything else about them happens (contract section 4, last
 * bullet), each batch in one transaction with its session row. When the database cannot commit,
 * the batch waits in memory, in order, stamped with its recording moment (`time`, and `boot_id`,
 * `mono_ms`, `clock_synced`); later batches queue behind it so that `seq` order stays the order
 * things happened.
 *
 * - **Busy** (another process holds the write lock, issue 7 item 1): the commit failed fast (the
 *   outbox's busy timeout is 20 ms) and is retried on a timer, 25 ms doubling to 250 ms, so the event
 *   loop goes on between tries; the state is `busy` (status only: sessions still open).
 * - **Fault** (any other failure): the state is `fault` (no new sessions); the runner retries every
 *   few seconds with {@link commitWaiting}.
 *
 * At shutdown the runner gives the waiting batches a little time ({@link drain}) and writes what is
 * left to the spill file ({@link spillWaiting}); a spill found at start is queued first
 * ({@link seedSpill}).
 */
export class EventRecorder {
  private readonly waiting: Entry[] = [];
  private state: CommitState = "ok";
  private message: string | null = null;
  private busyTries = 0;
  private cancelRetry: (() => void) | null = null;
  private closed = false;

  constructor(private readonly deps: EventRecorderDeps) {}

  /** Queues `batch` and commits everything queued; never throws. */
  record(batch: RecordBatch): void {
    if (this.closed) {
      // Never silent: after the shutdown's spill nothing would commit these (the runner stops
      // feeding first; this is the trace if something still does).
      this.deps.logger.error({ kinds: batch.events.map((e) => e.kind) }, "events recorded after the recorder closed are lost");
      return;
    }
    const events = batch.events.map((e) => ({ kind: e.kind, subject: e.subject, data: { ...e.data } }));
    const commit: CommitBatchOf = {
      events,
      ...(batch.session ? { session: batch.session } : {}),
      ...(batch.storageAlarm || batch.meta ? { meta: { ...batch.meta, ...(batch.storageAlarm ? { [STORAGE_ALARM_KEY]: batch.storageAlarm } : {}) } } : {}),
    };
    if (this.waiting.length === 0 && !this.closed) {
      // The usual case, nothing waits: commit now, stamped by the outbox.
      let stored: Array<{ seq: number }>;
      try {
        stored = this.deps.outbox.commit(commit);
      } catch (err) {
        this.waiting.push({ batch: this.stamped(commit), events: batch.events });
        this.failed(err);
        return;
      }
      batch.events.forEach((e, i) => this.deps.onCommitted(e, stored[i]!.seq));
      return;
    }
    this.waiting.push({ batch: this.stamped(commit), events: batch.events });
    this.commitWaiting();
  }

  /**
   * `batch` with its recording moment: `time` from the runner's wall clock, and `boot_id`, `mono_ms`
   * and `clock_synced` from the outbox's clocks, read now and not when it is committed at last.
   * (The first try of a batch that then fails reads them a few microseconds after the outbox did.)
   */
  private stamped(batch: CommitBatchOf): CommitBatchOf & { time: string } {
    const stamp = this.deps.outbox.recordStamp?.();
    return { ...batch, time: new Date(this.deps.wall()).toISOString(), ...(stamp ? { stamp } : {}) };
  }

  /**
   * Queues a spill file found at start in front of everything and commits it if it can: its
   * events come before any of this run's.
   */
  seedSpill(spill: SpillOf): void {
    this.waiting.unshift({ spill });
    this.commitWaiting();
  }

  /** Commits what waits, in order, until one fails (the state says why) or all are committed (ok). */
  commitWaiting(): void {
    if (this.closed) return;
    while (this.waiting.length > 0) {
      const entry = this.waiting[0]!;
      try {
        if ("spill" in entry) {
          const outbox = this.deps.outbox;
          if (outbox.commitSpill === undefined) throw new Error("this outbox cannot commit a spill file");
          const stored = outbox.commitSpill(entry.spill);
          this.waiting.shift();
          entry.spill.batches.forEach((b, i) => b.events.forEach((e, j) => this.deps.onCommitted(e as DurableEvent, stored[i]![j]!.seq)));
        } else {
          const stored = this.deps.outbox.commit(entry.batch);
          this.waiting.shift();
          entry.events.forEach((e, i) => this.deps.onCommitted(e, stored[i]!.seq));
        }
      } catch (err) {
        this.failed(err);
        return;
      }
    }
    this.cancelRetry?.();
    this.cancelRetry = null;
    this.busyTries = 0;
    if (this.state !== "ok") {
      this.deps.logger.info({ was: this.state }, "storage commits again: every waiting event is committed");
      this.setState("ok", null);
    }
  }

  /**
   * Retries the waiting batches for up to `limitMs` (at shutdown), on the busy retry timer.
   *
   * @returns true when nothing waits any more.
   */
  async drain(limitMs: number): Promise<boolean> {
    const sleep = (ms: number) => new Promise<void>((resolve) => this.deps.after(ms, resolve));
    let left = limitMs;
    for (;;) {
      this.commitWaiting();
      if (this.waiting.length === 0) return true;
      if (left <= 0) return false;
      const ms = Math.min(left, BUSY_RETRY_FIRST_MS * 2);
      await sleep(ms);
      left -= ms;
    }
  }

  /**
   * Writes every waiting batch, in order, to the spill file (spill first, then this run's) and
   * forgets them; stops the retries. Nothing waiting: does nothing.
   *
   * @returns the events written and the file, `null` when nothing waited.
   * @throws the outbox's error when the spill file cannot be written (the batches stay, see {@link waitingJson}).
   */
  spillWaiting(): { events: number; batches: number; file: string } | null {
    this.close();
    if (this.waiting.length === 0) return null;
    const outbox = this.deps.outbox;
    if (outbox.spill === undefined) throw new Error("this outbox has no spill file");
    const batches = this.waiting.flatMap((e) => ("spill" in e ? e.spill.batches : [e.batch]));
    const file = outbox.spill(batches);
    const events = this.waitingCount();
    this.waiting.length = 0;
    return { events, batches: batches.length, file };
  }

  /** Stops the retry timer; later {@link commitWaiting} calls do nothing. */
  close(): void {
    this.closed = true;
    this.cancelRetry?.();
    this.cancelRetry = null;
  }

  /** The waiting batches as JSON text, for the log line of last resort. */
  waitingJson(): string {
    return JSON.stringify(this.waiting.flatMap((e) => ("spill" in e ? e.spill.batches : [e.batch])));
  }

  /** Why events cannot be committed now, or `null` when storage is fine (ok, or merely busy). */
  fault(): string | null {
    return this.state === "fault" ? this.message : null;
  }

  /** The commit state: `ok`, `busy` (waiting for another process's lock) or `fault`. */
  commitState(): CommitState {
    return this.state;
  }

  /** How many events wait for a commit. */
  waitingCount(): number {
    return this.waiting.reduce((n, e) => n + ("spill" in e ? e.spill.batches.reduce((m, b) => m + b.events.length, 0) : e.batch.events.length), 0);
  }

  /** How many batches (events or session changes) wait. */
  waitingBatches(): number {
    return this.waiting.reduce((n, e) => n + ("spill" in e ? e.spill.batches.length : 1), 0);
  }

  private failed(err: unknown): void {
    const busy = err instanceof SmartbinError && err.context.reason === "busy";
    const message = err instanceof Error ? err.message : String(err);
    if (busy) {
      if (this.state !== "busy") {
        this.deps.logger.warn({ err }, "storage busy: another process holds the database's write lock; commits wait, in order");
      }
      this.setState("busy", "another process holds the database's write lock");
      this.scheduleBusyRetry();
      return;
    }
    if (this.state !== "fault") {
      const code = err instanceof SmartbinError ? err.code : "OUTBOX_COMMIT_FAILED";
      this.deps.logger.error({ code, err }, "storage fault: events cannot be committed; sessions refused until it clears");
    }
    // A fault is retried by the runner's slower timer.
    this.cancelRetry?.();
    this.cancelRetry = null;
    this.busyTries = 0;
    this.setState("fault", message);
  }

  private scheduleBusyRetry(): void {
    if (this.cancelRetry !== null || this.closed) return;
    const ms = Math.min(BUSY_RETRY_MAX_MS, BUSY_RETRY_FIRST_MS * 2 ** this.busyTries);
    this.busyTries++;
    this.cancelRetry = this.deps.after(ms, () => {
      this.cancelRetry = null;
      this.commitWaiting();
    });
  }

  private setState(state: CommitState, message: string | null): void {
    if (state === this.state && message === this.message) return;
    this.state = state;
    this.message = message;
    this.deps.onStateChanged(state, message);
  }
}
