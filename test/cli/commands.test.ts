import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildOnce, ROOT, SMARTBIN } from "../support/build.js";
import { startMosquitto } from "../support/mosquitto.js";
import { requireTools } from "../support/require-tool.js";
import {
  FakeCardReader,
  FakeIndicator,
  eventually,
  removeTempDirs,
  sleep,
  tempDir,
  startCentral,
  writeStationConfig,
} from "../integration/harness.js";

/**
 * Process tests: the built `smartbin`, started and signalled as systemd and technicians do (the
 * signals themselves: signals.test.ts). Each file that spawns the binary builds it once, first.
 */
beforeAll(() => buildOnce(), 120_000);

const execFileAsync = promisify(execFile);

function smartbin(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [SMARTBIN, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tmp(): string {
  return tempDir("smartbin-cli-");
}

afterAll(() => removeTempDirs());

describe("usage and exit codes", () => {
  it("no subcommand is a usage error (2); --help exits 0", () => {
    expect(smartbin([]).code).toBe(2);
    const unknown = smartbin(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    expect(smartbin(["--version"])).toMatchObject({ code: 0, stdout: `smartbin-edge ${version} (Node ${process.versions.node})\n` });
    const help = smartbin(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("demo");
    expect(smartbin(["config"]).code).toBe(2);
  });

  it("config check: ok on a valid file, every problem and exit 78 on a bad one", () => {
    const dir = tmp();
    const good = join(dir, "good.yaml");
    writeFileSync(good, "station:\n  id: st-001\nmqtt:\n  url: mqtt://127.0.0.1:1883\n");
    const ok = smartbin(["config", "check", "-c", good]);
    expect(ok).toMatchObject({ code: 0, stdout: `${good}: ok\n` });

    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "station:\n  id: st-001\n  colour: red\nmqtt:\n  url: mqtt://x\nscales:\n  - id: s1\n    port: /dev/x\n    protocol: yaohua-a9\n    baud_rate: fast\n");
    const r = smartbin(["config", "check"], { SMARTBIN_CONFIG: bad });
    expect(r.code).toBe(78);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^${bad}:3:3: station\\.colour: `));
    expect(lines[1]).toMatch(new RegExp(`^${bad}:10:16: scales\\.0\\.baud_rate: .*fast`));

    const missing = smartbin(["config", "check", "-c", join(dir, "nope.yaml")]);
    expect(missing.code).toBe(78);
    expect(missing.stdout).toMatch(/nope\.yaml:1:1: \(file\): cannot read: /);
  });

  it("config check refuses a reader pattern with look-around or a back-reference (exit 78), naming it", () => {
    const file = join(tmp(), "pattern.yaml");
    const config = (pattern: string) =>
      `station:\n  id: st-001\nmqtt:\n  url: mqtt://x\nreaders:\n  - id: qr\n    port: /dev/x\n    protocol: ascii-line\n    pattern: '${pattern}'\n`;
    writeFileSync(file, config("^(?<=SB:)([0-9]+)$"));
    const lookBehind = smartbin(["config", "check", "-c", file]);
    expect(lookBehind.code).toBe(78);
    expect(lookBehind.stdout).toMatch(new RegExp(`^${file}:9:14: readers\\.0\\.pattern: .*look-behind "\\(\\?<=" cannot be matched in linear time`));
    writeFileSync(file, config("^(a)\\1$"));
    const backReference = smartbin(["config", "check", "-c", file]);
    expect(backReference.code).toBe(78);
    expect(backReference.stdout).toContain('back-reference "\\1" cannot be matched in linear time');
    writeFileSync(file, config("^(a|a)*$"));
    expect(smartbin(["config", "check", "-c", file])).toMatchObject({ code: 0, stdout: `${file}: ok\n` });
  });

  it("config schema prints a draft 2020-12 JSON Schema and nothing else", () => {
    const r = smartbin(["config", "schema"]);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout) as { $schema: string; properties: Record<string, unknown> };
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(["station", "mqtt", "scales", "bins"]));
  });

  it("run with a bad config prints every problem on stderr and exits 78 before touching the database", () => {
    const dir = tmp();
    const file = join(dir, "c.yaml");
    const db = join(dir, "never.db");
    writeFileSync(file, `station:\n  id: BAD ID\nstorage:\n  path: ${db}\nmqtt:\n  url: ftp://x\n`);
    const r = smartbin(["run", "-c", file]);
    expect(r.code).toBe(78);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`${file}:2:7: station.id: `);
    expect(r.stderr).toContain(`${file}:6:8: mqtt.url: `);
    expect(existsSync(db)).toBe(false);
  });

  it("outbox status on a database that does not exist reports zeros and does not create it", () => {
    const dir = tmp();
    const file = join(dir, "c.yaml");
    writeFileSync(file, `station:\n  id: st-1\nstorage:\n  path: ./data/s.db\nmqtt:\n  url: mqtt://127.0.0.1:1\n`);
    const r = smartbin(["outbox", "status", "--json", "-c", file]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n")).toHaveLength(2); // one object, one line
    expect(JSON.parse(r.stdout)).toMatchObject({
      pending: 0,
      published: 0,
      oldest_pending_age_s: null,
      last_seq: 0,
      exists: false,
    });
    expect(existsSync(join(dir, "data/s.db"))).toBe(false);
    expect(existsSync(join(dir, "data"))).toBe(false);
  });
});

describe("demo", () => {
  // The collector comes at about 20 s: this run is long enough for its collection to be recorded.
  it("prints CloudEvents on stdout (deposits, a deposit through the kitchen bin's door, a collection), a story and a summary on stderr, removes its folder, and exits 0", () => {
    const r = smartbin(["demo", "--seconds", "30"]);
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; source: string; subject: string; data: { seq: number; net_g: number; points: number; removed_g?: number; card_id: string } });
    const deposits = events.filter((e) => e.type === "smartbin.deposit.v1");
    expect(deposits.length).toBeGreaterThanOrEqual(3); // 4 or more on a quiet machine; the visitors wait for the door, which a loaded runner slows
    // Through the door: the first resident's 1.25 kg into the kitchen bin, measured from the door's unlock.
    expect(deposits).toContainEqual(expect.objectContaining({ subject: "kitchen", data: expect.objectContaining({ card_id: "0008844356", points: 2 }) }));
    const collections = events.filter((e) => e.type === "smartbin.collection.v1");
    expect(collections).toHaveLength(1);
    expect(collections[0]).toMatchObject({ subject: "kitchen", data: { card_id: "0012340777" } });
    expect(collections[0]!.data.removed_g).toBeGreaterThan(11_000);
    expect(events.map((e) => e.type).filter((t) => t === "smartbin.alarm.v1")).toHaveLength(1); // the implausible bag, nothing else
    expect(events.every((e) => e.source === "smartbin/demo-station")).toBe(true);
    expect(events.map((e) => e.data.seq)).toEqual(events.map((_, i) => i + 1));
    const points = deposits.reduce((s, e) => s + e.data.points, 0);
    const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;
    expect(r.stderr).toContain(`demo summary: ${plural(deposits.length, "deposit")}, ${plural(points, "point")}, 1 collection, 1 alarm, `);
    // Stderr, not a terminal here: the broker's URL first, then the readable story, never redrawn in place.
    const stderr = r.stderr.split("\n");
    expect(stderr[0]).toMatch(/^smartbin demo: embedded MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+ \(topics smartbin\/demo-station\/#\)$/);
    expect(stderr).toContainEqual(expect.stringMatching(/^\d\d:\d\d:\d\d {2}identified {2}\*{6}4356 at reader-card /));
    expect(stderr.filter((l) => / {2}deposit {5}/.test(l))).toHaveLength(deposits.length);
    // The door's lines: the first resident's and the collector's visits.
    expect(stderr.filter((l) => /^\d\d:\d\d:\d\d {2}door {8}of kitchen unlocked$/.test(l)).length).toBeGreaterThanOrEqual(2);
    expect(stderr.filter((l) => /^\d\d:\d\d:\d\d {2}door {8}of kitchen closed and locked$/.test(l)).length).toBeGreaterThanOrEqual(2);
    expect(stderr).toContainEqual(expect.stringMatching(/^\d\d:\d\d:\d\d {2}identified {2}\*{6}0777 at reader-card, a collector: every door unlocks /));
    expect(stderr).toContainEqual(expect.stringMatching(/^\d\d:\d\d:\d\d {2}collection {2}1\d\.\d{3} kg emptied from kitchen by \*{6}0777$/));
    // The temporary folder (database and GPIO files) is gone.
    const gpio = /GPIO files in (\S+)\)/.exec(r.stderr)?.[1];
    expect(gpio).toMatch(/smartbin-demo-.*\/gpio$/);
    expect(existsSync(gpio!)).toBe(false);
    expect(r.stderr).not.toContain("\r");
    expect(r.stderr).not.toContain("specversion");
  }, 60_000);

  it("ends with exit 0 and removes its temporary folder when the reader of its stderr goes away (2>&1 | head)", async () => {
    const child = spawn(process.execPath, [SMARTBIN, "demo", "--seconds", "60"], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
    let text = "";
    const gpio = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no GPIO folder line within 15 s: ${text}`)), 15_000);
      child.stderr.on("data", (b: Buffer) => {
        text += b.toString();
        const found = /GPIO files in (\S+)\)/.exec(text)?.[1];
        if (found !== undefined) {
          clearTimeout(t);
          resolve(found);
        }
      });
    });
    expect(existsSync(gpio)).toBe(true);
    child.stderr.destroy(); // the reader goes away: the demo's next write to stderr gets EPIPE
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(0);
    expect(existsSync(gpio)).toBe(false);
  }, 30_000);

  it("exits 0 on SIGTERM", async () => {
    const child = spawn(process.execPath, [SMARTBIN, "demo", "--seconds", "60"], { cwd: ROOT, stdio: "pipe" });
    await sleep(2_500);
    const code = await signalAndWait(child, "SIGTERM", 10_000);
    expect(code).toBe(0);
  }, 20_000);
});

function signalAndWait(child: ChildProcess, signal: NodeJS.Signals, limitMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no exit within ${limitMs} ms of ${signal}`)), limitMs);
    child.once("exit", (code) => {
      clearTimeout(t);
      resolve(code);
    });
    child.kill(signal);
  });
}

