import { closeSync, openSync, readSync, statSync } from "node:fs";

/** SQLite's header string, the file's first 16 bytes (fileformat2.html, "The Database Header"). */
const MAGIC = Buffer.from("SQLite format 3\0", "latin1");
/** The WAL header's magic numbers (big- and little-endian checksums) and format version (wal.c). */
const WAL_MAGICS = new Set([0x377f0682, 0x377f0683]);
const WAL_VERSION = 3007000;
const WAL_HEADER_BYTES = 32;
/** The page size SQLite gives a new database, and the one every outbox uses. */
export const DEFAULT_PAGE_SIZE = 4096;

/** What the 100-byte header of a database file says, once checked. */
export interface DbHeader {
  /** Bytes per page, 512 to 65536. */
  pageSize: number;
  /** The file format versions say WAL (2), not a rollback journal (1). */
  walMode: boolean;
  /** The in-header page count, when valid (it is only when the change counter matches). */
  pageCount: number | null;
}

/** The verdict on the files at a database path, before SQLite opens them. */
export type FileVerdict =
  | { kind: "absent" }
  | { kind: "ok"; header: DbHeader; walBytes: number }
  | {
      kind: "damaged";
      /** A short sentence for the log and the alarm. */
      reason: string;
      /** The header is readable enough that SQLite can open the file in place. */
      headerOk: boolean;
      /** The `-wal` file is present and looks like a WAL of this page size (else it is ignored or absent). */
      walUsable: boolean;
      /** The `-wal` file is suspected not to belong to the database: salvage the file without it first. */
      walSuspect: boolean;
      /** The page size to read the file with: from the header, the WAL header, or the default. */
      pageSize: number;
    };

/**
 * Checks, without SQLite, the database at `path` and its `-wal` (fileformat2.html, "The Database
 * Header" and "WAL File Format"): the header string and fields, a WAL header that matches the page
 * size, and (when no WAL can supply pages) that the file is not shorter than its header says. A file
 * of 0 bytes (or none) with a non-empty WAL is damaged too: SQLite would delete that WAL on open.
 *
 * @param path a regular file or a missing one (the caller refuses other types first).
 */
export function inspectFiles(path: string): FileVerdict {
  const size = fileSize(path);
  const wal = readWalHeader(`${path}-wal`);
  if (size === null || size === 0) {
    if (wal.bytes === 0) return { kind: "absent" };
    return {
      kind: "damaged",
      reason: size === null ? "the database file is missing but its WAL remains" : "the database file is empty but its WAL is not",
      headerOk: false,
      walUsable: wal.pageSize !== null,
      walSuspect: false,
      pageSize: wal.pageSize ?? DEFAULT_PAGE_SIZE,
    };
  }
  const damaged = (reason: string, headerOk: boolean, pageSize: number | null, walSuspect = false): FileVerdict => ({
    kind: "damaged",
    reason,
    headerOk,
    walUsable: wal.pageSize !== null && (pageSize === null || wal.pageSize === pageSize) && !walSuspect,
    walSuspect,
    pageSize: pageSize ?? wal.pageSize ?? DEFAULT_PAGE_SIZE,
  });
  if (size < 100) return damaged(`the database file is truncated (${size} bytes)`, false, null);
  const head = readBytes(path, 0, 101);
  if (!head.subarray(0, 16).equals(MAGIC)) {
    // A table b-tree page type at offset 100 (page 1 is sqlite_schema's root) says the rest is SQLite.
    const looksLikeSqlite = head[100] === 0x0d || head[100] === 0x05;
    return damaged(looksLikeSqlite ? "the database header is damaged" : "the file is not a SQLite database", false, null);
  }
  const header = parseHeader(head);
  if (typeof header === "string") return damaged(`the database header is damaged (${header})`, false, null);
  if (wal.bytes >= WAL_HEADER_BYTES && wal.pageSize !== header.pageSize) {
    return damaged(
      wal.pageSize === null ? "the WAL file is not a SQLite WAL" : "the WAL file belongs to another database (page size)",
      true,
      header.pageSize,
      true,
    );
  }
  if (wal.pageSize === null) {
    // No WAL frames can supply pages: the file alone must hold every page its header counts.
    if (size % header.pageSize !== 0) return damaged(`the database file is truncated (${size} bytes)`, true, header.pageSize);
    if (header.pageCount !== null && size < header.pageCount * header.pageSize) {
      return damaged(
        `the database file is truncated (${size / header.pageSize} of ${header.pageCount} pages)`,
        true,
        header.pageSize,
      );
    }
  }
  return { kind: "ok", header, walBytes: wal.bytes };
}

