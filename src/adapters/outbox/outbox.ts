import type { Database as Db, Statement, Transaction } from "better-sqlite3";
import type { Logger } from "pino";

import { SmartbinError } from "../../errors.js";
import { systemBootClock, type BootClock, type RecordStamp } from "../boot-clock.js";
import { ClockSyncMarker, TIMESYNC_MARKER } from "../clock-sync.js";
import { RESERVED_DATA_KEYS, envelopeJson } from "./envelope.js";
import { IsoTime } from "./iso-time.js";
import { EventIds } from "./event-id.js";
import type { StationLock } from "./lock.js";
import { OUTBOX_BUSY_TIMEOUT_MS, OUTBOX_WRITE_BUSY_TIMEOUT_MS, openOutboxDatabase, type OpenedDatabase } from "./open.js";
import type { SalvageReport } from "./salvage.js";
import type { SideFile } from "./side-file.js";
import { StorageSpace, type SpaceFigures } from "./space.js";
import { pendingSpill, removeSpill, spillPath, writeSpill, type Spill, type SpillBatch } from "./spill.js";
import { prepareStatusQuery, readOutboxStatus, type OutboxStatus } from "./status-query.js";
import { failureOf, type CommitFailure } from "./failure.js";
import { Pruner, type PruneOptions } from "./prune.js";
import { CORRECTION_PAGE, SENT_MARK_KEY, TimeCorrector, UNSYNCED_TAIL, type CorrectionPage } from "./time-correction.js";

export { OUTBOX_BUSY_TIMEOUT_MS, OUTBOX_WRITE_BUSY_TIMEOUT_MS, failureOf };
export type { CommitFailure, CorrectionPage, OutboxStatus, PruneOptions, RecordStamp, SalvageReport, SpaceFigures, Spill, SpillBatch };

/** One durable event as stored; `payload` is the exact CloudEvents JSON text that is published. */
export interface StoredEvent {
  /** The station's sequence number, `data.seq` (contract.md section 4). */
  seq: number;
  /** The CloudEvents `id` (a UUIDv7), the consumers' idempotency key. */
  id: string;
  /** The event kind: the topic's last level and the `smartbin.<kind>.v1` type. */
  kind: string;
  /** The envelope as JSON text; published byte for byte as its UTF-8 encoding. */
  payload: string;
}

/** Options of {@link Outbox.open}. */
export interface OutboxOptions {
  /** The SQLite file (config `storage.path`); its folder and the file are created when missing. */
  path: string;
  /** The station id (config `station.id`): `source` and `data.station_id` of every event. */
  stationId: string;
  logger: Logger;
  /** The wall clock for `time`, `published_at`, ages and pruning; default `new Date()`. */
  now?: () => Date;
  /**
   * The marker file whose presence says the clock is synchronised (config `station.clock_sync_marker`);
   * default {@link TIMESYNC_MARKER}, systemd-timesyncd's. Read with a cache for `clock_synced`, and at
   * once by {@link Outbox.timeCorrectionDue}.
   */
  clockSyncMarker?: string;
  /** The `clock_synced` field, instead of the marker file (tests); called for both the cached and the fresh answer. */
  clockSynced?: () => boolean;
  /** The boot id and monotonic clock of `boot_id` and `mono_ms`; default the kernel's (boot-clock.ts). */
  bootClock?: BootClock;
  /** The start-up integrity check's time limit in milliseconds (tests); default 3000. */
  integrityLimitMs?: number;
  /**
   * Size of the reserve file kept next to the database (space.ts), in bytes; default 0, none. The
   * station keeps `DEFAULT_RESERVE_BYTES`.
   */
  reserveBytes?: number;
}

/** One transaction's worth for {@link Outbox.commit}. */
export interface CommitBatch {
  events: ReadonlyArray<{ kind: string; subject: string; data: Record<string, unknown> }>;
  session?: { op: "put"; id: string; state: unknown } | { op: "delete"; id: string };
  /** The events' `time` (RFC 3339 UTC) when they were recorded earlier than now; default now. */
  time?: string;
  /** `meta` rows to set in the same transaction; `null` deletes the row. */
  meta?: Readonly<Record<string, string | null>>;
  /**
   * The events' `boot_id`, `mono_ms` and `clock_synced` when they were recorded earlier than now
   * (with `time`); default the outbox's own reading at commit ({@link Outbox.recordStamp}).
   */
  stamp?: RecordStamp;
}

