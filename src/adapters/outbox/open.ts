import { lstatSync, realpathSync, statSync, statfsSync } from "node:fs";
import { dirname } from "node:path";

import Database from "better-sqlite3";
import type { Database as Db } from "better-sqlite3";
import type { Logger } from "pino";

import { SmartbinError } from "../../errors.js";
import type { RecordStamp } from "../boot-clock.js";
import { createPrivateFile, ensurePrivateFolder, makePrivate } from "./files.js";
import { inspectFiles } from "./header.js";
import { INTEGRITY_CHECK_LIMIT_MS, isCorruptionCode, quickCheckWithin } from "./integrity.js";
import { StationLock } from "./lock.js";
import { finishSalvage, salvageDatabase, type DamageFacts, type SalvageReport } from "./salvage.js";
import { checkReadable, migrate } from "./schema.js";
import { SEQ_RESERVE_BLOCK, SideFile, type SideState } from "./side-file.js";

/**
 * SQLite busy timeout, in milliseconds, while the database is opened (checks, salvage, migration:
 * before the station runs) and for the read-only commands (`outbox status`, `list`, `export`).
 */
export const OUTBOX_BUSY_TIMEOUT_MS = 5000;

/**
 * The read-write connection's page cache, in KiB (`PRAGMA cache_size = -2000`: SQLite's own default).
 * better-sqlite3 builds SQLite with a 16,000 KiB default (its deps/defines.gypi,
 * `SQLITE_DEFAULT_CACHE_SIZE=-16000`), and a cache fills as the database grows and as a backlog is
 * read: over an accelerated day of 10,000 deposits (`npm run bench`) malloc's heap grew by 8 MiB with
 * it and stayed flat with this one, memory a gateway would hold for good. The outbox appends at the
 * end of its tables and reads the backlog once in seq order, so a larger cache saves no disk reads
 * that matter.
 */
export const OUTBOX_CACHE_KIB = 2000;

/**
 * SQLite busy timeout, in milliseconds, of the running station's connection (issue 7, item 1: never
 * block the station on storage). better-sqlite3 is synchronous, so a busy timeout is time the whole
 * event loop stands still: serial input, the station machine, MQTT keepalive. 20 ms absorbs another
 * writer's short transaction; a longer hold (the `sqlite3` shell in `BEGIN IMMEDIATE`, a backup
 * tool) makes the commit fail with SQLITE_BUSY, and the station retries it asynchronously, in order,
 * while its status says `storage: busy` (app/event-recorder.ts).
 *
 * Chosen over a worker thread that owns the database, measured on the development machine (Node 24,
 * WAL, synchronous=FULL): a commit through a worker's message round trip took 1.44 times a direct one
 * (283 µs against 196 µs median), past the 1.1 target of the commit latency, and the publisher's
 * paged reads and marks would have had to become asynchronous too; with this timeout a commit
 * against a held lock holds the loop 20.6 ms and fails, against 5 s before.
 */
export const OUTBOX_WRITE_BUSY_TIMEOUT_MS = 20;

/** What {@link openOutboxDatabase} needs. */
export interface OpenRequest {
  /** `storage.path`. */
  path: string;
  stationId: string;
  logger: Logger;
  now: () => Date;
  /** The record stamp of an event written while opening (the `storage_recovered` alarm of a salvage). */
  stamp: () => RecordStamp;
  /** The integrity check's time limit in milliseconds; default {@link INTEGRITY_CHECK_LIMIT_MS}. */
  integrityLimitMs?: number;
}

/** The open database and what the outbox keeps beside it for as long as it runs. */
export interface OpenedDatabase {
  db: Db;
  /** The database file (a symlink's target). */
  path: string;
  lock: StationLock;
  side: SideFile;
  /** The salvage done at this open, `null` when the database was sound. */
  recovered: SalvageReport | null;
}