const tools = requireTools(["mosquitto", "socat"]);

describe.skipIf(tools.skip)(`smartbin run as a process${tools.reason}`, () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups.length = 0;
  });

  function startRun(file: string): ChildProcess & { output: string[] } {
    const child = spawn(process.execPath, [SMARTBIN, "run", "-c", file], { cwd: ROOT, stdio: "pipe" }) as ChildProcess & {
      output: string[];
    };
    child.output = [];
    child.stdout!.on("data", (b: Buffer) => child.output.push(b.toString()));
    child.stderr!.on("data", (b: Buffer) => child.output.push(b.toString()));
    cleanups.push(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      return Promise.resolve();
    });
    return child;
  }

  /** `outbox status --json` while `run` writes the same database; async, so the fake devices keep streaming. */
  async function outboxStatus(file: string): Promise<{ pending: number; last_seq: number }> {
    const r = await execFileAsync(process.execPath, [SMARTBIN, "outbox", "status", "--json", "-c", file], { cwd: ROOT });
    return JSON.parse(r.stdout) as { pending: number; last_seq: number };
  }

  /** Polls an async check until it holds. */
  async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  }

  /** A broker, a fake indicator showing `loadG`, a card reader, their config and a central subscriber. */
  async function rig(loadG: number, centralOpts?: Parameters<typeof startCentral>[1]) {
    const broker = await startMosquitto();
    cleanups.push(() => broker.dispose());
    const scale = await FakeIndicator.start(loadG);
    const reader = await FakeCardReader.start();
    cleanups.push(() => scale.stop(), () => reader.stop());
    const cfg = writeStationConfig({ brokerUrl: broker.url, scalePort: scale.pty.devicePath, readerPort: reader.pty.devicePath });
    const central = await startCentral(broker.url, centralOpts);
    cleanups.push(() => central.close());
    return { broker, scale, reader, cfg, central };
  }

  it("SIGTERM shuts down cleanly with exit 0 and an offline status, broker or not", async () => {
    const { broker, cfg, central } = await rig(5_000);
    const statuses: string[] = [];
    central.client.on("message", (topic, payload) => {
      if (topic.endsWith("/status")) statuses.push(payload.toString());
    });
    await central.client.subscribeAsync("smartbin/st-it/status", { qos: 1 });

    const child = startRun(cfg.file);
    await eventually(() => statuses.some((s) => s.includes('"online"')), 10_000, "online status");
    expect(await signalAndWait(child, "SIGTERM", 10_000)).toBe(0);
    await eventually(() => statuses.some((s) => JSON.parse(s).reason === "shutdown"), 5_000, "shutdown status");

    // Without a broker at all, SIGTERM still ends it within 10 s with exit 0.
    await broker.stop();
    const alone = startRun(cfg.file);
    await sleep(1_500);
    expect(await signalAndWait(alone, "SIGTERM", 10_000)).toBe(0);
  }, 40_000);

  it("a deposit committed but not published survives SIGKILL and is published once after a restart", async () => {
    const { broker, scale, reader, cfg, central } = await rig(8_000, { clientId: "central-kill", persistent: true });

    await broker.stop(); // the deposit cannot be published: it stays in the outbox
    const first = startRun(cfg.file);
    // Ready when the scale has its baseline (a debug log line), then a session opens on the card.
    const logged = (msg: string) => () => first.output.join("").includes(`"msg":"${msg}"`);
    await eventually(logged("weight change"), 15_000, "the scale's baseline");
    await reader.present("100086F444");
    await eventually(logged("session opened"), 10_000, "session opened");
    scale.loadG += 2_500;
    await until(async () => (await outboxStatus(cfg.file)).pending === 1, 15_000, "the deposit committed and pending");
    first.kill("SIGKILL");
    await new Promise((r) => first.once("exit", r));

    await broker.restart();
    await eventually(() => central.client.connected, 10_000, "central reconnected");
    const second = startRun(cfg.file);
    const deposit = await eventually(
      () => central.events.find((e) => e.json.type === "smartbin.deposit.v1"),
      15_000,
      "the deposit published after the restart",
    );
    expect(deposit.json.data).toMatchObject({ seq: 1, net_g: 2_500, card_id: "0008844356" });
    await until(async () => (await outboxStatus(cfg.file)).pending === 0, 5_000, "marked published");
    await sleep(500);
    const ids = central.events.filter((e) => e.json.type === "smartbin.deposit.v1").map((e) => e.json.id);
    expect(ids).toEqual([deposit.json.id]);
    expect(await signalAndWait(second, "SIGTERM", 10_000)).toBe(0);
  }, 60_000);
});
