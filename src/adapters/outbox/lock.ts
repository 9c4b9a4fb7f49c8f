import { readFileSync, statSync } from "node:fs";

import Database from "better-sqlite3";
import type { Database as Db } from "better-sqlite3";
import type { Logger } from "pino";

import { SmartbinError } from "../../errors.js";
import { createPrivateFile } from "./files.js";
import { readSideState } from "./side-file.js";

/**
 * SQLite's RESERVED lock byte (`RESERVED_BYTE` in os_unix.c, 0x40000001): a writer holds a POSIX
 * write lock on it, which is how /proc/locks shows who holds the station lock.
 */
const RESERVED_BYTE = 0x40000001;

/**
 * The station lock: one `smartbin run` per database (issue 7, item 3).
 *
 * Why this way: a lock that a crash cannot leave stuck must be one the kernel drops when the process
 * dies, i.e. a POSIX (fcntl) or flock lock; Node has neither without native code, but better-sqlite3
 * (native, already ours) takes fcntl locks. So the lock is SQLite's own write lock on a separate,
 * empty file `<database>.lock`: the holder keeps a `BEGIN IMMEDIATE` transaction open on it (a
 * RESERVED lock, nothing written) for as long as the station runs; a second station's `BEGIN
 * IMMEDIATE` fails at once (busy timeout 0). SIGKILL or power loss releases it, and nothing is stale
 * after a reboot. The alternatives lose: a pid file checked with `kill(pid, 0)` and /proc/PID/cmdline
 * is racy (two starts at once, a reused pid after a reboot), and a lock on the database itself
 * (exclusive locking mode, or a second connection holding the write lock) would also lock out
 * `smartbin outbox status` and the station's own connection. The database keeps normal locking,
 * so `outbox status`/`list` read beside a running station.
 *
 * The holder is named from /proc/locks (the kernel's record of the RESERVED byte's lock on this
 * inode), with its /proc/PID/cmdline; the side file's recorded pid and command line are the fallback
 * (another PID namespace, no /proc).
 *
 * POSIX locks belong to the process and are all dropped when ANY descriptor of the file is closed, so
 * this process must never open `<database>.lock` other than through this class (chmod and stat by path
 * are fine). SQLite's unix VFS shares one descriptor per file between connections for this reason, so
 * a second {@link StationLock.acquire} in the same process is refused too. Local file systems only: on
 * NFS, fcntl locks are as good as the server's lock daemon.
 */
export class StationLock {
  private constructor(
    private readonly db: Db | null,
    /** The lock file, `null` for an in-memory database (nothing to share, nothing locked). */
    readonly path: string | null,
  ) {}

  /** The lock of an in-memory database (`storage.path: ":memory:"`, tests): holds nothing. */
  static inMemory(): StationLock {
    return new StationLock(null, null);
  }

  /**
   * Takes the station lock of the database at `dbPath`, creating `<dbPath>.lock` (0600) if needed.
   *
   * @throws SmartbinError `OUTBOX_LOCKED` at once when another process (or another outbox of this
   *   process) holds it; context: `path`, `pid` (or `null`) and `command`. `OUTBOX_OPEN_FAILED` when
   *   the lock file cannot be created or opened.
   */
  static acquire(dbPath: string, logger: Logger): StationLock {
    const path = `${dbPath}.lock`;
    let db: Db | undefined;
    try {
      createPrivateFile(path);
      db = new Database(path, { timeout: 0 });
      db.pragma("busy_timeout = 0");
      // Nothing is ever written: no journal file beside the lock.
      db.pragma("journal_mode = MEMORY");
    } catch (err) {
      db?.close();
      throw new SmartbinError("OUTBOX_OPEN_FAILED", `cannot open the station lock file ${path}`, { path }, { cause: err });
    }
    try {
      db.exec("BEGIN IMMEDIATE");
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code !== "SQLITE_BUSY") {
        throw new SmartbinError("OUTBOX_OPEN_FAILED", `cannot take the station lock ${path}`, { path }, { cause: err });
      }
      throw lockedError(dbPath, path);
    }
    logger.debug({ lock: path }, "station lock taken");
    return new StationLock(db, path);
  }

  /** Releases the lock (ends the transaction, closes the file); idempotent. */
  release(): void {
    if (this.db === null || !this.db.open) return;
    try {
      this.db.exec("ROLLBACK");
    } finally {
      this.db.close();
    }
  }
}

/** Who holds a lock, as far as this process can tell. */
interface Holder {
  pid: number | null;
  command: string | null;
}

function lockedError(dbPath: string, lockPath: string): SmartbinError {
  const holder = findHolder(dbPath, lockPath);
  let who: string;
  if (holder.pid === null) who = "another process (not identified)";
  else if (holder.pid === process.pid) who = `this process (pid ${holder.pid}), which has it open already`;
  else who = `pid ${holder.pid}${holder.command === null ? "" : ` (${holder.command})`}`;
  return new SmartbinError(
    "OUTBOX_LOCKED",
    `outbox database ${dbPath} is in use by another station: ${who}. ` +
      "One station per database: stop that one first, or give this one another storage.path",
    { path: dbPath, lock: lockPath, pid: holder.pid, command: holder.command },
  );
}

/** The holder of the lock on `lockPath`: /proc/locks first, then what the side file recorded. */
function findHolder(dbPath: string, lockPath: string): Holder {
  const fromKernel = lockHolderPid(lockPath);
  const recorded = readSideState(`${dbPath}.state`);
  const pid = fromKernel ?? (recorded?.run === "running" ? recorded.pid : null);
  if (pid === null) return { pid: null, command: null };
  const live = commandLine(pid);
  if (live !== null) return { pid, command: live };
  // Not visible from here (another PID namespace): what the holder said of itself at its start.
  return { pid, command: recorded?.pid === pid ? `${recorded.cmd}, started ${recorded.started_at}` : null };
}

/**
 * The pid that holds a POSIX write lock on SQLite's RESERVED byte of the file at `path`, from
 * /proc/locks (`N: POSIX ADVISORY WRITE PID MAJ:MIN:INODE START END`); `null` when none is found or
 * /proc/locks cannot be read. Matched by inode number (overlay file systems report another device).
 */
export function lockHolderPid(path: string, procLocks = "/proc/locks"): number | null {
  let ino: number;
  let text: string;
  try {
    ino = statSync(path).ino;
    text = readFileSync(procLocks, "utf8");
  } catch {
    return null;
  }
  for (const line of text.split("\n")) {
    const m = /^\d+:\s+(?:POSIX|OFDLCK)\s+\S+\s+WRITE\s+(-?\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s+(\d+)\s+(\d+|EOF)\s*$/.exec(line);
    if (m === null || Number(m[2]) !== ino) continue;
    const start = Number(m[3]);
    const end = m[4] === "EOF" ? Infinity : Number(m[4]);
    const pid = Number(m[1]);
    if (start <= RESERVED_BYTE && RESERVED_BYTE <= end && pid > 0) return pid;
  }
  return null;
}

/** `/proc/PID/cmdline` as one line (at most 300 characters), `null` when the process is not visible. */
function commandLine(pid: number): string | null {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    const line = raw.split("\0").filter((part) => part !== "").join(" ");
    return line === "" ? null : line.slice(0, 300);
  } catch {
    return null;
  }
}