/** The `meta` key holding the id of the last spill file committed (its events are in the database). */
const SPILL_COMMITTED_KEY = "spill_committed";

/** Kinds become an MQTT topic level and part of the CloudEvents type: keep them plain slugs. */
const KIND_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;


/**
 * The durable event store: SQLite is the source of truth and MQTT only transport
 * (architecture.md, "Decisions"). Every event is committed, with its `seq`, in one transaction
 * before anyone acts on it; the publisher marks it published on PUBACK; published events are kept
 * for a retention period and then pruned.
 *
 * The database runs in WAL mode with `synchronous=FULL` (a committed event survives power loss on
 * storage that honours flushes), a busy timeout of {@link OUTBOX_BUSY_TIMEOUT_MS} while it opens and
 * {@link OUTBOX_WRITE_BUSY_TIMEOUT_MS} once open (a commit against another process's write lock
 * fails fast with reason `busy` and is retried by the caller), and normal (non-exclusive) locking,
 * so `smartbin outbox status` can read it while `smartbin run` writes.
 * One station per database: the outbox holds the station lock (lock.ts) from open to close. Beside
 * the database it keeps the side file (side-file.ts): the seq high-water mark, written inside the
 * commit that passes it, and whether the station stopped cleanly. All calls are synchronous
 * (better-sqlite3).
 */
export class Outbox {
  private readonly stmts: {
    nextSeq: Statement<[], { value: number }>;
    insert: Statement<[number, string, string, string, string, string]>;
    pendingAfter: Statement<[number, number], StoredEvent>;
    heldRange: Statement<[number, number], { count: number; first: number | null; last: number | null }>;
    heldPage: Statement<[number, number, number], StoredEvent>;
    markPublished: Statement<[string, number]>;
    setMeta: Statement<[string, string]>;
    getMeta: Statement<[string], { value: string }>;
    deleteMeta: Statement<[string]>;
    metaRange: Statement<[string, string], { key: string; value: string }>;
    metaPage: Statement<[string, string, number], { key: string; value: string }>;
    putSession: Statement<[string, string, string, string]>;
    deleteSession: Statement<[string]>;
    openSessions: Statement<[], { id: string; state: string }>;
  };
  private readonly statusQuery: (now: Date) => OutboxStatus;
  private readonly commitTx: Transaction<(batch: CommitBatch) => StoredEvent[]>;
  /** The CloudEvents ids of the events this outbox records. */
  private readonly ids = new EventIds();
  private readonly isoTime = new IsoTime();
  private readonly markTx: Transaction<(seqs: number[], at: string) => number>;
  private readonly markSentTx: Transaction<(seq: number) => void>;
  private readonly spillTx: Transaction<(spill: Spill) => StoredEvent[][]>;
  private readonly corrector: TimeCorrector;
  /** The database's {@link SENT_MARK_KEY} (the highest seq handed to the publisher in a page with unsynchronised events). */
  private sentMark: number;
  /** Events recorded unsynchronised may wait unsent: true at open (unknown) and after each such record. */
  private unsyncedPending = true;
  private readonly space: StorageSpace;
  private readonly pruner: Pruner;
  /** The spill file found at open and not yet committed. */
  private spillFound: Spill | null = null;
  private readonly db: Db;
  private readonly path: string;
  private readonly lock: StationLock;
  private readonly side: SideFile;
  private closed = false;
  /** The salvage done when this outbox was opened (a damaged database), `null` when there was none. */
  readonly recovered: SalvageReport | null;

