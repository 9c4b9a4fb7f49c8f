import { existsSync } from "node:fs";

/**
 * systemd-timesyncd creates this file once it has synchronised the clock, and keeps it while the
 * clock stays synchronised (systemd-timesyncd.service(8), "Files"). Other NTP daemons (chrony,
 * ntpd) do not touch it; on such systems the check reports false, which only marks events
 * `clock_synced: false` (contract.md section 4), it never blocks anything.
 */
export const TIMESYNC_MARKER = "/run/systemd/timesync/synchronized";

/** How long a clock-sync answer is reused before the marker file is looked at again. */
export const CLOCK_SYNC_CACHE_MS = 60_000;

/**
 * True when the system reports its clock synchronised: the timesyncd marker file exists.
 * Uncached, one `stat` per call; use {@link createClockSyncCheck} on hot paths.
 */
export function isClockSynced(markerPath: string = TIMESYNC_MARKER): boolean {
  return existsSync(markerPath);
}

/** Options of {@link createClockSyncCheck}; everything has a default. */
export interface ClockSyncCheckOptions {
  /** The marker file; default {@link TIMESYNC_MARKER}. */
  markerPath?: string;
  /** How long an answer is reused, in milliseconds; default {@link CLOCK_SYNC_CACHE_MS}. */
  cacheMs?: number;
  /** A monotonic clock in milliseconds, injectable for tests; default `performance.now()`. */
  monoNow?: () => number;
}

/**
 * A cached clock-sync check for the `clock_synced` field of every durable event (contract.md
 * section 4): the marker file is looked at no more than once per `cacheMs`, so appending an event
 * costs no system call in the common case. Each call of this factory has its own cache (no
 * module-level state).
 */
export function createClockSyncCheck(opts: ClockSyncCheckOptions = {}): () => boolean {
  const markerPath = opts.markerPath ?? TIMESYNC_MARKER;
  const cacheMs = opts.cacheMs ?? CLOCK_SYNC_CACHE_MS;
  const monoNow = opts.monoNow ?? (() => performance.now());
  let checkedAt = Number.NEGATIVE_INFINITY;
  let synced = false;
  return () => {
    const t = monoNow();
    if (t - checkedAt >= cacheMs) {
      synced = isClockSynced(markerPath);
      checkedAt = t;
    }
    return synced;
  };
}
