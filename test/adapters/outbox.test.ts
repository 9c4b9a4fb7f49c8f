import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import Database from "better-sqlite3";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { createClockSyncCheck } from "../../src/adapters/clock-sync.js";
import { Outbox } from "../../src/adapters/outbox/outbox.js";
import type { OutboxOptions } from "../../src/adapters/outbox/outbox.js";
import { runOutboxStatus } from "../../src/cli/outbox-status.js";
import { SmartbinError } from "../../src/errors.js";
import { manualWallClock } from "../support/wall-clock.js";

const logger = pino({ level: "silent" });


const deposit = {
  bin_id: "kitchen",
  category: "food_waste",
  card_id: "0008844356",
  reader_id: "reader-1",
  gross_before_g: 12000,
  gross_after_g: 13250,
  net_g: 1250,
  points: 2,
  points_reason: "awarded",
  rules_version: "2026-11",
  started_at: "2026-11-29T14:36:21.002Z",
  ended_at: "2026-11-29T14:36:37.950Z",
};

const EMPTY = { pending: 0, published: 0, oldest_pending_age_s: null, last_seq: 0 };

/** The outbox's connection, for tests that inspect pragmas or inject failures. */
function internalDb(outbox: Outbox): Database.Database {
  return (outbox as unknown as { db: Database.Database }).db;
}

function expectCode(fn: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(SmartbinError);
  expect((thrown as SmartbinError).code).toBe(code);
}