  private constructor(
    opened: OpenedDatabase,
    private readonly stationId: string,
    private readonly logger: Logger,
    private readonly now: () => Date,
    private readonly sync: { synced: () => boolean; checkNow: () => boolean },
    private readonly boot: BootClock,
    reserveBytes?: number,
  ) {
    const db = opened.db;
    this.db = db;
    this.path = opened.path;
    this.lock = opened.lock;
    this.side = opened.side;
    this.recovered = opened.recovered;
    this.stmts = {
      nextSeq: db.prepare<[], { value: number }>(
        "UPDATE counter SET value = value + 1 WHERE name = 'seq' RETURNING value",
      ),
      insert: db.prepare<[number, string, string, string, string, string]>(
        "INSERT INTO events (seq, id, kind, subject, time, payload) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      pendingAfter: db.prepare<[number, number], StoredEvent>(
        "SELECT seq, id, kind, payload FROM events" +
          " WHERE published_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
      ),
      // Both use the primary key's range: cost in the events of the range, not in the table.
      heldRange: db.prepare<[number, number], { count: number; first: number | null; last: number | null }>(
        "SELECT (SELECT count(*) FROM events WHERE seq >= ? AND seq <= ?) AS count, min(seq) AS first, max(seq) AS last FROM events",
      ),
      heldPage: db.prepare<[number, number, number], StoredEvent>(
        "SELECT seq, id, kind, payload FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
      ),
      markPublished: db.prepare<[string, number]>(
        "UPDATE events SET published_at = ? WHERE seq = ? AND published_at IS NULL",
      ),
      setMeta: db.prepare<[string, string]>(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ),
      getMeta: db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?"),
      deleteMeta: db.prepare<[string]>("DELETE FROM meta WHERE key = ?"),
      metaRange: db.prepare<[string, string], { key: string; value: string }>("SELECT key, value FROM meta WHERE key >= ? AND key < ? ORDER BY key"),
      metaPage: db.prepare<[string, string, number], { key: string; value: string }>("SELECT key, value FROM meta WHERE key > ? AND key < ? ORDER BY key LIMIT ?"),
      putSession: db.prepare<[string, string, string, string]>(
        "INSERT INTO open_sessions (id, state, created_at, updated_at) VALUES (?, ?, ?, ?)" +
          " ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
      ),
      deleteSession: db.prepare<[string]>("DELETE FROM open_sessions WHERE id = ?"),
      openSessions: db.prepare<[], { id: string; state: string }>(
        "SELECT id, state FROM open_sessions ORDER BY created_at, rowid",
      ),
    };
    this.statusQuery = prepareStatusQuery(db);
    this.commitTx = db.transaction((batch: CommitBatch) => {
      const time = batch.time ?? (batch.events.length > 0 || batch.session ? this.isoTime.format(this.now().getTime()) : "");
      const stamp = batch.stamp ?? this.recordStamp();
      const stored = batch.events.map((e) => this.insertEvent(e.kind, e.subject, e.data, time, stamp));
      // Before the COMMIT: the side file's mark never lags behind a committed seq.
      if (stored.length > 0) this.side.reserve(stored[stored.length - 1]!.seq, this.stationId);
      const session = batch.session;
      if (session?.op === "put") this.stmts.putSession.run(session.id, JSON.stringify(session.state), time, time);
      else if (session?.op === "delete") this.stmts.deleteSession.run(session.id);
      if (batch.meta !== undefined) {
        for (const [key, value] of Object.entries(batch.meta)) {
          if (value === null) this.stmts.deleteMeta.run(key);
          else this.stmts.setMeta.run(key, value);
        }
      }
      return stored;
    });
    // Every batch of a spill file and the mark that it is committed, all in one transaction (each
    // batch a savepoint inside it): a crash before the file is removed cannot commit it twice.
    this.spillTx = db.transaction((spill: Spill) => {
      const stored = spill.batches.map((b) => this.commitTx(b));
      this.stmts.setMeta.run(SPILL_COMMITTED_KEY, spill.id);
      return stored;
    });
    this.markTx = db.transaction((seqs: number[], at: string) => {
      let changed = 0;
      for (const seq of seqs) changed += this.stmts.markPublished.run(at, seq).changes;
      return changed;
    });
    this.markSentTx = db.transaction((seq: number) => {
      this.stmts.setMeta.run(SENT_MARK_KEY, String(seq));
    });
    // The open path waits up to OUTBOX_BUSY_TIMEOUT_MS; the running station never does (open.ts).
    db.pragma(`busy_timeout = ${OUTBOX_WRITE_BUSY_TIMEOUT_MS}`);
    this.pruner = new Pruner(db, this.path, logger, now);
    this.corrector = new TimeCorrector(db);
    this.sentMark = this.corrector.mark();
    this.space = new StorageSpace(db, this.path, logger, opened.path === ":memory:" ? 0 : (reserveBytes ?? 0));
    if (this.path !== ":memory:") this.spillFound = pendingSpill(this.path, this.meta(SPILL_COMMITTED_KEY), logger);
  }

