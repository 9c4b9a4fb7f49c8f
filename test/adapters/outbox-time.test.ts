/**
 * Time on a board without a real-time clock (issue 8, item 6; contract.md section 2, last rule of
 * "Other station alarms"): `boot_id` and `mono_ms` in every event, and the correction of events never
 * sent once the clock-sync marker appears. Real SQLite files and a real marker file in a temp folder;
 * the wall and monotonic clocks are injected and moved by hand.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import Database from "better-sqlite3";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { readBootId } from "../../src/adapters/boot-clock.js";
import { Outbox, type OutboxOptions, type StoredEvent } from "../../src/adapters/outbox/outbox.js";
import { readSpill } from "../../src/adapters/outbox/spill.js";
import { SENT_MARK_KEY, correctEnvelope } from "../../src/adapters/outbox/time-correction.js";
import { SmartbinError } from "../../src/errors.js";

const logger = pino({ level: "silent" });

/** 2001: the wall clock of a board that booted without a real-time clock or network. */
const WRONG = Date.parse("2001-05-01T10:00:00.000Z");
/** The right time, once NTP has set the clock. */
const RIGHT = Date.parse("2026-11-29T14:36:00.000Z");

const deposit = (startedMs: number, endedMs: number) => ({
  bin_id: "kitchen",
  card_id: "0008844356",
  net_g: 1250,
  points: 1,
  started_at: new Date(startedMs).toISOString(),
  ended_at: new Date(endedMs).toISOString(),
});

/** The board's clocks, moved by hand: `wall` may jump either way, `mono` only forward. */
function boardClocks(bootId = "boot-a") {
  const c = { wall: WRONG, mono: 100_000, bootId };
  return {
    c,
    now: () => new Date(c.wall),
    boot: { get bootId() { return c.bootId; }, monoMs: () => c.mono },
    /** Both clocks move forward by `ms`. */
    tick(ms: number) {
      c.wall += ms;
      c.mono += ms;
    },
  };
}

