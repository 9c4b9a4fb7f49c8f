import { readFileSync } from "node:fs";

/**
 * The kernel's id of the current boot: a random UUID made at every boot, the same for every process
 * until the next one (proc(5), `/proc/sys/kernel/random/boot_id`; random(4), "/proc interfaces").
 */
export const BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id";

/**
 * Where an event was recorded on the board's own time line: the boot and the monotonic clock's
 * reading then, and whether the wall clock was synchronised then (contract.md section 2, last rule
 * of "Other station alarms", and section 4 `clock_synced`). Stored in every event's `data`.
 */
export interface RecordStamp {
  /** {@link BOOT_ID_PATH}'s content, `null` when it could not be read (then the event is never corrected). */
  boot_id: string | null;
  /** Integer milliseconds of the monotonic clock since boot; `null` when not known (a batch spilled by an older version). */
  mono_ms: number | null;
  /** The wall clock was reported synchronised when the event was recorded. */
  clock_synced: boolean;
}

/** The boot and its monotonic clock, as the outbox reads them (tests pass a fake). */
export interface BootClock {
  /** This boot's id ({@link BOOT_ID_PATH}), `null` when unknown. */
  readonly bootId: string | null;
  /** Integer milliseconds of the monotonic clock since boot. */
  monoMs(): number;
}

/**
 * Reads this boot's id from {@link BOOT_ID_PATH} (or `path`, for tests).
 *
 * @returns the id without its newline, `null` when the file cannot be read or is empty (not Linux,
 *   or /proc not mounted): events then carry `boot_id: null` and are never corrected.
 */
export function readBootId(path: string = BOOT_ID_PATH): string | null {
  try {
    const id = readFileSync(path, "utf8").trim();
    return id === "" ? null : id;
  } catch {
    return null;
  }
}

/**
 * Milliseconds of the monotonic clock since boot, an integer (floored). `process.hrtime.bigint()` is
 * libuv's `uv_hrtime()`, which on Linux is `uv__hrtime(UV_CLOCK_PRECISE)`, that is
 * `clock_gettime(CLOCK_MONOTONIC)` (libuv `src/unix/linux.c`, `uv__hrtime`): the time since boot,
 * not counting suspend, never stepped by NTP, `date -s` or the RTC (clock_gettime(2)). It is the same
 * clock for every process of one boot, so a stamp made by an earlier process of the same boot stays
 * comparable. (`performance.now()` reads the same clock but counts from the process's start.)
 */
export function monoMsSinceBoot(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}

/** The real boot clock: the boot id read once (it cannot change while the process lives), `monoMsSinceBoot`. */
export function systemBootClock(bootIdPath: string = BOOT_ID_PATH): BootClock {
  return { bootId: readBootId(bootIdPath), monoMs: monoMsSinceBoot };
}