/** Checks the header fields SQLite relies on; returns the first bad field's name, or the header. */
function parseHeader(h: Buffer): DbHeader | string {
  const raw = h.readUInt16BE(16);
  const pageSize = raw === 1 ? 65536 : raw;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return "page size";
  const write = h[18]!;
  const read = h[19]!;
  if ((write !== 1 && write !== 2) || (read !== 1 && read !== 2)) return "file format version";
  if (h[21] !== 64 || h[22] !== 32 || h[23] !== 32) return "payload fractions";
  if (h[20]! > 0 && pageSize - h[20]! < 480) return "reserved space";
  // 0: not set yet (a new database whose first tables are still only in its WAL).
  if (h.readUInt32BE(56) > 3) return "text encoding";
  const format = h.readUInt32BE(44);
  if (format > 4) return "schema format";
  const count = h.readUInt32BE(28);
  const valid = count > 0 && h.readUInt32BE(24) === h.readUInt32BE(92);
  return { pageSize, walMode: write === 2 && read === 2, pageCount: valid ? count : null };
}

/** The WAL's size and, when its header is a SQLite WAL header, its page size. */
function readWalHeader(path: string): { bytes: number; pageSize: number | null } {
  const bytes = fileSize(path) ?? 0;
  // SQLite ignores a WAL shorter than its header (it is reset on the next write).
  if (bytes < WAL_HEADER_BYTES) return { bytes, pageSize: null };
  const h = readBytes(path, 0, WAL_HEADER_BYTES);
  const ok = WAL_MAGICS.has(h.readUInt32BE(0)) && h.readUInt32BE(4) === WAL_VERSION;
  const pageSize = h.readUInt32BE(8);
  const valid = ok && pageSize >= 512 && pageSize <= 65536 && (pageSize & (pageSize - 1)) === 0;
  return { bytes, pageSize: valid ? pageSize : null };
}

/**
 * A header for a scratch copy of a damaged database, so SQLite can read what is left of it: the
 * first `page` bytes of the copy (at least 100) with every field an outbox always has set to its
 * value (header string, page size, format versions, payload fractions, no reserved bytes, no
 * auto-vacuum, UTF-8, schema format 4) and the page count taken from the copy's size. Other fields
 * (schema cookie, user_version) are kept.
 *
 * @param page the copy's first bytes (modified in place and returned).
 * @param pages the copy's size in pages.
 * @param wal whether a WAL is copied beside it (format versions 2) or not (1).
 */
export function repairHeader(page: Buffer, pageSize: number, pages: number, wal: boolean): Buffer {
  MAGIC.copy(page, 0);
  page.writeUInt16BE(pageSize === 65536 ? 1 : pageSize, 16);
  page[18] = wal ? 2 : 1;
  page[19] = wal ? 2 : 1;
  page[20] = 0;
  page[21] = 64;
  page[22] = 32;
  page[23] = 32;
  page.writeUInt32BE(pages, 28);
  page.writeUInt32BE(page.readUInt32BE(24), 92);
  const format = page.readUInt32BE(44);
  if (format < 1 || format > 4) page.writeUInt32BE(4, 44);
  page.writeUInt32BE(0, 52);
  const encoding = page.readUInt32BE(56);
  if (encoding < 1 || encoding > 3) page.writeUInt32BE(1, 56);
  page.writeUInt32BE(0, 64);
  page.fill(0, 72, 92);
  return page;
}

function fileSize(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

/** Up to `length` bytes of the file from `offset` (fewer at its end). */
export function readBytes(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(length);
    const n = readSync(fd, buf, 0, length, offset);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