describe("outbox: boot_id, mono_ms and the time correction (SQLite files on disk)", () => {
  let dir: string;
  let path: string;
  let marker: string;
  const opened: Outbox[] = [];

  function open(clocks: ReturnType<typeof boardClocks>, extra: Partial<OutboxOptions> = {}): Outbox {
    const o = Outbox.open({ path, stationId: "st-001", logger, now: clocks.now, bootClock: clocks.boot, clockSyncMarker: marker, ...extra });
    opened.push(o);
    return o;
  }
  const data = (e: StoredEvent) => (JSON.parse(e.payload) as { data: Record<string, unknown> }).data;
  const doc = (e: StoredEvent) => JSON.parse(e.payload) as { time: string; data: Record<string, unknown> };
  const held = (o: Outbox) => o.pendingAfter(0, 10_000);
  const sync = (clocks: ReturnType<typeof boardClocks>) => {
    clocks.c.wall = RIGHT;
    writeFileSync(marker, "");
  };
  /** A whole pass, as ClockCorrection runs it (without the turns of the event loop). */
  const pass = (o: Outbox, limit?: number) => {
    let after = 0;
    let corrected = 0;
    for (;;) {
      const page = o.correctTimesPage(after, limit);
      corrected += page.corrected;
      after = page.lastSeq;
      if (page.done) return corrected;
    }
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "smartbin-time-"));
    path = join(dir, "smartbin.db");
    marker = join(dir, "synchronized");
  });
  afterEach(() => {
    for (const o of opened.splice(0)) o.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("records boot_id, mono_ms (integer ms) and clock_synced from the boot clock and the marker file", () => {
    const clocks = boardClocks();
    const o = open(clocks);
    const first = o.append("alarm", "scale-1", { code: "scale_offline" });
    expect(data(first)).toMatchObject({ boot_id: "boot-a", mono_ms: 100_000, clock_synced: false });
    writeFileSync(marker, "");
    clocks.tick(61_000); // past the marker's cache period
    expect(data(o.append("alarm", "scale-1", { code: "scale_online" }))).toMatchObject({ boot_id: "boot-a", mono_ms: 161_000, clock_synced: true });
  });

  it("refuses data that sets boot_id or mono_ms (the outbox owns them)", () => {
    const o = open(boardClocks());
    for (const key of ["boot_id", "mono_ms"]) {
      let thrown: unknown;
      try {
        o.append("alarm", "scale-1", { [key]: 1 });
      } catch (err) {
        thrown = err;
      }
      expect((thrown as SmartbinError).code).toBe("OUTBOX_COMMIT_FAILED");
    }
    expect(o.status().last_seq).toBe(0);
  });

  it("reads the kernel's boot id (Linux), and null from a missing file", () => {
    expect(readBootId()).toMatch(/^[0-9a-f-]{36}$/);
    expect(readBootId(join(dir, "missing"))).toBeNull();
  });

  it("once synchronised, corrects time, started_at and ended_at of unsent events and sets clock_synced; other bytes stay", () => {
    const clocks = boardClocks();
    const o = open(clocks);
    const startedWall = clocks.c.wall;
    clocks.tick(4_000);
    const dep = o.append("deposit", "kitchen", deposit(startedWall, clocks.c.wall - 50));
    const recordedMono = clocks.c.mono;
    clocks.tick(30_000);
    const alarm = o.append("alarm", "scale-1", { code: "scale_offline" });
    expect(o.timeCorrectionDue()).toBe(false); // no marker yet

    clocks.tick(10_000);
    sync(clocks);
    expect(o.timeCorrectionDue()).toBe(true);
    expect(pass(o)).toBe(2);

    const [d, a] = held(o);
    // corrected = wall_now - (mono_now - mono_ms)
    const depTime = RIGHT - (clocks.c.mono - recordedMono);
    expect(doc(d!).time).toBe(new Date(depTime).toISOString());
    const shift = depTime - (startedWall + 4_000);
    expect(data(d!)).toMatchObject({
      started_at: new Date(startedWall + shift).toISOString(),
      ended_at: new Date(startedWall + 4_000 - 50 + shift).toISOString(),
      clock_synced: true,
      boot_id: "boot-a",
      mono_ms: recordedMono,
    });
    expect(doc(a!).time).toBe(new Date(RIGHT - 10_000).toISOString());
    // Everything else is as it was, in the same key order.
    const before = JSON.parse(dep.payload) as Record<string, unknown> & { data: Record<string, unknown> };
    const after = JSON.parse(d!.payload) as typeof before;
    expect(Object.keys(after.data)).toEqual(Object.keys(before.data));
    expect({ ...after, time: 0, data: { ...after.data, started_at: 0, ended_at: 0, clock_synced: 0 } }).toEqual({
      ...before,
      time: 0,
      data: { ...before.data, started_at: 0, ended_at: 0, clock_synced: 0 },
    });
    expect(d!.id).toBe(dep.id);
    expect(a!.id).toBe(alarm.id);
    // The time column (outbox list) follows the payload.
    const db = new Database(path, { readonly: true });
    expect(db.prepare("SELECT time FROM events WHERE seq = 1").pluck().get()).toBe(doc(d!).time);
    db.close();
    // Done: nothing more is due, and a second pass changes nothing.
    expect(o.timeCorrectionDue()).toBe(false);
    expect(pass(o)).toBe(0);
  });

  it("never changes an event handed to the publisher (even unacknowledged), nor a published one", () => {
    const clocks = boardClocks();
    const o = open(clocks);
    for (let i = 0; i < 5; i++) {
      o.append("alarm", "scale-1", { code: "scale_offline", i });
      clocks.tick(1000);
    }
    o.markPublished([1]);
    const page = o.pendingAfter(0, 2); // seqs 2 and 3: in the MQTT client, not acknowledged
    o.markSent(page);
    const before = held(o).map((e) => e.payload);
    sync(clocks);
    expect(o.timeCorrectionDue()).toBe(true);
    expect(pass(o)).toBe(2);
    const after = held(o);
    expect(after.map((e) => e.seq)).toEqual([2, 3, 4, 5]);
    expect(after[0]!.payload).toBe(before[0]);
    expect(after[1]!.payload).toBe(before[1]);
    expect(after.slice(2).map((e) => data(e).clock_synced)).toEqual([true, true]);
    const db = new Database(path, { readonly: true });
    expect(db.prepare("SELECT payload FROM events WHERE seq = 1").pluck().get()).toContain('"clock_synced":false}}');
    db.close();
  });

  it("keeps the sent mark across a restart of the same boot; corrects that boot's unsent events after it", () => {
    const clocks = boardClocks();
    let o = open(clocks);
    o.append("alarm", "scale-1", { code: "a" });
    o.markSent(o.pendingAfter(0, 1));
    o.append("alarm", "scale-1", { code: "b" });
    const sent = held(o)[0]!.payload;
    o.close();
    clocks.tick(5000);
    o = open(clocks);
    sync(clocks);
    expect(o.timeCorrectionDue()).toBe(true);
    expect(pass(o)).toBe(1);
    expect(held(o)[0]!.payload).toBe(sent);
    expect(data(held(o)[1]!).clock_synced).toBe(true);
  });

  it("never corrects events of an earlier boot", () => {
    const clocks = boardClocks("boot-a");
    let o = open(clocks);
    const old = o.append("alarm", "scale-1", { code: "scale_offline" });
    o.close();
    clocks.c.bootId = "boot-b";
    clocks.c.mono = 20_000; // a new boot's monotonic clock starts again
    o = open(clocks);
    o.append("alarm", "scale-1", { code: "scale_online" });
    sync(clocks);
    expect(pass(o)).toBe(1);
    const [a, b] = held(o);
    expect(a!.payload).toBe(old.payload);
    expect(data(b!)).toMatchObject({ boot_id: "boot-b", clock_synced: true });
  });

  it("raises the sent mark only for pages with unsynchronised events (no write for synchronised ones)", () => {
    const clocks = boardClocks();
    writeFileSync(marker, "");
    const o = open(clocks);
    o.append("alarm", "scale-1", { code: "a" });
    o.markSent(o.pendingAfter(0, 10));
    expect(o.meta(SENT_MARK_KEY)).toBeNull();
    rmSync(marker);
    clocks.tick(61_000);
    o.append("alarm", "scale-1", { code: "b" });
    o.markSent(o.pendingAfter(0, 10));
    expect(o.meta(SENT_MARK_KEY)).toBe("2");
    o.markSent(o.pendingAfter(0, 1)); // never lowered
    expect(o.meta(SENT_MARK_KEY)).toBe("2");
  });

  it("corrects in pages, each its own transaction, however long the backlog", () => {
    const clocks = boardClocks();
    const o = open(clocks);
    for (let i = 0; i < 450; i++) {
      o.append("alarm", "scale-1", { code: "scale_offline", i });
      clocks.tick(10);
    }
    sync(clocks);
    const p1 = o.correctTimesPage(0, 200);
    expect(p1).toEqual({ lastSeq: 200, corrected: 200, done: false });
    const p2 = o.correctTimesPage(p1.lastSeq, 200);
    expect(p2).toEqual({ lastSeq: 400, corrected: 200, done: false });
    expect(o.correctTimesPage(p2.lastSeq, 200)).toEqual({ lastSeq: 450, corrected: 50, done: true });
    expect(held(o).every((e) => data(e).clock_synced === true)).toBe(true);
  });

  it("a busy database: the page fails with reason busy, changes nothing, and the pass is due again", () => {
    const clocks = boardClocks();
    const o = open(clocks);
    o.append("alarm", "scale-1", { code: "scale_offline" });
    sync(clocks);
    const other = new Database(path);
    other.exec("BEGIN IMMEDIATE");
    let thrown: unknown;
    try {
      o.correctTimesPage(0);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(SmartbinError);
    expect((thrown as SmartbinError).context.reason).toBe("busy");
    expect(data(held(o)[0]!).clock_synced).toBe(false);
    other.exec("ROLLBACK");
    other.close();
    expect(o.timeCorrectionDue()).toBe(true);
    expect(pass(o)).toBe(1);
  });

  it("a wall clock jumping back changes nothing in seq order", () => {
    const clocks = boardClocks();
    clocks.c.wall = RIGHT;
    const o = open(clocks);
    const times: string[] = [];
    for (const jump of [0, -3_600_000, 1000, -86_400_000 * 365, 5]) {
      clocks.c.wall += jump;
      clocks.c.mono += 1;
      times.push(doc(o.append("alarm", "scale-1", { code: "x" })).time);
    }
    const events = held(o);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(events.map((e) => doc(e).time)).toEqual(times); // as recorded, not sorted by time
    expect(events.map((e) => data(e).mono_ms)).toEqual([100_001, 100_002, 100_003, 100_004, 100_005]);
  });

  it("a spilled batch keeps the stamp of its recording; a spill of an older version gets boot_id and mono_ms null", () => {
    const clocks = boardClocks();
    let o = open(clocks);
    const stamp = { boot_id: "boot-a", mono_ms: 42_000, clock_synced: false };
    o.spill([{ time: "2001-05-01T09:59:00.000Z", stamp, events: [{ kind: "alarm", subject: "s", data: { code: "a" } }] }]);
    o.close();
    o = open(clocks);
    const spill = o.spilled()!;
    expect(spill.batches[0]!.stamp).toEqual(stamp);
    o.commitSpill(spill);
    expect(data(held(o)[0]!)).toMatchObject({ boot_id: "boot-a", mono_ms: 42_000, clock_synced: false });
    o.close();
    // A spill file written before stamps existed.
    writeFileSync(
      `${path}.spill`,
      JSON.stringify({ spill: 1, id: "old", station_id: "st-001", batches: 1 }) +
        "\n" +
        JSON.stringify({ time: "2001-05-01T09:59:00.000Z", events: [{ kind: "alarm", subject: "s", data: { code: "b" } }] }) +
        "\n",
    );
    expect(readSpill(path, logger)!.batches[0]!.stamp).toEqual({ boot_id: null, mono_ms: null, clock_synced: false });
    o = open(clocks);
    o.commitSpill(o.spilled()!);
    expect(data(held(o)[1]!)).toMatchObject({ boot_id: null, mono_ms: null, clock_synced: false });
    sync(clocks);
    pass(o);
    expect(data(held(o)[1]!).clock_synced).toBe(false); // no mono_ms: never corrected
  });
});

describe("correctEnvelope", () => {
  const clock = { bootId: "b", wallMs: RIGHT, monoMs: 60_000 };
  const envelope = (data: Record<string, unknown>) =>
    JSON.stringify({ time: "2001-05-01T10:00:00.000Z", data: { station_id: "s", seq: 1, ...data } });

  it("moves only top-level _at stamps, leaves other strings and nested objects alone", () => {
    const out = correctEnvelope(
      envelope({ started_at: "2001-05-01T09:59:00.000Z", label_at: "not a time", args: { at: "2001-05-01T09:00:00.000Z" }, boot_id: "b", mono_ms: 50_000, clock_synced: false }),
      clock,
    )!;
    const doc = JSON.parse(out.payload) as { time: string; data: Record<string, unknown> };
    expect(doc.time).toBe(new Date(RIGHT - 10_000).toISOString());
    expect(doc.data.started_at).toBe(new Date(RIGHT - 70_000).toISOString());
    expect(doc.data.label_at).toBe("not a time");
    expect(doc.data.args).toEqual({ at: "2001-05-01T09:00:00.000Z" });
    expect(out.time).toBe(doc.time);
  });

  it("returns null for a synchronised event, another boot, no mono_ms, or text that is not JSON", () => {
    expect(correctEnvelope(envelope({ boot_id: "b", mono_ms: 1, clock_synced: true }), clock)).toBeNull();
    expect(correctEnvelope(envelope({ boot_id: "other", mono_ms: 1, clock_synced: false }), clock)).toBeNull();
    expect(correctEnvelope(envelope({ boot_id: "b", mono_ms: null, clock_synced: false }), clock)).toBeNull();
    expect(correctEnvelope('{"data":{"clock_synced":false}}', clock)).toBeNull();
    expect(correctEnvelope('not json "clock_synced":false}}', clock)).toBeNull();
  });
});
