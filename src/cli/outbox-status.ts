import { existsSync } from "node:fs";
import { SmartbinError } from "../errors.js";
import { Outbox } from "../adapters/outbox/outbox.js";
import { loadConfigOrReport } from "./load.js";
import { EXIT } from "./exit-codes.js";

/** `smartbin outbox status [-c FILE] [--json]`: reads the database named by the config, never creates it. */
export function runOutboxStatusCommand(
  configFile: string,
  json: boolean,
  out: (line: string) => void,
  err: (line: string) => void,
): number {
  const config = loadConfigOrReport(configFile, err, { storage: "read" });
  if (config === null) return EXIT.CONFIG;
  try {
    return runOutboxStatus(config.storage.path, json, out, err);
  } catch (e) {
    err(`smartbin outbox status: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT.FAILURE;
  }
}

/**
 * `smartbin outbox status [--json]` (contract.md section 1): reads the outbox at `dbPath` without
 * creating or writing it, while `smartbin run` may be writing it.
 *
 * With `json`, writes exactly one line to `out`: one JSON object
 * `{pending, published, oldest_pending_age_s, last_seq, path, exists}` (`exists` false when there is no
 * database at `dbPath`, e.g. a mistyped storage.path) (ages in seconds, `null` when
 * nothing is pending). Otherwise a few human-readable lines.
 *
 * @param out receives stdout lines, one per call, without their newline (like the other commands).
 * @param err receives the error line when the database cannot be read; default stderr.
 * @returns the exit code: 0 on success, 1 when the database exists but cannot be read.
 */
export function runOutboxStatus(
  dbPath: string,
  json: boolean,
  out: (s: string) => void,
  err: (line: string) => void = (line) => void process.stderr.write(line + "\n"),
): number {
  let status;
  try {
    status = Outbox.readStatus(dbPath);
  } catch (e) {
    const reason = e instanceof SmartbinError && e.cause instanceof Error ? `: ${e.cause.message}` : "";
    err(`smartbin outbox status: ${e instanceof Error ? e.message : String(e)}${reason}`);
    return EXIT.FAILURE;
  }
  // A wrong storage.path must not look like a healthy, empty outbox.
  const exists = existsSync(dbPath);
  if (json) {
    out(JSON.stringify({ ...status, path: dbPath, exists }));
    return EXIT.OK;
  }
  const age = status.oldest_pending_age_s;
  const oldest = age === null ? "" : ` (oldest ${formatAge(age)} old)`;
  out(`outbox ${dbPath}${exists ? "" : " (no database there yet: nothing recorded)"}`);
  out(`  pending:   ${status.pending}${oldest}`);
  out(`  published: ${status.published}`);
  out(`  last seq:  ${status.last_seq}`);
  return EXIT.OK;
}

/** `42 s`, `12 min 5 s`, `3 h 20 min`, `2 d 4 h`. */
function formatAge(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}