  /**
   * Opens the outbox database for the station: takes the station lock, checks the files, salvages a
   * damaged database, migrates the schema (see `openOutboxDatabase` in open.ts for the steps). A
   * missing database and folder are created (folder 0700, files 0600). When a damaged database was
   * salvaged, the new database already holds the `storage_recovered` alarm (pending, published like
   * any event), {@link recovered} says what was done, and it is logged at warn.
   *
   * @throws SmartbinError `OUTBOX_LOCKED` at once when another station (process) holds this
   *   database; its message names that process. `OUTBOX_OPEN_FAILED` when the files cannot be
   *   created, opened or migrated, when the path is not a regular file, when the database was written
   *   by a newer version that does not say this one can use it, or when it belongs to another station
   *   (its `seq` stream would be mixed with this one's) or another program.
   */
  static open(opts: OutboxOptions): Outbox {
    const { path, stationId, logger } = opts;
    const now = opts.now ?? (() => new Date());
    const boot = opts.bootClock ?? systemBootClock();
    const injected = opts.clockSynced;
    const marker = new ClockSyncMarker({ markerPath: opts.clockSyncMarker ?? TIMESYNC_MARKER, monoNow: () => boot.monoMs() });
    const sync = injected !== undefined ? { synced: injected, checkNow: injected } : { synced: () => marker.synced(), checkNow: () => marker.checkNow() };
    const opened = openOutboxDatabase({
      path,
      stationId,
      logger,
      now,
      stamp: () => ({ boot_id: boot.bootId, mono_ms: boot.monoMs(), clock_synced: sync.synced() }),
      ...(opts.integrityLimitMs !== undefined ? { integrityLimitMs: opts.integrityLimitMs } : {}),
    });
    let outbox: Outbox;
    try {
      outbox = new Outbox(opened, stationId, logger, now, sync, boot, opts.reserveBytes);
    } catch (err) {
      opened.db.close();
      opened.lock.release();
      throw new SmartbinError("OUTBOX_OPEN_FAILED", `cannot open outbox database ${path}`, { path }, { cause: err });
    }
    const status = outbox.status();
    const spilled = outbox.spillFound?.batches.length;
    logger.info({ path: opened.path, last_seq: status.last_seq, pending: status.pending, ...(spilled ? { spilled_batches: spilled } : {}) }, "outbox opened");
    return outbox;
  }

  /**
   * Reads the status of the outbox at `path` without writing anything, for `smartbin outbox
   * status` (contract.md section 1): works while `smartbin run` writes (WAL reader, busy timeout),
   * and reports zeros and `null` for a database that does not exist (it is not created) or is
   * created but not yet migrated.
   *
   * It takes no station lock and never salvages: it reads beside a running station.
   *
   * @param now the wall clock for `oldest_pending_age_s`; default the current time.
   * @throws SmartbinError `OUTBOX_OPEN_FAILED` when the file exists but cannot be read as an
   *   outbox (permissions, corruption, a newer schema version that does not admit this one).
   */
  static readStatus(path: string, now: Date = new Date()): OutboxStatus {
    return readOutboxStatus(path, now);
  }

  /**
   * Records one durable event: in ONE immediate transaction, allocates the next `seq` and inserts
   * the CloudEvents 1.0 envelope of contract.md section 4:
   * `{specversion: "1.0", id: <UUIDv7>, source: "smartbin/<station>", type: "smartbin.<kind>.v1",
   * time: <now, RFC 3339 UTC with ms>, subject, datacontenttype: "application/json",
   * data: {station_id, seq, ...data, boot_id, mono_ms, clock_synced}}` (in this key order; the last
   * three are {@link recordStamp}'s). When it returns, the event is on disk; only then may the caller
   * acknowledge anything about it.
   *
   * @param kind the event kind (`deposit`, `alarm`, ...), a slug: it becomes a topic level.
   * @param subject the CloudEvents `subject` (the bin id for deposits, the device id for alarms).
   * @param data the event's own fields, JSON-serialisable, without `station_id`, `seq`, `boot_id`,
   *   `mono_ms` and `clock_synced` (the outbox sets those).
   * @throws SmartbinError `OUTBOX_COMMIT_FAILED` when nothing was committed (disk full, I/O error,
   *   closed outbox, an invalid kind, reserved or unserialisable data); the caller must then not
   *   signal the deposit.
   */
  append(kind: string, subject: string, data: Record<string, unknown>): StoredEvent {
    return this.commit({ events: [{ kind, subject, data }] })[0]!;
  }