describe("Outbox (SQLite file on disk)", () => {
  let dir: string;
  let path: string;
  const open: Outbox[] = [];
  const clock = manualWallClock();

  function openOutbox(extra: Partial<OutboxOptions> = {}): Outbox {
    const outbox = Outbox.open({
      path,
      stationId: "st-001",
      logger,
      now: clock.now,
      clockSynced: () => true,
      ...extra,
    });
    open.push(outbox);
    return outbox;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "smartbin-outbox-"));
    path = join(dir, "nested", "folder", "smartbin.db");
  });
  afterEach(() => {
    for (const o of open.splice(0)) o.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates the folder and the file, in WAL mode with synchronous=FULL, a 2 MB page cache and a schema version", () => {
    openOutbox();
    expect(existsSync(path)).toBe(true);
    const db = new Database(path, { readonly: true });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("user_version", { simple: true })).toBeGreaterThanOrEqual(1);
    db.close();
    // synchronous is per connection: check it on the outbox's own.
    const outbox = open[0]!;
    expect(internalDb(outbox).pragma("synchronous", { simple: true })).toBe(2);
    // Not better-sqlite3's 16,000 KiB default (a fresh connection shows it), SQLite's own 2000 KiB.
    const fresh = new Database(path, { readonly: true });
    expect(fresh.pragma("cache_size", { simple: true })).toBe(-16000);
    fresh.close();
    expect(internalDb(outbox).pragma("cache_size", { simple: true })).toBe(-2000);
  });

  it("numbers events from 1, gap-free across close and reopen", () => {
    let outbox = openOutbox();
    expect(outbox.append("deposit", "kitchen", deposit).seq).toBe(1);
    expect(outbox.append("alarm", "scale-1", { code: "scale_offline" }).seq).toBe(2);
    outbox.close();
    outbox = openOutbox();
    expect(outbox.status().last_seq).toBe(2);
    expect(outbox.append("deposit", "kitchen", deposit).seq).toBe(3);
    expect(outbox.pendingAfter(0, 100).map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it("keeps counting after every row was pruned (the counter is not derived from the rows)", () => {
    let outbox = openOutbox();
    const seqs = [1, 2, 3].map(() => outbox.append("deposit", "kitchen", deposit).seq);
    outbox.markPublished(seqs);
    clock.advance(31 * 86_400_000);
    expect(outbox.prune(30)).toBe(3);
    expect(outbox.status()).toEqual({ pending: 0, published: 0, oldest_pending_age_s: null, last_seq: 3 });
    expect(outbox.append("deposit", "kitchen", deposit).seq).toBe(4);
    outbox.markPublished([4]);
    clock.advance(31 * 86_400_000);
    outbox.prune(30);
    outbox.close();
    outbox = openOutbox();
    expect(outbox.append("deposit", "kitchen", deposit).seq).toBe(5);
  });

  it("prunes only published events older than the retention", () => {
    const outbox = openOutbox();
    outbox.append("deposit", "kitchen", deposit);
    outbox.append("deposit", "kitchen", deposit);
    outbox.markPublished([1]);
    clock.advance(2 * 86_400_000);
    expect(outbox.prune(3)).toBe(0);
    clock.advance(2 * 86_400_000);
    expect(outbox.prune(3)).toBe(1);
    expect(outbox.status()).toMatchObject({ pending: 1, published: 0, last_seq: 2 });
  });

  it("builds the CloudEvents envelope of contract section 4, keys in the contract's order", () => {
    const outbox = openOutbox({ bootClock: { bootId: "boot-a", monoMs: () => 5000 } });
    const event = outbox.append("deposit", "kitchen", deposit);
    const doc = JSON.parse(event.payload);
    expect(Object.keys(doc)).toEqual([
      "specversion",
      "id",
      "source",
      "type",
      "time",
      "subject",
      "datacontenttype",
      "data",
    ]);
    expect(doc).toMatchObject({
      specversion: "1.0",
      id: event.id,
      source: "smartbin/st-001",
      type: "smartbin.deposit.v1",
      time: clock.now().toISOString(),
      subject: "kitchen",
      datacontenttype: "application/json",
    });
    expect(doc.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(event.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Object.keys(doc.data)).toEqual(["station_id", "seq", ...Object.keys(deposit), "boot_id", "mono_ms", "clock_synced"]);
    expect(doc.data).toEqual({ station_id: "st-001", seq: 1, ...deposit, boot_id: "boot-a", mono_ms: 5000, clock_synced: true });
    expect(event).toMatchObject({ seq: 1, kind: "deposit" });
  });

  it("stamps clock_synced from the injected check", () => {
    let synced = false;
    const outbox = openOutbox({ clockSynced: () => synced });
    expect(JSON.parse(outbox.append("alarm", "scale-1", {}).payload).data.clock_synced).toBe(false);
    synced = true;
    expect(JSON.parse(outbox.append("alarm", "scale-1", {}).payload).data.clock_synced).toBe(true);
  });

  it("gives every event a unique id", () => {
    const outbox = openOutbox();
    const ids = new Set(Array.from({ length: 100 }, () => outbox.append("deposit", "kitchen", deposit).id));
    expect(ids.size).toBe(100);
  });

  it("stores the payload byte for byte: what append returns is what pendingAfter returns, after reopen too", () => {
    let outbox = openOutbox();
    const event = outbox.append("deposit", "küche", { ...deposit, note: 'déchets \u{1F5D1} "quoted"' });
    expect(outbox.pendingAfter(0, 1)[0]).toEqual(event);
    outbox.close();
    outbox = openOutbox();
    const again = outbox.pendingAfter(0, 1)[0]!;
    expect(Buffer.from(again.payload, "utf8").equals(Buffer.from(event.payload, "utf8"))).toBe(true);
    expect(again).toEqual(event);
  });

  it("pages unpublished events in seq order and marks them published", () => {
    const outbox = openOutbox();
    for (let i = 0; i < 10; i++) outbox.append(i % 3 === 0 ? "alarm" : "deposit", "kitchen", deposit);
    expect(outbox.pendingAfter(0, 4).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(outbox.pendingAfter(4, 4).map((e) => e.seq)).toEqual([5, 6, 7, 8]);
    expect(outbox.pendingAfter(8, 4).map((e) => e.seq)).toEqual([9, 10]);
    outbox.markPublished([2, 3, 5]);
    outbox.markPublished([3]); // again: ignored
    outbox.markPublished([]);
    expect(outbox.pendingAfter(0, 100).map((e) => e.seq)).toEqual([1, 4, 6, 7, 8, 9, 10]);
    expect(outbox.pendingAfter(1, 2).map((e) => e.seq)).toEqual([4, 6]);
    expect(outbox.status()).toMatchObject({ pending: 7, published: 3, last_seq: 10 });
  });

  it("reports the oldest pending event's age in seconds against the injected clock", () => {
    const outbox = openOutbox();
    expect(outbox.status()).toEqual(EMPTY);
    outbox.append("deposit", "kitchen", deposit);
    clock.advance(1500);
    outbox.append("deposit", "kitchen", deposit);
    clock.advance(10_000);
    expect(outbox.status()).toEqual({ pending: 2, published: 0, oldest_pending_age_s: 11.5, last_seq: 2 });
    outbox.markPublished([1]);
    expect(outbox.status()).toEqual({ pending: 1, published: 1, oldest_pending_age_s: 10, last_seq: 2 });
    outbox.markPublished([2]);
    expect(outbox.status().oldest_pending_age_s).toBeNull();
  });

  it("meta rows: set and deleted (null) in a commit, read back by prefix after reopen; a spill keeps the rows and leaves out the deletions", () => {
    const o = openOutbox();
    o.commit({ events: [], meta: { "daily_points/A": "1", "daily_points/B": "2", "daily_points0": "after", "daily_point": "before", cards: "[]" } });
    o.commit({ events: [{ kind: "deposit", subject: "kitchen", data: deposit }], meta: { "daily_points/A": null, "daily_points/C": "3" } });
    o.close();
    const again = openOutbox();
    expect(again.metaEntries("daily_points/")).toEqual([
      { key: "daily_points/B", value: "2" },
      { key: "daily_points/C", value: "3" },
    ]);
    expect(again.meta("daily_points/A")).toBeNull();
    expect(again.meta("cards")).toBe("[]");
    expect(() => again.metaEntries("")).toThrow(RangeError);

    again.spill([{ time: "2026-12-07T10:00:00.000Z", events: [], meta: { "daily_points/B": null, "daily_points/D": "4" } }]);
    again.close();
    const line = readFileSync(`${path}.spill`, "utf8").trim().split("\n")[1]!;
    expect(JSON.parse(line).meta).toEqual({ "daily_points/D": "4" });
    const third = openOutbox();
    third.commitSpill(third.spilled()!);
    expect(third.metaEntries("daily_points/").map((r) => r.key)).toEqual(["daily_points/B", "daily_points/C", "daily_points/D"]);
  });

  it("meta rows that cannot be read: none, and an error line that says which", () => {
    const lines: Array<{ level: number; msg: string; prefix?: string }> = [];
    const o = Outbox.open({ path, stationId: "st-001", logger: pino({ level: "info" }, { write: (l: string) => void lines.push(JSON.parse(l)) }), clockSynced: () => true });
    o.commit({ events: [], meta: { "daily_points/A": "1" } });
    expect(o.metaEntries("daily_points/")).toHaveLength(1);
    internalDb(o).close(); // a database that can no longer be read
    expect(o.metaEntries("daily_points/")).toEqual([]);
    expect(lines.filter((l) => l.level === 50).map((l) => [l.msg, l.prefix])).toEqual([["stored meta rows could not be read", "daily_points/"]]);
  });

  it("a spill file whose meta rows are not text is unreadable: moved aside, never committed", () => {
    const o = openOutbox();
    o.close();
    writeFileSync(`${path}.spill`, JSON.stringify({ spill: 1, id: "x", station_id: "st-001", batches: 1 }) + "\n" + JSON.stringify({ time: "2026-12-07T10:00:00.000Z", events: [], meta: { cards: { not: "text" } } }) + "\n");
    const again = openOutbox();
    expect(again.spilled()).toBeNull();
    expect(again.meta("cards")).toBeNull();
  });

  it("refuses a database of another station", () => {
    openOutbox().close();
    open.length = 0;
    expectCode(() => Outbox.open({ path, stationId: "st-002", logger }), "OUTBOX_OPEN_FAILED");
  });

  it("fails to open with OUTBOX_OPEN_FAILED when the file cannot be created", () => {
    writeFileSync(join(dir, "plain-file"), "");
    const under = join(dir, "plain-file", "x.db");
    expectCode(() => Outbox.open({ path: under, stationId: "st-001", logger }), "OUTBOX_OPEN_FAILED");
  });

  describe("commit failures throw OUTBOX_COMMIT_FAILED and commit nothing", () => {
    it("on a closed database", () => {
      const outbox = openOutbox();
      outbox.append("deposit", "kitchen", deposit);
      outbox.close();
      expectCode(() => outbox.append("deposit", "kitchen", deposit), "OUTBOX_COMMIT_FAILED");
      expect(Outbox.readStatus(path).last_seq).toBe(1);
    });

    it("when another connection holds the write lock past the busy timeout", () => {
      const outbox = openOutbox();
      const other = new Database(path);
      // Shorten the wait: the test is about the error, not the 5 s.
      internalDb(outbox).pragma("busy_timeout = 50");
      other.exec("BEGIN IMMEDIATE");
      try {
        expectCode(() => outbox.append("deposit", "kitchen", deposit), "OUTBOX_COMMIT_FAILED");
      } finally {
        other.exec("ROLLBACK");
        other.close();
      }
      expect(outbox.append("deposit", "kitchen", deposit).seq).toBe(1);
    });

    it("on a database that has become read-only", () => {
      const outbox = openOutbox();
      // File modes do not stop root; query_only gives the same SQLITE_READONLY on every user.
      internalDb(outbox).pragma("query_only = ON");
      expectCode(() => outbox.append("deposit", "kitchen", deposit), "OUTBOX_COMMIT_FAILED");
      expect(outbox.status().last_seq).toBe(0);
    });

    it("for an invalid kind or data that sets a field the outbox owns", () => {
      const outbox = openOutbox();
      expectCode(() => outbox.append("dep/osit", "kitchen", deposit), "OUTBOX_COMMIT_FAILED");
      expectCode(() => outbox.append("deposit", "kitchen", { ...deposit, seq: 99 }), "OUTBOX_COMMIT_FAILED");
      expectCode(() => outbox.append("deposit", "kitchen", { big: 1n }), "OUTBOX_COMMIT_FAILED");
      expect(outbox.append("deposit", "kitchen", deposit).seq).toBe(1);
    });
  });

  describe("readStatus (smartbin outbox status)", () => {
    it("reports zeros and null for a missing database, and does not create it", () => {
      expect(Outbox.readStatus(path)).toEqual(EMPTY);
      expect(existsSync(path)).toBe(false);
      expect(existsSync(join(dir, "nested"))).toBe(false);
    });

    it("reports zeros for a database created but not yet migrated", () => {
      writeFileSync(join(dir, "empty.db"), "");
      expect(Outbox.readStatus(join(dir, "empty.db"))).toEqual(EMPTY);
      const fresh = new Database(join(dir, "fresh.db"));
      fresh.pragma("journal_mode = WAL");
      expect(Outbox.readStatus(join(dir, "fresh.db")).last_seq).toBe(0);
      fresh.close();
    });

    it("reads the committed state while another connection has an open write transaction", () => {
      const outbox = openOutbox();
      outbox.append("deposit", "kitchen", deposit);
      outbox.append("deposit", "kitchen", deposit);
      outbox.markPublished([1]);
      const writer = new Database(path);
      writer.exec("BEGIN IMMEDIATE");
      writer.exec("UPDATE counter SET value = value + 1");
      try {
        const now = new Date(clock.now().getTime() + 2000);
        expect(Outbox.readStatus(path, now)).toEqual({
          pending: 1,
          published: 1,
          oldest_pending_age_s: 2,
          last_seq: 2,
        });
      } finally {
        writer.exec("ROLLBACK");
        writer.close();
      }
      // and the writer keeps working while a reader is open
      expect(outbox.append("deposit", "kitchen", deposit).seq).toBe(3);
    });

    it("fails with OUTBOX_OPEN_FAILED on a file that is not a database", () => {
      writeFileSync(join(dir, "junk.db"), "this is not sqlite, just text long enough to matter".repeat(20));
      expectCode(() => Outbox.readStatus(join(dir, "junk.db")), "OUTBOX_OPEN_FAILED");
    });

    it("runOutboxStatus prints one JSON object with the path, or a human summary", () => {
      const outbox = openOutbox();
      outbox.append("deposit", "kitchen", deposit);
      const lines: string[] = [];
      expect(runOutboxStatus(path, true, (line) => lines.push(line))).toBe(0);
      expect(lines).toHaveLength(1);
      const doc = JSON.parse(lines[0]!);
      expect(doc).toMatchObject({ pending: 1, published: 0, last_seq: 1, path, exists: true });
      expect(typeof doc.oldest_pending_age_s).toBe("number");

      let text = "";
      expect(runOutboxStatus(path, false, (s) => (text += s + "\n"))).toBe(0);
      expect(text).toContain("pending:   1");
      expect(text).toContain("last seq:  1");

      text = "";
      const missing = join(dir, "missing.db");
      expect(runOutboxStatus(missing, true, (s) => (text += s + "\n"))).toBe(0);
      expect(JSON.parse(text)).toEqual({ ...EMPTY, path: missing, exists: false });
      expect(existsSync(missing)).toBe(false);

      let err = "";
      writeFileSync(join(dir, "junk.db"), "not a database".repeat(100));
      expect(runOutboxStatus(join(dir, "junk.db"), true, () => undefined, (s) => (err += s + "\n"))).toBe(1);
      expect(err).toContain("junk.db");
    });
  });
});

describe("clock sync check", () => {
  it("reads the marker file and caches the answer for its period", () => {
    const dir = mkdtempSync(join(tmpdir(), "smartbin-clock-"));
    const marker = join(dir, "synchronized");
    let mono = 0;
    const check = createClockSyncCheck({ markerPath: marker, cacheMs: 60_000, monoNow: () => mono });
    expect(check()).toBe(false);
    writeFileSync(marker, "");
    mono = 59_000;
    expect(check()).toBe(false);
    mono = 60_000;
    expect(check()).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });
});
