import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";

import type { Logger } from "pino";

/** Mode of a database folder the station creates: the owner only (issue 7, item 5). */
export const PRIVATE_DIR_MODE = 0o700;
/** Mode of the database, its `-wal`/`-shm` and the side files: the owner only, whatever the umask. */
export const PRIVATE_FILE_MODE = 0o600;

/** SQLite's companion files of a database at `path` (same folder, name + suffix). */
export const COMPANION_SUFFIXES = ["-wal", "-shm", "-journal"] as const;

/**
 * Makes the database folder `dir`: every missing component is created 0700 (chmod after mkdir, so
 * the umask cannot widen or narrow it). An existing folder is left as it is, with a warning when its
 * group or others can read it (they could list and, with the files' modes, read what is there).
 *
 * @throws the `mkdir` error (ENOTDIR, EACCES, EROFS, ...).
 */
export function ensurePrivateFolder(dir: string, logger: Logger): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) {
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  if (missing.length === 0) {
    const mode = statSync(dir).mode & 0o777;
    if ((mode & 0o044) !== 0) {
      logger.warn(
        { folder: dir, mode: mode.toString(8) },
        "the database folder can be read by other accounts; chmod 700 it (the station does not change a folder it did not create)",
      );
    }
    return;
  }
  for (const d of missing) {
    mkdirSync(d, { mode: PRIVATE_DIR_MODE });
    chmodSync(d, PRIVATE_DIR_MODE);
  }
  logger.info({ folder: dir, mode: "700" }, "database folder created");
}

/**
 * Creates `path` as an empty file with mode 0600 (whatever the umask) if it does not exist.
 *
 * @returns true when it was created, false when it existed.
 * @throws the `open` error other than EEXIST.
 */
export function createPrivateFile(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, PRIVATE_FILE_MODE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Sets mode 0600 on each of `paths` that exists with another mode. SQLite creates `-wal`, `-shm` and
 * `-journal` with the database file's mode, so a 0600 database keeps them 0600; this also tightens
 * files written by older versions. A file that cannot be changed (not ours) is logged at warn.
 * Uses chmod by path and never opens the files (see lock.ts on POSIX locks and close).
 */
export function makePrivate(paths: readonly string[], logger: Logger): void {
  for (const path of paths) {
    try {
      const mode = statSync(path).mode & 0o777;
      if (mode === PRIVATE_FILE_MODE) continue;
      chmodSync(path, PRIVATE_FILE_MODE);
      logger.info({ file: path, was: mode.toString(8), mode: "600" }, "database file made private");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      logger.warn({ file: path, err }, "cannot make the database file private (mode 600)");
    }
  }
}

/** Flushes a folder's entries (a rename or a new file) to disk. Best effort: some file systems refuse. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, constants.O_RDONLY);
    fsyncSync(fd);
  } catch {
    // EINVAL/EISDIR on file systems that cannot sync a directory: nothing more can be done.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Replaces `path` with `text` atomically and durably: a 0600 temporary file beside it, written and
 * fsynced, renamed over `path`, then the folder fsynced. A crash leaves the old or the new content,
 * never a mix.
 *
 * @throws the file system's error (ENOSPC, EROFS, EACCES, ...); `path` is then unchanged.
 */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, constants.O_CREAT | constants.O_TRUNC | constants.O_WRONLY, PRIVATE_FILE_MODE);
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}
