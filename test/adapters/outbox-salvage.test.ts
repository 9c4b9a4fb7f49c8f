/**
 * A damaged outbox database is moved aside (never deleted), what can be read is salvaged into a new
 * one with the same ids, seqs, bytes and published state, `storage_recovered` is recorded, and seq
 * goes on above everything the old database can have given (issue 7, item 2). Real files on disk,
 * damaged the way power cuts, SD cards and technicians damage them.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import Database from "better-sqlite3";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { Outbox, type OutboxOptions } from "../../src/adapters/outbox/outbox.js";
import { passingError } from "../../src/adapters/outbox/salvage-read.js";
import { SEQ_RESERVE_BLOCK } from "../../src/adapters/outbox/side-file.js";
import { capturingLogger, crashImage, quarantined, scribble, writeOldOutbox } from "./outbox-files.js";

const note = "x".repeat(500);

interface Held {
  id: string;
  payload: string;
  published_at: string | null;
}

/** Every event of the database at `path`, by seq, as stored (read-only). */
function snapshot(path: string): Map<number, Held> {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare<[], Held & { seq: number }>("SELECT seq, id, payload, published_at FROM events").all();
    return new Map(rows.map((r) => [r.seq, { id: r.id, payload: r.payload, published_at: r.published_at }]));
  } finally {
    db.close();
  }
}

