/**
 * Time on a board without a real-time clock (issue 8, item 6), with the built `smartbin run` as a
 * process whose wall clock libfaketime sets and moves (LD_PRELOAD, `FAKETIME_TIMESTAMP_FILE` re-read
 * at every call with `FAKETIME_NO_CACHE=1`; `FAKETIME_DONT_FAKE_MONOTONIC=1` leaves CLOCK_MONOTONIC
 * alone, as NTP does): the station starts in 2001, one deposit is sent, the broker goes away, a
 * second deposit waits; then the marker file appears and the clock jumps to the right time. The
 * waiting deposit arrives with its times corrected and `clock_synced: true`; the one already sent
 * keeps its bytes.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";

import { configJsonSchema } from "../../src/config/json-schema.js";
import { exited, logged, startRun, type Run } from "../support/smartbin-run.js";
import { startMosquitto } from "../support/mosquitto.js";
import { isCI, requireTools } from "../support/require-tool.js";
import { findLibfaketime } from "../support/faketime.js";
import { FakeCardReader, FakeIndicator, eventually, processTestCleanups, sleep, startCentral, writeStationConfig } from "./harness.js";

const tools = requireTools(["mosquitto", "socat"]);
const libfaketime = findLibfaketime();
// Until the config schema has station.clock_sync_marker (issue 8), `smartbin run` cannot be told where the marker is.
const markerKey = JSON.stringify(configJsonSchema()).includes("clock_sync_marker");
const why = tools.skip
  ? tools.reason
  : libfaketime === undefined
    ? " (skipped: libfaketime not installed: apt-get install faketime)"
    : !markerKey
      ? " (skipped: the config schema has no station.clock_sync_marker yet)"
      : "";
if (libfaketime === undefined && !tools.skip && isCI()) {
  it("libfaketime is required when CI is set", () => {
    throw new Error("libfaketime is required when CI is set (Debian: apt-get install faketime)");
  });
}

/** `smartbin run` under libfaketime, its wall clock read from `timestampFile`. */
function startFaketimeRun(file: string, timestampFile: string): Run {
  return startRun(file, {
    ...process.env,
    LD_PRELOAD: libfaketime!,
    FAKETIME_TIMESTAMP_FILE: timestampFile,
    FAKETIME_NO_CACHE: "1",
    FAKETIME_DONT_FAKE_MONOTONIC: "1",
    TZ: "UTC",
  });
}

/** libfaketime's absolute form: `@YYYY-MM-DD hh:mm:ss` (local time; the child runs with TZ=UTC). */
const faketime = (ms: number) => "@" + new Date(ms).toISOString().slice(0, 19).replace("T", " ") + "\n";

describe.skipIf(why !== "")(`clock synchronised while events wait (libfaketime)${why}`, () => {
  const cleanups = processTestCleanups();

  it("events recorded in 2001 while the broker is away are published with corrected times; a sent one keeps its bytes", async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.dispose());
    const scale = await FakeIndicator.start(12_000);
    const reader = await FakeCardReader.start();
    cleanups.push(() => scale.stop(), () => reader.stop());
    const central = await startCentral(broker.url, { persistent: true, clientId: "central-clock" });
    cleanups.push(() => central.close());
    const cfg = writeStationConfig({ brokerUrl: broker.url, scalePort: scale.pty.devicePath, readerPort: reader.pty.devicePath });
    const marker = join(cfg.dir, "synchronized");
    writeFileSync(cfg.file, readFileSync(cfg.file, "utf8").replace(/^station:\n/, `station:\n  clock_sync_marker: ${marker}\n`));
    const timestampFile = join(cfg.dir, "faketime");
    writeFileSync(timestampFile, faketime(Date.parse("2001-05-01T10:00:00Z")));

    const run = startFaketimeRun(cfg.file, timestampFile);
    cleanups.push(async () => {
      if (run.exitCode === null) run.kill("SIGKILL");
      await exited(run);
    });
    await eventually(() => logged(run, "station started"), 10_000, "start");
    await sleep(1000); // the scale's baseline
    const deposits = () => central.events.filter((e) => e.json.type === "smartbin.deposit.v1");

    // 1. A deposit sent while the clock says 2001.
    await reader.present("100086F444");
    scale.loadG = 13_250;
    const first = await eventually(() => deposits()[0], 15_000, "the first deposit");
    expect(first.json.data).toMatchObject({ seq: expect.any(Number), clock_synced: false, boot_id: readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() });
    expect((first.json as unknown as { time: string }).time).toMatch(/^2001-/);

    // 2. The broker goes away; a second deposit waits in the database.
    await broker.stop();
    await sleep(500);
    await reader.present("100086F444");
    scale.loadG = 14_500;
    const db = new Database(cfg.dbPath, { readonly: true });
    cleanups.push(() => {
      db.close();
      return Promise.resolve();
    });
    const firstSeq = first.json.data.seq as number;
    const waiting = await eventually(
      () => db.prepare<[number], { seq: number; payload: string }>("SELECT seq, payload FROM events WHERE kind = 'deposit' AND seq > ?").get(firstSeq),
      15_000,
      "the second deposit in the database",
    );
    const before = JSON.parse(waiting.payload) as { id: string; time: string; data: Record<string, unknown> };
    expect(before.time).toMatch(/^2001-/);
    expect(before.data.clock_synced).toBe(false);

    // 3. NTP: the marker appears and the wall clock jumps to the right time (the monotonic clock does not).
    const right = Date.now();
    writeFileSync(timestampFile, faketime(right));
    writeFileSync(marker, "");
    await eventually(() => logged(run, "clock synchronised: times of events not yet sent corrected"), 10_000, "the correction");

    // 4. The broker is back: the waiting deposit arrives corrected.
    await broker.restart();
    const second = await eventually(() => deposits().find((e) => e.json.data.seq === waiting.seq), 20_000, "the second deposit");
    const after = second.json as unknown as { id: string; time: string; data: Record<string, unknown> };
    expect(after.id).toBe(before.id);
    expect(after.data).toMatchObject({ clock_synced: true, boot_id: before.data.boot_id, mono_ms: before.data.mono_ms, net_g: 1250 });
    const t = Date.parse(after.time);
    expect(t).toBeGreaterThan(right - 120_000);
    expect(t).toBeLessThan(right + 5_000);
    // started_at and ended_at moved by the same amount as time.
    const shift = t - Date.parse(before.time);
    expect(Date.parse(after.data.started_at as string) - Date.parse(before.data.started_at as string)).toBe(shift);
    expect(Date.parse(after.data.ended_at as string) - Date.parse(before.data.ended_at as string)).toBe(shift);

    // 5. The event sent before the sync keeps its bytes: every copy received, and the stored one.
    for (const copy of central.events.filter((e) => e.json.id === first.json.id)) expect(copy.payload).toBe(first.payload);
    expect(db.prepare<[string], { payload: string }>("SELECT payload FROM events WHERE id = ?").get(first.json.id)?.payload).toBe(first.payload);

    run.kill("SIGTERM");
    await exited(run);
    expect(run.exitCode).toBe(0);
  });
});