  /**
   * Commits a batch in ONE `BEGIN IMMEDIATE` transaction: its events in order, with consecutive
   * `seq`s, and the change of the stored open session (`put`: insert or replace its state as
   * JSON; `delete`: remove it). All or nothing: when it fails, no event is stored, no `seq` is
   * used and the session row is as before. A batch with only a session change is valid.
   *
   * @returns the stored events, in the batch's order.
   * @throws SmartbinError `OUTBOX_COMMIT_FAILED` as {@link append}.
   */
  commit(batch: CommitBatch): StoredEvent[] {
    try {
      return this.commitNow(batch);
    } catch (err) {
      const retried = this.afterFullDisk(err, () => this.commitNow(batch));
      if (retried.ok) return retried.value;
      const first = batch.events[0];
      throw new SmartbinError(
        "OUTBOX_COMMIT_FAILED",
        first ? `cannot commit ${first.kind} event to the outbox` : "cannot commit the open session to the outbox",
        { path: this.path, reason: failureOf(retried.err), ...(first ? { kind: first.kind, subject: first.subject } : {}), events: batch.events.length },
        { cause: retried.err },
      );
    }
  }

  /**
   * The spill file found when the outbox was opened and not yet committed (written at a shutdown
   * that could not commit everything), `null` when there is none. The caller commits it with
   * {@link commitSpill} before anything else.
   */
  spilled(): Spill | null {
    return this.spillFound;
  }

  /**
   * Commits every batch of a spill, in order, and the mark that it is committed, in ONE transaction,
   * then removes the spill file (issue 7, item 4). A spill committed once is never committed again,
   * even when the file could not be removed (the mark says so at the next open).
   *
   * @returns the stored events of each batch, in order.
   * @throws SmartbinError `OUTBOX_COMMIT_FAILED` as {@link commit} (nothing is committed then).
   */
  commitSpill(spill: Spill): StoredEvent[][] {
    const run = () => {
      for (const b of spill.batches) for (const e of b.events) checkEvent(e.kind, e.data);
      return this.spillTx.immediate(spill);
    };
    let stored: StoredEvent[][];
    try {
      stored = run();
    } catch (err) {
      const retried = this.afterFullDisk(err, run);
      if (!retried.ok) {
        throw new SmartbinError(
          "OUTBOX_COMMIT_FAILED",
          "cannot commit the spill file to the outbox",
          { path: this.path, reason: failureOf(retried.err), file: spillPath(this.path), batches: spill.batches.length },
          { cause: retried.err },
        );
      }
      stored = retried.value;
    }
    if (this.spillFound?.id === spill.id) this.spillFound = null;
    if (this.path !== ":memory:") removeSpill(this.path, this.logger);
    this.logger.warn({ batches: spill.batches.length, events: stored.reduce((n, s) => n + s.length, 0) }, "spill file committed");
    return stored;
  }

  /**
   * Writes batches that cannot be committed to the spill file next to the database (JSON lines,
   * fsynced, 0600; see spill.ts), for the next start to commit before anything else. Releases the
   * reserve file first when the disk is full.
   *
   * @returns the spill file's path.
   * @throws the file system's error when it cannot be written even then.
   */
  spill(batches: readonly SpillBatch[]): string {
    if (this.path === ":memory:") throw new Error("an in-memory outbox has no spill file");
    const write = () => writeSpill(this.path, this.stationId, batches);
    try {
      write();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOSPC" || !this.space.releaseReserve("spill")) throw err;
      write();
    }
    return spillPath(this.path);
  }

  /** The database's size and its file system's free space, now (see space.ts). */
  measureSpace(): SpaceFigures {
    return this.space.measure();
  }

