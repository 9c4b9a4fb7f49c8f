import { spawn } from "node:child_process";
import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StationLock } from "../../src/adapters/outbox/lock.js";
import { encodeWiegand } from "../../src/protocol/reader/wiegand.js";
import { buildOnce, ROOT, SMARTBIN } from "../support/build.js";
import { requireTools } from "../support/require-tool.js";
import { eventually, FakeIndicator, removeTempDirs, tempDir, writeStationConfig } from "../integration/harness.js";

/**
 * Process tests of `smartbin monitor` (issue 9, item 5): the built binary, piped (not a terminal),
 * reading a socat pseudo-terminal that plays a yaohua-a9 indicator; SIGTERM ends it with 0. Usage,
 * config and station-lock refusals.
 */
beforeAll(() => buildOnce(), 120_000);
afterAll(() => removeTempDirs());

interface Running {
  stdout: () => string;
  stderr: () => string;
  kill: (signal: NodeJS.Signals) => void;
  exited: Promise<number | null>;
}

function start(args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [SMARTBIN, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { stdout: () => stdout, stderr: () => stderr, kill: (s) => child.kill(s), exited };
}

const config = (dir = tempDir("smartbin-monitor-")) =>
  writeStationConfig({ dir, brokerUrl: "mqtt://127.0.0.1:1", scalePort: join(dir, "no-scale"), readerPort: join(dir, "no-reader") });

describe("smartbin monitor refusals", () => {
  it("an unknown DEVICE is a usage error listing the known ones (exit 2)", async () => {
    const { file } = config();
    const r = start(["monitor", "-c", file, "scale-1", "scale-9"]);
    expect(await r.exited).toBe(2);
    expect(r.stderr()).toBe(`smartbin monitor: unknown device "scale-9" in ${file} (known: scale-1, reader-1)\n`);
    expect(r.stdout()).toBe("");
  });

  it("a config file given where device ids go is a usage error that says to use -c (exit 2), whatever the default config", async () => {
    const { file } = config();
    const r = start(["monitor", file], { SMARTBIN_CONFIG: join(tempDir("smartbin-monitor-"), "missing.yaml") });
    expect(await r.exited).toBe(2);
    expect(r.stderr()).toBe(`smartbin monitor: ${JSON.stringify(file)} is not a device id but looks like a file: give a config file with -c ${file}\n`);
  });

  it("an invalid config: its problems as config check prints them, exit 78", async () => {
    const file = join(tempDir("smartbin-monitor-"), "bad.yaml");
    writeFileSync(file, "station: { id: st-1 }\nmqtt: { url: 42 }\n");
    const r = start(["monitor", "-c", file]);
    expect(await r.exited).toBe(78);
    expect(r.stderr()).toBe(`${file}:2:14: mqtt.url: expected string, found 42\n`);
  });

  it("a running station holds the ports: one line saying to stop it first, exit 1", async () => {
    const { file, dbPath } = config();
    const lock = StationLock.acquire(dbPath, pino({ level: "silent" }));
    try {
      const r = start(["monitor", "-c", file]);
      expect(await r.exited).toBe(1);
      expect(r.stderr()).toBe(
        `smartbin monitor: a running station (pid ${process.pid}) holds the serial ports, which are exclusive: stop it first (systemctl stop smartbin), then run smartbin monitor again\n`,
      );
    } finally {
      lock.release();
    }
  });
});

const tools = requireTools(["socat"]);
describe.skipIf(tools.skip)(`smartbin monitor on a socat indicator${tools.reason}`, () => {
  let indicator: FakeIndicator;
  beforeAll(async () => {
    indicator = await FakeIndicator.start(12_000);
  }, 30_000);
  afterAll(async () => {
    await indicator?.stop();
  });

  it("piped: a line with the weight and 'stable', only the devices named; SIGTERM ends it with exit 0", async () => {
    const dir = tempDir("smartbin-monitor-");
    const { file } = writeStationConfig({ dir, brokerUrl: "mqtt://127.0.0.1:1", scalePort: indicator.pty.devicePath, readerPort: join(dir, "no-reader") });
    const r = start(["monitor", "-c", file, "scale-1"]);
    const line = await eventually(
      () => r.stdout().split("\n").find((l) => /scale-1 yaohua-a9@9600: 12\.000 kg = 12000 g, stable, /.test(l)),
      15_000,
      "a stable 12 kg line",
    );
    expect(line).toMatch(/^\d\d:\d\d:\d\d scale-1 .*; \d+ valid, 0 discarded \(0 B\)$/);
    expect(r.stdout()).not.toContain("reader-1");
    expect(r.stderr()).toContain("card ids are shown in full");
    // One line per change, not per frame: the indicator sends 20 frames a second of the same weight,
    // which print nothing more. On a loaded machine the frames can bunch up, and the station's
    // window rule then may judge a moment unstable (a line) and stable again (a line): still 12 kg.
    const count = r.stdout().split("\n").length;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const added = r.stdout().split("\n").slice(count - 1).filter((l) => l !== "");
    expect(added.length).toBeLessThanOrEqual(4);
    for (const l of added) expect(l).toMatch(/scale-1 yaohua-a9@9600: 12\.000 kg = 12000 g, (un)?stable, /);
    r.kill("SIGTERM");
    expect(await r.exited).toBe(0);
  }, 30_000);
});

describe("smartbin monitor with a Wiegand reader on GPIO lines", () => {
  it("watches only the reader's D0/D1 lines (simulated backend) and shows the card of a W26 frame in full, and a bad frame as discarded; no door line is touched", async () => {
    const dir = tempDir("smartbin-monitor-wiegand-");
    const { file } = config(dir);
    const D0 = 24;
    const D1 = 25;
    const text = readFileSync(file, "utf8")
      .replace("readers:\n", `readers:\n  - id: door-reader\n    protocol: wiegand\n    d0_line: ${D0}\n    d1_line: ${D1}\n`)
      .replace("bins:\n", "gpio:\n  backend: simulated\n  simulated_dir: ./gpio\nbins:\n");
    writeFileSync(file, text);
    const gpio = join(dir, "gpio");
    mkdirSync(gpio, { recursive: true });
    const r = start(["monitor", "-c", file, "door-reader"]);
    try {
      await eventually(() => r.stdout().includes("door-reader wiegand@gpio24/25:"), 10_000, "the reader's line");
      // Tag 100086F444's last three bytes as a W26 frame: one falling edge per bit, 2 ms apart.
      const edges = (bits: string, startUs: number) => {
        const d0: string[] = [];
        const d1: string[] = [];
        [...bits].forEach((b, i) => (b === "1" ? d1 : d0).push(String(startUs + i * 2000)));
        appendFileSync(join(gpio, `${D0}.edges`), d0.map((t) => `${t}\n`).join(""));
        appendFileSync(join(gpio, `${D1}.edges`), d1.map((t) => `${t}\n`).join(""));
      };
      edges(new TextDecoder().decode(encodeWiegand("86F444")).trim(), 5_000_000);
      await eventually(() => r.stdout().includes("134,62532"), 10_000, "the card id (w26)");
      // 25 bits (a lost edge): rejected, counted as discarded, never guessed.
      edges(new TextDecoder().decode(encodeWiegand("86F444")).trim().slice(1), 9_000_000);
      await eventually(() => /door-reader .*discarded 1\b|1 discarded/.test(r.stdout()), 10_000, "the bad frame discarded");
      // Only the reader's lines were claimed: the monitor wrote no output line file.
      expect(readdirSync(gpio).filter((f) => !f.endsWith(".edges"))).toEqual([]);
    } finally {
      r.kill("SIGTERM");
    }
    expect(await r.exited).toBe(0);
  });
});
