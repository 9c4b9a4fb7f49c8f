import { accessSync, constants, copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";

import Database from "better-sqlite3";
import type { Database as Db } from "better-sqlite3";

import { OUTBOX_BUSY_TIMEOUT_MS } from "./open.js";

/** A read-only connection to the outbox for the technician's commands, and how to let it go. */
export interface ReadOnlyOutbox {
  readonly db: Db;
  /** The private copy that is read when the database's folder is read-only, `null` when the database itself is. */
  readonly copiedTo: string | null;
  /** Closes the connection and removes the copy; idempotent. */
  close(): void;
}

/**
 * Opens the outbox database at `path` read-only (never creating or writing it), beside a running
 * station or not.
 *
 * A WAL database needs its `-shm` file to be read. On a read-only file system (a station's card
 * mounted read-only on a laptop) SQLite cannot create it, and since better-sqlite3 does not enable
 * URI file names, `immutable=1` is not available either (SQLite, "Write-Ahead Logging", section
 * "Read-Only Databases": a read-only WAL database opens only when `-shm` and `-wal` exist or can be
 * created, or when it is immutable). Then, and only when the folder cannot be written, the database
 * and its `-wal` (its committed transactions not yet checkpointed) are copied into a private
 * temporary folder (0700) and read there; nobody can write the originals meanwhile, so the copy is
 * exact. {@link ReadOnlyOutbox.close} removes it.
 *
 * @throws the SQLite error of the open or of the first read when the database cannot be read and
 *   copying would not help (its folder is writable, or the copy fails too).
 */
export function openOutboxReadOnly(path: string): ReadOnlyOutbox {
  try {
    return { ...opened(path), copiedTo: null };
  } catch (err) {
    if ((err as { code?: unknown }).code !== "SQLITE_CANTOPEN" || folderWritable(dirname(path))) throw err;
    const folder = mkdtempSync(join(tmpdir(), "smartbin-outbox-read-"));
    try {
      const copy = join(folder, basename(path));
      copyFileSync(path, copy);
      if (existsSync(`${path}-wal`)) copyFileSync(`${path}-wal`, `${copy}-wal`);
      const reading = opened(copy);
      return {
        db: reading.db,
        copiedTo: copy,
        close: () => {
          reading.close();
          rmSync(folder, { recursive: true, force: true });
        },
      };
    } catch (copyErr) {
      rmSync(folder, { recursive: true, force: true });
      throw copyErr;
    }
  }
}

/** A read-only connection that has read the schema once (SQLite opens files lazily: this is where a missing `-shm` fails). */
function opened(path: string): { db: Db; close(): void } {
  const db = new Database(path, { readonly: true, fileMustExist: true, timeout: OUTBOX_BUSY_TIMEOUT_MS });
  try {
    db.prepare("SELECT count(*) FROM sqlite_master").get();
  } catch (err) {
    db.close();
    throw err;
  }
  return {
    db,
    close: () => {
      if (db.open) db.close();
    },
  };
}

function folderWritable(folder: string): boolean {
  try {
    accessSync(folder, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
