/**
 * A fill-level sensor end to end (issue 9 item 2), with the built `smartbin run` as a process: a
 * DYP-A02 on a socat pseudo-terminal (the real serialport binding) looks into the kitchen bin; as
 * the waste rises to `full_mm` the station publishes `bin_full` (from the sensor's median), the
 * retained status carries the fill level, and a card can no longer use the bin; the sensor unplugged
 * is `level_sensor_offline` with its reason, plugged back `level_sensor_online`, and the bin stays
 * full without a second `bin_full`.
 */
import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import { encodeDypA02 } from "../../src/protocol/index.js";
import { requireTools } from "../support/require-tool.js";
import { exited, logged, startRun } from "../support/smartbin-run.js";
import { createPtyPair, type PtyPair } from "../support/socat.js";
import { devicesRig, eventually, processTestCleanups, sleep, writeStationConfig } from "./harness.js";

const tools = requireTools(["mosquitto", "socat"]);

/** A DYP-A02 behind a pseudo-terminal: sends its distance (mm) every 50 ms while plugged. */
class FakeLevelSensor {
  mm = 1000;
  private readonly timer: NodeJS.Timeout;
  constructor(readonly pty: PtyPair) {
    this.timer = setInterval(() => {
      if (this.pty.plugged) void this.pty.write(encodeDypA02(this.mm)).catch(() => undefined);
    }, 50);
  }
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.pty.dispose();
  }
}

describe.skipIf(tools.skip)(`fill-level sensor through a pseudo-terminal${tools.reason}`, () => {
  const cleanups = processTestCleanups();

  it("fill rises to full: bin_full and the bin refused to a card; unplugged: level_sensor_offline; back: level_sensor_online", async () => {
    const { broker, scale, reader, central } = await devicesRig(cleanups);
    const sensor = new FakeLevelSensor(await createPtyPair());
    cleanups.push(() => sensor.stop());
    const statuses: Array<Record<string, unknown>> = [];
    const watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    cleanups.push(() => watcher.endAsync(true));
    watcher.on("message", (_topic, payload) => statuses.push(JSON.parse(payload.toString("utf8")) as Record<string, unknown>));
    await watcher.subscribeAsync("smartbin/st-it/status", { qos: 1 });

    const cfg = writeStationConfig({
      brokerUrl: broker.url,
      scalePort: scale.pty.devicePath,
      readerPort: reader.pty.devicePath,
      // level_sensors: is a top-level section; binExtra's text follows the bins list.
      binExtra: `level_sensors:
  - id: level-1
    port: ${sensor.pty.devicePath}
    protocol: dyp-a02
    bin: kitchen
    empty_mm: 1200
    full_mm: 250
    silence_timeout_s: 2
    median_window_s: 1
`,
    });
    const run = startRun(cfg.file);
    cleanups.push(async () => {
      if (run.exitCode === null) run.kill("SIGKILL");
      await exited(run);
    });
    await eventually(() => logged(run, "station started"), 10_000, "start");

    const levelOf = (s: Record<string, unknown>) => (s.levels as Record<string, { fill_percent: number | null }> | undefined)?.["level-1"];
    await eventually(() => statuses.some((s) => levelOf(s)?.fill_percent === 21.1), 10_000, "the fill level (1000 mm: 21.1 %) in the retained status");
    expect(central.events.filter((e) => e.json.data.code === "bin_full")).toEqual([]);

    // The waste rises: 1000 mm to 240 mm over 2 s.
    for (let mm = 1000; mm > 240; mm -= 38) {
      sensor.mm = mm;
      await sleep(100);
    }
    sensor.mm = 240;
    const full = await eventually(() => central.events.find((e) => e.json.data.code === "bin_full"), 10_000, "bin_full");
    expect(full.json).toMatchObject({ type: "smartbin.alarm.v1", subject: "kitchen" });
    expect(full.json.data).toMatchObject({ bin_id: "kitchen", device_id: "level-1", full_mm: 250, fill_percent: 100 });
    expect(full.json.data.distance_mm as number).toBeLessThanOrEqual(250);
    await eventually(() => statuses.some((s) => Array.isArray(s.full_bins) && s.full_bins.includes("kitchen")), 5_000, "full_bins in the status");

    // The only bin is full: a card opens no session.
    await reader.present("100086F444");
    await eventually(() => logged(run, "session refused: no bin ready"), 5_000, "the refusal");
    expect(logged(run, "session opened")).toBe(false);

    // Unplugged, then plugged back at the same path.
    await sensor.pty.close();
    const offline = await eventually(() => central.events.find((e) => e.json.data.code === "level_sensor_offline"), 10_000, "level_sensor_offline");
    expect(offline.json).toMatchObject({ subject: "level-1", data: { device_id: "level-1", bin_id: "kitchen" } });
    expect(typeof offline.json.data.reason).toBe("string");
    await sensor.pty.restart();
    await eventually(() => central.events.find((e) => e.json.data.code === "level_sensor_online"), 15_000, "level_sensor_online");
    await sleep(1500);
    expect(central.events.filter((e) => e.json.data.code === "bin_full")).toHaveLength(1);
    expect(central.events.filter((e) => e.json.data.code === "bin_ok")).toEqual([]);

    run.kill("SIGTERM");
    await exited(run);
    expect(run.exitCode).toBe(0);
  }, 60_000);
});
