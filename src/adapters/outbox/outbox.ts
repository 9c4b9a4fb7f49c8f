import { existsSync } from "node:fs";

import Database from "better-sqlite3";
import type { Database as Db, Statement, Transaction } from "better-sqlite3";
import type { Logger } from "pino";
import { v7 as uuidv7 } from "uuid";

import { SmartbinError } from "../../errors.js";
import { createClockSyncCheck } from "../clock-sync.js";
import { envelopeJson } from "./envelope.js";
import type { StationLock } from "./lock.js";
import { OUTBOX_BUSY_TIMEOUT_MS, openOutboxDatabase, type OpenedDatabase } from "./open.js";
import type { SalvageReport } from "./salvage.js";
import { checkReadable } from "./schema.js";
import type { SideFile } from "./side-file.js";

export { OUTBOX_BUSY_TIMEOUT_MS };
export type { SalvageReport };

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

/**
 * What `smartbin outbox status --json` reports (contract.md section 1, `outbox status`).
 * Ages are in seconds.
 */
export interface OutboxStatus {
  /** Events not yet acknowledged by the broker. */
  pending: number;
  /** Acknowledged events still held (until pruned). */
  published: number;
  /** Seconds since the oldest pending event's `time`, `null` when nothing is pending. */
  oldest_pending_age_s: number | null;
  /** The last `seq` assigned, 0 when none. Never lowered by pruning. */
  last_seq: number;
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
  /** The `clock_synced` field; default a cached check of systemd-timesyncd's marker file. */
  clockSynced?: () => boolean;
  /** The start-up integrity check's time limit in milliseconds (tests); default 3000. */
  integrityLimitMs?: number;
}

const EMPTY_STATUS: OutboxStatus = { pending: 0, published: 0, oldest_pending_age_s: null, last_seq: 0 };

/** One transaction's worth for {@link Outbox.commit}. */
export interface CommitBatch {
  events: ReadonlyArray<{ kind: string; subject: string; data: Record<string, unknown> }>;
  session?: { op: "put"; id: string; state: unknown } | { op: "delete"; id: string };
}

/** Keys the outbox sets in `data` itself; a caller's data may not contain them. */
const RESERVED_DATA_KEYS = ["station_id", "seq", "clock_synced"] as const;

/** Kinds become an MQTT topic level and part of the CloudEvents type: keep them plain slugs. */
const KIND_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const DAY_MS = 86_400_000;

