import { createRequire } from "node:module";
import { MessageChannel, Worker, receiveMessageOnPort } from "node:worker_threads";

/** How long start-up waits for the integrity check, in milliseconds (SIGTERM is answered after it). */
export const INTEGRITY_CHECK_LIMIT_MS = 3000;

/** The outcome of {@link quickCheckWithin}. */
export type IntegrityResult =
  | { kind: "ok" }
  /** SQLite found damage: its first messages (at most 10), or the error that stopped the check. */
  | { kind: "damaged"; problems: string[] }
  /** Not finished within the limit: no verdict (the check goes on in the background and is dropped). */
  | { kind: "timeout" }
  /** The check could not run (not a damage: permissions, a missing file, no worker threads). */
  | { kind: "failed"; error: string };

/**
 * The worker: opens the database read-only, runs `PRAGMA quick_check(10)` and posts the rows (or the
 * error), then wakes the waiting thread. CommonJS, since an eval worker is a script.
 */
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
let out;
try {
  const Database = require(workerData.sqlite);
  const db = new Database(workerData.path, { readonly: true, fileMustExist: true, timeout: 1000 });
  try {
    out = { rows: db.pragma("quick_check(10)").map((r) => String(Object.values(r)[0])) };
  } finally {
    db.close();
  }
} catch (e) {
  out = { error: String(e && e.message), code: e && e.code };
}
workerData.port.postMessage(out);
const flag = new Int32Array(workerData.flag);
Atomics.store(flag, 0, 1);
Atomics.notify(flag, 0);
`;

/**
 * Runs SQLite's `quick_check` (the b-tree and page checks of `integrity_check` without the index
 * cross-checks; O(size)) on the database at `path`, for at most `limitMs` of wall time. The check
 * runs in a worker thread on its own read-only connection, and this thread waits for it synchronously
 * (Atomics.wait), so start-up stays a plain synchronous call whose duration is bounded whatever the
 * database's size: better-sqlite3 cannot interrupt a statement, and a worker can be abandoned. A check
 * still running at the limit is left to finish (its thread is unreferenced, never waited for); its
 * read-only connection does no harm beside the station's.
 *
 * @param limitMs the wait, in milliseconds; default {@link INTEGRITY_CHECK_LIMIT_MS}.
 */
export function quickCheckWithin(path: string, limitMs = INTEGRITY_CHECK_LIMIT_MS): IntegrityResult {
  const flag = new SharedArrayBuffer(4);
  const { port1, port2 } = new MessageChannel();
  let worker: Worker;
  try {
    const sqlite = createRequire(import.meta.url).resolve("better-sqlite3");
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { flag, port: port2, sqlite, path },
      transferList: [port2],
      // The database's pages are read in C; the worker's own heap stays small.
      resourceLimits: { maxOldGenerationSizeMb: 32 },
    });
  } catch (err) {
    port1.close();
    return { kind: "failed", error: err instanceof Error ? err.message : String(err) };
  }
  worker.unref();
  try {
    Atomics.wait(new Int32Array(flag), 0, 0, limitMs);
    const message = receiveMessageOnPort(port1)?.message as
      | { rows: string[] }
      | { error: string; code?: string }
      | undefined;
    if (message === undefined) {
      void worker.terminate().catch(() => undefined);
      return { kind: "timeout" };
    }
    if ("rows" in message) {
      return message.rows.length === 1 && message.rows[0] === "ok" ? { kind: "ok" } : { kind: "damaged", problems: message.rows };
    }
    if (isCorruptionCode(message.code)) return { kind: "damaged", problems: [message.error] };
    return { kind: "failed", error: message.error };
  } finally {
    port1.close();
  }
}

/** SQLite's result codes (primary or extended) that mean the file is not a sound database. */
export function isCorruptionCode(code: unknown): boolean {
  return typeof code === "string" && /^SQLITE_(CORRUPT|NOTADB)/.test(code);
}
