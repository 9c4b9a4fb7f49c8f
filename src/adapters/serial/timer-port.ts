/**
 * The small time port a {@link SerialDevice} needs: one-shot timers and a monotonic clock. Unit tests
 * pass a manual fake; production uses {@link systemTimers}.
 */
export interface TimerPort {
  /** Calls `fn` once after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer; a handle that already fired or was cleared is ignored. */
  clearTimeout(handle: unknown): void;
  /** Milliseconds on a monotonic clock (never jumps with NTP or the RTC). */
  now(): number;
}

/** Node's timers and `performance.now()`. */
export const systemTimers: TimerPort = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => performance.now(),
};
