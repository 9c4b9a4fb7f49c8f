import type { Clock } from "../../src/app/clock.js";

/** A clock the test moves by hand: `advance(ms)` runs every due `every` callback in time order. */
export class ManualClock implements Clock {
  private now = 0;
  private readonly timers: Array<{ ms: number; next: number; fn: () => void; live: boolean; once: boolean }> = [];

  constructor(private wall0 = Date.parse("2026-11-29T14:36:00.000Z")) {}

  mono(): number {
    return this.now;
  }

  wall(): number {
    return this.wall0 + this.now;
  }

  every(ms: number, fn: () => void): () => void {
    const timer = { ms, next: this.now + ms, fn, live: true, once: false };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }

  after(ms: number, fn: () => void): () => void {
    const timer = { ms, next: this.now + ms, fn, live: true, once: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }

  /** Steps the wall clock alone by `ms` (either way), as NTP or `date -s` does; the monotonic clock and timers do not move. */
  jumpWall(ms: number): void {
    this.wall0 += ms;
  }

  /** Moves time forward by `ms`, firing timers at their instants. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.live && t.next <= end).sort((a, b) => a.next - b.next)[0];
      if (due === undefined) break;
      this.now = due.next;
      if (due.once) due.live = false;
      else due.next += Math.max(1, due.ms);
      due.fn();
    }
    this.now = end;
  }

  /** Live timers (a stopped runner leaves none). */
  liveTimers(): number {
    return this.timers.filter((t) => t.live).length;
  }
}
