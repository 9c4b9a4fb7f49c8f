import { constants, statSync, statfsSync, truncateSync, unlinkSync } from "node:fs";
import { open, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";

import type { Database as Db, Statement } from "better-sqlite3";
import type { Logger } from "pino";

import { PRIVATE_FILE_MODE, fsyncDir } from "./files.js";

/** Size of the reserve file a running station keeps next to its database (see {@link StorageSpace}). */
export const DEFAULT_RESERVE_BYTES = 4 * 1_048_576;

/** What a commit for space leaves of the reserve file: room for the spill file at shutdown. */
export const SPILL_ROOM_BYTES = 256 * 1024;

/** The database's size and its file system's free space, in bytes. */
export interface SpaceFigures {
  /** Pages in use (page_count - freelist_count, times page_size) plus the WAL file's size. */
  usedBytes: number;
  /** Free space of the file system for this user (statfs `bavail`); the reserve file is not free. */
  freeBytes: number;
}

/** Writes are made of zeros in chunks of this size (the reserve must own real blocks, not a hole). */
const ZEROS = new Uint8Array(64 * 1024);

/**
 * The outbox's view of its disk (issue 7, item 4).
 *
 * **Size.** The database counts the pages in use, not the file's length: pages freed by pruning go to
 * SQLite's free list and are used again before the file grows, so keeping the pages in use within
 * `max_size_mb` keeps the file there too, and pruning shows at once (a file never shrinks without a
 * VACUUM, which would need as much free space again, just when there is none). The WAL counts with its
 * file's length.
 *
 * **Reserve.** A file `<database>.reserve` of a few MiB, written with zeros (real blocks), is kept
 * while space is fine, and given back in two steps. When a commit fails for space (SQLITE_FULL), the
 * outbox truncates it to {@link SPILL_ROOM_BYTES} and commits again: what the station has already
 * accepted (an open session's deposit, the alarm that says the disk is full) still finds room. When
 * even the spill file cannot be written at shutdown (ENOSPC), the rest is deleted, and the spill (a
 * few KiB) fits. It is made again, without blocking the event loop, once the level is back to ok.
 */
export class StorageSpace {
  private readonly reservePath: string | null;
  private readonly walPath: string | null;
  private readonly pages: Statement<[], { page_count: number }>;
  private readonly freePages: Statement<[], { freelist_count: number }>;
  private readonly pageSize: number;
  private making = false;

  constructor(
    db: Db,
    /** The database file, or ":memory:". */
    private readonly path: string,
    private readonly logger: Logger,
    /** Size of the reserve file; 0 keeps none. */
    private readonly reserveBytes: number,
  ) {
    const onDisk = path !== ":memory:";
    this.reservePath = onDisk && reserveBytes > 0 ? `${path}.reserve` : null;
    this.walPath = onDisk ? `${path}-wal` : null;
    this.pages = db.prepare("PRAGMA page_count");
    this.freePages = db.prepare("PRAGMA freelist_count");
    this.pageSize = db.pragma("page_size", { simple: true }) as number;
  }

  /** Measures now: a few header reads, a stat and a statfs (well under a millisecond). */
  measure(): SpaceFigures {
    const inUse = (this.pages.get()?.page_count ?? 0) - (this.freePages.get()?.freelist_count ?? 0);
    let wal = 0;
    if (this.walPath !== null) {
      try {
        wal = statSync(this.walPath).size;
      } catch {
        // No WAL right now (before the first write, or after a clean close).
      }
    }
    let freeBytes = Number.MAX_SAFE_INTEGER;
    if (this.walPath !== null) {
      const fs = statfsSync(dirname(this.path));
      freeBytes = fs.bavail * fs.bsize;
    }
    return { usedBytes: inUse * this.pageSize + wal, freeBytes };
  }

  /** The reserve file's path, `null` when none is kept. */
  reserveFile(): string | null {
    return this.reservePath;
  }

  /**
   * Gives space of the reserve file back. Synchronous: the room must be free before the write is
   * tried again. `for: "commit"` truncates it to {@link SPILL_ROOM_BYTES}; `for: "spill"` deletes it.
   *
   * @returns true when space was given back (the write is worth trying again).
   */
  releaseReserve(purpose: "commit" | "spill"): boolean {
    const file = this.reservePath;
    if (file === null) return false;
    try {
      const size = statSync(file).size;
      if (purpose === "commit") {
        if (size <= SPILL_ROOM_BYTES) return false;
        truncateSync(file, SPILL_ROOM_BYTES);
      } else {
        unlinkSync(file);
      }
    } catch {
      return false;
    }
    this.logger.warn(
      { file, purpose },
      purpose === "commit"
        ? "storage full: the reserve file was released to commit what the station accepted"
        : "storage full: the rest of the reserve file was released to write the spill file",
    );
    return true;
  }

  /**
   * Makes the reserve file when it is missing (or short), if the file system keeps more than
   * `keepFreeBytes` free after it. Asynchronous writes, so the event loop is never held; never throws
   * (a failure is logged, and a partial file removed).
   *
   * @returns true when the reserve is in place.
   */
  async ensureReserve(keepFreeBytes: number): Promise<boolean> {
    const file = this.reservePath;
    if (file === null || this.making) return false;
    this.making = true;
    try {
      const found = await stat(file).catch(() => null);
      if (found !== null && found.size >= this.reserveBytes) return true;
      const { freeBytes } = this.measure();
      if (freeBytes - (this.reserveBytes - (found?.size ?? 0)) <= keepFreeBytes) return false;
      const handle = await open(file, constants.O_CREAT | constants.O_TRUNC | constants.O_WRONLY, PRIVATE_FILE_MODE);
      try {
        await handle.chmod(PRIVATE_FILE_MODE);
        for (let written = 0; written < this.reserveBytes; ) {
          const n = Math.min(ZEROS.length, this.reserveBytes - written);
          await handle.write(ZEROS, 0, n);
          written += n;
        }
        await handle.sync();
      } finally {
        await handle.close();
      }
      fsyncDir(dirname(file));
      this.logger.info({ file, bytes: this.reserveBytes }, "storage reserve file in place");
      return true;
    } catch (err) {
      await unlink(file).catch(() => undefined);
      this.logger.warn({ err, file }, "cannot make the storage reserve file; retrying later");
      return false;
    } finally {
      this.making = false;
    }
  }
}