/**
 * Opens the outbox database for the station (issue 7, items 2, 3, 5, 6), in this order:
 *
 * 1. `storage.path` must be a regular file or missing (a symlink is followed); its folder is created
 *    0700 when missing (see ensurePrivateFolder).
 * 2. The station lock (lock.ts): a second station on the same database fails here, at once, before
 *    any file of the database is touched.
 * 3. A salvage interrupted by a stop is completed (salvage.ts).
 * 4. The files are checked ({@link assess}): header and WAL header always; after an unclean stop, or
 *    whenever a WAL is present, the database's identity and a time-bounded `quick_check`, both
 *    read-only (a read-write connection could checkpoint a foreign WAL into the file).
 * 5. A damaged database is quarantined and salvaged into a new one that records `storage_recovered`.
 * 6. The database (created 0600 when missing) is opened read-write: WAL, synchronous=FULL, the
 *    schema migrated in one transaction, the station claimed. A SQLite corruption error here also
 *    leads to step 5 (once).
 * 7. The seq counter is raised to the side file's mark when the database may be behind seqs already
 *    given on this path (see finishOpen), the side file records `running`, and the files are made
 *    0600.
 *
 * @throws SmartbinError `OUTBOX_LOCKED` (another station holds the database); `OUTBOX_OPEN_FAILED`
 *   when the path is not a regular file, the files cannot be created or opened, the database belongs
 *   to another station or program, or was written by a newer version that does not admit this one.
 *   The lock is released before it throws.
 */
export function openOutboxDatabase(req: OpenRequest): OpenedDatabase {
  const { stationId, logger } = req;
  if (req.path === IN_MEMORY) return openInMemory(stationId, logger);
  const path = databaseFile(req.path, logger);
  try {
    ensurePrivateFolder(dirname(path), logger);
  } catch (err) {
    throw new SmartbinError("OUTBOX_OPEN_FAILED", `cannot create the database folder of ${path}`, { path }, { cause: err });
  }
  const lock = StationLock.acquire(path, logger);
  try {
    const side = SideFile.load(path, logger);
    const finished = finishSalvage(path, logger);
    if (finished !== null) logger.warn({ path, moved_to: finished }, "completed a salvage that a stop had interrupted");
    let damage = assess(path, side.previous, stationId, logger, req.integrityLimitMs ?? INTEGRITY_CHECK_LIMIT_MS);
    let recovered: SalvageReport | null = null;
    for (let attempt = 1; ; attempt++) {
      if (damage !== null) {
        logger.error({ path, reason: damage.reason }, "outbox database damaged: moving it aside and salvaging it");
        recovered = salvageDatabase({ path, stationId, damage, reservedSeq: side.reserved(), now: req.now, stamp: req.stamp, logger });
        logger.warn(
          { path, reason: recovered.reason, salvaged: recovered.salvaged, unreadable: recovered.unreadable, sessions: recovered.sessions, moved_to: recovered.movedTo, seq: recovered.alarmSeq },
          "outbox database salvaged into a new one; storage_recovered recorded",
        );
      }
      createPrivateFile(path);
      let db: Db | undefined;
      try {
        db = openReadWrite(path, logger);
        claimStation(db, path, stationId);
        finishOpen(db, path, stationId, side, logger);
      } catch (err) {
        if (db !== undefined) closeKeepingWal(db, path);
        const code = (err as { code?: unknown }).code;
        if (attempt === 1 && isCorruptionCode(code)) {
          damage = damageFromError(path, err);
          continue;
        }
        throw err;
      }
      makePrivate([path, `${path}-wal`, `${path}-shm`, `${path}.lock`, `${path}.state`], logger);
      return { db, path, lock, side, recovered };
    }
  } catch (err) {
    lock.release();
    if (err instanceof SmartbinError) throw err;
    throw new SmartbinError("OUTBOX_OPEN_FAILED", `cannot open outbox database ${path}${fullDiskHint(path)}`, { path }, { cause: err });
  }
}

/** Below this much free space, a failed open is put down to a full file system. */
const NEARLY_NO_SPACE_BYTES = 1_048_576;

