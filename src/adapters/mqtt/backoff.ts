/**
 * Reconnect delays: capped exponential backoff with full jitter (AWS Architecture Blog,
 * "Exponential Backoff And Jitter", 2015): attempt `n` (0-based) waits a uniformly random time in
 * `[0, min(maxMs, initialMs * 2^n)]`. Full jitter spreads the reconnects of a fleet of stations
 * after a broker restart instead of having them arrive in waves.
 *
 * Same formula as the `exponential-backoff` package's `jitter: "full"`; we do not use its
 * `backOff()` loop because it owns its timer, which can be neither cancelled nor unref'd, so a
 * stopping publisher would keep the process alive for up to `maxMs`.
 */
export interface BackoffSettings {
  /** Upper bound of the first delay, in milliseconds. */
  initialMs: number;
  /** Upper bound of any delay, in milliseconds. */
  maxMs: number;
}

/** The publisher's default: first retry within 1 s, never more than 30 s apart. */
export const DEFAULT_RECONNECT_BACKOFF: BackoffSettings = { initialMs: 1000, maxMs: 30_000 };

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry), in whole milliseconds.
 *
 * @param random a uniform random number in [0, 1); injectable for tests.
 */
export function backoffDelayMs(
  attempt: number,
  settings: BackoffSettings,
  random: () => number = Math.random,
): number {
  // 2^n overflows to Infinity long after the cap applies; Math.min keeps it finite.
  const ceiling = Math.min(settings.maxMs, settings.initialMs * 2 ** Math.max(0, attempt));
  return Math.round(random() * ceiling);
}
