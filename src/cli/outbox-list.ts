import type { Writable } from "node:stream";

import { OutboxReader } from "../adapters/outbox/reader.js";
import type { HeldEvent } from "../adapters/outbox/reader.js";
import { maskCardId } from "../domain/privacy.js";
import { errorText } from "./error-text.js";
import { EXIT } from "./exit-codes.js";
import { loadConfigOrReport } from "./load.js";
import { PipeWriter } from "./pipe-writer.js";

/** Options of `smartbin outbox list`. */
export interface OutboxListOptions {
  /** `--pending`: only events the broker has not acknowledged. */
  pendingOnly: boolean;
  /** `--since SEQ`: only events with `seq >= sinceSeq`. */
  sinceSeq?: number;
  /** `--json`: the stored CloudEvents text, byte for byte, instead of a readable line. */
  json: boolean;
}

/** `smartbin outbox list [-c FILE] [--pending] [--since SEQ] [--json]`: the config's database, never created. */
export async function runOutboxListCommand(
  configFile: string,
  opts: OutboxListOptions,
  stdout: Writable,
  err: (line: string) => void,
): Promise<number> {
  const config = loadConfigOrReport(configFile, err, { storage: "read" });
  if (config === null) return EXIT.CONFIG;
  return runOutboxList(config.storage.path, opts, stdout, err);
}

/**
 * `smartbin outbox list` (contract.md section 1): the events held in the outbox at `dbPath` when the
 * command starts, oldest first, one line each on `stdout`; with `json`, each event's stored
 * CloudEvents JSON text (the exact bytes that are published), else {@link formatHeldEvent}'s line.
 * Safe while `smartbin run` writes the database (see {@link OutboxReader}); a database that does not
 * exist prints nothing and is not created. Reads and writes one page at a time, with backpressure; a
 * reader that goes away (`| head -1`) ends the listing quietly.
 *
 * @returns the exit code: 0 (also when the pipe's reader went away), 1 when the database exists
 *   but cannot be read or stdout fails; the reason is one line on `err`.
 */
export async function runOutboxList(
  dbPath: string,
  opts: OutboxListOptions,
  stdout: Writable,
  err: (line: string) => void,
): Promise<number> {
  let reader: OutboxReader | null;
  try {
    reader = OutboxReader.open(dbPath);
  } catch (e) {
    err(`smartbin outbox list: ${errorText(e)}`);
    return EXIT.FAILURE;
  }
  if (reader === null) return EXIT.OK;
  const writer = new PipeWriter(stdout);
  try {
    const seqWidth = String(reader.lastHeldSeq).length;
    const filter = { pendingOnly: opts.pendingOnly, ...(opts.sinceSeq !== undefined ? { sinceSeq: opts.sinceSeq } : {}) };
    for (const page of reader.pages(filter)) {
      const lines = page.map((event) => (opts.json ? event.payload : formatHeldEvent(event, seqWidth)));
      if (!(await writer.write(lines.join("\n") + "\n"))) break;
    }
    return EXIT.OK;
  } catch (e) {
    err(`smartbin outbox list: ${errorText(e)}`);
    return EXIT.FAILURE;
  } finally {
    writer.release();
    reader.close();
  }
}

/** The `data` fields a readable line shows per kind; card ids are masked. */
const DETAILS: Readonly<Record<string, readonly string[]>> = {
  deposit: ["bin_id", "net_g", "points", "card_id"],
  collection: ["bin_id", "removed_g", "card_id"],
  alarm: ["code", "device_id", "bin_id"],
  command: ["name", "ok", "error_code"],
};

/** Short names in the readable line. */
const LABELS: Readonly<Record<string, string>> = { bin_id: "bin", card_id: "card", device_id: "device" };

/**
 * One readable line of `smartbin outbox list`:
 * `SEQ  TIME  KIND  SUBJECT  published|pending  DETAILS`, e.g.
 * `17  2026-11-29T14:36:38.123Z  deposit     kitchen       published  bin=kitchen net_g=1250 points=2 card=******4356`.
 * DETAILS are a few `data` fields of the kind (deposit: bin, net_g, points, card; collection: bin,
 * removed_g, card; alarm: code, device, bin; command: name, ok, error_code); card ids are masked as
 * the logs mask them ({@link maskCardId}). Control characters (a reader's stray escape sequence or
 * line break) are shown as `\uXXXX`, so a line stays one line and cannot drive the terminal.
 * `seqWidth` right-aligns the seq column.
 */
export function formatHeldEvent(event: HeldEvent, seqWidth = 0): string {
  const state = event.published_at === null ? "pending  " : "published";
  const head = `${String(event.seq).padStart(seqWidth)}  ${event.time}  ${printable(event.kind).padEnd(10)}  ${printable(event.subject).padEnd(12)}  ${state}`;
  const details = formatDetails(event);
  return details === "" ? head.trimEnd() : `${head}  ${details}`;
}

function formatDetails(event: HeldEvent): string {
  const fields = DETAILS[event.kind];
  if (fields === undefined) return "";
  let data: Record<string, unknown>;
  try {
    data = (JSON.parse(event.payload) as { data?: Record<string, unknown> }).data ?? {};
  } catch {
    return "(payload is not JSON)";
  }
  const parts: string[] = [];
  for (const key of fields) {
    const value = data[key];
    if (value === undefined || value === null) continue;
    const text = typeof value === "string" ? value : JSON.stringify(value);
    parts.push(`${LABELS[key] ?? key}=${printable(key === "card_id" ? maskCardId(text) : text)}`);
  }
  return parts.join(" ");
}

/** `text` with C0 and C1 control characters (and DEL) written as `\uXXXX`. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