/**
 * For the message of a failed open: ` (its file system is full: N bytes free; …)` when the folder's
 * file system has less than {@link NEARLY_NO_SPACE_BYTES} free for this user, else empty. SQLite
 * often reports a full disk met while opening as a generic "disk I/O error" (EIO), which points a
 * technician at the SD card instead of at the space.
 */
function fullDiskHint(path: string): string {
  try {
    const fs = statfsSync(dirname(path));
    const free = Number(fs.bavail) * Number(fs.bsize);
    return free < NEARLY_NO_SPACE_BYTES ? ` (its file system is full: ${free} bytes free; free some space, then start again)` : "";
  } catch {
    return "";
  }
}

/** SQLite's name of a private in-memory database (config `storage.path`, tests only). */
const IN_MEMORY = ":memory:";

/** An in-memory outbox: nothing on disk, so no lock, no side file, no checks. */
function openInMemory(stationId: string, logger: Logger): OpenedDatabase {
  const db = openReadWrite(IN_MEMORY, logger);
  try {
    claimStation(db, IN_MEMORY, stationId);
  } catch (err) {
    db.close();
    throw err;
  }
  return { db, path: IN_MEMORY, lock: StationLock.inMemory(), side: SideFile.inMemory(logger), recovered: null };
}

/**
 * The file the database is: `path` itself, or a symlink's target (SQLite puts `-wal` beside the
 * target, so the lock, side file and quarantine names must follow it too).
 *
 * @throws SmartbinError `OUTBOX_OPEN_FAILED` for a directory, FIFO, device or socket, or a symlink
 *   to nothing: never moved aside, never written.
 */
function databaseFile(path: string, logger: Logger): string {
  const fail = (what: string, cause?: unknown) =>
    new SmartbinError("OUTBOX_OPEN_FAILED", `storage.path ${path} ${what}`, { path }, cause === undefined ? {} : { cause });
  let link: boolean;
  try {
    link = lstatSync(path).isSymbolicLink();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return path;
    throw fail("cannot be examined", err);
  }
  let target = path;
  if (link) {
    try {
      target = realpathSync(path);
    } catch (err) {
      throw fail("is a symlink to nothing", err);
    }
    logger.info({ path, target }, "storage.path is a symlink: using its target");
  }
  const st = statSync(target);
  if (!st.isFile()) {
    const what = st.isDirectory() ? "a directory" : st.isFIFO() ? "a FIFO" : st.isSocket() ? "a socket" : "a device";
    throw fail(`is ${what}, not a database file`);
  }
  return target;
}

/**
 * Decides whether the database at `path` is damaged, before anything opens it read-write.
 *
 * @returns the damage, or `null` for a sound (or missing, or unverifiable in time) database.
 * @throws SmartbinError `OUTBOX_OPEN_FAILED` when the file is another program's SQLite database, or
 *   cannot be read at all (permissions).
 */
