import type { Logger } from "../adapters/log/logger.js";
import type { Outbox } from "../adapters/outbox/outbox.js";
import type { DepositData } from "../domain/types.js";
import { SmartbinError } from "../errors.js";

/** A durable event waiting for its commit. */
export type Recordable =
  | { kind: "deposit"; data: DepositData }
  | { kind: "alarm"; subject: string; data: { code: string; device_id: string; bin_id?: string; message: string } };

export interface EventRecorderDeps {
  outbox: Pick<Outbox, "append">;
  logger: Logger;
  /** After each commit, in commit order: the caller acknowledges the event (log, light, publish). */
  onCommitted: (item: Recordable, seq: number) => void;
  /** The storage fault appeared or cleared (the retained status reports it). */
  onFaultChanged: () => void;
}

/**
 * Commits durable events before anything else about them happens (contract section 4, last
 * bullet). When the database cannot commit, the event waits in memory, in order, and
 * {@link commitWaiting} retries it; later events queue behind it so that `seq` order stays the order
 * things happened. While anything waits, {@link fault} says why (architecture.md: a storage fault
 * cannot be a durable event, so it shows on the status topic, and no session starts).
 */
export class EventRecorder {
  private readonly waiting: Recordable[] = [];
  private faultMessage: string | null = null;

  constructor(private readonly deps: EventRecorderDeps) {}

  /** Queues `item` and commits everything queued; never throws. */
  record(item: Recordable): void {
    this.waiting.push(item);
    this.commitWaiting();
  }

  /** Commits what waits, in order, until one fails (the fault stays) or all are committed (it clears). */
  commitWaiting(): void {
    while (this.waiting.length > 0) {
      const item = this.waiting[0]!;
      let seq: number;
      try {
        const subject = item.kind === "deposit" ? item.data.bin_id : item.subject;
        seq = this.deps.outbox.append(item.kind, subject, { ...item.data }).seq;
      } catch (err) {
        this.setFault(err);
        return;
      }
      this.waiting.shift();
      this.deps.onCommitted(item, seq);
    }
    if (this.faultMessage !== null) {
      this.faultMessage = null;
      this.deps.logger.info("storage fault cleared: events commit again");
      this.deps.onFaultChanged();
    }
  }

  /** Why events cannot be committed now, or `null` when storage is fine. */
  fault(): string | null {
    return this.faultMessage;
  }

  /** How many events wait for a commit. */
  waitingCount(): number {
    return this.waiting.length;
  }

  private setFault(err: unknown): void {
    const code = err instanceof SmartbinError ? err.code : "OUTBOX_COMMIT_FAILED";
    const message = err instanceof Error ? err.message : String(err);
    if (this.faultMessage === null) {
      this.deps.logger.error({ code, err }, "storage fault: events cannot be committed; sessions refused until it clears");
    }
    this.faultMessage = message;
    this.deps.onFaultChanged();
  }
}
