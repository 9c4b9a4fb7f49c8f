import type { Logger } from "../adapters/log/logger.js";
import type { DurableEvent, SessionWrite } from "../domain/station-types.js";
import { SmartbinError } from "../errors.js";

/** One transaction's worth: events (in order) and the stored session's change. */
export interface RecordBatch {
  events: readonly DurableEvent[];
  session?: SessionWrite;
}

/** What the recorder needs of the outbox: one transaction per batch, seqs in event order. */
export interface CommitPort {
  commit(batch: {
    events: Array<{ kind: string; subject: string; data: Record<string, unknown> }>;
    session?: SessionWrite;
  }): Array<{ seq: number }>;
}

export interface EventRecorderDeps {
  outbox: CommitPort;
  logger: Logger;
  /** After each committed event, in commit order: the caller acknowledges it (log, publish). */
  onCommitted: (event: DurableEvent, seq: number) => void;
  /** The storage fault appeared (message) or cleared (`null`). */
  onFaultChanged: (fault: string | null) => void;
}

/**
 * Commits durable events before anything else about them happens (contract section 4, last
 * bullet), each batch in one transaction with its session row. When the database cannot commit,
 * the batch waits in memory, in order, and {@link commitWaiting} retries it; later batches queue
 * behind it so that `seq` order stays the order things happened. While anything waits,
 * {@link fault} says why (architecture.md: a storage fault cannot be a durable event, so it shows
 * on the status topic, and no session starts).
 */
export class EventRecorder {
  private readonly waiting: RecordBatch[] = [];
  private faultMessage: string | null = null;

  constructor(private readonly deps: EventRecorderDeps) {}

  /** Queues `batch` and commits everything queued; never throws. */
  record(batch: RecordBatch): void {
    this.waiting.push(batch);
    this.commitWaiting();
  }

  /** Commits what waits, in order, until one fails (the fault stays) or all are committed (it clears). */
  commitWaiting(): void {
    while (this.waiting.length > 0) {
      const batch = this.waiting[0]!;
      let stored: Array<{ seq: number }>;
      try {
        stored = this.deps.outbox.commit({
          events: batch.events.map((e) => ({ kind: e.kind, subject: e.subject, data: { ...e.data } })),
          ...(batch.session ? { session: batch.session } : {}),
        });
      } catch (err) {
        this.setFault(err);
        return;
      }
      this.waiting.shift();
      batch.events.forEach((e, i) => this.deps.onCommitted(e, stored[i]!.seq));
    }
    if (this.faultMessage !== null) {
      this.faultMessage = null;
      this.deps.logger.info("storage fault cleared: events commit again");
      this.deps.onFaultChanged(null);
    }
  }

  /** Why events cannot be committed now, or `null` when storage is fine. */
  fault(): string | null {
    return this.faultMessage;
  }

  /** How many events wait for a commit. */
  waitingCount(): number {
    return this.waiting.reduce((n, b) => n + b.events.length, 0);
  }

  /** How many batches (events or session changes) wait. */
  waitingBatches(): number {
    return this.waiting.length;
  }

  private setFault(err: unknown): void {
    const code = err instanceof SmartbinError ? err.code : "OUTBOX_COMMIT_FAILED";
    const message = err instanceof Error ? err.message : String(err);
    const first = this.faultMessage === null;
    if (first) {
      this.deps.logger.error({ code, err }, "storage fault: events cannot be committed; sessions refused until it clears");
    }
    this.faultMessage = message;
    if (first) this.deps.onFaultChanged(message);
  }
}