function assess(path: string, previous: SideState | null, stationId: string, logger: Logger, limitMs: number): DamageFacts | null {
  const v = inspectFiles(path);
  if (v.kind === "absent") return null;
  if (v.kind === "damaged") return v;
  const walPresent = v.walBytes > 0;
  const facts = (reason: string, walSuspect = false): DamageFacts => ({
    reason,
    headerOk: true,
    walUsable: walPresent && !walSuspect,
    walSuspect,
    pageSize: v.header.pageSize,
  });
  // A station that was running (not closing) always has its WAL: without it, commits since the last
  // checkpoint are gone and the file may be half-checkpointed; its counter cannot be trusted.
  if (previous?.run === "running" && v.header.walMode && !walPresent) return facts("its WAL was lost after an unclean stop");
  const verify = walPresent || previous === null || previous.run !== "stopped";
  if (!verify) return null;

  const identity = readIdentity(path);
  if (identity.kind === "damaged") return facts(identity.reason);
  if (identity.kind === "deferred") {
    logger.info({ path, why: identity.why }, "checks skipped: the read-write open rolls back an interrupted transaction first");
    return null;
  }
  const ours = previous !== null && previous.station_id === stationId;
  const foreign =
    (identity.tables > 0 && identity.version === 0) ||
    (identity.stationId !== null && identity.stationId !== stationId) ||
    (previous?.database_id != null && identity.databaseId !== null && identity.databaseId !== previous.database_id);
  if (foreign && ours && walPresent) return facts("its WAL belongs to another database", true);
  if (identity.tables > 0 && identity.version === 0) {
    throw new SmartbinError(
      "OUTBOX_OPEN_FAILED",
      `${path} is a SQLite database of another program, not a smartbin outbox; use another storage.path`,
      { path, reason: "not_an_outbox" },
    );
  }
  if (identity.version > 0 && !identity.complete) return facts("its tables are missing");

  const started = Date.now();
  const check = quickCheckWithin(path, limitMs);
  switch (check.kind) {
    case "ok":
      logger.info({ path, ms: Date.now() - started }, "integrity check after an unclean stop: ok");
      return null;
    case "damaged":
      return facts(`integrity check failed: ${check.problems[0] ?? "?"}`);
    case "timeout":
      logger.warn({ path, limit_ms: limitMs }, "integrity check not finished in time: starting without its verdict");
      return null;
    case "failed":
      logger.warn({ path, error: check.error }, "integrity check could not run: starting without its verdict");
      return null;
    default: {
      const never: never = check;
      return never;
    }
  }
}

/** What a read-only look at the database found. */
type Identity =
  | { kind: "damaged"; reason: string }
  /** A read-only connection cannot read it yet (a hot rollback journal needs a writer first). */
  | { kind: "deferred"; why: string }
  | {
      kind: "read";
      version: number;
      /** Number of tables. */
      tables: number;
      /** `meta`, `counter` and `events` are there. */
      complete: boolean;
      stationId: string | null;
      databaseId: string | null;
    };

/** Reads the schema version, tables and meta rows read-only (WAL replayed, nothing written). */
function readIdentity(path: string): Identity {
  let db: Db | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: OUTBOX_BUSY_TIMEOUT_MS });
    const version = db.pragma("user_version", { simple: true }) as number;
    const names = new Set(
      db
        .prepare<[], { name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table'")
        .all()
        .map((r) => r.name),
    );
    const complete = ["meta", "counter", "events"].every((t) => names.has(t));
    const meta = (key: string): string | null => {
      if (!names.has("meta")) return null;
      const row = db!.prepare<[string], { value: unknown }>("SELECT value FROM meta WHERE key = ?").get(key);
      return typeof row?.value === "string" ? row.value : null;
    };
    return { kind: "read", version, tables: names.size, complete, stationId: meta("station_id"), databaseId: meta("database_id") };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (isCorruptionCode(code)) return { kind: "damaged", reason: `SQLite: ${(err as Error).message}` };
    if (code === "SQLITE_READONLY_ROLLBACK") return { kind: "deferred", why: String(code) };
    throw new SmartbinError("OUTBOX_OPEN_FAILED", `cannot read outbox database ${path}`, { path }, { cause: err });
  } finally {
    db?.close();
  }
}

/** The damage facts after SQLite reported corruption on the read-write connection. */
function damageFromError(path: string, err: unknown): DamageFacts {
  const reason = `SQLite: ${err instanceof Error ? err.message : String(err)}`;
  const v = inspectFiles(path);
  if (v.kind === "damaged") return { ...v, reason };
  const pageSize = v.kind === "ok" ? v.header.pageSize : 4096;
  const walPresent = v.kind === "ok" && v.walBytes > 0;
  return { reason, headerOk: true, walUsable: walPresent, walSuspect: false, pageSize };
}

/**
 * The read-write connection: busy timeout, the version check (before anything could be written:
 * a newer database that does not admit this version is left untouched), WAL, synchronous=FULL,
 * normal locking (readers beside it), a {@link OUTBOX_CACHE_KIB} page cache, migration.
 */
