import { existsSync, renameSync } from "node:fs";
import { basename, dirname } from "node:path";

import Database from "better-sqlite3";
import type { Database as Db } from "better-sqlite3";
import type { Logger } from "pino";
import { v7 as uuidv7 } from "uuid";

import type { RecordStamp } from "../boot-clock.js";
import { envelopeJson } from "./envelope.js";
import { COMPANION_SUFFIXES, createPrivateFile, fsyncDir } from "./files.js";
import { EventCopier, readDamaged, removeDerived, scratchName, type DamageFacts } from "./salvage-read.js";
import { migrate } from "./schema.js";

export type { DamageFacts };

/** What {@link salvageDatabase} needs. */
export interface SalvageRequest {
  /** The damaged database (`storage.path`). */
  path: string;
  stationId: string;
  damage: DamageFacts;
  /** The side file's seq high-water mark: the new database's seqs start above it. */
  reservedSeq: number;
  now: () => Date;
  /** The `storage_recovered` alarm's `boot_id`, `mono_ms` and `clock_synced`. */
  stamp: () => RecordStamp;
  logger: Logger;
}

/** What a salvage did; the `storage_recovered` alarm says the same. */
export interface SalvageReport {
  /** Events carried into the new database with their id, seq, payload bytes and published state. */
  salvaged: number;
  /** Rows found but not carried: unreadable, inconsistent, or another station's. */
  unreadable: number;
  /** Open sessions carried over. */
  sessions: number;
  /** Where the damaged database (and its `-wal`/`-shm`) now is: `<path>.corrupt-<time>`. */
  movedTo: string;
  /** The `storage_recovered` alarm's seq: above every seq the old database can have given. */
  alarmSeq: number;
  reason: string;
}

/** The partial new database while a salvage writes it; removed at the next start if it is left. */
const partialName = (path: string) => `${path}.salvage-partial`;
/** The complete new database, waiting for the files to be moved: a start finishes the moves. */
const readyName = (path: string) => `${path}.salvage-ready`;

/**
 * Quarantines a damaged outbox database and salvages it (issue 7, item 2). Nothing of the damaged
 * database is deleted, and a crash at any instant leaves a state that the next start completes:
 *
 * 1. A new database is written to `<path>.salvage-partial` (rollback journal, synchronous=FULL): the
 *    current schema, every event that can still be read (seq, id, kind, subject, time, the payload's
 *    exact bytes, published_at), the open sessions, the counter, and a `storage_recovered` alarm
 *    (kind `alarm`, subject the station id, data `{code, salvaged, moved_to, reason, message}`) whose
 *    seq is above the old counter, the highest seq read and the side file's mark `reservedSeq`.
 *    A crash here leaves the damaged files in place; the partial file is removed and all is redone.
 * 2. It is closed and renamed `<path>.salvage-ready` (the commit point; it records `moved_to`).
 * 3. {@link finishSalvage} moves `-wal`, `-shm`, `-journal`, then the database to `<path>.corrupt-<time>`
 *    (same suffixes, so `sqlite3` opens the quarantined copy with its WAL), then renames the ready
 *    database to `path`. A start that finds a ready database does these moves first.
 *
 * Events are read in `seq` order from up to two sources, the first source's row winning a seq: the
 * file in place read-only (with its WAL), and a scratch copy with a repaired header (when the header
 * is damaged, with the WAL copied if it is usable) or without the WAL (when the WAL is suspect). A
 * damaged stretch of the b-tree is stepped over (see skipDamage). A row is carried only when its
 * payload is valid UTF-8 JSON whose `id`, `data.seq`, `source` and `type` match the row's own and
 * this station's. The scratch copy needs free space as large as the database.
 *
 * A salvage is never finished with less than it could read: when the new database cannot be
 * written, or a source cannot be read for a reason that passes (no space, a lock, memory: see
 * `passingError` in salvage-read.ts), it stops with the damaged files untouched, and the next start
 * salvages again (found by the chaos suite: on a nearly full disk a salvage used to set the damaged
 * database aside holding the open session and events it had failed to copy).
 *
 * Takes time proportional to the database (not bounded like the integrity check: losing the events
 * is worse than a slow start; SIGTERM is answered after it).
 *
 * @throws SalvageInterrupted (salvage-read.ts) when the new database cannot be written or a source
 *   cannot be read for a reason that passes, and the file system's or SQLite's error when the new
 *   database cannot be created; the damaged files are then still in place, untouched.
 */
