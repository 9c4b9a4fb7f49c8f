/**
 * The time port of the app layer: a monotonic clock for timers, the wall clock for stamps, and
 * repeating timers. The domain never reads any of them; the runner passes `mono` and `wall` in
 * every input. Tests pass a manual clock (test/support/manual-clock.ts) and drive time by hand.
 */
export interface Clock {
  /** Milliseconds on a monotonic clock (never jumps with NTP or the RTC). */
  mono(): number;
  /** Milliseconds since the Unix epoch. */
  wall(): number;
  /** Calls `fn` every `ms` milliseconds until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
  /** Calls `fn` once, `ms` milliseconds from now, unless the returned function is called first. */
  after(ms: number, fn: () => void): () => void;
}

/** The process clocks: `performance.now()` (monotonic), `Date.now()`, and unref'd intervals. */
export const systemClock: Clock = {
  mono: () => performance.now(),
  wall: () => Date.now(),
  every: (ms, fn) => {
    const timer = setInterval(fn, ms);
    return () => clearInterval(timer);
  },
  after: (ms, fn) => {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};
