import type { TimerPort } from "../serial/timer-port.js";

/**
 * Debounce of one input (contract.md section 2, `debounce_ms`: "an input's new level counts once it
 * has held this long"). Feed it every raw reading (an edge, or a poll); it calls `onChange` once a
 * level different from the stable one has been read continuously for `debounceMs`. A reading back at
 * the stable level cancels the pending change, so a contact that bounces yields one change, after
 * the last bounce, and a pulse shorter than `debounceMs` yields none.
 *
 * Time comes from the {@link TimerPort} (a manual one in tests). With `debounceMs` 0 a change counts
 * at once.
 */
export class Debouncer {
  private pending: { level: boolean; timer: unknown } | undefined;

  constructor(
    private stable: boolean,
    private readonly debounceMs: number,
    private readonly timers: TimerPort,
    private readonly onChange: (level: boolean) => void,
  ) {}

  /** The debounced level. */
  get level(): boolean {
    return this.stable;
  }

  /** A raw reading of the input (logical level). */
  sample(level: boolean): void {
    if (level === this.stable) {
      this.cancel();
      return;
    }
    if (this.pending?.level === level) return; // still holding: the timer runs from the first reading
    this.cancel();
    if (this.debounceMs <= 0) {
      this.commit(level);
      return;
    }
    const timer = this.timers.setTimeout(() => {
      this.pending = undefined;
      this.commit(level);
    }, this.debounceMs);
    this.pending = { level, timer };
  }

  /** Forgets a pending change (at close). */
  cancel(): void {
    if (this.pending === undefined) return;
    this.timers.clearTimeout(this.pending.timer);
    this.pending = undefined;
  }

  private commit(level: boolean): void {
    this.stable = level;
    this.onChange(level);
  }
}
