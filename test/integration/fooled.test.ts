/**
 * Awards that cannot be fooled, end to end on real parts (socat pseudo-terminals with the real
 * serialport binding, Mosquitto, a SQLite file): a stuck 999,999 kg indicator, an all-zero tag, a
 * one-off noise frame, a scale set to the wrong protocol.
 */
import { pino } from "pino";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { Station } from "../../src/app/station.js";
import { loadConfigFile } from "../../src/config/load.js";
import { encodeEm4100, encodeStGs, encodeYaohuaA9 } from "../../src/protocol/index.js";
import { startMosquitto } from "../support/mosquitto.js";
import { requireTools } from "../support/require-tool.js";
import {
  FakeCardReader,
  FakeIndicator,
  eventually,
  removeTempDirs,
  sleep,
  startCentral,
  writeStationConfig,
  type Central,
} from "./harness.js";

const tools = requireTools(["mosquitto", "socat"]);
const ANNA_TAG = "100086F444";

describe.skipIf(tools.skip)(`awards that cannot be fooled${tools.reason}`, () => {
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  let scale: FakeIndicator;
  let reader: FakeCardReader;
  let central: Central;
  let station: Station | undefined;

  beforeEach(async () => {
    broker = await startMosquitto();
    scale = await FakeIndicator.start(12_000);
    reader = await FakeCardReader.start();
    central = await startCentral(broker.url);
  });

  afterEach(async () => {
    await station?.stop();
    station = undefined;
    await central.close();
    await scale.stop();
    await reader.stop();
    await broker.dispose();
  });

  afterAll(() => removeTempDirs());

  function start(opts: Partial<Parameters<typeof writeStationConfig>[0]> = {}): void {
    const cfg = writeStationConfig({ brokerUrl: broker.url, scalePort: scale.pty.devicePath, readerPort: reader.pty.devicePath, ...opts });
    const loaded = loadConfigFile(cfg.file);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    station = new Station({ config: loaded.config, logger: pino({ level: "silent" }) });
    station.start();
  }

  const accepted = () => station!.snapshot()?.scales["scale-1"]?.acceptedG;
  const events = (type: string) => central.events.filter((e) => e.json.type === type).map((e) => e.json.data);

  it("a stuck 999,999 kg reading during a session: recorded with 0 points as implausible, with an alarm", async () => {
    scale.encode = (grams) => encodeYaohuaA9({ grams, unit: "kg", decimals: 0 });
    start();
    await eventually(() => accepted() === 12_000, 10_000, "the baseline");
    await reader.present(ANNA_TAG);
    await eventually(() => station!.snapshot()?.session.phase === "open", 5000, "the session");
    scale.loadG = 999_999_000;
    await eventually(() => events("smartbin.deposit.v1").length === 1, 10_000, "the deposit");
    expect(events("smartbin.deposit.v1")[0]).toMatchObject({ net_g: 999_987_000, points: 0, points_reason: "implausible" });
    await eventually(() => events("smartbin.alarm.v1").some((a) => a.code === "implausible_weight"), 5000, "the alarm");
    expect(events("smartbin.alarm.v1").find((a) => a.code === "implausible_weight")).toMatchObject({ bin_id: "kitchen", max_net_g: 50_000 });
  });

  it("with capacity_g, the stuck reading is no valid weight: no deposit, the baseline stays", async () => {
    scale.encode = (grams) => encodeYaohuaA9({ grams, unit: "kg", decimals: 0 });
    start({ scaleExtra: "    capacity_g: 60000\n" });
    await eventually(() => accepted() === 12_000, 10_000, "the baseline");
    await reader.present(ANNA_TAG);
    scale.loadG = 999_999_000;
    await eventually(() => station!.snapshot()?.scales["scale-1"]?.condition === "above_capacity", 5000, "above capacity");
    await sleep(1500);
    await station!.stop();
    station = undefined;
    expect(events("smartbin.deposit.v1")).toEqual([]);
  });

  it("an all-zero tag (checksum valid) and an all-F tag never open a session", async () => {
    start();
    await eventually(() => accepted() === 12_000, 10_000, "the baseline");
    await reader.present("0000000000", 500);
    await reader.present("FFFFFFFFFF", 500);
    await sleep(300);
    expect(station!.getStats().sessionsOpened).toBe(0);
    expect(station!.getStats().noiseFrames).toBeGreaterThanOrEqual(10);
  });

  it("a one-off frame (one read) is noise; a tag held in the field opens a session", async () => {
    start();
    await eventually(() => accepted() === 12_000, 10_000, "the baseline");
    await reader.pty.write(encodeEm4100("13005D1DA5"));
    await sleep(800);
    expect(station!.getStats().sessionsOpened).toBe(0);
    await reader.present(ANNA_TAG, 200);
    await eventually(() => station!.getStats().sessionsOpened === 1, 3000, "a session");
  });

  it("a scale set to the wrong protocol goes offline with reason 'no valid frames', and online with the right frames", async () => {
    scale.encode = (grams) => encodeStGs({ stable: true, mode: "gross", grams });
    start();
    await eventually(() => events("smartbin.alarm.v1").find((a) => a.code === "scale_offline"), 8000, "scale_offline");
    expect(events("smartbin.alarm.v1").find((a) => a.code === "scale_offline")).toMatchObject({ device_id: "scale-1", reason: "no valid frames" });
    scale.encode = (grams) => encodeYaohuaA9({ grams, unit: "kg", decimals: 3 });
    await eventually(() => events("smartbin.alarm.v1").find((a) => a.code === "scale_online"), 5000, "scale_online");
  });
});