  /** Makes the reserve file when missing, keeping `keepFreeBytes` free (see space.ts); never throws. */
  ensureReserve(keepFreeBytes: number): Promise<boolean> {
    return this.space.ensureReserve(keepFreeBytes);
  }

  /** A `meta` value of the database, `null` when unset or unreadable. */
  meta(key: string): string | null {
    try {
      return this.stmts.getMeta.get(key)?.value ?? null;
    } catch {
      return null;
    }
  }

  /**
   * Every `meta` row whose key starts with `prefix`, in key order (e.g. the daily cap's rows, one per
   * card); empty when none, or when unreadable (logged at error: the caller then goes without them).
   * With `page`: at most `limit` of them, with keys above `after` (give the last key of the page
   * before, or `""` for the first page; a key equal to `prefix` itself is then never read).
   */
  metaEntries(prefix: string, page?: { after: string; limit: number }): Array<{ key: string; value: string }> {
    if (prefix.length === 0) throw new RangeError("metaEntries needs a prefix");
    // Keys from the prefix up to (not including) the prefix with its last character's code + 1.
    const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
    try {
      if (page !== undefined) return this.stmts.metaPage.all(page.after > prefix ? page.after : prefix, end, page.limit);
      return this.stmts.metaRange.all(prefix, end);
    } catch (err) {
      this.logger.error({ err, path: this.path, prefix }, "stored meta rows could not be read");
      return [];
    }
  }

  /**
   * The open sessions stored in the database, oldest first, each with its state parsed from JSON
   * (what start-up recovery reads). A row whose text is not JSON comes back with `state: null`.
   */
  openSessions(): Array<{ id: string; state: unknown }> {
    return this.stmts.openSessions.all().map((row) => {
      try {
        return { id: row.id, state: JSON.parse(row.state) as unknown };
      } catch {
        return { id: row.id, state: null };
      }
    });
  }

  /**
   * Up to `limit` unpublished events with `seq > afterSeq`, in ascending `seq` order. The
   * publisher pages through the backlog with it, never loading all of it.
   */
  pendingAfter(afterSeq: number, limit: number): StoredEvent[] {
    return this.stmts.pendingAfter.all(afterSeq, limit);
  }

  /**
   * How many events the database still holds (published or not; pruned ones are gone) with
   * `fromSeq <= seq <= toSeq` (`toSeq` undefined: no upper bound), and the oldest and newest seq it
   * holds at all (`null` when it holds none): the `replay` command's result (contract.md section 4:
   * `count` and `first_held_seq`, where the station's memory begins).
   */
  heldRange(fromSeq: number, toSeq?: number): { count: number; firstHeldSeq: number | null; lastHeldSeq: number | null } {
    const row = this.stmts.heldRange.get(seqBound(fromSeq), toSeq === undefined ? Number.MAX_SAFE_INTEGER : seqBound(toSeq));
    return { count: row?.count ?? 0, firstHeldSeq: row?.first ?? null, lastHeldSeq: row?.last ?? null };
  }

  /**
   * Up to `limit` held events (published or not) with `afterSeq < seq <= toSeq` (`toSeq` undefined:
   * no upper bound), ascending: the publisher pages through a replay with it, never loading the
   * whole range.
   */
  heldPage(afterSeq: number, toSeq: number | undefined, limit: number): StoredEvent[] {
    return this.stmts.heldPage.all(seqBound(afterSeq), toSeq === undefined ? Number.MAX_SAFE_INTEGER : seqBound(toSeq), limit);
  }

  /**
   * Marks events as acknowledged by the broker (PUBACK), in one transaction; `published_at` is
   * the current time. Already published or unknown seqs are ignored.
   *
   * @throws SmartbinError `OUTBOX_COMMIT_FAILED` when the transaction fails (nothing is marked).
   */
  markPublished(seqs: number[]): void {
    if (seqs.length === 0) return;
    try {
      this.markTx.immediate(seqs, this.now().toISOString());
    } catch (err) {
      throw new SmartbinError(
        "OUTBOX_COMMIT_FAILED",
        "cannot mark events published",
        { path: this.path, count: seqs.length },
        { cause: err },
      );
    }
  }

