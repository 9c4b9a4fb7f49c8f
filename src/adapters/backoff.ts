/**
 * Retry delays for serial devices (reopen) and the MQTT publisher (reconnect): capped exponential
 * backoff with full jitter
 * (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/, "Full Jitter").
 *
 * Not the `exponential-backoff` package: its `backOff()` wraps one promise-returning call, waits on
 * the global `setTimeout` (no injectable clock for tests) and cannot be cancelled, so a pending
 * delay would outlive `SerialDevice.stop()` or `Publisher.stop()` and keep the process alive. The
 * formula is the same as its `jitter: "full"`.
 */

/** Backoff settings, in milliseconds. */
export interface BackoffSettings {
  /** Cap of the first delay (attempt 0). Positive. */
  startMs: number;
  /** Upper bound of every delay. At least `startMs`. */
  maxMs: number;
}

/** Serial devices: first reopen within 0.5 s, never more than 30 s apart. */
export const DEFAULT_BACKOFF: Readonly<BackoffSettings> = Object.freeze({ startMs: 500, maxMs: 30_000 });

/** The publisher: first reconnect within 1 s, never more than 30 s apart. */
export const DEFAULT_RECONNECT_BACKOFF: Readonly<BackoffSettings> = Object.freeze({ startMs: 1000, maxMs: 30_000 });

/**
 * The cap for retry number `attempt` (0-based): `min(maxMs, startMs * 2^attempt)`, in milliseconds.
 * Safe for any non-negative attempt (no overflow to Infinity/NaN).
 */
export function backoffCapMs(attempt: number, settings: BackoffSettings): number {
  const n = Math.max(0, Math.floor(attempt));
  // 2^1024 is Infinity; anything past 2^52 is already far beyond any sane maxMs.
  const cap = settings.startMs * 2 ** Math.min(n, 52);
  return Math.min(settings.maxMs, cap);
}

/**
 * The delay before retry number `attempt` (0-based), in whole milliseconds: uniformly random in
 * `[0, backoffCapMs(attempt))` ("full jitter", so a fleet of stations that lost power together does
 * not reopen in lockstep). `random` returns a number in `[0, 1)`, like `Math.random`.
 */
export function backoffDelayMs(
  attempt: number,
  settings: BackoffSettings,
  random: () => number = Math.random,
): number {
  const raw = random();
  // A broken random source must not produce NaN (Node would fire at once) or a negative delay.
  const r = Number.isFinite(raw) ? Math.min(Math.max(raw, 0), 1) : 0;
  return Math.floor(r * backoffCapMs(attempt, settings));
}

/**
 * The publisher's backoff for config `mqtt.reconnect_max_s` (seconds, positive): the first
 * reconnect within 1 s (or within the cap, if lower), never more than `maxS` apart.
 */
export function reconnectBackoff(maxS: number): BackoffSettings {
  const maxMs = Math.max(1, Math.round(maxS * 1000));
  return { startMs: Math.min(DEFAULT_RECONNECT_BACKOFF.startMs, maxMs), maxMs };
}

/** A delay in ms as a technician reads it in a log line: `7.4 s`, `850 ms`. */
export function describeDelay(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
