/** Telemetry (contract section 4) with a manual clock and fakes of its ports; one test on a real outbox and runner. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { pino } from "pino";
import { describe, expect, it } from "vitest";

import { Outbox } from "../../src/adapters/outbox/outbox.js";
import { StationRunner, type DeviceHandlers, type RunnerDevice } from "../../src/app/runner.js";
import { Telemetry, type TelemetryPayload, type TelemetryRunnerPort, type TelemetryStorePort } from "../../src/app/telemetry.js";
import { encodeStGs, findProtocol } from "../../src/protocol/index.js";
import { ManualClock } from "../support/manual-clock.js";
import { testContext } from "../support/machine.js";

const silent = pino({ level: "silent" });

function fakes() {
  const sent: Array<{ body: TelemetryPayload; intervalS: number }> = [];
  const store = { pending: 3, oldest: 12.5 as number | null, used: 1_228_800, free: 2_147_483_648, broken: false };
  const outbox: TelemetryStorePort = {
    status: () => {
      if (store.broken) throw new Error("disk I/O error");
      return { pending: store.pending, oldest_pending_age_s: store.oldest };
    },
    measureSpace: () => ({ usedBytes: store.used, freeBytes: store.free }),
  };
  const runner: TelemetryRunnerPort = {
    statusFields: () => ({ devices: { "scale-1": "online", "reader-1": "offline" } }),
    deviceFrames: () => ({ "scale-1": { valid: 40, discarded: 2 }, "reader-1": { valid: 0, discarded: 5 } }),
  };
  const publisher = { publishTelemetry: (body: string, intervalS: number) => void sent.push({ body: JSON.parse(body) as TelemetryPayload, intervalS }) };
  return { sent, store, outbox, runner, publisher };
}

describe("Telemetry", () => {
  it("publishes the contract's payload every interval, with the interval for the message expiry", () => {
    const clock = new ManualClock();
    const f = fakes();
    const t = new Telemetry({ ...f, clock, intervalS: 60, logger: silent, process: { uptimeS: () => 3600.7, rssBytes: () => 61_865_984 } });
    t.start();
    clock.advance(59_999);
    expect(f.sent).toEqual([]);
    clock.advance(1);
    expect(f.sent).toEqual([
      {
        intervalS: 60,
        body: {
          backlog: 3,
          oldest_pending_age_s: 12.5,
          devices: {
            "scale-1": { state: "online", valid_frames: 40, discarded_frames: 2 },
            "reader-1": { state: "offline", valid_frames: 0, discarded_frames: 5 },
          },
          uptime_s: 3600,
          rss_bytes: 61_865_984,
          disk_free_bytes: 2_147_483_648,
          db_bytes: 1_228_800,
        },
      },
    ]);
    f.store.pending = 0;
    f.store.oldest = null;
    clock.advance(120_000);
    expect(f.sent).toHaveLength(3);
    expect(f.sent[2]?.body).toMatchObject({ backlog: 0, oldest_pending_age_s: null });
    t.stop();
    clock.advance(600_000);
    expect(f.sent).toHaveLength(3);
    expect(clock.liveTimers()).toBe(0);
  });

  it("a figure that cannot be read is null, logged once; the rest still goes out", () => {
    const clock = new ManualClock();
    const f = fakes();
    const warns: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void warns.push((JSON.parse(line) as { msg: string }).msg) });
    const t = new Telemetry({ ...f, clock, intervalS: 10, logger });
    t.start();
    f.store.broken = true;
    clock.advance(30_000);
    expect(f.sent.map((s) => s.body.backlog)).toEqual([null, null, null]);
    expect(f.sent[0]?.body.db_bytes).toBe(1_228_800);
    expect(warns.filter((m) => m.startsWith("a telemetry figure could not be read"))).toHaveLength(1);
    f.store.broken = false;
    clock.advance(10_000);
    expect(f.sent.at(-1)?.body.backlog).toBe(3);
  });

  it("refuses an interval that is not above zero", () => {
    const f = fakes();
    expect(() => new Telemetry({ ...f, clock: new ManualClock(), intervalS: 0, logger: silent })).toThrow(RangeError);
  });

  it("with the real runner and outbox: device states and per-device frame counts, the database's size", async () => {
    const dir = mkdtempSync(join(tmpdir(), "smartbin-tel-"));
    const clock = new ManualClock();
    const outbox = Outbox.open({ path: join(dir, "smartbin.db"), stationId: "st-001", logger: silent, now: () => new Date(clock.wall()) });
    let handlers: DeviceHandlers | undefined;
    const devices: RunnerDevice[] = [
      {
        kind: "scale",
        id: "scale-1",
        framer: findProtocol("scale", "ascii-st-gs").configure().createFramer(),
        open: (h) => {
          handlers = h;
          return { start: () => undefined, stop: () => Promise.resolve() };
        },
      },
    ];
    const base = testContext();
    const runner = new StationRunner({
      context: { ...base, scales: base.scales.slice(0, 1), bins: base.bins.slice(0, 1), readers: [] },
      devices,
      adapters: { outbox, publisher: { notify: () => undefined, publishStatus: () => undefined }, logger: silent, newId: () => "id" },
      clock,
    });
    try {
      runner.start();
      handlers?.onOpen();
      const frame = encodeStGs({ grams: 1200, stable: true, mode: "gross" });
      handlers?.onData(Buffer.concat([frame, Buffer.from("garbage\r\n"), frame]));
      const sent: TelemetryPayload[] = [];
      const t = new Telemetry({
        runner,
        outbox,
        publisher: { publishTelemetry: (body) => void sent.push(JSON.parse(body) as TelemetryPayload) },
        clock,
        intervalS: 30,
        logger: silent,
      });
      t.start();
      clock.advance(30_000);
      expect(sent[0]?.devices).toEqual({ "scale-1": { state: "online", valid_frames: 2, discarded_frames: 1 } });
      expect(sent[0]?.db_bytes).toBeGreaterThan(0);
      expect(sent[0]?.disk_free_bytes).toBeGreaterThan(0);
      expect(sent[0]?.uptime_s).toBeGreaterThanOrEqual(0);
      t.stop();
    } finally {
      await runner.stop();
      outbox.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