describe("a damaged outbox database is quarantined and salvaged", () => {
  let dir: string;
  let path: string;
  const opened: Outbox[] = [];

  function open(at: string, extra: Partial<OutboxOptions> = {}) {
    const { logger, lines } = capturingLogger();
    const outbox = Outbox.open({ path: at, stationId: "st-001", logger, clockSynced: () => true, ...extra });
    opened.push(outbox);
    return { outbox, lines };
  }

  /** An outbox with `n` events (the first `published` of them published), `walEvents` more in the WAL. */
  function fill(n: number, published: number, walEvents = 0) {
    const { outbox } = open(path);
    for (let i = 0; i < n; i++) outbox.append("deposit", "kitchen", { note, i });
    outbox.markPublished(Array.from({ length: published }, (_, i) => i + 1));
    // Everything so far into the database file; what follows stays in the WAL.
    (outbox as unknown as { db: Database.Database }).db.pragma("wal_checkpoint(TRUNCATE)");
    for (let i = 0; i < walEvents; i++) outbox.append("alarm", "scale-1", { code: "scale_offline", i });
    return outbox;
  }

  /** A crash image of the outbox in `sub/`, taken while it is open and idle. */
  function crash(outbox: Outbox, sub = "crash"): string {
    mkdirSync(join(dir, sub));
    const copy = crashImage(path, join(dir, sub));
    outbox.close();
    return copy;
  }

  /**
   * The outcome every damage must have: the outbox open, the old files under `.corrupt-` names, the
   * salvaged events exactly as they were, the alarm recorded after them with seq above every old
   * one, and the next event after the alarm.
   */
  function expectRecovered(outbox: Outbox, at: string, before: Map<number, Held>, opts: { minSalvaged: number; oldWal?: boolean }) {
    const r = outbox.recovered;
    expect(r).not.toBeNull();
    expect(r!.salvaged).toBeGreaterThanOrEqual(opts.minSalvaged);
    expect(existsSync(r!.movedTo)).toBe(true);
    expect(r!.movedTo.startsWith(`${at}.corrupt-`)).toBe(true);
    if (opts.oldWal === true) expect(existsSync(`${r!.movedTo}-wal`)).toBe(true);
    expect(quarantined(at).length).toBeGreaterThan(0);

    const now = snapshot(at);
    const oldSeqs = [...before.keys()];
    let carried = 0;
    for (const [seq, held] of now) {
      if (seq === r!.alarmSeq) continue;
      expect(before.get(seq)).toEqual(held); // same id, the payload's exact text, same published state
      carried++;
    }
    expect(carried).toBe(r!.salvaged);

    const alarm = outbox.pendingAfter(r!.alarmSeq - 1, 1)[0]!;
    expect(alarm.seq).toBe(r!.alarmSeq);
    const doc = JSON.parse(alarm.payload);
    expect(doc).toMatchObject({ type: "smartbin.alarm.v1", subject: "st-001", source: "smartbin/st-001" });
    expect(doc.data).toMatchObject({ code: "storage_recovered", salvaged: r!.salvaged, moved_to: r!.movedTo, seq: r!.alarmSeq });
    expect(typeof doc.data.message).toBe("string");
    expect(r!.alarmSeq).toBeGreaterThan(Math.max(0, ...oldSeqs));
    expect(outbox.append("deposit", "kitchen", { after: true }).seq).toBe(r!.alarmSeq + 1);
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "smartbin-salvage-"));
    path = join(dir, "smartbin.db");
  });
  afterEach(() => {
    for (const o of opened.splice(0)) o.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a sound database after an unclean stop is checked and opened as it is", () => {
    const at = crash(fill(20, 5, 3));
    const before = snapshot(at);
    const { outbox, lines } = open(at);
    expect(outbox.recovered).toBeNull();
    expect(quarantined(at)).toEqual([]);
    expect(snapshot(at)).toEqual(before);
    expect(outbox.append("deposit", "kitchen", {}).seq).toBe(24);
    expect(lines.some((l) => l.msg === "integrity check after an unclean stop: ok")).toBe(true);
  });

  it("a clean stop skips the integrity check", () => {
    fill(5, 0).close();
    const { lines } = open(path);
    expect(lines.some((l) => String(l.msg).startsWith("integrity check"))).toBe(false);
  });

  it("an integrity check that does not finish in time does not hold the start: the station opens without its verdict", () => {
    const at = crash(fill(50, 0, 2));
    const { outbox, lines } = open(at, { integrityLimitMs: 0 });
    expect(outbox.recovered).toBeNull();
    expect(lines.some((l) => l.msg === "integrity check not finished in time: starting without its verdict")).toBe(true);
    expect(outbox.append("deposit", "kitchen", {}).seq).toBe(53);
  });

  it("a database deleted by hand: the new one's seq continues above the side file's mark, never reusing one", () => {
    fill(40, 40).close();
    for (const suffix of ["", "-wal", "-shm"]) rmSync(path + suffix, { force: true });
    const { outbox, lines } = open(path);
    expect(outbox.recovered).toBeNull();
    expect(outbox.append("deposit", "kitchen", {}).seq).toBe(SEQ_RESERVE_BLOCK + 1);
    expect(lines.some((l) => String(l.msg).includes("behind the seq high-water mark"))).toBe(true);
  });

  it("a rollback-journal database killed mid-transaction is rolled back by the open, not taken for damage", () => {
    writeOldOutbox(path, 2, 10);
    const db = new Database(path);
    db.pragma("journal_mode = DELETE");
    db.close();
    const script = `
      const Database = require("better-sqlite3");
      const db = new Database(${JSON.stringify(path)});
      db.pragma("cache_size = 1");
      db.exec("BEGIN");
      for (let i = 0; i < 3000; i++) db.prepare("INSERT INTO open_sessions VALUES (?, ?, 'x', 'x')").run("k" + i, "${note}");
      process.kill(process.pid, "SIGKILL");`;
    expect(spawnSync(process.execPath, ["-e", script], { cwd: process.cwd() }).signal).toBe("SIGKILL");
    expect(statSync(`${path}-journal`).size).toBeGreaterThan(0);
    const { outbox } = open(path);
    expect(outbox.recovered).toBeNull();
    expect(outbox.status().last_seq).toBe(10);
    expect(outbox.openSessions()).toHaveLength(1);
  });

  it("another program's SQLite database is refused, not moved aside", () => {
    const db = new Database(path);
    db.exec("CREATE TABLE photos (name TEXT)");
    db.close();
    expect(() => open(path)).toThrow(expect.objectContaining({ code: "OUTBOX_OPEN_FAILED", context: expect.objectContaining({ reason: "not_an_outbox" }) }) as Error);
    expect(quarantined(path)).toEqual([]);
  });

  it("truncated in the middle: the pages left are salvaged", () => {
    fill(200, 50).close();
    const before = snapshot(path);
    const size = readFileSync(path).length;
    truncateSync(path, Math.floor(size / 4096 / 2) * 4096);
    const { outbox } = open(path);
    expectRecovered(outbox, path, before, { minSalvaged: 40 });
    expect(outbox.recovered!.reason).toMatch(/truncated/);
  });

  it("truncated inside the header: nothing to salvage, but the station runs and seq goes on above the mark", () => {
    fill(30, 0).close();
    const before = snapshot(path);
    truncateSync(path, 60);
    const { outbox } = open(path);
    expectRecovered(outbox, path, before, { minSalvaged: 0 });
    // The side file reserved a block of seqs ahead: none of them is given again.
    expect(outbox.recovered!.alarmSeq).toBe(SEQ_RESERVE_BLOCK + 1);
  });

  it.each([
    ["the header string", 0],
    ["the page size", 16],
    ["the file format and payload fractions", 18],
    ["the text encoding", 56],
  ])("4 bytes scribbled over %s: a repaired copy is read, every event salvaged", (_what, offset) => {
    fill(120, 30).close();
    const before = snapshot(path);
    scribble(path, offset, Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    const { outbox } = open(path);
    expectRecovered(outbox, path, before, { minSalvaged: 120 });
    expect(outbox.recovered!.reason).toMatch(/header/);
    // The quarantined file is the damaged one, byte for byte (never repaired in place).
    expect(readFileSync(outbox.recovered!.movedTo).subarray(offset, offset + 4)).toEqual(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
  });

  it("a scribbled page in the middle, found by the integrity check after an unclean stop", () => {
    const at = crash(fill(300, 100, 5));
    const before = snapshot(at);
    scribble(at, 40 * 4096, Buffer.alloc(4096, 0xaa));
    const { outbox } = open(at);
    expectRecovered(outbox, at, before, { minSalvaged: 280, oldWal: true });
    expect(outbox.recovered!.reason).toMatch(/integrity check failed/);
    // What was in the WAL was read too.
    expect(outbox.pendingAfter(300, 10).filter((e) => e.kind === "alarm").length).toBe(6);
  });

  it("a WAL lost after an unclean stop: the checkpointed events are salvaged, their seqs never reused", () => {
    const at = crash(fill(50, 10, 30));
    const before = snapshot(at); // with the WAL: 80 events
    rmSync(`${at}-wal`);
    rmSync(`${at}-shm`);
    const { outbox } = open(at);
    const inFile = new Map([...before].filter(([seq]) => seq <= 50));
    expectRecovered(outbox, at, inFile, { minSalvaged: 50 });
    expect(outbox.recovered!.reason).toMatch(/WAL was lost/);
    // Seqs 51..80 were given (and maybe published) before the crash: the alarm comes after them.
    expect(outbox.recovered!.alarmSeq).toBeGreaterThan(80);
  });

  it.each([
    ["another program's database", "other"],
    ["another station's outbox", "station"],
  ])("a WAL from %s: the file is read without it, and the foreign WAL is kept with it", (_what, kind) => {
    const at = crash(fill(60, 20, 10));
    const before = snapshot(at);
    // The foreign database's WAL, left by a crash too.
    const foreign = join(dir, "foreign.db");
    if (kind === "other") {
      const db = new Database(foreign);
      db.pragma("journal_mode = WAL");
      db.exec("CREATE TABLE readings (t TEXT, v REAL)");
      for (let i = 0; i < 50; i++) db.prepare("INSERT INTO readings VALUES (?, ?)").run(note, i);
      copyWal(foreign, at);
      db.close();
    } else {
      const other = Outbox.open({ path: foreign, stationId: "st-999", logger: pino({ level: "silent" }) });
      for (let i = 0; i < 40; i++) other.append("deposit", "kitchen", { note });
      copyWal(foreign, at);
      other.close();
    }
    const { outbox } = open(at);
    const inFile = new Map([...before].filter(([seq]) => seq <= 60));
    expectRecovered(outbox, at, inFile, { minSalvaged: 60, oldWal: true });
    expect(outbox.recovered!.reason).toMatch(/WAL belongs to another database/);
    expect(outbox.recovered!.alarmSeq).toBeGreaterThan(70);
    // Nothing of the foreign database was carried.
    for (const e of outbox.pendingAfter(0, 1000)) expect(JSON.parse(e.payload).source).toBe("smartbin/st-001");
  });

  it("a WAL whose page size is not the database's", () => {
    const at = crash(fill(30, 0, 5));
    const before = snapshot(at);
    const foreign = join(dir, "small-pages.db");
    const db = new Database(foreign);
    db.pragma("page_size = 1024");
    db.pragma("journal_mode = WAL");
    db.exec("CREATE TABLE t (x)");
    copyWal(foreign, at);
    db.close();
    const { outbox } = open(at);
    expectRecovered(outbox, at, new Map([...before].filter(([seq]) => seq <= 30)), { minSalvaged: 30, oldWal: true });
    expect(outbox.recovered!.reason).toMatch(/WAL/);
  });

  it("a database file emptied while its WAL survived: the WAL's pages are salvaged", () => {
    const { outbox: first } = open(path);
    for (let i = 0; i < 40; i++) first.append("deposit", "kitchen", { note, i });
    const at = crash(first);
    const before = snapshot(at);
    truncateSync(at, 0);
    const { outbox } = open(at);
    expectRecovered(outbox, at, before, { minSalvaged: 40, oldWal: true });
    expect(outbox.recovered!.reason).toMatch(/empty but its WAL/);
  });

  it("a regular file that is not SQLite at all is moved aside, never deleted", () => {
    const junk = "station notes, not a database\n".repeat(400);
    writeFileSync(path, junk);
    const { outbox } = open(path);
    expectRecovered(outbox, path, new Map(), { minSalvaged: 0 });
    expect(outbox.recovered!.reason).toMatch(/not a SQLite database/);
    expect(readFileSync(outbox.recovered!.movedTo, "utf8")).toBe(junk);
    expect(outbox.recovered!.alarmSeq).toBe(1);
  });

  it("the open session is carried over with the events", () => {
    const outboxBefore = fill(10, 0);
    outboxBefore.commit({ events: [], session: { op: "put", id: "s1", state: { session_id: "s1" } } });
    outboxBefore.close();
    scribble(path, 0, Buffer.from("junk"));
    const { outbox } = open(path);
    expect(outbox.recovered!.sessions).toBe(1);
    expect(outbox.openSessions()).toEqual([{ id: "s1", state: { session_id: "s1" } }]);
  });

  it("a salvage interrupted before the files were moved is completed at the next start", () => {
    fill(25, 5).close();
    const before = snapshot(path);
    scribble(path, 0, Buffer.from("junk"));
    const { outbox } = open(path);
    const { movedTo, alarmSeq } = outbox.recovered!;
    outbox.close();
    opened.length = 0;
    // Back to the instant after the new database was made ready, before any file was moved.
    renameSync(path, `${path}.salvage-ready`);
    renameSync(movedTo, path);
    writeFileSync(`${path}.salvage-partial`, "left by an earlier crash");
    const { outbox: again } = open(path);
    expect(again.recovered).toBeNull();
    expect(existsSync(movedTo)).toBe(true);
    expect(existsSync(`${path}.salvage-ready`)).toBe(false);
    expect(existsSync(`${path}.salvage-partial`)).toBe(false);
    expect(again.status().last_seq).toBe(alarmSeq);
    expect(snapshot(path).get(7)).toEqual(before.get(7));
  });

  it("a second damage later is quarantined under another name, the first one kept", () => {
    fill(5, 0).close();
    scribble(path, 0, Buffer.from("junk"));
    const { outbox } = open(path);
    const first = outbox.recovered!.movedTo;
    outbox.close();
    opened.length = 0;
    scribble(path, 0, Buffer.from("junk"));
    const { outbox: again } = open(path);
    expect(again.recovered!.movedTo).not.toBe(first);
    expect(existsSync(first)).toBe(true);
    expect(again.recovered!.salvaged).toBe(6); // the five events and the first alarm
    expect(again.recovered!.alarmSeq).toBeGreaterThan(outbox.recovered!.alarmSeq);
  });
});

