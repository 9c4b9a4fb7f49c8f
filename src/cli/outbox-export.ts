import { randomBytes } from "node:crypto";
import { closeSync, fchmodSync, fsyncSync, linkSync, lstatSync, openSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
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
  const config = loadConfigOrReport(configFile, err);
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
 * @returns the exit code: 0, or 1 (one line on `err`) when `file` exists without `force`, its folder
 *   does not exist, the database cannot be read or the file cannot be written.
 */
export function runOutboxExport(dbPath: string, file: string, force: boolean, err: (line: string) => void): number {
  const fail = (why: string): number => {
    err(`smartbin outbox export: ${why}`);
    return EXIT.FAILURE;
  };
  if (!force && pathTaken(file)) return fail(`${file} already exists; --force overwrites it`);
  const folder = dirname(resolve(file));
  if (!isFolder(folder)) return fail(`cannot write ${file}: folder ${folder} does not exist`);

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