/**
 * The durable event store: SQLite is the source of truth and MQTT only transport
 * (architecture.md, "Decisions"). Every event is committed, with its `seq`, in one transaction
 * before anyone acts on it; the publisher marks it published on PUBACK; published events are kept
 * for a retention period and then pruned.
 *
 * The database runs in WAL mode with `synchronous=FULL` (a committed event survives power loss on
 * storage that honours flushes), a busy timeout of {@link OUTBOX_BUSY_TIMEOUT_MS} and normal
 * (non-exclusive) locking, so `smartbin outbox status` can read it while `smartbin run` writes.
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
    markPublished: Statement<[string, number]>;
    prune: Statement<[string]>;
    putSession: Statement<[string, string, string, string]>;
    deleteSession: Statement<[string]>;
    openSessions: Statement<[], { id: string; state: string }>;
  };
  private readonly statusQuery: (now: Date) => OutboxStatus;
  private readonly commitTx: Transaction<(batch: CommitBatch) => StoredEvent[]>;
  private readonly markTx: Transaction<(seqs: number[], at: string) => number>;
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
    private readonly clockSynced: () => boolean,
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
      markPublished: db.prepare<[string, number]>(
        "UPDATE events SET published_at = ? WHERE seq = ? AND published_at IS NULL",
      ),
      prune: db.prepare<[string]>("DELETE FROM events WHERE published_at IS NOT NULL AND published_at < ?"),
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
      const time = batch.events.length > 0 || batch.session ? this.now().toISOString() : "";
      const stored = batch.events.map((e) => this.insertEvent(e.kind, e.subject, e.data, time));
      // Before the COMMIT: the side file's mark never lags behind a committed seq.
      if (stored.length > 0) this.side.reserve(stored[stored.length - 1]!.seq, this.stationId);
      const session = batch.session;
      if (session?.op === "put") this.stmts.putSession.run(session.id, JSON.stringify(session.state), time, time);
      else if (session?.op === "delete") this.stmts.deleteSession.run(session.id);
      return stored;
    });
    this.markTx = db.transaction((seqs: number[], at: string) => {
      let changed = 0;
      for (const seq of seqs) changed += this.stmts.markPublished.run(at, seq).changes;
      return changed;
    });
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
    const clockSynced = opts.clockSynced ?? createClockSyncCheck();
    const opened = openOutboxDatabase({
      path,
      stationId,
      logger,
      now,
      clockSynced,
      ...(opts.integrityLimitMs !== undefined ? { integrityLimitMs: opts.integrityLimitMs } : {}),
    });
    let outbox: Outbox;
    try {
      outbox = new Outbox(opened, stationId, logger, now, clockSynced);
    } catch (err) {
      opened.db.close();
      opened.lock.release();
      throw new SmartbinError("OUTBOX_OPEN_FAILED", `cannot open outbox database ${path}`, { path }, { cause: err });
    }
    const status = outbox.status();
    logger.info({ path: opened.path, last_seq: status.last_seq, pending: status.pending }, "outbox opened");
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
    if (!existsSync(path)) return { ...EMPTY_STATUS };
    let db: Db | undefined;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true, timeout: OUTBOX_BUSY_TIMEOUT_MS });
      // A newer database is read when it says this version can (its columns are a superset).
      if (checkReadable(db, path) === 0) return { ...EMPTY_STATUS };
      const query = prepareStatusQuery(db);
      // One read transaction: all counts come from the same snapshot.
      return db.transaction(() => query(now))();
    } catch (err) {
      // Removed between the existence check and the open: it does not exist, as far as we know.
      if (!existsSync(path)) return { ...EMPTY_STATUS };
      if (err instanceof SmartbinError) throw err;
      throw new SmartbinError(
        "OUTBOX_OPEN_FAILED",
        `cannot read outbox database ${path}`,
        { path },
        { cause: err },
      );
    } finally {
      db?.close();
    }
  }

  /**
   * Records one durable event: in ONE immediate transaction, allocates the next `seq` and inserts
   * the CloudEvents 1.0 envelope of contract.md section 4:
   * `{specversion: "1.0", id: <UUIDv7>, source: "smartbin/<station>", type: "smartbin.<kind>.v1",
   * time: <now, RFC 3339 UTC with ms>, subject, datacontenttype: "application/json",
   * data: {station_id, seq, ...data, clock_synced}}` (in this key order). When it returns, the
   * event is on disk; only then may the caller acknowledge anything about it.
   *
   * @param kind the event kind (`deposit`, `alarm`, ...), a slug: it becomes a topic level.
   * @param subject the CloudEvents `subject` (the bin id for deposits, the device id for alarms).
   * @param data the event's own fields, JSON-serialisable, without `station_id`, `seq` and
   *   `clock_synced` (the outbox sets those).
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
      for (const e of batch.events) checkEvent(e.kind, e.data);
      const stored = this.commitTx.immediate(batch);
      for (const event of stored) this.logger.debug({ seq: event.seq, id: event.id, kind: event.kind }, "event recorded");
      return stored;
    } catch (err) {
      const first = batch.events[0];
      throw new SmartbinError(
        "OUTBOX_COMMIT_FAILED",
        first ? `cannot commit ${first.kind} event to the outbox` : "cannot commit the open session to the outbox",
        { path: this.path, ...(first ? { kind: first.kind, subject: first.subject } : {}), events: batch.events.length },
        { cause: err },
      );
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

  /** The outbox's counts, ages against the injected clock (see {@link OutboxStatus}). */
  status(): OutboxStatus {
    return this.statusQuery(this.now());
  }

  /**
   * Deletes published events whose `published_at` is more than `retentionDays` (fractional days
   * allowed) before now; pending events are never deleted, and `seq` keeps counting.
   *
   * @returns the number of events deleted.
   * @throws SmartbinError `OUTBOX_COMMIT_FAILED` when the delete fails.
   */
  prune(retentionDays: number): number {
    const cutoff = new Date(this.now().getTime() - retentionDays * DAY_MS).toISOString();
    try {
      const deleted = this.stmts.prune.run(cutoff).changes;
      if (deleted > 0) this.logger.info({ deleted, cutoff }, "pruned published events");
      return deleted;
    } catch (err) {
      throw new SmartbinError(
        "OUTBOX_COMMIT_FAILED",
        "cannot prune published events",
        { path: this.path },
        { cause: err },
      );
    }
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

  /** Runs inside the commit transaction; `time` is the batch's recording time. */
  private insertEvent(kind: string, subject: string, data: Record<string, unknown>, time: string): StoredEvent {
    const counter = this.stmts.nextSeq.get();
    if (counter === undefined) throw new Error("outbox counter row is missing");
    const seq = counter.value;
    const id = uuidv7();
    const payload = envelopeJson({ id, stationId: this.stationId, seq, kind, subject, time, data, clockSynced: this.clockSynced() });
    this.stmts.insert.run(seq, id, kind, subject, time, payload);
    return { seq, id, kind, payload };
  }
}

/** Refuses an invalid kind and data that sets a key the outbox owns. */
function checkEvent(kind: string, data: Record<string, unknown>): void {
  if (!KIND_PATTERN.test(kind)) throw new Error(`invalid event kind ${JSON.stringify(kind)}`);
  for (const key of RESERVED_DATA_KEYS) {
    if (Object.hasOwn(data, key)) throw new Error(`event data may not set "${key}", the outbox sets it`);
  }
}

/** Prepares the status queries once and returns the function that runs them. */
function prepareStatusQuery(db: Db): (now: Date) => OutboxStatus {
  const pending = db.prepare<[], { n: number; oldest: string | null }>(
    "SELECT COUNT(*) AS n, MIN(time) AS oldest FROM events WHERE published_at IS NULL",
  );
  const total = db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM events");
  const lastSeq = db.prepare<[], { value: number }>("SELECT value FROM counter WHERE name = 'seq'");
  return (now) => {
    const p = pending.get() ?? { n: 0, oldest: null };
    const all = total.get()?.n ?? 0;
    return {
      pending: p.n,
      published: all - p.n,
      oldest_pending_age_s: p.oldest === null ? null : ageSeconds(p.oldest, now),
      last_seq: lastSeq.get()?.value ?? 0,
    };
  };
}

/** Seconds from an RFC 3339 time to `now`, millisecond precision, never negative (clock steps). */
function ageSeconds(time: string, now: Date): number {
  const ms = now.getTime() - Date.parse(time);
  return Math.max(0, ms) / 1000;
}
