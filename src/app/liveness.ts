/**
 * Liveness of the station's loops, for the systemd watchdog (issue 10, item 1): the watchdog is fed
 * only while every registered loop keeps turning. Each loop (a serial device's read-or-reopen loop,
 * the publisher's drain-or-reconnect loop) gets a {@link LoopBeat} and beats at each turn, saying
 * whether it now waits for something that comes by itself (`idle`: bytes from a quiet reader, a
 * backoff timer of its own, a new event) or for an operation that must complete (`busy`: a port
 * opening, a CONNACK, a PUBACK). A loop is stuck when it has been `busy` longer than its limit
 * without beating again. The event loop itself is covered by the watchdog's own timer: a busy or
 * blocked event loop does not run it, so no keep-alive goes out (src/app/watchdog.ts).
 */
import type { LoopBeat } from "../adapters/loop-beat.js";

export type { LoopBeat } from "../adapters/loop-beat.js";

/**
 * How long a loop may wait for one operation before it counts as stuck, by default: far above a
 * serial open or close (milliseconds) and an MQTT connection attempt (its connect timeout, 10 s).
 */
export const DEFAULT_STUCK_AFTER_MS = 60_000;

/** One registered loop, as {@link Liveness.stuck} reports it. */
export interface StuckLoop {
  /** The name it was registered with (`scale scale-1`, `publisher`). */
  name: string;
  /** How long it has waited for its operation, in ms. */
  busyForMs: number;
  /** Its limit, in ms. */
  limitMs: number;
}

interface Entry {
  name: string;
  limitMs: number;
  waiting: "idle" | "busy";
  /** Monotonic ms of the last beat. */
  at: number;
}

/** The registry of loops. Time comes from `mono` (monotonic ms), so tests pass a manual clock. */
export class Liveness {
  private readonly entries: Entry[] = [];

  constructor(private readonly mono: () => number) {}

  /**
   * Registers a loop. It starts `busy` (it has not turned yet), so a loop that never beats at all
   * counts as stuck after `stuckAfterMs`.
   *
   * @param name for the log line that names a stuck loop.
   * @param stuckAfterMs how long one `busy` wait may last; default {@link DEFAULT_STUCK_AFTER_MS}.
   * @returns the loop's beat, and `unregister` for a loop that ends (a device that is stopped).
   */
  register(name: string, stuckAfterMs = DEFAULT_STUCK_AFTER_MS): LoopBeat & { unregister(): void } {
    const entry: Entry = { name, limitMs: stuckAfterMs, waiting: "busy", at: this.mono() };
    this.entries.push(entry);
    return {
      beat: (waiting) => {
        entry.waiting = waiting;
        entry.at = this.mono();
      },
      unregister: () => {
        const i = this.entries.indexOf(entry);
        if (i >= 0) this.entries.splice(i, 1);
      },
    };
  }

  /** The loops stuck now: `busy` for longer than their limit. Empty when every loop turns. */
  stuck(): StuckLoop[] {
    const now = this.mono();
    const stuck: StuckLoop[] = [];
    for (const e of this.entries) {
      const busyForMs = now - e.at;
      if (e.waiting === "busy" && busyForMs > e.limitMs) stuck.push({ name: e.name, busyForMs, limitMs: e.limitMs });
    }
    return stuck;
  }

  /** The names of the registered loops (diagnostics, tests). */
  names(): string[] {
    return this.entries.map((e) => e.name);
  }
}
