import { readFileSync } from "node:fs";

import type { Logger } from "pino";

import { writeFileAtomic } from "./files.js";

/** Seqs reserved ahead in the side file: it is written once every this many events. */
export const SEQ_RESERVE_BLOCK = 1000;

/** How the last station on this database ended: `running` at start, `closing`, then `stopped`. */
export type RunState = "running" | "closing" | "stopped";

/** The side file's content (JSON). */
export interface SideState {
  /** The station that runs on this database (`station.id`). */
  station_id: string;
  /** The database's `meta.database_id`: a WAL or pages of another database are recognised by it. */
  database_id: string | null;
  /**
   * The seq high-water mark: no seq above it has been assigned, and the next database made here
   * (salvage, or a database deleted by hand) starts above it, so a seq is never reused even when a
   * corrupt database takes its counter with it (issue 7, item 2).
   */
  seq_reserved: number;
  /** `running` while a station has the database open: found at start, the last one did not stop cleanly. */
  run: RunState;
  /** The process that wrote it, for the message of a refused second station. */
  pid: number;
  cmd: string;
  started_at: string;
}

/**
 * The small side file `<database>.state` next to the database, written atomically (a new file
 * renamed over the old one, both fsynced) and rarely: at start, at close, and when the seq passes the
 * reservation (then it reserves {@link SEQ_RESERVE_BLOCK} more). It lives outside the database so
 * that a corrupt database cannot take the seq high-water mark and the clean-stop mark with it.
 * Only the holder of the station lock writes it.
 */
export class SideFile {
  private state: SideState | null;
  /** `state.seq_reserved`, kept as a number: {@link reserve} compares it inside every commit. */
  private reservedUpTo: number;

  private constructor(
    /** The file, `null` for an in-memory database (nothing is written). */
    readonly path: string | null,
    /** The content found at start, `null` when there was none (first start, or an older version). */
    readonly previous: SideState | null,
    private readonly logger: Logger,
  ) {
    this.state = previous;
    this.reservedUpTo = previous?.seq_reserved ?? 0;
  }

  /** For an in-memory database (`storage.path: ":memory:"`, tests): keeps the state, writes nothing. */
  static inMemory(logger: Logger): SideFile {
    return new SideFile(null, null, logger);
  }

  /** Reads `<dbPath>.state`; a missing file, or one that cannot be parsed (logged), is `previous: null`. */
  static load(dbPath: string, logger: Logger): SideFile {
    const path = `${dbPath}.state`;
    return new SideFile(path, readSideState(path, logger), logger);
  }

  /** The highest seq that may have been assigned on this database's path (0 when none is known). */
  reserved(): number {
    return this.reservedUpTo;
  }

  /**
   * Rewrites the file with `patch` applied (the owner fields are this process's).
   *
   * @throws the file system's error (the file is then as it was).
   */
  write(patch: Partial<SideState> & Pick<SideState, "station_id">): void {
    const next: SideState = {
      database_id: null,
      seq_reserved: 0,
      run: "running",
      ...this.state,
      ...patch,
      pid: process.pid,
      cmd: process.argv.join(" ").slice(0, 500),
      started_at: this.state?.pid === process.pid ? this.state.started_at : new Date().toISOString(),
    };
    if (this.path !== null) writeFileAtomic(this.path, JSON.stringify(next) + "\n");
    this.state = next;
    this.reservedUpTo = next.seq_reserved;
  }

  /**
   * Makes sure `seq` is covered by the reservation, reserving {@link SEQ_RESERVE_BLOCK} more when it
   * is not. Called inside the commit transaction, before it commits, so the mark is on disk before
   * the seq is. A failed write is logged and retried at the next call; it never fails the commit
   * (the mark only matters if the database is also lost).
   */
  reserve(seq: number, stationId: string): void {
    if (seq <= this.reservedUpTo) return;
    try {
      this.write({ station_id: stationId, seq_reserved: seq + SEQ_RESERVE_BLOCK });
    } catch (err) {
      this.logger.error({ err, file: this.path, seq }, "cannot write the seq high-water mark; retrying at the next event");
    }
  }
}

/** Parses the side file at `path`, `null` when it is missing or unusable. */
export function readSideState(path: string, logger?: Logger): SideState | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") logger?.warn({ err, file: path }, "cannot read the side file");
    return null;
  }
  try {
    const doc = JSON.parse(text) as Partial<SideState>;
    if (typeof doc.station_id !== "string" || !Number.isSafeInteger(doc.seq_reserved) || typeof doc.run !== "string") {
      throw new Error("missing fields");
    }
    return doc as SideState;
  } catch (err) {
    logger?.warn({ err, file: path }, "the side file is not usable; the seq high-water mark is taken from the database");
    return null;
  }
}
