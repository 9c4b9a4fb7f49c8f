/**
 * Doors end to end through the built `smartbin run` (issue 8 item 8): the `simulated` GPIO backend
 * (one file per line), an indicator and a card reader on socat pseudo-terminals, a real Mosquitto.
 * A resident's deposit through a door (card, button, open, bag, close), and SIGKILL with a door
 * unlocked: at the next start the lock output is locked before the status says online.
 */
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import { requireTools } from "../support/require-tool.js";
import { exited, logged, startRun } from "../support/smartbin-run.js";
import { devicesRig, eventually, processTestCleanups, sleep, writeStationConfig } from "./harness.js";

const tools = requireTools(["mosquitto", "socat"]);

/** Lines of the test station: the kitchen bin's door. */
const LOCK = 17;
const CLOSED = 27;
const BUTTON = 22;
const LAMP = 23;

describe.skipIf(tools.skip)(`doors through the built smartbin with the simulated GPIO backend${tools.reason}`, () => {
  const cleanups = processTestCleanups();

  async function rig() {
    const { broker, scale, reader, central } = await devicesRig(cleanups);
    const cfg = writeStationConfig({
      brokerUrl: broker.url,
      scalePort: scale.pty.devicePath,
      readerPort: reader.pty.devicePath,
      idleCloseS: 1,
      binExtra: `    door:
      lock: { line: ${LOCK} }
      closed: { line: ${CLOSED} }
      button: { line: ${BUTTON} }
      lamp: { line: ${LAMP} }
      debounce_ms: 20
      open_timeout_s: 20
`,
    });
    // The gpio section goes before the bins (any place works in YAML; keep it readable).
    const text = readFileSync(cfg.file, "utf8").replace("bins:\n", "gpio:\n  backend: simulated\n  simulated_dir: ./gpio\nbins:\n");
    writeFileSync(cfg.file, text);
    const gpio = join(cfg.dir, "gpio");
    mkdirSync(gpio, { recursive: true });
    const line = (n: number) => join(gpio, String(n));
    const set = (n: number, level: 0 | 1) => writeFileSync(line(n), `${level}\n`);
    const get = (n: number): string => {
      try {
        return readFileSync(line(n), "utf8").trim();
      } catch {
        return "missing";
      }
    };
    set(CLOSED, 1);
    set(BUTTON, 0);
    return { broker, scale, reader, central, cfg, set, get };
  }

  /** Presses the button (the input must hold longer than its debounce). */
  async function press(set: (n: number, level: 0 | 1) => void): Promise<void> {
    set(BUTTON, 1);
    await sleep(150);
    set(BUTTON, 0);
  }

  it("card, button, door open, bag, door closed: the door unlocks and locks again, and one deposit is published", async () => {
    const { scale, reader, central, cfg, set, get } = await rig();
    const run = startRun(cfg.file);
    cleanups.push(async () => {
      run.kill("SIGKILL");
      await exited(run);
    });
    await eventually(() => logged(run, "station started"), 10_000, "start");
    await eventually(() => get(LOCK) === "0", 5000, "the lock written locked at start");
    await sleep(1000); // the scale's baseline
    await reader.present("100086F444");
    await eventually(() => logged(run, "session opened"), 5000, "the session");
    expect(get(LOCK)).toBe("0");
    await press(set);
    await eventually(() => get(LOCK) === "1", 3000, "the door unlocked by its button");
    expect(get(LAMP)).toBe("1");
    set(CLOSED, 0);
    await eventually(() => logged(run, "door opened"), 3000, "the door opened");
    scale.loadG = 13_000;
    await eventually(() => run.lines.some((l) => l.includes('"msg":"weight change"') && l.includes("13000")), 5000, "the bag weighed");
    set(CLOSED, 1);
    await eventually(() => get(LOCK) === "0", 3000, "the door locked as it closed");
    const deposit = await eventually(() => central.events.find((e) => e.json.type === "smartbin.deposit.v1"), 10_000, "the deposit");
    expect(deposit.json.data).toMatchObject({ bin_id: "kitchen", net_g: 1000, gross_before_g: 12_000, gross_after_g: 13_000, points: 1, close_reason: "idle" });
    expect(get(LAMP)).toBe("0");
    run.kill("SIGTERM");
    await exited(run);
    expect(run.exitCode).toBe(0);
    expect(get(LOCK)).toBe("0");
  });

  it("SIGKILL with the door unlocked: at the next start the lock is locked before the status says online", async () => {
    const { broker, reader, cfg, set, get } = await rig();
    const first = startRun(cfg.file);
    cleanups.push(async () => {
      first.kill("SIGKILL");
      await exited(first);
    });
    await eventually(() => logged(first, "station started"), 10_000, "start");
    await sleep(1000);
    await reader.present("100086F444");
    await eventually(() => logged(first, "session opened"), 5000, "the session");
    await press(set);
    await eventually(() => get(LOCK) === "1", 3000, "the door unlocked");
    first.kill("SIGKILL");
    await exited(first);
    // A process killed by SIGKILL cannot move its outputs: the file still says unlocked.
    expect(get(LOCK)).toBe("1");

    // Watch the retained status: note the lock file's level when "online" arrives.
    const watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true });
    cleanups.push(() => watcher.endAsync(true));
    const seen: Array<{ state: string; lock: string }> = [];
    watcher.on("message", (_topic, payload) => {
      const status = JSON.parse(payload.toString()) as { state: string };
      seen.push({ state: status.state, lock: get(LOCK) });
    });
    await watcher.subscribeAsync("smartbin/st-it/status", { qos: 1 });
    await eventually(() => seen.length > 0, 5000, "the retained will (offline)");
    const second = startRun(cfg.file);
    cleanups.push(async () => {
      second.kill("SIGKILL");
      await exited(second);
    });
    const online = await eventually(() => seen.find((s) => s.state === "online"), 15_000, "online");
    expect(online.lock).toBe("0");
    second.kill("SIGTERM");
    await exited(second);
  });
});
