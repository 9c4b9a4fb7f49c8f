import type { Database } from "better-sqlite3";

import { SmartbinError } from "../../errors.js";

/**
 * The outbox schema, one migration per `user_version` step (migration `i` takes the database from
 * version `i` to `i + 1`). Append new steps, never edit a shipped one.
 *
 * - `meta`: key/value facts about the database (`station_id`, the station it belongs to).
 * - `counter`: the station's last assigned `seq` (row `name = 'seq'`). It is kept apart from the
 *   event rows so that pruning never lowers it: `seq` is never reused (contract.md section 4).
 * - `events`: one row per durable event; `payload` is the exact CloudEvents JSON text that is sent,
 *   `published_at` is set when the broker has acknowledged it (PUBACK), NULL before.
 * - `open_sessions` (v2): the station's open session, one row per session id, its state as JSON
 *   text (the domain's `PersistedSession`; opaque here). Written when a session opens or changes
 *   and deleted in the same transaction that records its deposits (contract.md section 2,
 *   "Restart mid-session").
 */
const MIGRATIONS: readonly string[] = [
  `
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
  `
  CREATE TABLE open_sessions (
    id         TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) STRICT;
  `,
];

/** The `user_version` this code writes and understands. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Reads `PRAGMA user_version` (0 for a new or not yet migrated database). */
export function userVersion(db: Database): number {
  return db.pragma("user_version", { simple: true }) as number;
}

/** `OUTBOX_OPEN_FAILED` for a database written by a newer version of smartbin-edge. */
export function newerSchemaError(path: string, found: number): SmartbinError {
  return new SmartbinError(
    "OUTBOX_OPEN_FAILED",
    `outbox database ${path} has schema version ${found}, newer than this program's ${SCHEMA_VERSION}`,
    { path, found, supported: SCHEMA_VERSION },
  );
}

/**
 * Brings the database to {@link SCHEMA_VERSION} in one IMMEDIATE transaction (a concurrent opener
 * waits on the lock and then finds the work done).
 *
 * @throws SmartbinError `OUTBOX_OPEN_FAILED` when the database was written by a newer version.
 */
export function migrate(db: Database, path: string): void {
  const run = db.transaction(() => {
    const from = userVersion(db);
    if (from > SCHEMA_VERSION) throw newerSchemaError(path, from);
    for (let v = from; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
    if (from !== SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  });
  run.immediate();
}