  /**
   * Where on the board's time line an event recorded now is: this boot's id, the monotonic clock
   * since boot in integer ms, and the (cached) clock-sync state. The recorder stamps a batch that
   * has to wait with it, as it stamps its `time` (event-recorder.ts).
   */
  recordStamp(): RecordStamp {
    return { boot_id: this.boot.bootId, mono_ms: this.boot.monoMs(), clock_synced: this.sync.synced() };
  }

  /**
   * The publisher calls this with each page it read (pendingAfter) BEFORE it hands any of it to the
   * MQTT client: an event handed over may reach the broker, so it must never be corrected (contract.md
   * section 4: a re-sent event is the same message, byte for byte). When the page holds an event
   * recorded unsynchronised above the sent mark, the mark ({@link SENT_MARK_KEY}) is raised to the
   * page's last seq in one transaction; pages of synchronised events are never rewritten and cost
   * no write. The publisher sends in seq order, so every pending event at or below the mark was
   * handed over at some time.
   *
   * @throws SmartbinError `OUTBOX_COMMIT_FAILED` (context `reason`) when the mark cannot be written:
   *   the page must not be sent then.
   */
  markSent(page: readonly StoredEvent[]): void {
    const last = page.at(-1);
    if (last === undefined || last.seq <= this.sentMark) return;
    if (!page.some((e) => e.seq > this.sentMark && e.payload.endsWith(UNSYNCED_TAIL))) return;
    try {
      this.markSentTx.immediate(last.seq);
    } catch (err) {
      throw new SmartbinError("OUTBOX_COMMIT_FAILED", "cannot record events as sent", { path: this.path, seq: last.seq, reason: failureOf(err) }, { cause: err });
    }
    this.sentMark = last.seq;
  }

  /**
   * True when a time correction pass should run now: events recorded unsynchronised may wait unsent
   * (since open, or since the last pass), and the marker file says, read now, that the clock is
   * synchronised (which also refreshes the cached `clock_synced` of new events). No file is read while
   * nothing waits to be corrected.
   */
  timeCorrectionDue(): boolean {
    return this.unsyncedPending && this.boot.bootId !== null && this.sync.checkNow();
  }

  /**
   * One page of the time correction (contract.md section 2, last rule of "Other station alarms"):
   * pending events with seq above `afterSeq` and above the sent mark, of this boot, recorded with
   * `clock_synced: false`, get the corrected `time` (their `mono_ms` read through the clock now,
   * `wall_now - (mono_now - mono_ms)`), their `_at` stamps moved by the same amount, and
   * `clock_synced: true` (time-correction.ts). One short IMMEDIATE transaction over at most `limit`
   * events; the caller runs the pages of a pass with a turn of the event loop between them, starting
   * at `afterSeq` 0 (which starts a pass: events recorded unsynchronised after this point make
   * {@link timeCorrectionDue} true again). Events of an earlier boot, published or handed to the
   * publisher are never changed.
   *
   * @throws SmartbinError `OUTBOX_COMMIT_FAILED` (context `reason`: `busy` when another process holds
   *   the write lock); nothing of the page is changed, and the pass is due again.
   */
  correctTimesPage(afterSeq: number, limit: number = CORRECTION_PAGE): CorrectionPage {
    const bootId = this.boot.bootId;
    if (bootId === null) return { lastSeq: afterSeq, corrected: 0, done: true };
    if (afterSeq === 0) this.unsyncedPending = false;
    try {
      return this.corrector.page(afterSeq, limit, () => ({ bootId, wallMs: this.now().getTime(), monoMs: this.boot.monoMs() }));
    } catch (err) {
      this.unsyncedPending = true;
      throw new SmartbinError("OUTBOX_COMMIT_FAILED", "cannot correct the times of unsent events", { path: this.path, reason: failureOf(err) }, { cause: err });
    }
  }

  /** The outbox's counts, ages against the injected clock (see {@link OutboxStatus}). */
  status(): OutboxStatus {
    return this.statusQuery(this.now());
  }

