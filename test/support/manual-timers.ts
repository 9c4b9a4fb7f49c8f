import type { TimerPort } from "../../src/adapters/serial/timer-port.js";

/**
 * A manual monotonic clock for adapters that take a {@link TimerPort} (serial devices, the GPIO
 * port): timers fire only inside `advance`, in time order.
 */
export class ManualTimers implements TimerPort {
  t = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  now(): number {
    return this.t;
  }
  /** Timers armed and not yet fired or cleared. */
  get pending(): number {
    return this.timers.size;
  }
  /** Moves time forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    while (this.fireNext(end));
    this.t = end;
  }
  /** Fires the earliest timer due by `end` (time moves to it); false when none is due. */
  protected fireNext(end: number): boolean {
    let next: [number, { at: number; fn: () => void }] | undefined;
    for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
    if (!next) return false;
    this.timers.delete(next[0]);
    this.t = next[1].at;
    next[1].fn();
    return true;
  }
}
