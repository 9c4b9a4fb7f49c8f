/**
 * The time port of the app layer: a monotonic clock for timers and the wall clock for stamps.
 * The domain never reads either; the app passes both in every input.
 */
export interface Clock {
  /** Milliseconds on a monotonic clock (never jumps with NTP or the RTC). */
  mono(): number;
  /** Milliseconds since the Unix epoch. */
  wall(): number;
}

/** The process clocks: `performance.now()` (monotonic) and `Date.now()`. */
export const systemClock: Clock = {
  mono: () => performance.now(),
  wall: () => Date.now(),
};
