import type { Database } from "better-sqlite3";

import { SmartbinError } from "../../errors.js";

/** One step of the schema: its SQL, and the oldest schema version whose code can still use the result. */
interface Migration {
  readonly sql: string;
  /**
   * After this step, code that understands at least this schema version can read AND write the
   * database correctly (it is recorded as {@link READABLE_BY_KEY}). An additive change (a table or a
   * defaulted column that older code may ignore) keeps the previous value; a change older code would
   * misuse raises it to its own version.
   */
  readonly readableBy: number;
}

/**
 * The outbox schema, one migration per `user_version` step (migration `i` takes the database from
 * version `i` to `i + 1`). Append new steps, never edit a shipped one.
 *
 * - `meta`: key/value facts about the database: `station_id` (the station it belongs to),
 *   `database_id` (v3: random, 32 hex digits, made once; the side file records it, so a WAL or pages
 *   of another database are recognised) and {@link READABLE_BY_KEY} (v3).
 * - `counter`: the station's last assigned `seq` (row `name = 'seq'`). It is kept apart from the
 *   event rows so that pruning never lowers it: `seq` is never reused (contract.md section 4).
 * - `events`: one row per durable event; `payload` is the exact CloudEvents JSON text that is sent,
 *   `published_at` is set when the broker has acknowledged it (PUBACK), NULL before.
 * - `open_sessions` (v2): the station's open session, one row per session id, its state as JSON
 *   text (the domain's `PersistedSession`; opaque here). Written when a session opens or changes
 *   and deleted in the same transaction that records its deposits (contract.md section 2,
 *   "Restart mid-session").
 */
const MIGRATIONS: readonly Migration[] = [
  {
    sql: `
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;
  CREATE TABLE counter (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) STRICT;
  INSERT INTO counter (name, value) VALUES ('seq', 0);
  CREATE TABLE events (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    subject      TEXT NOT NULL,
    time         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    published_at TEXT NULL
  ) STRICT;
  CREATE INDEX events_unpublished ON events (seq) WHERE published_at IS NULL;
  `,
    readableBy: 1,
  },
  {
    sql: `
  CREATE TABLE open_sessions (
    id         TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) STRICT;
  `,
    // Not additive in effect: v1 code would leave a stored session behind when it records that
    // session's deposits, and v2 code would then recover it a second time after an upgrade.
    readableBy: 2,
  },
  {
    sql: `
  INSERT OR IGNORE INTO meta (key, value) VALUES ('database_id', lower(hex(randomblob(16))));
  `,
    // Additive: two meta rows that v2 code would ignore.
    readableBy: 2,
  },
];

/** The `user_version` this code writes and understands. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The `meta` key holding the oldest schema version whose code can still use the database (decimal
 * text). Code older than the database's own version opens it when this is at most its
 * {@link SCHEMA_VERSION} (rolling an upgrade back loses no event), and refuses it otherwise.
 */
export const READABLE_BY_KEY = "readable_by_schema";

/** Test hooks of {@link migrate}. */
export interface MigrationHooks {
  /** Called inside the migration transaction after each step, with the version it reached. */
  afterStep?: (version: number) => void;
}

/** Reads `PRAGMA user_version` (0 for a new or not yet migrated database). */
export function userVersion(db: Database): number {
  return db.pragma("user_version", { simple: true }) as number;
}

/** The database's {@link READABLE_BY_KEY} mark, `null` when it has none (or no `meta` table). */
export function readableBy(db: Database): number | null {
  try {
    const row = db
      .prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?")
      .get(READABLE_BY_KEY);
    const n = row === undefined ? NaN : Number(row.value);
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/**
 * `OUTBOX_OPEN_FAILED` for a database written by a newer version of smartbin-edge that does not
 * say this version can use it (context: `found`, `supported`, `readable_by`, `reason: "newer_schema"`).
 */
export function newerSchemaError(path: string, found: number, readable: number | null = null): SmartbinError {
  const needs = readable === null ? "" : ` and readable only by schema ${readable} or newer`;
  return new SmartbinError(
    "OUTBOX_OPEN_FAILED",
    `outbox database ${path} was written by a newer smartbin-edge (schema version ${found}${needs}); ` +
      `this program understands schema ${SCHEMA_VERSION}: install that newer version again (nothing was changed)`,
    { path, found, supported: SCHEMA_VERSION, readable_by: readable, reason: "newer_schema" },
  );
}

/**
 * For readers (`outbox status`, `list`, `export`): the database's schema version, after checking that
 * this code can read it (its own or an older version, or a newer one whose {@link READABLE_BY_KEY}
 * mark admits this version).
 *
 * @returns the `user_version` (0: not yet migrated, nothing to read).
 * @throws SmartbinError `OUTBOX_OPEN_FAILED` ({@link newerSchemaError}) for a newer database that does
 *   not admit this version.
 */
export function checkReadable(db: Database, path: string): number {
  const version = userVersion(db);
  if (version > SCHEMA_VERSION) {
    const mark = readableBy(db);
    if (mark === null || mark > SCHEMA_VERSION) throw newerSchemaError(path, version, mark);
  }
  return version;
}

/**
 * Brings the database to {@link SCHEMA_VERSION} in ONE IMMEDIATE transaction: every step, the
 * {@link READABLE_BY_KEY} mark and `user_version` commit together or not at all, so power lost during
 * a migration leaves the previous version intact (WAL or rollback journal). A concurrent opener waits
 * on the lock and then finds the work done. A newer database whose mark admits this version is left
 * exactly as it is (never migrated down).
 *
 * @throws SmartbinError `OUTBOX_OPEN_FAILED` when the database was written by a newer version that
 *   does not admit this one; any SQLite error of a step (nothing is changed then).
 */
export function migrate(db: Database, path: string, hooks: MigrationHooks = {}): void {
  const run = db.transaction(() => {
    const from = checkReadable(db, path);
    if (from >= SCHEMA_VERSION) return;
    for (let v = from; v < SCHEMA_VERSION; v++) {
      db.exec(MIGRATIONS[v]!.sql);
      hooks.afterStep?.(v + 1);
    }
    db.prepare(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ).run(READABLE_BY_KEY, String(MIGRATIONS[SCHEMA_VERSION - 1]!.readableBy));
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  });
  run.immediate();
}
