import { randomUUID } from "node:crypto";
import { readFileSync, renameSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";

import type { Logger } from "pino";

import type { RecordStamp } from "../boot-clock.js";
import { fsyncDir, writeFileAtomic } from "./files.js";

/** A change of the stored open session, as the outbox commits it. */
export type SpillSessionWrite = { op: "put"; id: string; state: unknown } | { op: "delete"; id: string };

/** One transaction's worth, as written to the spill file and committed from it. */
export interface SpillBatch {
  /** When the station recorded it (RFC 3339 UTC): the events' `time` when they are committed. */
  time: string;
  events: Array<{ kind: string; subject: string; data: Record<string, unknown> }>;
  session?: SpillSessionWrite;
  /**
   * `meta` rows written in the same transaction (e.g. the storage alarm level); `null` deletes the
   * row. Deletions are not written to the file (see {@link writeSpill}).
   */
  meta?: Record<string, string | null>;
  /**
   * The events' `boot_id`, `mono_ms` and `clock_synced` when they were recorded. Read back, a batch
   * without a usable one (written by a version before it) gets {@link UNKNOWN_STAMP}.
   */
  stamp?: RecordStamp;
}

/**
 * The stamp of spilled events whose recording moment on the board's time line is unknown: no boot,
 * no monotonic reading, not known to be synchronised. Such events are never corrected.
 */
export const UNKNOWN_STAMP: RecordStamp = { boot_id: null, mono_ms: null, clock_synced: false };

/** The spill file's content: its id (stored in the database once committed) and its batches, in order. */
export interface Spill {
  id: string;
  batches: SpillBatch[];
}

/** The spill file of the database at `dbPath`. */
export function spillPath(dbPath: string): string {
  return `${dbPath}.spill`;
}

/**
 * Writes the spill file `<database>.spill` (issue 7, item 4: nothing accepted is ever only in memory
 * at shutdown): JSON lines, the first a header `{"spill":1,"id",…}`, then one batch per line, in
 * commit order. Written atomically and durably (a 0600 temporary file, fsynced, renamed, the folder
 * fsynced), so a crash leaves the previous spill or this one, never a mix. A spill still in place
 * (not yet committed) must be part of `batches`: the new file replaces it.
 *
 * @returns the spill's id.
 * @throws the file system's error (ENOSPC, EROFS, ...); the previous file is then unchanged.
 */
export function writeSpill(dbPath: string, stationId: string, batches: readonly SpillBatch[]): string {
  const id = randomUUID();
  const header = JSON.stringify({ spill: 1, id, station_id: stationId, written_at: new Date().toISOString(), batches: batches.length });
  // Without `meta` deletions: they only clear rows nothing reads any more (the daily cap's rows of
  // a past day), and a file without them stays one that the previous version can commit (its
  // `meta` rows are never null) after a rollback.
  const lines = [header, ...batches.map((b) => JSON.stringify(b.meta === undefined ? b : { ...b, meta: withoutDeletions(b.meta) }))];
  writeFileAtomic(spillPath(dbPath), lines.join("\n") + "\n");
  return id;
}

/**
 * Reads the spill file, `null` when there is none. A file that cannot be read as a spill (it was
 * written atomically, so only damage or a hand edit does this) is moved aside as
 * `<database>.spill.unreadable-<time>`, never deleted, and logged at error.
 */
export function readSpill(dbPath: string, logger: Logger): Spill | null {
  const path = spillPath(dbPath);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    logger.error({ err, file: path }, "cannot read the spill file; it is left in place");
    return null;
  }
  try {
    const [head, ...rest] = text.split("\n").filter((l) => l.trim() !== "");
    const header = JSON.parse(head ?? "") as { spill?: unknown; id?: unknown; batches?: unknown };
    if (header.spill !== 1 || typeof header.id !== "string") throw new Error("no spill header");
    const batches = rest.map((line) => checkBatch(JSON.parse(line)));
    if (typeof header.batches === "number" && header.batches !== batches.length) throw new Error("batch count differs from the header");
    return { id: header.id, batches };
  } catch (err) {
    const aside = `${path}.unreadable-${new Date().toISOString().replace(/[:.]/g, "-")}`;
    try {
      renameSync(path, aside);
      fsyncDir(dirname(path));
    } catch {
      // Left where it is: the next start reports it again.
    }
    logger.error({ err, file: path, moved_to: aside }, "the spill file is unreadable: moved aside, its events are NOT committed");
    return null;
  }
}

/**
 * The spill file found at open that still has to be committed: `null` when there is none, or when
 * its id is `committedId` (the database's mark: it was committed, only its removal failed; it is
 * removed now).
 */
export function pendingSpill(dbPath: string, committedId: string | null, logger: Logger): Spill | null {
  const spill = readSpill(dbPath, logger);
  if (spill === null) return null;
  if (committedId === spill.id) {
    logger.info({ file: spillPath(dbPath) }, "the spill file was committed before; removing it");
    removeSpill(dbPath, logger);
    return null;
  }
  logger.warn({ file: spillPath(dbPath), batches: spill.batches.length }, "spill file found: it is committed before anything else");
  return spill;
}

/** Removes the spill file once its batches are committed (best effort: its id in the database says so). */
export function removeSpill(dbPath: string, logger: Logger): void {
  try {
    unlinkSync(spillPath(dbPath));
    fsyncDir(dirname(dbPath));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") logger.warn({ err, file: spillPath(dbPath) }, "cannot remove the committed spill file");
  }
}

function checkBatch(value: unknown): SpillBatch {
  const b = value as Partial<SpillBatch> | null;
  if (b === null || typeof b !== "object" || typeof b.time !== "string" || !Array.isArray(b.events)) throw new Error("not a spill batch");
  for (const e of b.events) {
    if (typeof e?.kind !== "string" || typeof e.subject !== "string" || typeof e.data !== "object" || e.data === null) throw new Error("not a spilled event");
  }
  const s = b.session;
  if (s !== undefined && (typeof s?.id !== "string" || (s.op !== "put" && s.op !== "delete"))) throw new Error("not a session write");
  if (b.meta !== undefined && (typeof b.meta !== "object" || b.meta === null || !Object.values(b.meta).every((v) => typeof v === "string"))) throw new Error("not meta rows");
  return { ...(b as SpillBatch), stamp: isStamp(b.stamp) ? b.stamp : UNKNOWN_STAMP };
}

function withoutDeletions(meta: Readonly<Record<string, string | null>>): Record<string, string> {
  return Object.fromEntries(Object.entries(meta).filter((e): e is [string, string] => e[1] !== null));
}

function isStamp(v: unknown): v is RecordStamp {
  const t = v as Partial<RecordStamp> | null | undefined;
  return (
    typeof t === "object" &&
    t !== null &&
    (t.boot_id === null || typeof t.boot_id === "string") &&
    (t.mono_ms === null || Number.isSafeInteger(t.mono_ms)) &&
    typeof t.clock_synced === "boolean"
  );
}
