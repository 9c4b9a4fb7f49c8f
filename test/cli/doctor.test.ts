import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOnce, ROOT, SMARTBIN } from "../support/build.js";
import { freePort, startMosquitto } from "../support/mosquitto.js";
import { findTool, requireTools } from "../support/require-tool.js";
import { eventually, removeTempDirs, startRig, tempDir, writeStationConfig, type Rig } from "../integration/harness.js";
import { createPtyPair } from "../support/socat.js";

/**
 * Process tests of `smartbin doctor` (issue 10, item 4): the built binary against a real Mosquitto
 * and socat pseudo-terminals playing an indicator and a card reader; with the broker absent; with
 * an invalid config; and beside a running `smartbin run`, whose reports it shows instead of opening
 * the ports.
 */
beforeAll(() => buildOnce(), 120_000);
afterAll(() => removeTempDirs());

/** Runs the binary to its end (asynchronously: the test process keeps feeding the pseudo-terminals). */
function smartbin(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [SMARTBIN, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

const lines = (stdout: string) => stdout.trimEnd().split("\n");
const levelOf = (all: string[], name: string) => all.find((l) => l.split(" ")[1] === `${name}:`)?.split(" ")[0];

describe("smartbin doctor, invalid config", () => {
  it("prints the problems as config check does and exits 78", async () => {
    const dir = tempDir("smartbin-doctor-");
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "station: { id: st-1 }\nmqtt: { url: 42 }\n");
    const r = await smartbin(["doctor", file]);
    expect(r.code).toBe(78);
    expect(lines(r.stdout)).toEqual([
      `${file}:2:14: mqtt.url: expected string, found 42`,
      `fail config: ${file} is invalid (1 problem): fix it, then run smartbin config check ${file}`,
    ]);
    const json = await smartbin(["doctor", "-c", file, "--json"]);
    expect(json.code).toBe(78);
    expect(JSON.parse(json.stdout)).toMatchObject({ checks: [{ name: "config", level: "fail", details: { problems: [`${file}:2:14: mqtt.url: expected string, found 42`] } }] });
  });
});

const tools = requireTools(["mosquitto", "socat"]);
describe.skipIf(tools.skip)(`smartbin doctor against real parts${tools.reason}`, () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig(12_000);
  }, 30_000);
  afterAll(async () => {
    await rig?.dispose();
  });

  it("a healthy station: frames decode, the broker answers, no fail, exit 0; --json says the same", async () => {
    const { file, dbPath } = writeStationConfig({ brokerUrl: rig.broker.url, scalePort: rig.scale.pty.devicePath, readerPort: rig.reader.pty.devicePath });
    const r = await smartbin(["doctor", file]);
    const all = lines(r.stdout);
    expect(existsSync(dbPath)).toBe(false); // the database check creates nothing
    expect(all.filter((l) => l.startsWith("fail "))).toEqual([]);
    expect(r.code).toBe(0);
    expect(all.find((l) => l.startsWith("ok scale.scale-1:"))).toMatch(/valid yaohua-a9 frames in 3 s \(last: 12000 g, gross\)$/);
    expect(levelOf(all, "reader.reader-1")).toBe("ok");
    expect(all.find((l) => l.startsWith("ok broker:"))).toMatch(new RegExp(`^ok broker: mqtt://127\\.0\\.0\\.1:${rig.broker.port} accepted an MQTT 5 connection in \\d+ ms$`));
    for (const name of ["config", "station", "gpio", "disk", "database", "backlog"]) expect(levelOf(all, name)).toBe("ok");
    expect(["ok", "warn"]).toContain(levelOf(all, "clock"));
    for (const l of all) expect(l).toMatch(/^(ok|warn|fail) [^\s:]+: \S/);

    const json = await smartbin(["doctor", "-c", file, "--json"]);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { checks: { name: string; level: string; details?: Record<string, unknown> }[]; summary: { fail: number } };
    expect(report.summary.fail).toBe(0);
    expect(report.checks.find((c) => c.name === "scale.scale-1")?.details).toMatchObject({ protocol: "yaohua-a9", baud_rate: 9600 });
  }, 30_000);

  it("a polled indicator (mt-sics, played by smartbin simulate) is asked as the station asks it, and passes", async () => {
    const pty = await createPtyPair();
    const balance = spawn(process.execPath, [SMARTBIN, "simulate", "scale", "--port", pty.hostPath, "--protocol", "mt-sics", "--weight", "2500"], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let said = "";
    balance.stderr.on("data", (c: Buffer) => (said += c.toString()));
    try {
      await eventually(() => said.includes("simulating"), 10_000, "the simulated balance");
      const { file } = writeStationConfig({
        brokerUrl: rig.broker.url,
        scalePort: pty.devicePath,
        readerPort: rig.reader.pty.devicePath,
        scaleProtocol: "mt-sics",
        // The harness's 300 ms window holds 3 answers only at up to 150 ms a poll (config check refuses less).
        scaleExtra: "    poll_ms: 100\n",
      });
      const r = await smartbin(["doctor", file]);
      expect(lines(r.stdout).find((l) => l.includes(" scale.scale-1:"))).toMatch(/^ok scale\.scale-1: \S+: \d+ valid mt-sics frames in 3 s \(last: 2500 g, net\)$/);
      expect(r.code).toBe(0);
    } finally {
      balance.kill("SIGTERM");
      await new Promise((resolve) => balance.once("exit", resolve));
      await pty.dispose();
    }
  }, 30_000);

  it("the broker absent: fail broker with the reason, exit 1", async () => {
    const port = await freePort();
    const { file } = writeStationConfig({ brokerUrl: `mqtt://127.0.0.1:${port}`, scalePort: rig.scale.pty.devicePath, readerPort: rig.reader.pty.devicePath });
    const r = await smartbin(["doctor", file]);
    expect(r.code).toBe(1);
    expect(lines(r.stdout)).toContain(
      `fail broker: mqtt://127.0.0.1:${port}: connection refused (ECONNREFUSED): nothing listens there; is the broker running, and the port right?`,
    );
  }, 30_000);

  it("beside a running station: its reports instead of the ports, and a silent indicator as the station reports it", async () => {
    const { file } = writeStationConfig({ brokerUrl: rig.broker.url, scalePort: rig.scale.pty.devicePath, readerPort: rig.reader.pty.devicePath });
    let out = "";
    const station: ChildProcess = spawn(process.execPath, [SMARTBIN, "run", file], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    station.stdout?.on("data", (c: Buffer) => (out += c.toString()));
    try {
      await eventually(() => out.includes('"connected to broker"') && out.includes('"device":"scale-1"') && out.includes("serial device online"), 15_000, "the station up");
      const r = await smartbin(["doctor", file]);
      const all = lines(r.stdout);
      expect(all).toContain(`ok station: a station is running (pid ${station.pid}): its ports are not opened; what it reports is shown instead`);
      expect(all.find((l) => l.startsWith("ok scale.scale-1:"))).toBe(
        `ok scale.scale-1: ${rig.scale.pty.devicePath} is held by the running station (pid ${station.pid}), which has recorded no offline alarm for it (online since its start)`,
      );
      expect(r.code).toBe(0);

      const encode = rig.scale.encode;
      rig.scale.encode = () => new Uint8Array(0); // the indicator falls silent, its port still there
      await eventually(() => out.includes('"code":"scale_offline"'), 15_000, "scale_offline recorded");
      const after = await smartbin(["doctor", file]);
      expect(after.code).toBe(1);
      expect(lines(after.stdout).find((l) => l.startsWith("fail scale.scale-1:"))).toMatch(
        new RegExp(`^fail scale\\.scale-1: \\S+ is held by the running station \\(pid ${station.pid}\\), which reports it offline since \\S+ \\(silent: no data for 2000 ms\\): check the device`),
      );
      rig.scale.encode = encode;
    } finally {
      station.kill("SIGTERM");
      await new Promise((r) => station.once("exit", r));
    }
  }, 60_000);
});