  /**
   * Deletes published events whose `published_at` is more than `retentionDays` (fractional days
   * allowed) before now, in batches (see {@link pruneBatch}); pending events are never deleted, and
   * `seq` keeps counting. Synchronous from start to end: the station runs {@link pruneBatch} between
   * turns of the event loop instead.
   *
   * @returns the number of events deleted.
   * @throws SmartbinError `OUTBOX_COMMIT_FAILED` when a delete fails.
   */
  prune(retentionDays: number): number {
    let deleted = 0;
    for (let n = -1; n !== 0; deleted += n) n = this.pruneBatch({ retentionDays });
    return deleted;
  }

  /** One batch of pruning, its own short transaction: see {@link Pruner.batch}. */
  pruneBatch(opts: PruneOptions): number {
    return this.pruner.batch(opts);
  }

  /** Truncates the WAL, best effort: see {@link Pruner.truncateWal}. */
  truncateWal(): void {
    this.pruner.truncateWal();
  }

  /**
   * Closes the database and releases the station lock; idempotent. Later calls fail (append with
   * `OUTBOX_COMMIT_FAILED`). The side file says `closing` while SQLite checkpoints and removes the
   * WAL, then `stopped`: the next start then skips the integrity check.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const mark = (run: "closing" | "stopped") => {
      try {
        this.side.write({ station_id: this.stationId, run });
      } catch (err) {
        this.logger.warn({ err, file: this.side.path }, "cannot record the clean stop; the next start checks the database");
      }
    };
    try {
      mark("closing");
      this.db.close();
      mark("stopped");
    } finally {
      this.lock.release();
    }
    this.logger.debug({ path: this.path }, "outbox closed");
  }

  /** The hot path of {@link commit}: checks, one immediate transaction, debug lines. */
  private commitNow(batch: CommitBatch): StoredEvent[] {
    for (const e of batch.events) checkEvent(e.kind, e.data);
    const stored = this.commitTx.immediate(batch);
    // The hot path of every deposit: the log record is built only when debug logging is on.
    if (this.logger.isLevelEnabled("debug")) {
      for (const event of stored) this.logger.debug({ seq: event.seq, id: event.id, kind: event.kind }, "event recorded");
    }
    return stored;
  }

  /**
   * After a failed commit: when it failed for space and the reserve file could be released, tries
   * `again` once (what was accepted still finds room); otherwise hands the error back.
   */
  private afterFullDisk<T>(err: unknown, again: () => T): { ok: true; value: T } | { ok: false; err: unknown } {
    if (failureOf(err) !== "full" || !this.space.releaseReserve("commit")) return { ok: false, err };
    try {
      return { ok: true, value: again() };
    } catch (second) {
      return { ok: false, err: second };
    }
  }

  /** Runs inside the commit transaction; `time` and `stamp` are the batch's recording moment. */
  private insertEvent(kind: string, subject: string, data: Record<string, unknown>, time: string, stamp: RecordStamp): StoredEvent {
    const counter = this.stmts.nextSeq.get();
    if (counter === undefined) throw new Error("outbox counter row is missing");
    const seq = counter.value;
    const id = this.ids.next();
    const payload = envelopeJson({ id, stationId: this.stationId, seq, kind, subject, time, data, stamp });
    // Set before the COMMIT: a failed commit only costs one needless correction pass.
    if (!stamp.clock_synced) this.unsyncedPending = true;
    this.stmts.insert.run(seq, id, kind, subject, time, payload);
    return { seq, id, kind, payload };
  }
}

/** Kinds that passed {@link KIND_PATTERN}; a station records a handful, so a few are kept. */
const validKinds = new Set<string>();

/** Refuses an invalid kind and data that sets a key the outbox owns. */
function checkEvent(kind: string, data: Record<string, unknown>): void {
  if (!validKinds.has(kind)) {
    if (!KIND_PATTERN.test(kind)) throw new Error(`invalid event kind ${JSON.stringify(kind)}`);
    if (validKinds.size >= 32) validKinds.clear();
    validKinds.add(kind);
  }
  for (const key of RESERVED_DATA_KEYS) {
    if (Object.hasOwn(data, key)) throw new Error(`event data may not set "${key}", the outbox sets it`);
  }
}

/** A seq bound as SQLite compares it: an integer (a fraction or an out-of-range number from a command is clamped). */
function seqBound(n: number): number {
  if (Number.isNaN(n)) return 0;
  return Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, Math.floor(n)));
}