function openReadWrite(path: string, logger: Logger): Db {
  const db = new Database(path, { timeout: OUTBOX_BUSY_TIMEOUT_MS });
  try {
    db.pragma(`busy_timeout = ${OUTBOX_BUSY_TIMEOUT_MS}`);
    db.pragma("locking_mode = NORMAL");
    checkReadable(db, path);
    const mode = db.pragma("journal_mode = WAL", { simple: true }) as string;
    if (mode.toLowerCase() !== "wal") {
      logger.warn({ path, journal_mode: mode }, "outbox database cannot use WAL; status reads may wait for writers");
    }
    db.pragma("synchronous = FULL");
    db.pragma(`cache_size = -${OUTBOX_CACHE_KIB}`);
    migrate(db, path);
    return db;
  } catch (err) {
    closeKeepingWal(db, path);
    throw err;
  }
}

/**
 * Closes the read-write connection of an open that failed without letting SQLite checkpoint the WAL
 * into the file and delete it, as the last connection's close does: the side file still says what
 * the previous run left (`running` after a crash), and the next start would take a WAL gone after an
 * unclean stop for a lost one and salvage a sound database (seq jumping, `storage_recovered`). A
 * read-only connection held across the close keeps it from being the last, and a read-only
 * connection never checkpoints (SQLite, wal.c: `sqlite3WalCheckpoint` refuses a read-only WAL).
 * Found by the chaos suite: a start failing on a full disk (its side file could not be written).
 * Never throws for the keeper; `db.close()` errors propagate.
 */
function closeKeepingWal(db: Db, path: string): void {
  let keeper: Db | undefined;
  if (path !== IN_MEMORY) {
    try {
      keeper = new Database(path, { readonly: true, fileMustExist: true });
      keeper.prepare("SELECT 1 FROM sqlite_master LIMIT 1").get();
    } catch {
      keeper?.close();
      keeper = undefined;
    }
  }
  try {
    db.close();
  } finally {
    keeper?.close();
  }
}

/** Records the station a new database belongs to, and refuses a database of another station. */
function claimStation(db: Db, path: string, stationId: string): void {
  db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('station_id', ?)").run(stationId);
  const row = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'station_id'").get();
  if (row !== undefined && row.value !== stationId) {
    throw new SmartbinError(
      "OUTBOX_OPEN_FAILED",
      `outbox database ${path} belongs to station ${row.value}, not ${stationId}; use another storage.path`,
      { path, found: row.value, expected: stationId },
    );
  }
}

/**
 * Raises the seq counter to the side file's mark when the database may be behind seqs already given
 * on this path: when it is not the database the side file was written for (created now because the
 * old one was deleted by hand, or put in its place from elsewhere: another `database_id`), or when
 * it is the same database but its counter is more than one reservation behind (an older copy of
 * it). Then records in the side file that a station runs here, on this database, with its seqs
 * reserved a block ahead.
 */
function finishOpen(db: Db, path: string, stationId: string, side: SideFile, logger: Logger): void {
  const counter = db.prepare<[], { value: number }>("SELECT value FROM counter WHERE name = 'seq'").get();
  if (counter === undefined) throw new SmartbinError("OUTBOX_OPEN_FAILED", `outbox database ${path} has no seq counter`, { path });
  const databaseId = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'database_id'").get()?.value ?? null;
  let last = counter.value;
  const mark = side.reserved();
  const known = side.previous;
  const otherDatabase = known !== null && known.station_id === stationId && known.database_id !== null && known.database_id !== databaseId;
  if (last < mark && (otherDatabase || last < mark - SEQ_RESERVE_BLOCK)) {
    db.prepare("UPDATE counter SET value = ? WHERE name = 'seq'").run(mark);
    logger.warn(
      { path, counter: last, seq_reserved: mark, other_database: otherDatabase },
      "the database is behind the seq high-water mark (a new, replaced or restored database): seq continues above the mark, never reusing one",
    );
    last = mark;
  }
  side.write({ station_id: stationId, database_id: databaseId, run: "running", seq_reserved: Math.max(mark, last + SEQ_RESERVE_BLOCK) });
}