const passwdTools = requireTools(["mosquitto", "mosquitto_passwd", "socat"]);
describe.skipIf(passwdTools.skip)(`smartbin doctor logs in as the station does${passwdTools.reason}`, () => {
  it("with mqtt.password_file: the broker accepts the password from the file; a wrong one fails", async () => {
    const dir = tempDir("smartbin-doctor-passwd-");
    execFileSync(findTool("mosquitto_passwd")!, ["-b", "-c", join(dir, "passwd"), "st-it", "correct horse"]);
    const broker = await startMosquitto({ dir, settings: [`password_file ${join(dir, "passwd")}`], allowAnonymous: false });
    const rig = await startRig(12_000);
    try {
      const config = (secret: string) => {
        writeFileSync(join(dir, "secret.txt"), `${secret}\n`, { mode: 0o600 });
        return writeStationConfig({
          dir,
          brokerUrl: broker.url,
          scalePort: rig.scale.pty.devicePath,
          readerPort: rig.reader.pty.devicePath,
          mqttExtra: "  username: st-it\n  password_file: secret.txt\n",
        }).file;
      };
      const good = await smartbin(["doctor", config("correct horse")]);
      expect(lines(good.stdout).find((l) => l.includes(" broker: "))).toMatch(/^ok broker: /);
      const bad = await smartbin(["doctor", config("wrong horse")]);
      expect(lines(bad.stdout).find((l) => l.includes(" broker: "))).toMatch(/^fail broker: /);
    } finally {
      await rig.dispose();
      await broker.dispose();
    }
  }, 60_000);
});
