/**
 * Commands arriving while the station shuts down (contract section 4: every executed valid command
 * but `status` is audited as a durable `command` event; a `command_id` is not executed twice), on
 * real parts: the whole station in-process, a Mosquitto, socat devices and the database on disk.
 * A command that arrives once the shutdown has begun is not taken and not acknowledged: the broker
 * delivers it again at the next start (MQTT 5 session), where it runs once, audited and answered.
 */
import mqtt from "mqtt";
import { pino } from "pino";
import { afterAll, afterEach, describe, expect, it } from "vitest";

import { Station } from "../../src/app/station.js";
import { loadConfigFile } from "../../src/config/load.js";
import { startMosquitto } from "../support/mosquitto.js";
import { requireTools } from "../support/require-tool.js";
import { FakeCardReader, FakeIndicator, eventually, removeTempDirs, sleep, startCentral, writeStationConfig } from "./harness.js";

const tools = requireTools(["mosquitto", "socat"]);

describe.skipIf(tools.skip)(`commands during a shutdown${tools.reason}`, () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });
  afterAll(() => removeTempDirs());

  it("MQTT 5: each command sent across the shutdown runs once, audited and answered, in this run or the next", async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.dispose());
    const scale = await FakeIndicator.start(12_000);
    const reader = await FakeCardReader.start();
    cleanups.push(() => scale.stop(), () => reader.stop());
    const central = await startCentral(broker.url);
    cleanups.push(() => central.close());
    const cfg = writeStationConfig({ brokerUrl: broker.url, scalePort: scale.pty.devicePath, readerPort: reader.pty.devicePath });
    const loaded = loadConfigFile(cfg.file);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    const boot = (): Station => {
      const s = new Station({ config: loaded.config, logger: pino({ level: "silent" }) });
      s.start();
      cleanups.push(() => s.stop());
      return s;
    };

    const operator = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
    cleanups.push(() => operator.endAsync(true));
    const replies: string[] = [];
    operator.on("message", (_topic, payload) => replies.push((JSON.parse(payload.toString()) as { command_id: string }).command_id));
    await operator.subscribeAsync("smartbin/st-it/cmd/+/reply", { qos: 1 });
    const send = (id: string) => operator.publishAsync("smartbin/st-it/cmd/set_cards", JSON.stringify({ command_id: id, version: id, blocked: [] }), { qos: 1 });

    const first = boot();
    // Sent again until answered (the station subscribes a moment after it connects); the same id
    // runs once.
    await eventually(
      () => {
        if (!replies.includes("before")) void send("before");
        return replies.includes("before");
      },
      10_000,
      "the station answers",
    );

    // SIGTERM: the stop begins, and commands keep coming, every 2 ms, across its whole length.
    const ids: string[] = [];
    let done = false;
    const stopped = first.stop().then(() => (done = true));
    while (!done) {
      const id = `during-${ids.length}`;
      ids.push(id);
      await send(id);
      await sleep(2);
    }
    await stopped;

    boot();
    await eventually(() => ids.every((id) => replies.includes(id)), 10_000, "a reply to every command");
    const audited = () => [...new Map(central.events.filter((e) => e.json.type === "smartbin.command.v1").map((e) => [e.json.id, e.json.data.command_id as string])).values()];
    await eventually(() => ids.every((id) => audited().includes(id)), 10_000, "an audit event of every command");
    await sleep(300);
    for (const id of ["before", ...ids]) expect(audited().filter((a) => a === id), id).toHaveLength(1);
  }, 40_000);
});
