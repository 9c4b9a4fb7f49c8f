/**
 * Real-file helpers of the outbox tests: the shipped schemas as fixtures, crash images, and ways to
 * damage a database file the way SD cards, power cuts and technicians do.
 */
import { closeSync, copyFileSync, existsSync, openSync, readdirSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { Writable } from "node:stream";

import Database from "better-sqlite3";
import { pino } from "pino";
import { expect } from "vitest";

import { SmartbinError } from "../../src/errors.js";

/** The schema as the core shipped it (user_version 1), verbatim. */
export const SCHEMA_V1 = `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
  CREATE TABLE counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
  INSERT INTO counter (name, value) VALUES ('seq', 0);
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, subject TEXT NOT NULL,
    time TEXT NOT NULL, payload TEXT NOT NULL, published_at TEXT NULL
  ) STRICT;
  CREATE INDEX events_unpublished ON events (seq) WHERE published_at IS NULL;
`;

/** What version 2 (open sessions) added, verbatim. */
export const SCHEMA_V2_STEP = `
  CREATE TABLE open_sessions (
    id TEXT PRIMARY KEY, state TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
  ) STRICT;
`;

/** A CloudEvents payload as the outbox writes it, for fixtures written without the outbox. */
export function payloadOf(stationId: string, seq: number, id: string, kind = "deposit"): string {
  return JSON.stringify({
    specversion: "1.0",
    id,
    source: `smartbin/${stationId}`,
    type: `smartbin.${kind}.v1`,
    time: "2026-11-29T14:36:38.123Z",
    subject: "kitchen",
    datacontenttype: "application/json",
    data: { station_id: stationId, seq, net_g: 1000 + seq, clock_synced: true },
  });
}

/**
 * Writes an outbox database of schema `version` (1 or 2) as that version left it: `events` events
 * of station `stationId` (the first `published` of them published), the counter at the last seq,
 * and for version 2 one open session.
 */
export function writeOldOutbox(path: string, version: 1 | 2, events: number, published = 0, stationId = "st-001"): void {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.exec(SCHEMA_V1);
  if (version === 2) db.exec(SCHEMA_V2_STEP);
  db.prepare("INSERT INTO meta (key, value) VALUES ('station_id', ?)").run(stationId);
  const insert = db.prepare(
    "INSERT INTO events (seq, id, kind, subject, time, payload, published_at) VALUES (?, ?, 'deposit', 'kitchen', ?, ?, ?)",
  );
  for (let seq = 1; seq <= events; seq++) {
    const id = `00000000-0000-7000-8000-${String(seq).padStart(12, "0")}`;
    insert.run(seq, id, "2026-11-29T14:36:38.123Z", payloadOf(stationId, seq, id), seq <= published ? "2026-11-29T15:00:00.000Z" : null);
  }
  db.prepare("UPDATE counter SET value = ? WHERE name = 'seq'").run(events);
  if (version === 2) {
    db.prepare("INSERT INTO open_sessions VALUES ('s1', '{\"session_id\":\"s1\"}', 'x', 'x')").run();
  }
  db.pragma(`user_version = ${version}`);
  db.close();
}

/**
 * A crash image of the database at `path` taken while its outbox is open and idle: copies of the
 * database, `-wal`, `-shm` and the side file, as a power cut would leave them (the station lock is
 * the kernel's and goes with the process). Returns the copy's database path, `<dir>/<name>`.
 */
export function crashImage(path: string, dir: string): string {
  const to = join(dir, basename(path));
  for (const suffix of ["", "-wal", "-shm", ".state"]) {
    if (existsSync(path + suffix)) copyFileSync(path + suffix, to + suffix);
  }
  return to;
}

/** Overwrites `bytes.length` bytes of the file at `offset`. */
export function scribble(path: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** The quarantined files next to `path`: names starting with `<name>.corrupt-`. */
export function quarantined(path: string): string[] {
  const prefix = `${basename(path)}.corrupt-`;
  return readdirSync(dirname(path))
    .filter((n) => n.startsWith(prefix))
    .sort();
}

/** A debug-level logger whose JSON lines the test can read. */
export function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

/** The SmartbinError `fn` throws (the test fails when it throws none, or another error). */
export function refusal(fn: () => unknown): SmartbinError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SmartbinError);
    return err as SmartbinError;
  }
  throw new Error("expected a SmartbinError, nothing was thrown");
}
