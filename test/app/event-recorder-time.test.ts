/**
 * A batch that has to wait in memory (storage busy) keeps the moment it was recorded: `time`,
 * `boot_id`, `mono_ms` and `clock_synced` are those of the record, not of the late commit; and the
 * time correction ({@link ClockCorrection}) then corrects it like any unsent event. Real SQLite files,
 * a real marker file; the clocks are moved by hand.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import Database from "better-sqlite3";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { Outbox } from "../../src/adapters/outbox/outbox.js";
import { ClockCorrection } from "../../src/app/clock-correction.js";
import { EventRecorder, type RecordBatch } from "../../src/app/event-recorder.js";
import { ManualClock } from "../support/manual-clock.js";

const logger = pino({ level: "silent" });
const WRONG = Date.parse("2001-05-01T10:00:00.000Z");
const RIGHT = Date.parse("2026-11-29T14:36:00.000Z");

const alarm = (code: "scale_offline" | "scale_online"): RecordBatch => ({
  events: [{ kind: "alarm", subject: "scale-1", data: { code, device_id: "scale-1", message: code } }],
});

describe("EventRecorder and ClockCorrection with a real outbox", () => {
  let dir: string;
  let outbox: Outbox;
  let marker: string;
  /** The runner's clock (wall for `time`); the board's monotonic clock follows it. */
  let clock: ManualClock;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "smartbin-rec-time-"));
    marker = join(dir, "synchronized");
    clock = new ManualClock(WRONG);
    outbox = Outbox.open({
      path: join(dir, "smartbin.db"),
      stationId: "st-001",
      logger,
      now: () => new Date(clock.wall()),
      bootClock: { bootId: "boot-a", monoMs: () => 1_000_000 + clock.mono() },
      clockSyncMarker: marker,
    });
  });
  afterEach(() => {
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const data = (seq: number): Record<string, unknown> => {
    const doc = JSON.parse(outbox.pendingAfter(seq - 1, 1)[0]!.payload) as { time: string; data: Record<string, unknown> };
    return { time: doc.time, ...doc.data };
  };

  it("a batch that waited for a busy database is stamped with its recording moment, and corrected once synchronised", async () => {
    const rec = new EventRecorder({
      outbox,
      logger,
      onCommitted: () => undefined,
      onStateChanged: () => undefined,
      after: (ms, fn) => clock.after(ms, fn),
      wall: () => clock.wall(),
    });
    const other = new Database(join(dir, "smartbin.db"));
    other.exec("BEGIN IMMEDIATE");
    clock.advance(5_000);
    rec.record(alarm("scale_offline"));
    expect(rec.commitState()).toBe("busy");
    // The clock is synchronised while the batch waits; the commit comes later still.
    clock.advance(20_000);
    clock.jumpWall(RIGHT - WRONG);
    writeFileSync(marker, "");
    clock.advance(40_000);
    other.exec("ROLLBACK");
    other.close();
    rec.commitWaiting();
    expect(rec.commitState()).toBe("ok");
    expect(data(1)).toMatchObject({ time: new Date(WRONG + 5_000).toISOString(), boot_id: "boot-a", mono_ms: 1_005_000, clock_synced: false });

    const correction = new ClockCorrection({ outbox, clock, logger });
    expect(await correction.tick()).toBe(1);
    // wall_now - (mono_now - mono_ms) = (RIGHT + 65 000) - (1 065 000 - 1 005 000)
    expect(data(1)).toMatchObject({ time: new Date(RIGHT + 5_000).toISOString(), mono_ms: 1_005_000, clock_synced: true });
    // Nothing is due any more: the next polls read no file and change nothing.
    expect(await correction.tick()).toBe(0);
    rec.record(alarm("scale_online"));
    expect(data(2)).toMatchObject({ time: new Date(clock.wall()).toISOString(), clock_synced: true });
  });

  it("polls on the clock and corrects only while synchronised", async () => {
    const correction = new ClockCorrection({ outbox, clock, logger, pollMs: 1000 });
    outbox.append("alarm", "scale-1", { code: "scale_offline" });
    expect(await correction.tick()).toBe(0); // no marker
    clock.jumpWall(RIGHT - WRONG);
    writeFileSync(marker, "");
    correction.start();
    clock.advance(1000);
    await new Promise((r) => setImmediate(r));
    correction.stop();
    expect(data(1).clock_synced).toBe(true);
  });
});
