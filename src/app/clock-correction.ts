import type { Logger } from "../adapters/log/logger.js";
import type { CorrectionPage } from "../adapters/outbox/outbox.js";
import { SmartbinError } from "../errors.js";
import type { Clock } from "./clock.js";

/** What the time correction needs of the outbox (an `Outbox` fits; tests may pass a fake). */
export interface CorrectionOutbox {
  /** A pass should run now: unsynchronised events may wait and the clock is synchronised now. */
  timeCorrectionDue(): boolean;
  /** One page, its own short transaction; `afterSeq` 0 starts a pass. Throws when it cannot write. */
  correctTimesPage(afterSeq: number): CorrectionPage;
}

/** What {@link ClockCorrection} is built from. */
export interface ClockCorrectionDeps {
  outbox: CorrectionOutbox;
  clock: Clock;
  logger: Logger;
  /** How often the marker is looked at while unsynchronised events wait, in ms; default {@link CLOCK_SYNC_POLL_MS}. */
  pollMs?: number;
}

/** How often the clock-sync marker is looked at while events recorded unsynchronised wait. */
export const CLOCK_SYNC_POLL_MS = 1000;

/**
 * Corrects the times of events never sent once the clock is synchronised (contract.md section 2,
 * last rule of "Other station alarms"). Every `pollMs` it asks the outbox whether a pass is due
 * (no file is read while nothing waits to be corrected); a pass runs page by page, each page one
 * short transaction, with a turn of the event loop between pages, so serial input, the station
 * machine and MQTT keep running. A busy database (another process's write lock) or any other
 * failure ends the pass quietly (logged once per streak); it is due again at the next poll.
 */
export class ClockCorrection {
  private cancel: (() => void) | null = null;
  private running = false;
  private stopped = false;
  private failing = false;

  constructor(private readonly deps: ClockCorrectionDeps) {}

  /** Starts polling (and runs a first check now). */
  start(): void {
    if (this.cancel !== null || this.stopped) return;
    this.cancel = this.deps.clock.every(this.deps.pollMs ?? CLOCK_SYNC_POLL_MS, () => void this.tick());
    void this.tick();
  }

  /** Stops polling; a pass under way ends after its current page. */
  stop(): void {
    this.stopped = true;
    this.cancel?.();
    this.cancel = null;
  }

  /**
   * One poll: runs a pass when one is due and none is running. Never throws.
   *
   * @returns the events corrected (0 when no pass ran or it failed).
   */
  async tick(): Promise<number> {
    if (this.running || this.stopped) return 0;
    this.running = true;
    try {
      if (!this.deps.outbox.timeCorrectionDue()) return 0;
      return await this.pass();
    } catch (err) {
      if (!this.failing) {
        const busy = err instanceof SmartbinError && err.context.reason === "busy";
        this.deps.logger[busy ? "warn" : "error"]({ err }, "cannot correct the times of unsent events now; retrying");
        this.failing = true;
      }
      return 0;
    } finally {
      this.running = false;
    }
  }

  private async pass(): Promise<number> {
    let corrected = 0;
    let after = 0;
    for (;;) {
      const page = this.deps.outbox.correctTimesPage(after);
      corrected += page.corrected;
      after = page.lastSeq;
      if (page.done || this.stopped) break;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.failing = false;
    if (corrected > 0) this.deps.logger.info({ corrected }, "clock synchronised: times of events not yet sent corrected");
    return corrected;
  }
}
