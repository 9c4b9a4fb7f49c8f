import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import mqtt, { type MqttClient } from "mqtt";
import { pino } from "pino";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { Outbox } from "../../src/adapters/outbox/outbox.js";
import { Station } from "../../src/app/station.js";
import { loadConfigFile } from "../../src/config/load.js";
import { requireTools } from "../support/require-tool.js";
import { eventually, removeTempDirs, sleep, startCentral, startRig, writeStationConfig, type Central, type Rig } from "./harness.js";

const tools = requireTools(["mosquitto", "socat"]);
const HOLDER = join(import.meta.dirname, "fixtures/hold-write-lock.mjs");

/** A real second process holding the database's write lock until `release()` (or `holdMs`). */
async function holdWriteLock(dbPath: string, holdMs = 20_000): Promise<{ release(): Promise<void>; child: ChildProcess }> {
  const child = spawn(process.execPath, [HOLDER, dbPath, String(holdMs)], { stdio: ["pipe", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  await eventually(() => out.includes("held"), 10_000, "the second process holding the write lock");
  return {
    child,
    release: async () => {
      if (child.exitCode === null) {
        child.stdin.write("release\n");
        await new Promise((resolve) => child.once("exit", resolve));
      }
    },
  };
}

/** The retained status messages a subscriber sees, parsed, in arrival order. */
async function watchStatus(url: string): Promise<{ client: MqttClient; seen: Array<Record<string, unknown>> }> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: `status-${process.pid}-${Date.now()}`, reconnectPeriod: 0 });
  const seen: Array<Record<string, unknown>> = [];
  client.on("message", (_topic, payload) => seen.push(JSON.parse(payload.toString("utf8")) as Record<string, unknown>));
  await client.subscribeAsync("smartbin/st-it/status", { qos: 1 });
  return { client, seen };
}

const storageState = (status: Record<string, unknown>) => (status.storage as { state?: string } | undefined)?.state;

/**
 * Issue 7, item 1: another process holding the database's write lock (the `sqlite3` shell in
 * `BEGIN IMMEDIATE`, a backup) delays commits but never fails them and never stops the station:
 * the whole station in-process on real parts (socat pseudo-terminals, Mosquitto, SQLite on disk),
 * the lock held by a real second process.
 */
