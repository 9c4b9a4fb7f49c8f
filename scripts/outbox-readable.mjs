#!/usr/bin/env node
// Used by scripts/install.sh before a rollback: can the release in RELEASE_DIR read the outbox
// database the station uses? Prints one line saying why not, and exits 3, when it cannot.
//
//   node outbox-readable.mjs ROOT CONFIG_FILE RELEASE_DIR
//   node outbox-readable.mjs --pending ROOT CONFIG_FILE
//
// With --pending (before `--uninstall --purge` deletes the database): prints how many events the
// database holds that the broker has not acknowledged, and exits 4 when there are any, 0 when none
// (or no database).
//
// ROOT is the install root ("/" or install.sh's --root); CONFIG_FILE is the config's path inside it.
// The database is `storage.path` of that config (default /var/lib/smartbin/smartbin.db; relative
// paths are relative to the config's folder, contract.md section 2), looked up inside ROOT. It is
// opened read-only. Its `user_version` is the schema that wrote it and its `readable_by_schema` mark
// the oldest schema that can still use it (src/adapters/outbox/schema.ts); the release understands
// the schema its dist/adapters/outbox/schema.js exports as SCHEMA_VERSION. Exit 0: readable (or no
// database yet); 3: not readable; 1: this check itself failed.
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

import Database from "better-sqlite3";
import { parse } from "yaml";

const pendingMode = process.argv[2] === "--pending";
const [root, configFile, releaseDir] = process.argv.slice(pendingMode ? 3 : 2);
if (root === undefined || configFile === undefined || (releaseDir === undefined && !pendingMode)) {
  process.stderr.write("usage: outbox-readable.mjs ROOT CONFIG_FILE RELEASE_DIR | --pending ROOT CONFIG_FILE\n");
  process.exit(1);
}
const inRoot = (p) => join(root, p);

let dbPath = "/var/lib/smartbin/smartbin.db";
if (existsSync(inRoot(configFile))) {
  const doc = parse(readFileSync(inRoot(configFile), "utf8")) ?? {};
  const configured = doc?.storage?.path;
  if (typeof configured === "string" && configured !== "") {
    dbPath = isAbsolute(configured) ? configured : resolve(dirname(configFile), configured);
  }
}
if (!existsSync(inRoot(dbPath))) {
  process.stdout.write(`no outbox database at ${dbPath}: nothing to check\n`);
  process.exit(0);
}

if (pendingMode) {
  const db = new Database(inRoot(dbPath), { readonly: true, fileMustExist: true });
  let pending;
  try {
    pending = Number(db.prepare("SELECT count(*) AS n FROM events WHERE published_at IS NULL").get().n);
  } finally {
    db.close();
  }
  process.stdout.write(`the outbox database ${dbPath} holds ${pending} event(s) the broker has not acknowledged\n`);
  process.exit(pending > 0 ? 4 : 0);
}

const schema = await import(pathToFileURL(join(releaseDir, "dist/adapters/outbox/schema.js")).href);
const understands = Number(schema.SCHEMA_VERSION);

const db = new Database(inRoot(dbPath), { readonly: true, fileMustExist: true });
let found;
let readableBy = null;
try {
  found = Number(db.pragma("user_version", { simple: true }));
  try {
    const row = db.prepare("SELECT value FROM meta WHERE key = ?").get("readable_by_schema");
    if (row !== undefined) readableBy = Number(row.value);
  } catch {
    // no meta table: a database older than the mark, readable only by its own schema or newer
  }
} finally {
  db.close();
}

if (found <= understands || (readableBy !== null && readableBy <= understands)) {
  process.stdout.write(`outbox database ${dbPath} (schema ${found}) is readable by the release (schema ${understands})\n`);
  process.exit(0);
}
const needs = readableBy === null ? `schema ${found}` : `schema ${readableBy} or newer`;
process.stdout.write(
  `the outbox database ${dbPath} was written with schema ${found} and can be read only by ${needs}; ` +
    `the release in ${releaseDir} understands schema ${understands}, so rolling back would strand its events\n`,
);
process.exit(3);
