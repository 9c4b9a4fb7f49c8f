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
 * True when the system reports its clock synchronised: the marker file exists (by default timesyncd's).
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
 * The clock-sync state read from a marker file (config `station.clock_sync_marker`), with a cache:
 * {@link synced} looks at the file no more than once per `cacheMs`, so appending an event costs no
 * system call in the common case; {@link checkNow} looks at once and refreshes the cache (the time
 * correction uses it, so that events recorded after it saw the marker are stamped synchronised).
 */
export class ClockSyncMarker {
  private readonly markerPath: string;
  private readonly cacheMs: number;
  private readonly monoNow: () => number;
  private checkedAt = Number.NEGATIVE_INFINITY;
  private state = false;

  constructor(opts: ClockSyncCheckOptions = {}) {
    this.markerPath = opts.markerPath ?? TIMESYNC_MARKER;
    this.cacheMs = opts.cacheMs ?? CLOCK_SYNC_CACHE_MS;
    this.monoNow = opts.monoNow ?? (() => performance.now());
  }

  /** The cached answer, refreshed when older than `cacheMs`. */
  synced(): boolean {
    if (this.monoNow() - this.checkedAt >= this.cacheMs) return this.checkNow();
    return this.state;
  }

  /** Looks at the marker now (one `stat`) and caches the answer. */
  checkNow(): boolean {
    this.state = isClockSynced(this.markerPath);
    this.checkedAt = this.monoNow();
    return this.state;
  }
}

/**
 * A cached clock-sync check for the `clock_synced` field of every durable event (contract.md
 * section 4): see {@link ClockSyncMarker.synced}. Each call of this factory has its own cache (no
 * module-level state).
 */
export function createClockSyncCheck(opts: ClockSyncCheckOptions = {}): () => boolean {
  const marker = new ClockSyncMarker(opts);
  return () => marker.synced();
}
