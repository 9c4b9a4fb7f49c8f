import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { pino } from "pino";
import { loadConfigFile } from "../../src/config/load.js";
import { Station } from "../../src/app/station.js";
import { startMosquitto } from "../support/mosquitto.js";
import { requireTools } from "../support/require-tool.js";
import { createPtyPair, makePtyPaths } from "../support/socat.js";
import { encodeEm4100 } from "../../src/protocol/index.js";
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

/**
 * The whole station in-process, on real parts: serial traffic through socat pseudo-terminals with the
 * real serialport binding, a Mosquitto started by the test, and a SQLite file on disk.
 */
describe.skipIf(tools.skip)(`station end to end${tools.reason}`, () => {
  let broker: Awaited<ReturnType<typeof startMosquitto>>;
  let scale: FakeIndicator;
  let reader: FakeCardReader;
  let central: Central;
  let station: Station | undefined;

  beforeEach(async () => {
    broker = await startMosquitto();
    scale = await FakeIndicator.start(12_000);
    reader = await FakeCardReader.start();
  });

  afterEach(async () => {
    await station?.stop();
    station = undefined;
    await central?.close();
    await scale.stop();
    await reader.stop();
    await broker.dispose();
  });

  afterAll(() => removeTempDirs());

  function startStation(readerPort = reader.pty.devicePath): { dbPath: string } {
    const cfg = writeStationConfig({ brokerUrl: broker.url, scalePort: scale.pty.devicePath, readerPort });
    const loaded = loadConfigFile(cfg.file);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    station = new Station({ config: loaded.config, logger: pino({ level: "silent" }) });
    station.start();
    return { dbPath: cfg.dbPath };
  }

  /** Resolves once the scale has an accepted weight: a session can cover its bin. */
  async function scaleReady(): Promise<void> {
    await eventually(() => station!.snapshot()?.scales["scale-1"]?.acceptedG === scale.loadG, 10_000, "the scale's baseline");
  }

  /** A resident shows a card and drops a bag of `bagG` grams; resolves when the deposit is committed. */
  async function deposit(tag: string, bagG: number): Promise<void> {
    const { deposits, sessionsOpened } = station!.getStats();
    await scaleReady();
    await reader.present(tag);
    // The bag goes in only once the session is open, as a resident's would after the beep.
    await eventually(() => station!.getStats().sessionsOpened > sessionsOpened, 8_000, "session opened");
    const before = deposits;
    scale.loadG += bagG;
    await eventually(() => station!.getStats().deposits > before, 8_000, "deposit committed");
  }

  it("a card and a settled weight make one deposit event with the contract's fields", async () => {
    central = await startCentral(broker.url);
    startStation();
    await deposit("100086F444", 25_000);

    const deposits = await eventually(() => {
      const d = central.events.filter((e) => e.json.type === "smartbin.deposit.v1");
      return d.length > 0 ? d : undefined;
    }, 8_000, "deposit event at the subscriber");
    await sleep(300);
    expect(central.events.filter((e) => e.json.type === "smartbin.deposit.v1")).toHaveLength(1);
    const event = deposits[0]!;
    expect(event.topic).toBe("smartbin/st-it/events/deposit");
    expect(event.json).toMatchObject({
      specversion: "1.0",
      source: "smartbin/st-it",
      type: "smartbin.deposit.v1",
      subject: "kitchen",
      datacontenttype: "application/json",
    });
    expect(event.json.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const data = event.json.data;
    expect(data).toMatchObject({
      station_id: "st-it",
      seq: 1,
      bin_id: "kitchen",
      category: "food_waste",
      card_id: "0008844356",
      reader_id: "reader-1",
      gross_before_g: 12_000,
      gross_after_g: 37_000,
      net_g: 25_000,
      points: 29, // 25 kg at 1.16 points/kg, exactly (binary floating point gives 28)
      points_reason: "awarded",
      rules_version: "2026-11",
    });
    expect(typeof data.clock_synced).toBe("boolean");
    for (const key of ["started_at", "ended_at"]) {
      expect(data[key]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    expect(Date.parse(data.ended_at as string)).toBeGreaterThan(Date.parse(data.started_at as string));
  });

  it("deposits made while the broker is down all arrive after it returns, first copies in seq order", async () => {
    central = await startCentral(broker.url, { clientId: "central-persistent", persistent: true });
    startStation();
    await deposit("100086F444", 1_000);
    await eventually(() => central.events.length >= 1, 5_000, "first event");

    await broker.stop();
    await deposit("13005D1DA5", 2_000);
    await deposit("100086F444", 3_000);
    await deposit("13005D1DA5", 4_000);
    await broker.restart();

    await eventually(() => new Set(central.events.map((e) => e.json.id)).size >= 4, 20_000, "all four deposits");
    const firstCopies: number[] = [];
    const seen = new Set<string>();
    for (const e of central.events) {
      if (seen.has(e.json.id)) continue;
      seen.add(e.json.id);
      firstCopies.push(e.json.data.seq as number);
    }
    expect(firstCopies).toEqual([1, 2, 3, 4]);
    const nets = central.events.map((e) => e.json.data.net_g);
    expect(new Set(nets)).toEqual(new Set([1_000, 2_000, 3_000, 4_000]));
  });

  it("a scale unplugged and plugged back gives scale_offline then scale_online alarms, and deposits go on", async () => {
    central = await startCentral(broker.url);
    startStation();
    await scaleReady();
    await scale.pty.close(); // the USB adapter is pulled
    await eventually(
      () => central.events.find((e) => e.json.type === "smartbin.alarm.v1" && e.json.data.code === "scale_offline"),
      8_000,
      "scale_offline alarm",
    );
    await scale.pty.restart(); // plugged back: same path
    await eventually(
      () => central.events.find((e) => e.json.type === "smartbin.alarm.v1" && e.json.data.code === "scale_online"),
      10_000,
      "scale_online alarm",
    );
    const alarm = central.events.find((e) => e.json.data.code === "scale_offline")!;
    expect(alarm.topic).toBe("smartbin/st-it/events/alarm");
    expect(alarm.json.subject).toBe("scale-1");
    expect(alarm.json.data).toMatchObject({ device_id: "scale-1", bin_id: "kitchen", seq: 1 });
    await deposit("100086F444", 500);
    await eventually(() => central.events.find((e) => e.json.type === "smartbin.deposit.v1"), 5_000, "deposit");
  });

  it("a reader missing at start is a reader_offline alarm; when it appears, reader_online, and cards work", async () => {
    central = await startCentral(broker.url);
    const paths = await makePtyPaths();
    startStation(paths.devicePath);
    const offline = await eventually(
      () => central.events.find((e) => e.json.data.code === "reader_offline"),
      8_000,
      "reader_offline alarm",
    );
    expect(offline.json.data).toMatchObject({ seq: 1, device_id: "reader-1" });
    expect(offline.json.data).not.toHaveProperty("bin_id");
    // The rest of the station works meanwhile: the scale reports, nothing else is alarmed.
    await sleep(1_000);
    expect(central.events.map((e) => e.json.data.code)).toEqual(["reader_offline"]);

    const late = await createPtyPair(paths); // the reader is plugged in
    try {
      await eventually(() => central.events.find((e) => e.json.data.code === "reader_online"), 10_000, "reader_online");
      await scaleReady();
      const { deposits: before, sessionsOpened } = station!.getStats();
      const frame = encodeEm4100("13005D1DA5");
      for (let i = 0; i < 6; i++) {
        await late.write(frame);
        await sleep(50);
      }
      await eventually(() => station!.getStats().sessionsOpened > sessionsOpened, 8_000, "session opened");
      scale.loadG += 700;
      await eventually(() => station!.getStats().deposits > before, 8_000, "deposit after the reader came back");
      const deposit = await eventually(() => central.events.find((e) => e.json.type === "smartbin.deposit.v1"), 5_000, "deposit event");
      expect(deposit.json.data).toMatchObject({ card_id: "0006102437", net_g: 700, seq: 3 });
    } finally {
      await late.dispose();
    }
  });
});