describe.skipIf(tools.skip)(`storage busy: another process holds the write lock${tools.reason}`, () => {
  let rig: Rig;
  let central: Central | undefined;
  let status: Awaited<ReturnType<typeof watchStatus>> | undefined;
  let station: Station | undefined;
  let holder: Awaited<ReturnType<typeof holdWriteLock>> | undefined;

  beforeEach(async () => {
    rig = await startRig();
  });

  afterEach(async () => {
    await holder?.release();
    holder = undefined;
    await station?.stop();
    station = undefined;
    await central?.close();
    central = undefined;
    await status?.client.endAsync(true);
    status = undefined;
    await rig.dispose();
  });

  afterAll(() => removeTempDirs());

  /** Storage limits far from this machine's disk: no space alarm may mix into what is asserted. */
  const ROOMY = "  max_size_mb: 4096\n  min_free_mb: 0\n";

  function startStation(dir?: string): { dbPath: string; dir: string } {
    const cfg = writeStationConfig({
      brokerUrl: rig.broker.url,
      scalePort: rig.scale.pty.devicePath,
      readerPort: rig.reader.pty.devicePath,
      storageExtra: ROOMY,
      ...(dir !== undefined ? { dir } : {}),
    });
    const loaded = loadConfigFile(cfg.file);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    station = new Station({ config: loaded.config, logger: pino({ level: "silent" }), storage: { reserveBytes: 0, stopCommitMs: 500 } });
    station.start();
    return { dbPath: cfg.dbPath, dir: cfg.dir };
  }

  async function scaleReady(): Promise<void> {
    await eventually(() => station!.snapshot()?.scales["scale-1"]?.acceptedG === rig.scale.loadG, 10_000, "the scale's baseline");
  }

  it("commits wait, in order, while the event loop, the scale, sessions and MQTT go on; status busy then ok; no device alarm", async () => {
    central = await startCentral(rig.broker.url);
    status = await watchStatus(rig.broker.url);
    const { dbPath } = startStation();
    await scaleReady();
    await rig.reader.present("100086F444"); // a first deposit, committed normally
    await eventually(() => station!.getStats().sessionsOpened === 1, 8_000, "first session");
    rig.scale.loadG += 1_000;
    await eventually(() => station!.getStats().deposits === 1, 8_000, "first deposit");

    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    let maxGap = 0;
    let last = performance.now();
    const drift = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 20);
    const framesBefore = station!.getStats().scaleFrames;
    // The direct measure of "never blocks the event loop for long": how long each synchronous commit
    // call takes (the busy timeout is 20 ms), whatever else the machine is doing.
    const realCommit = Outbox.prototype.commit;
    let longestCommitMs = 0;
    let commitCalls = 0;
    Outbox.prototype.commit = function (this: Outbox, ...args: Parameters<Outbox["commit"]>) {
      const t0 = performance.now();
      try {
        return realCommit.apply(this, args);
      } finally {
        commitCalls++;
        longestCommitMs = Math.max(longestCommitMs, performance.now() - t0);
      }
    };
    try {
      holder = await holdWriteLock(dbPath);
      // A card while busy still opens a session; its stored row waits behind the lock.
      await rig.reader.present("13005D1DA5");
      await eventually(() => station!.getStats().sessionsOpened === 2, 8_000, "a session opened while busy");
      await eventually(() => status!.seen.some((s) => storageState(s) === "busy"), 5_000, "status storage: busy");
      expect(station!.snapshot()!.storage.state).toBe("busy");
      rig.scale.loadG += 2_000;
      await eventually(() => station!.snapshot()!.session.phase === "idle", 8_000, "the session closed while busy");
      await sleep(1_000);
      // Not acknowledged before its commit: no "deposit recorded", nothing published.
      expect(station!.getStats().deposits).toBe(1);
      expect(central.events.filter((e) => e.json.type === "smartbin.deposit.v1")).toHaveLength(1);
      // The scale was read all along (20 frames a second) and stayed online.
      expect(station!.getStats().scaleFrames - framesBefore).toBeGreaterThan(40);
      expect(station!.snapshot()!.scales["scale-1"]!.link.reported).not.toBe("offline");

      await holder.release();
      await eventually(() => station!.getStats().deposits === 2, 5_000, "the waiting deposit committed after the lock was released");
      await eventually(() => storageState(status!.seen.at(-1)!) === "ok", 5_000, "status storage: ok again");
    } finally {
      Outbox.prototype.commit = realCommit;
      clearInterval(drift);
      loop.disable();
    }
    // Behaviour bounds, not speed benchmarks. Each commit attempt returned quickly (retried on a
    // timer while busy, never waiting on the lock for long), and the loop never stood still for
    // long: the loop bounds leave room for a machine loaded by other tests (a 2-core runner has shown
    // 140 ms stalls of the whole process there), not for a blocking wait on the lock (8.6 s before).
    expect(commitCalls).toBeGreaterThan(3);
    expect(longestCommitMs).toBeLessThan(100);
    expect(loop.max / 1e6).toBeLessThan(400);
    expect(maxGap).toBeLessThan(450);

    await eventually(() => central!.events.length >= 2, 5_000, "the second deposit published");
    const seqs = central.events.map((e) => e.json.data.seq);
    expect(seqs).toEqual([1, 2]);
    expect(central.events.map((e) => [e.json.type, e.json.data.net_g])).toEqual([
      ["smartbin.deposit.v1", 1_000],
      ["smartbin.deposit.v1", 2_000],
    ]);
    // No device alarm (no scale_offline/scale_online pair), and the MQTT connection held: one online status.
    expect(central.events.filter((e) => e.json.type === "smartbin.alarm.v1")).toEqual([]);
    const states = status.seen.map(storageState);
    expect(states.indexOf("busy")).toBeGreaterThan(-1);
    expect(states.lastIndexOf("ok")).toBeGreaterThan(states.indexOf("busy"));
    expect(status.seen.every((s) => s.state === "online")).toBe(true);
  });

  it("a shutdown while the lock is held writes the waiting events to a private spill file; the next start commits them first, in order", async () => {
    const first = startStation();
    await scaleReady();
    holder = await holdWriteLock(first.dbPath);
    await rig.reader.present("100086F444");
    await eventually(() => station!.getStats().sessionsOpened === 1, 8_000, "a session opened while busy");
    rig.scale.loadG += 1_500;
    await eventually(() => station!.snapshot()!.session.phase === "idle", 8_000, "the session closed while busy");
    await station!.stop();
    station = undefined;
    const spill = `${first.dbPath}.spill`;
    expect(existsSync(spill)).toBe(true);
    expect(statSync(spill).mode & 0o777).toBe(0o600);
    const lines = readFileSync(spill, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ spill: 1, station_id: "st-it" });
    // The session's stored row (written when it opened and at its weight change), then its deposit
    // with the row's deletion: the order of the commits.
    const ops = lines.slice(1).map((b) => (b.session as { op: string } | undefined)?.op);
    expect(ops[0]).toBe("put");
    expect(ops.at(-1)).toBe("delete");
    expect((lines.at(-1)!.events as Array<{ kind: string; data: { net_g: number } }>).map((e) => [e.kind, e.data.net_g])).toEqual([["deposit", 1_500]]);
    await holder.release();
    holder = undefined;

    central = await startCentral(rig.broker.url);
    startStation(first.dir);
    await eventually(() => central!.events.length >= 1, 8_000, "the spilled deposit published after the restart");
    expect(existsSync(spill)).toBe(false);
    expect(central.events.map((e) => [e.json.type, e.json.data.seq, e.json.data.net_g, e.json.data.close_reason])).toEqual([
      ["smartbin.deposit.v1", 1, 1_500, "idle"],
    ]);
    // Its session was closed in the spill: it is not recovered a second time.
    expect(station!.snapshot()!.session.phase).toBe("idle");
    await scaleReady();
    await rig.reader.present("13005D1DA5");
    await eventually(() => station!.getStats().sessionsOpened === 1, 8_000, "a new session after the restart");
    rig.scale.loadG += 500;
    await eventually(() => central!.events.length >= 2, 8_000, "the next deposit");
    expect(central.events.map((e) => e.json.data.seq)).toEqual([1, 2]);
  });
});
