import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildOnce, ROOT, SMARTBIN } from "../support/build.js";
import { freePort } from "../support/mosquitto.js";
import { eventually, removeTempDirs, tempDir } from "../integration/harness.js";

/**
 * Process tests of the daemon's logs (issue 10, item 6): `smartbin run` with a missing serial port and
 * no broker writes one line per expected fault, with the reason and without a stack trace; config
 * warnings at warn; `--pretty` is readable; SIGUSR2 toggles debug without stopping the station.
 */
beforeAll(() => buildOnce(), 120_000);
afterAll(() => removeTempDirs());

const running: ChildProcess[] = [];
afterEach(async () => {
  for (const child of running.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
});

async function station(pretty: boolean, extra = ""): Promise<{ child: ChildProcess; out: () => string; file: string }> {
  const dir = tempDir("smartbin-logs-");
  const file = join(dir, "config.yaml");
  const port = await freePort(); // nothing listens there
  writeFileSync(
    file,
    `station: { id: st-logs }
storage: { path: ${join(dir, "s.db")} }
mqtt: { url: "mqtt://127.0.0.1:${port}", username: u, password: secret }
scales:
  - { id: scale-1, port: ${join(dir, "ttyUSB-missing")}, protocol: yaohua-a9, unit: kg }
bins:
  - { id: kitchen, category: food-waste, scale: scale-1 }
points:
  rules_version: "1"
  categories:
    food_waste: { points_per_kg: 2 }
${extra}`,
    { mode: 0o600 },
  );
  const child = spawn(process.execPath, [SMARTBIN, "run", file, ...(pretty ? ["--pretty"] : [])], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  running.push(child);
  let out = "";
  child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  return { child, out: () => out, file };
}

describe("smartbin run's logs", () => {
  it("JSON lines: a missing port and a refused broker are one line each with the reason, no stack, no 'Error: Error:'", async () => {
    const { out, file } = await station(false);
    await eventually(() => out().includes("cannot open serial port") && out().includes("broker unreachable"), 15_000, "both faults logged");
    const lines = out().trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const port = lines.find((l) => typeof l.msg === "string" && l.msg.startsWith("cannot open serial port"));
    expect(port).toMatchObject({ level: 50, module: "scale", device: "scale-1", reason: "no such file or directory (ENOENT)" });
    expect(port?.msg).toMatch(/^cannot open serial port \S+ttyUSB-missing: no such file or directory \(ENOENT\); retrying with backoff$/);
    expect(lines.find((l) => l.msg === "broker unreachable; retrying with backoff")?.reason).toMatch(/ECONNREFUSED/);
    expect(out()).not.toContain('"stack"');
    expect(out()).not.toContain("Error: Error");
    // Config warnings at warn, in the config check form.
    const warnings = lines.filter((l) => l.module === "config").map((l) => [l.level, l.msg]);
    expect(warnings).toEqual([
      [40, expect.stringMatching(new RegExp(`^${file}:3:\\d+: mqtt.password: warning: a password written in the config file`))],
      [40, expect.stringMatching(new RegExp(`^${file}:7:\\d+: bins.0.category: warning: no points rule for category "food-waste".*did you mean food_waste\\?$`))],
    ]);
  }, 30_000);

  it("SIGUSR2 turns debug on and off; the station keeps running", async () => {
    const { child, out } = await station(false);
    await eventually(() => out().includes("station started"), 15_000, "started");
    child.kill("SIGUSR2");
    await eventually(() => out().includes("log level now debug"), 5_000, "debug on");
    await eventually(() => out().includes('"level":20'), 10_000, "a debug line");
    child.kill("SIGUSR2");
    await eventually(() => out().includes("log level now info"), 5_000, "debug off");
    expect(child.exitCode).toBeNull();
    // `level` stays the line's own numeric level (warn), so `jq 'select(.level >= 40)'` finds them;
    // the new level has a key of its own.
    const toggles = out()
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => String(l.msg).startsWith("log level now"));
    expect(toggles.map((l) => [l.level, l.log_level, l.configured])).toEqual([
      [40, "debug", "info"],
      [40, "info", "info"],
    ]);
  }, 30_000);

  it("settled after start-up, the station compacts its heap once and says at debug what it gave back", async () => {
    const { out } = await station(false, "log: { level: debug }\n");
    await eventually(() => out().includes("heap compacted after start-up"), 15_000, "the compaction's line");
    const lines = out().trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const compacted = lines.filter((l) => l.msg === "heap compacted after start-up");
    expect(compacted).toHaveLength(1);
    expect(compacted[0]).toMatchObject({ level: 20, module: "run", compacted: true });
    // Start-up filled the young generation; the compaction gives most of it back (about 20 MiB on Node 24).
    expect(compacted[0]!.rss_mib_after as number).toBeLessThan(compacted[0]!.rss_mib_before as number);
    const started = lines.findIndex((l) => l.msg === "station started");
    expect(started).toBeGreaterThanOrEqual(0);
    expect(lines.indexOf(compacted[0]!)).toBeGreaterThan(started);
  }, 30_000);

  it("--pretty: readable lines through pino-pretty, the reason on the fault's line", async () => {
    const { out } = await station(true);
    await eventually(() => out().includes("cannot open serial port"), 15_000, "the fault");
    const lines = out().trimEnd().split("\n");
    for (const l of lines) expect(l.startsWith("{")).toBe(false);
    expect(lines.find((l) => l.includes("cannot open serial port"))).toMatch(
      /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] ERROR: cannot open serial port \S+: no such file or directory \(ENOENT\); retrying with backoff \{/,
    );
    expect(lines.some((l) => /\] WARN: .*mqtt\.password: warning:/.test(l))).toBe(true);
    expect(out()).not.toMatch(/^\s+at /m);
  }, 30_000);
});