export function salvageDatabase(req: SalvageRequest): SalvageReport {
  const { path, logger } = req;
  const movedTo = quarantineName(path, req.now());
  const partial = partialName(path);
  removeDerived(partial);
  removeDerived(scratchName(path));
  createPrivateFile(partial);
  const out = new Database(partial);
  let report: SalvageReport;
  try {
    out.pragma("journal_mode = DELETE");
    out.pragma("synchronous = FULL");
    migrate(out, partial);
    const copier = new EventCopier(out, req.stationId);
    readDamaged(path, req.damage, copier, logger);
    report = out.transaction(() => finish(out, copier, req, movedTo))();
  } finally {
    out.close();
  }
  renameSync(partial, readyName(path));
  fsyncDir(dirname(path));
  finishSalvage(path, logger);
  return report;
}

/**
 * Completes an interrupted salvage: when `<path>.salvage-ready` exists, moves the damaged files to
 * the `moved_to` it records and puts the ready database in their place; removes a partial new
 * database or scratch copy left by a crash (they hold only copies). Call before SQLite opens `path`.
 *
 * @returns where the damaged files went, or `null` when no salvage was waiting.
 * @throws the file system's error of a rename.
 */
export function finishSalvage(path: string, logger: Logger): string | null {
  removeDerived(partialName(path));
  removeDerived(scratchName(path));
  const ready = readyName(path);
  if (!existsSync(ready)) return null;
  let movedTo: string | null = null;
  try {
    const db = new Database(ready, { readonly: true, fileMustExist: true });
    try {
      movedTo = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'salvage_moved_to'").get()?.value ?? null;
    } finally {
      db.close();
    }
  } catch (err) {
    logger.warn({ err, file: ready }, "cannot read where the salvaged database's files go; choosing a new name");
  }
  const target = movedTo ?? quarantineName(path, new Date());
  for (const suffix of [...COMPANION_SUFFIXES, ""]) {
    const from = path + suffix;
    if (!existsSync(from)) continue;
    // Never over another file: a name taken (it cannot be, short of a hand-made file) gets a new one.
    const to = existsSync(target + suffix) ? `${quarantineName(path, new Date())}${suffix}` : target + suffix;
    renameSync(from, to);
  }
  renameSync(ready, path);
  fsyncDir(dirname(path));
  return target;
}

/** `<path>.corrupt-<YYYYMMDDTHHMMSSZ>`, with `-2`, `-3`, ... when that name (or its WAL) is taken. */
export function quarantineName(path: string, at: Date): string {
  const stamp = at.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "");
  const base = `${path}.corrupt-${stamp}`;
  const taken = (name: string) => ["", ...COMPANION_SUFFIXES].some((s) => existsSync(name + s));
  if (!taken(base)) return base;
  for (let n = 2; ; n++) if (!taken(`${base}-${n}`)) return `${base}-${n}`;
}

/** The last step, in one transaction: the counter, the meta rows and the alarm. */
function finish(out: Db, copier: EventCopier, req: SalvageRequest, movedTo: string): SalvageReport {
  const alarmSeq = Math.max(copier.counter, copier.highestSeq, req.reservedSeq) + 1;
  const time = req.now().toISOString();
  const message =
    `outbox database damaged (${req.damage.reason}): moved to ${basename(movedTo)}; ` +
    `${copier.salvaged} events salvaged; seq continues at ${alarmSeq}`;
  const data = { code: "storage_recovered", salvaged: copier.salvaged, moved_to: movedTo, reason: req.damage.reason, message };
  const id = uuidv7();
  const payload = envelopeJson({
    id,
    stationId: req.stationId,
    seq: alarmSeq,
    kind: "alarm",
    subject: req.stationId,
    time,
    data,
    stamp: req.stamp(),
  });
  out
    .prepare("INSERT INTO events (seq, id, kind, subject, time, payload) VALUES (?, ?, 'alarm', ?, ?, ?)")
    .run(alarmSeq, id, req.stationId, time, payload);
  out.prepare("UPDATE counter SET value = ? WHERE name = 'seq'").run(alarmSeq);
  const meta = out.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
  meta.run("station_id", req.stationId);
  meta.run("salvage_moved_to", movedTo);
  return {
    salvaged: copier.salvaged,
    unreadable: copier.unreadable,
    sessions: copier.sessions,
    movedTo,
    alarmSeq,
    reason: req.damage.reason,
  };
}