describe("what stops a salvage instead of being stepped over (passingError)", () => {
  // A full disk on a real tmpfs: outbox-space.test.ts. Here, which errors count as passing.
  const withCode = (code: string) => Object.assign(new Error(code), { code });
  it.each(["SQLITE_FULL", "SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT", "SQLITE_LOCKED", "SQLITE_NOMEM", "SQLITE_IOERR_SHMSIZE", "ENOSPC", "EDQUOT", "EMFILE"])(
    "%s passes with time: the salvage stops and is done again at the next start",
    (code) => expect(passingError(withCode(code))).toBe(true),
  );
  it.each(["SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_IOERR_SHORT_READ", "SQLITE_ERROR", "SQLITE_CANTOPEN", "ENOENT"])(
    "%s is the file's own damage (or absence): stepped over, logged",
    (code) => expect(passingError(withCode(code))).toBe(false),
  );
  it("an error without a code is not passing", () => {
    expect(passingError(new Error("x"))).toBe(false);
    expect(passingError(null)).toBe(false);
  });
});

/** Copies the `-wal` of `from` over the `-wal` of `to` (what a mixed-up copy of files does). */
function copyWal(from: string, to: string): void {
  writeFileSync(`${to}-wal`, readFileSync(`${from}-wal`));
  rmSync(`${to}-shm`, { force: true });
}
