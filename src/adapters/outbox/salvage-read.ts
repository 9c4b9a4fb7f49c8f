import { closeSync, copyFileSync, existsSync, ftruncateSync, openSync, readSync, rmSync, statSync, writeSync } from "node:fs";

import Database from "better-sqlite3";
import type { Database as Db, Statement } from "better-sqlite3";
import type { Logger } from "pino";

import { COMPANION_SUFFIXES, createPrivateFile } from "./files.js";
import { repairHeader } from "./header.js";
import { isCorruptionCode } from "./integrity.js";

/** How to read a damaged database (from the file checks: see `FileVerdict` in header.ts). */
export interface DamageFacts {
  /** A short sentence: why the database was judged damaged. */
  reason: string;
  /** SQLite can open the file in place. */
  headerOk: boolean;
  /** The `-wal` beside it is a usable WAL (copied with a repaired file). */
  walUsable: boolean;
  /** The `-wal` may belong to another database: the file is read without it first. */
  walSuspect: boolean;
  /** The page size to read a repaired copy with. */
  pageSize: number;
}

/**
 * The salvage cannot be finished now, and must not be finished with less: the new database cannot
 * be written (a full disk, an I/O error), or a source cannot be read for a reason that passes (no
 * space for SQLite's `-shm`, another process's lock, memory). A salvage that went on would set the
 * damaged database aside with events and open sessions it did not carry: the station would never
 * publish or recover them. The readers never catch it: salvageDatabase throws it with the damaged
 * files untouched, the start fails (systemd starts the station again) and the next start salvages
 * again, from the beginning.
 */
