import { randomBytes } from "node:crypto";
import { closeSync, fchmodSync, fsyncSync, linkSync, lstatSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

import { PRIVATE_FILE_MODE, fsyncDir } from "../adapters/outbox/files.js";
import { OutboxReader } from "../adapters/outbox/reader.js";
import { errorText } from "./error-text.js";
import { EXIT } from "./exit-codes.js";
import { loadConfigOrReport } from "./load.js";

/** Link errors of file systems without hard links (FAT on a USB stick, some network mounts). */
const NO_HARD_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EMLINK", "EXDEV"]);

/** `smartbin outbox export FILE [-c FILE] [--force]`: the config's database, never created. */
export function runOutboxExportCommand(
  configFile: string,
  file: string,
  force: boolean,
  err: (line: string) => void,
): number {
  const config = loadConfigOrReport(configFile, err, { storage: "read" });
  if (config === null) return EXIT.CONFIG;
  return runOutboxExport(config.storage.path, file, force, err);
}

/**
 * `smartbin outbox export FILE [--force]` (contract.md section 1): writes every event held in the
 * outbox at `dbPath`, oldest first, as JSON lines (each line an event's stored CloudEvents text,
 * byte for byte) to `file`, mode 0600 (card ids are personal data). Reads a page at a time, beside
 * a running station, never creating the database (none there: an empty file).
 *
 * The lines go to a temporary file in `file`'s folder, flushed to disk, then moved into place, so a
 * failed export never leaves a partial `file`. Without `force` an existing `file` is refused, also
 * one that appears during the export (the temporary file is hard-linked into place, which fails
 * when the name is taken; where the file system has no hard links it is checked, then renamed).
 * Prints `N events written to FILE` on `err`.
 *
 * What `force` never replaces: anything but a regular file (a folder, a device such as `/dev/null`,
 * a FIFO, a socket, or a symlink to one: moving a file into place would replace the device node
 * itself), and the station's own files: the database, its SQLite companions, its side files and the
 * damaged databases a salvage set aside, which all share the database's name as a prefix in its
 * folder ({@link ownFileOf}). One typo must not wipe the outbox.
 *
 * @returns the exit code: 0, or 1 (one line on `err`) when `file` exists without `force`, is not a
 *   regular file, is one of the station's files, its folder does not exist, the database cannot be
 *   read or the file cannot be written.
 */
export function runOutboxExport(dbPath: string, file: string, force: boolean, err: (line: string) => void): number {
  const fail = (why: string): number => {
    err(`smartbin outbox export: ${why}`);
    return EXIT.FAILURE;
  };
  const folder = dirname(resolve(file));
  if (!isFolder(folder)) return fail(`cannot write ${file}: folder ${folder} does not exist`);
  const own = ownFileOf(dbPath, file);
  if (own !== null) return fail(`${file} is ${own}; write the export somewhere else`);
  const kind = nonRegularKind(file);
  if (kind !== null) return fail(`${file} is ${kind}, not a regular file; export writes a regular file and never replaces ${kind}`);
  if (!force && pathTaken(file)) return fail(`${file} already exists; --force overwrites it`);

  let reader: OutboxReader | null;
  try {
    reader = OutboxReader.open(dbPath);
  } catch (e) {
    return fail(errorText(e));
  }
  const temp = join(folder, `.${basename(file)}.${randomBytes(4).toString("hex")}.part`);
  let fd: number | undefined;
  let count = 0;
  try {
    fd = openSync(temp, "wx", PRIVATE_FILE_MODE);
    fchmodSync(fd, PRIVATE_FILE_MODE); // whatever the umask
    for (const page of reader?.pages() ?? []) {
      writeAll(fd, Buffer.from(page.map((event) => event.payload + "\n").join(""), "utf8"));
      count += page.length;
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    if (!placeFile(temp, file, force)) {
      removeQuietly(temp);
      return fail(`${file} already exists; --force overwrites it`);
    }
    fsyncDir(folder);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    removeQuietly(temp);
    return fail(`cannot write ${file}: ${errorText(e)}`);
  } finally {
    reader?.close();
  }
  const none = reader === null ? ` (no database at ${dbPath})` : "";
  err(`smartbin outbox export: ${count} event${count === 1 ? "" : "s"} written to ${file}${none}`);
  return EXIT.OK;
}

/** Moves the finished temporary file to `file`; `false` when `file` exists and `force` is off. */
function placeFile(temp: string, file: string, force: boolean): boolean {
  if (force) {
    renameSync(temp, file);
    return true;
  }
  try {
    linkSync(temp, file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "";
    if (code === "EEXIST") return false;
    if (!NO_HARD_LINKS.has(code)) throw e;
    if (pathTaken(file)) return false;
    renameSync(temp, file);
    return true;
  }
  unlinkSync(temp);
  return true;
}

/** Writes all of `bytes`: a write(2) may write less than asked (a nearly full disk), and says how much. */
function writeAll(fd: number, bytes: Buffer): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
}

/**
 * What `file` would overwrite of the station's own files, `null` when nothing: the database at
 * `dbPath` or any name that starts with the database's name followed by `-` or `.` in its folder
 * (`-wal`, `-shm`, `-journal`, the `.state`, `.lock` and `.reserve` side files, a spill file, a
 * `.corrupt-<time>` database set aside by a salvage). Folders are compared by their real paths, so
 * a symlinked or relative spelling of the same folder is caught too.
 */
export function ownFileOf(dbPath: string, file: string): string | null {
  const name = basename(file);
  const folder = realPathOr(dirname(resolve(file)));
  // The database as configured and, when that is a symlink, the file it points to.
  for (const db of new Set([resolve(dbPath), realPathOr(resolve(dbPath))])) {
    const dbName = basename(db);
    if (folder !== realPathOr(dirname(db))) continue;
    if (name === dbName) return "the outbox database itself";
    if (name.startsWith(`${dbName}-`) || name.startsWith(`${dbName}.`)) return `one of the outbox database's own files (${dbName}*)`;
  }
  return null;
}

/** `path`'s real path when it resolves, else `path` as given (a file or folder that does not exist yet). */
function realPathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * What `path` is when it exists and is not a regular file (symlinks followed; a dangling one is
 * treated as free), `null` for a regular file or nothing at all.
 */
function nonRegularKind(path: string): string | null {
  let st;
  try {
    st = statSync(path);
  } catch {
    return null;
  }
  if (st.isFile()) return null;
  if (st.isDirectory()) return "a folder";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  return "a special file";
}

/** True when something (a file, a folder, even a dangling symlink) has this name. */
function pathTaken(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
