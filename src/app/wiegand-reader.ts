/**
 * A Wiegand reader as the runner sees a device (readers.md, "wiegand"; issue 9, item 3.3): its
 * falling edges on D0 and D1 come from the GPIO side ({@link EdgeSource}, the station's GPIO port),
 * are gathered until the line has been quiet for `frame_gap_ms`, split into frames by their kernel
 * timestamps (`splitWiegandFrames`, pure) and handed on as bit lines through `onData`, exactly as a
 * serial reader hands on its bytes: the runner pushes them through the protocol's framer (the
 * registry's `wiegand` bit-line framer) and feeds the machine a `reader_data` input. The machine
 * stays pure; length, parity and noise are judged by the decoder and counted like any reader's.
 */
import type { Logger } from "../adapters/log/logger.js";
import { splitWiegandFrames, type WiegandEdge } from "../protocol/reader/wiegand.js";
import type { Clock } from "./clock.js";
import type { DeviceHandlers, DevicePort } from "./runner.js";

/** Whether a reader's lines are claimed: `open`, or failed with the reason. */
export type EdgeLinesState = { open: true } | { open: false; reason: string };

/** Where a reader's timestamped edges come from (app/gpio-station.ts). */
export interface EdgeSource {
  /**
   * Subscribes to the falling edges of `lines` (`tUs`: kernel timestamp, microseconds) and to their
   * state: `open` once they are claimed (at once when they already are), `open: false` with the
   * reason when they cannot be claimed or fail later.
   *
   * @returns the unsubscribe function
   */
  subscribeEdges(lines: readonly number[], edge: (line: number, tUs: number) => void, state: (s: EdgeLinesState) => void): () => void;
}

/** Options of {@link WiegandReaderPort}. */
export interface WiegandReaderOptions {
  id: string;
  d0Line: number;
  d1Line: number;
  /** `frame_gap_ms`: quiet this long after an edge, the frame is complete. */
  frameGapMs: number;
  edges: EdgeSource;
  clock: Clock;
  handlers: DeviceHandlers;
  logger: Logger;
}

/**
 * Edges held at most before they are split anyway: a noisy line that never falls quiet for
 * `frame_gap_ms` costs bounded memory, its run becomes one over-long line that the framer discards.
 */
export const MAX_PENDING_EDGES = 256;

/** A line that never falls quiet is warned about at most this often (ms); debug in between. */
export const CHATTER_WARN_EVERY_MS = 60_000;

/** One Wiegand reader's port: started once, stopped once (runner.ts `DevicePort`). */
export class WiegandReaderPort implements DevicePort {
  private pending: WiegandEdge[] = [];
  private cancelTimer: (() => void) | null = null;
  private unsubscribe: (() => void) | null = null;
  private stopped = false;
  /** When the last "never fall quiet" warning was logged (clock.mono), and the runs cut since. */
  private chatterWarnedMono: number | null = null;
  private chatterRuns = 0;

  constructor(private readonly opts: WiegandReaderOptions) {}

  start(): void {
    const { d0Line, d1Line, handlers } = this.opts;
    this.unsubscribe = this.opts.edges.subscribeEdges(
      [d0Line, d1Line],
      (line, tUs) => this.edge(line, tUs),
      (state) => {
        if (this.stopped) return;
        if (state.open) handlers.onOpen();
        else handlers.onClose(state.reason);
      },
    );
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.pending = [];
    return Promise.resolve();
  }

  private edge(line: number, tUs: number): void {
    if (this.stopped) return;
    this.pending.push({ line: line === this.opts.d0Line ? "d0" : "d1", tUs });
    this.cancelTimer?.();
    if (this.pending.length >= MAX_PENDING_EDGES) {
      this.chatterRuns++;
      const now = this.opts.clock.mono();
      const fields = { reader: this.opts.id, edges: this.pending.length, runs: this.chatterRuns };
      if (this.chatterWarnedMono === null || now - this.chatterWarnedMono >= CHATTER_WARN_EVERY_MS) {
        this.opts.logger.warn(fields, "wiegand lines never fall quiet: edges discarded as one over-long frame");
        this.chatterWarnedMono = now;
        this.chatterRuns = 0;
      } else this.opts.logger.debug(fields, "wiegand lines never fall quiet (again)");
      this.flush();
      return;
    }
    this.cancelTimer = this.opts.clock.after(this.opts.frameGapMs, () => this.flush());
  }

  private flush(): void {
    this.cancelTimer = null;
    const lines = splitWiegandFrames(this.pending, this.opts.frameGapMs * 1000);
    this.pending = [];
    for (const line of lines) this.opts.handlers.onData(line);
  }
}