export class SalvageInterrupted extends Error {
  constructor(what: string, cause: unknown) {
    super(`salvage stopped, the damaged database is left as it is: ${what} (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
    this.name = "SalvageInterrupted";
  }
}

/**
 * Errors that pass with time, not damage of the file: no space (SQLite's SQLITE_FULL, the file
 * system's ENOSPC and EDQUOT), locks (SQLITE_BUSY, SQLITE_LOCKED), memory and file handles, and the
 * shared-memory file a read-only WAL connection makes (SQLITE_IOERR_SHM*).
 */
export function passingError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return false;
  return /^SQLITE_(FULL|BUSY|LOCKED|NOMEM|INTERRUPT|IOERR_SHM)/.test(code) || ["ENOSPC", "EDQUOT", "ENOMEM", "EMFILE", "ENFILE", "EBUSY", "EAGAIN"].includes(code);
}

/** Rethrows what must stop the salvage ({@link SalvageInterrupted}, or a {@link passingError} as one); returns otherwise. */
function stopIfPassing(err: unknown, what: string): void {
  if (err instanceof SalvageInterrupted) throw err;
  if (passingError(err)) throw new SalvageInterrupted(what, err);
}

/** Runs a write into the new database: any failure stops the salvage (the new database would lack it). */
function writing<T>(write: () => T): T {
  try {
    return write();
  } catch (err) {
    if (err instanceof SalvageInterrupted) throw err;
    throw new SalvageInterrupted("the new database cannot be written", err);
  }
}

/** A repaired copy of the damaged file, read and removed during the salvage. */
export const scratchName = (path: string) => `${path}.salvage-scratch`;

/** Events inserted per transaction of the new database. */
const SALVAGE_BATCH = 2000;
/** Beyond a damaged stretch this long, the next readable seq is searched by halving (see skipDamage). */
const LINEAR_PROBES = 64;

/** One way to read the damaged database. */
interface Source {
  kind: "in-place" | "copy-with-wal" | "copy-without-wal";
  /** Read only when the sources before it gave no event (a fallback). */
  onlyIfNothingSalvaged: boolean;
}

function plannedSources(d: DamageFacts): Source[] {
  const sources: Source[] = [];
  if (d.walSuspect) sources.push({ kind: "copy-without-wal", onlyIfNothingSalvaged: false });
  if (d.headerOk) {
    sources.push({ kind: "in-place", onlyIfNothingSalvaged: false });
    const fallback = d.walUsable ? "copy-with-wal" : "copy-without-wal";
    if (!sources.some((s) => s.kind === fallback)) sources.push({ kind: fallback, onlyIfNothingSalvaged: true });
  } else {
    sources.push({ kind: d.walUsable ? "copy-with-wal" : "copy-without-wal", onlyIfNothingSalvaged: false });
  }
  return sources;
}

/**
 * Copies into `copier` what can be read of the damaged database at `path`, from each planned source
 * in turn (see salvageDatabase in salvage.ts). Logs what each gave; damage is stepped over.
 *
 * @throws SalvageInterrupted when the new database cannot be written or a source cannot be read for
 *   a reason that passes ({@link passingError}): the salvage must then stop, not finish with less.
 */
export function readDamaged(path: string, damage: DamageFacts, copier: EventCopier, logger: Logger): void {
  for (const source of plannedSources(damage)) {
    if (source.onlyIfNothingSalvaged && copier.salvaged > 0) continue;
    readSource(path, source, damage.pageSize, copier, logger);
  }
}

/**
 * Opens one source, copies what it holds, closes it (and removes a scratch copy). A source that
 * cannot be read because of its damage is logged and skipped.
 *
 * @throws SalvageInterrupted (see {@link readDamaged}).
 */
function readSource(path: string, source: Source, pageSize: number, copier: EventCopier, logger: Logger): void {
  const log = logger.child({ source: source.kind });
  const scratch = scratchName(path);
  let db: Db | undefined;
  try {
    if (source.kind === "in-place") {
      db = new Database(path, { readonly: true, fileMustExist: true });
    } else {
      makeRepairedCopy(path, scratch, pageSize, source.kind === "copy-with-wal");
      db = new Database(scratch, { fileMustExist: true });
    }
    // Lenient reading: SQLite then reads a file shorter than its header says instead of refusing it.
    db.pragma("writable_schema = ON");
    const before = copier.salvaged;
    copier.copyFrom(db, log);
    log.info({ salvaged: copier.salvaged - before }, "salvage source read");
  } catch (err) {
    stopIfPassing(err, `the ${source.kind} source cannot be read now`);
    log.warn({ err }, "salvage source cannot be read");
  } finally {
    db?.close();
    if (source.kind !== "in-place") removeDerived(scratch);
  }
}

/**
 * Copies the database file (or, when there is none, nothing) to `scratch`, pads it to whole pages
 * (at least one), repairs its header ({@link repairHeader}) and, with `withWal`, copies the `-wal`
 * beside it. The copy is ours: SQLite may write it (WAL recovery) without touching the original.
 */
function makeRepairedCopy(path: string, scratch: string, pageSize: number, withWal: boolean): void {
  removeDerived(scratch);
  createPrivateFile(scratch);
  if (existsSync(path) && statSync(path).size > 0) copyFileSync(path, scratch);
  const fd = openSync(scratch, "r+");
  try {
    const size = statSync(scratch).size;
    const pages = Math.max(1, Math.ceil(size / pageSize));
    ftruncateSync(fd, pages * pageSize);
    const first = Buffer.alloc(pageSize);
    readSync(fd, first, 0, pageSize, 0);
    writeSync(fd, repairHeader(first, pageSize, pages, withWal), 0, pageSize, 0);
  } finally {
    closeSync(fd);
  }
  if (withWal && existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, `${scratch}-wal`);
}

/** Removes a file this module made (a partial database, a scratch copy) and its companions. */
export function removeDerived(path: string): void {
  for (const suffix of ["", ...COMPANION_SUFFIXES]) rmSync(path + suffix, { force: true });
}

/** A row of `events` as read for salvage; the payload as bytes, so they are carried exactly. */
interface EventRow {
  seq: unknown;
  id: unknown;
  kind: unknown;
  subject: unknown;
  time: unknown;
  payload: unknown;
  published_at: unknown;
}

/** Copies the readable events, sessions and counter of source databases into the new one. */
export class EventCopier {
  salvaged = 0;
  unreadable = 0;
  sessions = 0;
  /** The highest seq read, carried or not, and the highest counter read: the next seq is above both. */
  highestSeq = 0;
  counter = 0;
  private readonly insert: Statement<[number, string, string, string, string, Buffer, string | null]>;
  private readonly insertSession: Statement<[string, string, string, string]>;
  private readonly utf8 = new TextDecoder("utf-8", { fatal: true });

  constructor(
    private readonly out: Db,
    private readonly stationId: string,
  ) {
    this.insert = out.prepare(
      "INSERT OR IGNORE INTO events (seq, id, kind, subject, time, payload, published_at)" +
        " VALUES (?, ?, ?, ?, ?, CAST(? AS TEXT), ?)",
    );
    this.insertSession = out.prepare(
      "INSERT OR IGNORE INTO open_sessions (id, state, created_at, updated_at) VALUES (?, ?, ?, ?)",
    );
  }

  /**
   * Copies the counter, the events and the open sessions of one source.
   *
   * @throws SalvageInterrupted (see {@link readDamaged}); damage is stepped over or skipped.
   */
  copyFrom(db: Db, log: Logger): void {
    const owner = tryGet(() => db.prepare<[], { value: unknown }>("SELECT value FROM meta WHERE key = 'station_id'").get()?.value);
    if (typeof owner === "string" && owner !== this.stationId) {
      log.warn({ found: owner }, "salvage source belongs to another station: nothing taken from it");
      return;
    }
    const counter = tryGet(() => db.prepare<[], { value: unknown }>("SELECT value FROM counter WHERE name = 'seq'").get()?.value);
    if (typeof counter === "number" && Number.isSafeInteger(counter)) this.counter = Math.max(this.counter, counter);
    this.copyEvents(db, log);
    this.copySessions(db, log);
  }

  /** Reads events in seq order, stepping over damaged stretches; inserts in batches. */
  private copyEvents(db: Db, log: Logger): void {
    let scan: Statement<[number], EventRow>;
    let probe: Statement<[number], { seq: number }>;
    try {
      const columns = "seq, id, kind, subject, time, CAST(payload AS BLOB) AS payload, published_at";
      // NOT INDEXED: walk the table's own b-tree by rowid, not an index that may be damaged too.
      scan = db.prepare(`SELECT ${columns} FROM events NOT INDEXED WHERE seq >= ? ORDER BY seq`);
      probe = db.prepare("SELECT seq FROM events NOT INDEXED WHERE seq >= ? ORDER BY seq LIMIT 1");
    } catch (err) {
      stopIfPassing(err, "the events cannot be read now");
      log.warn({ err }, "no readable events table");
      return;
    }
    let from = 1;
    let batch: EventRow[] = [];
    // Counted once committed: a batch whose commit failed carried nothing.
    const flush = () => {
      this.salvaged += writing(() => this.out.transaction(() => batch.reduce((n, row) => n + this.take(row), 0))());
      batch = [];
    };
    for (;;) {
      try {
        for (const row of scan.iterate(from)) {
          batch.push(row);
          if (typeof row.seq === "number") from = row.seq + 1;
          if (batch.length >= SALVAGE_BATCH) flush();
        }
        break;
      } catch (err) {
        stopIfPassing(err, "the events cannot be read now");
        if (!isCorruptionCode((err as { code?: unknown }).code)) {
          log.warn({ err, seq: from }, "events cannot be read further");
          break;
        }
        const next = skipDamage(probe, from);
        log.warn({ from_seq: from, next_seq: next }, "damaged stretch of events stepped over");
        if (next === null) break;
        from = next;
      }
    }
    flush();
  }

  /** Inserts one row when it is consistent (counted unreadable when not); returns the rows inserted (0 or 1). */
  private take(row: EventRow): number {
    if (typeof row.seq === "number" && Number.isSafeInteger(row.seq)) this.highestSeq = Math.max(this.highestSeq, row.seq);
    const ok = this.consistent(row);
    if (!ok) {
      this.unreadable++;
      return 0;
    }
    return this.insert.run(
      row.seq as number,
      row.id as string,
      row.kind as string,
      row.subject as string,
      row.time as string,
      row.payload as Buffer,
      row.published_at as string | null,
    ).changes;
  }

  /** The row's types, and its payload's id, seq, source and type, agree with each other and this station. */
  private consistent(row: EventRow): boolean {
    if (!(typeof row.seq === "number" && Number.isSafeInteger(row.seq) && row.seq > 0)) return false;
    if (typeof row.id !== "string" || typeof row.kind !== "string" || typeof row.subject !== "string") return false;
    if (typeof row.time !== "string" || !(row.published_at === null || typeof row.published_at === "string")) return false;
    if (!Buffer.isBuffer(row.payload)) return false;
    try {
      const doc = JSON.parse(this.utf8.decode(row.payload)) as {
        id?: unknown;
        source?: unknown;
        type?: unknown;
        data?: { seq?: unknown };
      };
      return (
        doc.id === row.id &&
        doc.data?.seq === row.seq &&
        doc.source === `smartbin/${this.stationId}` &&
        doc.type === `smartbin.${row.kind}.v1`
      );
    } catch {
      return false;
    }
  }

  private copySessions(db: Db, log: Logger): void {
    type Row = { id: unknown; state: unknown; created_at: unknown; updated_at: unknown };
    let rows: Row[];
    try {
      rows = db.prepare<[], Row>("SELECT id, state, created_at, updated_at FROM open_sessions").all();
    } catch (err) {
      stopIfPassing(err, "the open sessions cannot be read now");
      // A v1 database has no sessions table; a damaged one loses its session (the alarm says salvage).
      log.debug({ err }, "no readable open sessions");
      return;
    }
    this.sessions += writing(() =>
      this.out.transaction(() => {
        let n = 0;
        for (const r of rows) {
          if ([r.id, r.state, r.created_at, r.updated_at].some((v) => typeof v !== "string")) continue;
          const s = r as { id: string; state: string; created_at: string; updated_at: string };
          n += this.insertSession.run(s.id, s.state, s.created_at, s.updated_at).changes;
        }
        return n;
      })(),
    );
  }
}

/**
 * The smallest seq after `from` at which the events b-tree can be entered again, or `null` when none
 * can (end of the table, or nothing readable beyond). A damaged leaf page holds a few events: the next
 * {@link LINEAR_PROBES} seqs are tried one by one; beyond, by doubling the step, then halving back to
 * the first seq that can be entered (a readable stretch shorter than the step, between two damaged
 * ones, can then be missed). Each probe is one b-tree descent.
 */
function skipDamage(probe: Statement<[number], { seq: number }>, from: number): number | null {
  /** `true`: entered (`end`: no row from there); `false`: damaged. */
  const enter = (s: number): { ok: boolean; end: boolean } => {
    try {
      return { ok: true, end: probe.get(s) === undefined };
    } catch (err) {
      stopIfPassing(err, "the events cannot be read now");
      return { ok: false, end: false };
    }
  };
  for (let s = from + 1; s <= from + LINEAR_PROBES; s++) {
    const r = enter(s);
    if (r.ok) return r.end ? null : s;
  }
  let low = from + LINEAR_PROBES;
  let step = LINEAR_PROBES;
  let high: number | null = null;
  while (low + step <= Number.MAX_SAFE_INTEGER) {
    const r = enter(low + step);
    if (r.ok) {
      high = low + step;
      break;
    }
    low += step;
    step *= 2;
  }
  if (high === null) return null;
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (enter(mid).ok) high = mid;
    else low = mid;
  }
  return enter(high).end ? null : high;
}

/** What `read` returns, `undefined` when it fails for damage; @throws SalvageInterrupted for a {@link passingError}. */
function tryGet<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    stopIfPassing(err, "the source cannot be read now");
    return undefined;
  }
}
