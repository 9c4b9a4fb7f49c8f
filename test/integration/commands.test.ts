/**
 * The MQTT commands (issue 11; contract section 4 "Commands and telemetry") against the built
 * `smartbin run`, a real Mosquitto and socat devices: replies by MQTT 5 request/response and on the
 * reply topic of 3.1.1, `replay` filling a gap, a repeated `command_id`, an expired command, malformed,
 * oversized and unknown commands, `reload_config` accepted, refused and rolled back, audit events,
 * and a second gateway with the same client id.
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { requireTools } from "../support/require-tool.js";
import { exited, logged, startRun, type Run } from "../support/smartbin-run.js";
import { startOperator, type Reply } from "../support/operator.js";
import { freePort } from "../support/mosquitto.js";
import { ROOT } from "../support/build.js";
import { COMMAND_REPLY_SCHEMAS, telemetrySchema } from "../../src/app/mqtt-api/payloads.js";
import { COMMAND_NAMES, type CommandName } from "../../src/app/commands/schemas.js";
import { devicesRig, eventually, processTestCleanups, sleep, writeStationConfig } from "./harness.js";

const tools = requireTools(["mosquitto", "socat"]);

describe.skipIf(tools.skip)(`MQTT commands${tools.reason}`, () => {
  const cleanups = processTestCleanups();

  function run(file: string): Run {
    const child = startRun(file);
    cleanups.push(async () => {
      child.kill("SIGKILL");
      await exited(child);
    });
    return child;
  }

  /** Asks again until a reply comes (the station subscribes a moment after it connects). */
  async function firstReply(ask: () => Promise<Reply | undefined>, ms = 10_000): Promise<Reply> {
    const end = Date.now() + ms;
    for (;;) {
      const reply = await ask();
      if (reply !== undefined) return reply;
      if (Date.now() > end) throw new Error("no reply");
    }
  }

  const commandEvents = (central: { events: Array<{ json: { type: string; data: Record<string, unknown> } }> }) =>
    central.events.filter((e) => e.json.type === "smartbin.command.v1").map((e) => e.json.data);

  it("status, tare, set_cards, a repeated command_id, replay of a gap, and bad commands (MQTT 5)", async () => {
    const { broker, scale, reader, central } = await devicesRig(cleanups);
    const cfg = writeStationConfig({ brokerUrl: broker.url, scalePort: scale.pty.devicePath, readerPort: reader.pty.devicePath, extra: "telemetry:\n  interval_s: 1\n" });
    const telemetry: unknown[] = [];
    central.client.on("message", (topic, payload) => {
      if (topic === "smartbin/st-it/telemetry") telemetry.push(JSON.parse(payload.toString("utf8")));
    });
    await central.client.subscribeAsync("smartbin/st-it/telemetry", { qos: 0 });
    const station = run(cfg.file);
    const operator = await startOperator(broker.url);
    cleanups.push(() => operator.close());
    await eventually(() => logged(station, "connected to broker"), 10_000, "the connection");

    const status = await firstReply(() => operator.request("status", { command_id: "s-1" }, { timeoutMs: 1000 }));
    expect(status).toMatchObject({ command_id: "s-1", ok: true, result: { status: { state: "online" }, counters: { deposits: 0 } } });

    // yaohua-a9 streams and takes no commands.
    expect(await operator.request("tare", { command_id: "t-1", scale_id: "scale-1" })).toMatchObject({
      command_id: "t-1",
      ok: false,
      error: { code: "not_supported" },
    });
    expect(await operator.request("zero", { command_id: "z-1", scale_id: "no-such-scale" })).toMatchObject({ ok: false, error: { code: "invalid" } });

    const cards = { command_id: "c-1", blocked: ["0008844356"], version: "v7" };
    const first = await operator.request("set_cards", cards);
    expect(first).toMatchObject({ command_id: "c-1", ok: true, result: { version: "v7", blocked: 1 } });
    // The same command_id again: the same reply, not executed twice (one audit event).
    const again = await operator.request("set_cards", { ...cards, version: "v8" });
    expect(again).toEqual(first);
    await eventually(() => commandEvents(central).length >= 3, 5000, "the audit events");
    await sleep(500);
    const audits = commandEvents(central);
    expect(audits.map((d) => [d.command_id, d.name, d.ok, d.error_code])).toEqual([
      ["t-1", "tare", false, "not_supported"],
      ["z-1", "zero", false, "invalid"],
      ["c-1", "set_cards", true, null],
    ]);
    // The card is blocked now: its deposit on this door-less bin earns nothing.
    await reader.present("100086F444");
    await eventually(() => logged(station, "session opened"), 5000, "a session");
    scale.loadG = 13_000;
    const deposit = await eventually(() => central.events.find((e) => e.json.type === "smartbin.deposit.v1"), 10_000, "the deposit");
    expect(deposit.json.data).toMatchObject({ card_id: "0008844356", points: 0, points_reason: "blocked_card" });
    expect(await operator.request("status", { command_id: "s-3" })).toMatchObject({ ok: true, result: { counters: { deposits: 1 } } });

    // Replay fills a gap: the central system asks for seq 1..2 again and gets the same messages.
    const seqs = audits.map((d) => d.seq as number);
    const before = central.events.length;
    const replay = await operator.request("replay", { command_id: "r-1", from_seq: seqs[0], to_seq: seqs[1] });
    expect(replay).toMatchObject({ ok: true, result: { count: 2, first_held_seq: seqs[0] } });
    await eventually(() => central.events.length >= before + 2 + 1, 5000, "the replayed events"); // + the replay's own audit event
    const replayed = central.events.slice(before).filter((e) => (e.json.data.seq as number) <= seqs[1]!);
    const originals = central.events.slice(0, before);
    for (const r of replayed) expect(originals.find((o) => o.json.id === r.json.id)?.payload).toBe(r.payload);

    // Malformed, unknown, mismatched and oversized commands: an error reply or nothing, never a crash.
    expect(await operator.request("status", "{not json")).toMatchObject({ command_id: "", ok: false, error: { code: "invalid" } });
    expect(await operator.request("explode", { command_id: "u-1" })).toMatchObject({ command_id: "u-1", ok: false, error: { code: "unknown_command" } });
    expect(await operator.request("replay", { command_id: "r-2", from_seq: "one" })).toMatchObject({ ok: false, error: { code: "invalid" } });
    expect(await operator.request("status", { command_id: "x".repeat(65) })).toMatchObject({ ok: false, error: { code: "invalid" } });
    const big = await operator.request("set_cards", { command_id: "big", version: "v9", blocked: ["1".repeat(300 * 1024)] }, { timeoutMs: 1500 });
    expect(big).toBeUndefined(); // above the announced maximum packet size: the broker never delivers it
    expect(await operator.request("status", { command_id: "s-2" })).toMatchObject({ ok: true });
    expect(commandEvents(central).some((d) => d.command_id === "u-1" || d.command_id === "big")).toBe(false);
    expect(station.exitCode).toBeNull();

    // Every reply of a known command matches its schema in docs/asyncapi.yaml; so does telemetry.
    const known = operator.exchanges.filter((x) => COMMAND_NAMES.includes(x.name as CommandName));
    expect(known.length).toBeGreaterThan(8);
    for (const { name, reply } of known) {
      expect(COMMAND_REPLY_SCHEMAS[name as CommandName].safeParse(reply).error?.issues ?? [], `${name} ${JSON.stringify(reply)}`).toEqual([]);
    }
    expect(telemetry.length).toBeGreaterThan(1);
    for (const t of telemetry) expect(telemetrySchema.safeParse(t).error?.issues ?? [], JSON.stringify(t)).toEqual([]);
    expect(telemetry.at(-1)).toMatchObject({ devices: { "scale-1": { state: "online" }, "reader-1": { state: "online" } } });
  });

  it("a set_cards of about 261 KB through a broker with max_packet_size 262144: applied, its audit (lists counted) published, later events too", async () => {
    const { broker, scale, reader, central } = await devicesRig(cleanups, 12_000, ["max_packet_size 262144"]);
    const cfg = writeStationConfig({ brokerUrl: broker.url, scalePort: scale.pty.devicePath, readerPort: reader.pty.devicePath });
    const station = run(cfg.file);
    const operator = await startOperator(broker.url);
    cleanups.push(() => operator.close());
    await eventually(() => logged(station, "connected to broker"), 10_000, "the connection");
    await firstReply(() => operator.request("status", { command_id: "s-1" }, { timeoutMs: 1000 }));

    // 20,140 ten-digit ids: about 261.9 KB, just under the 256 KiB both the broker and the station take;
    // its audit, envelope and properties added, would be over it.
    const collectors = Array.from({ length: 20_140 }, (_, i) => String(i).padStart(10, "0"));
    const big = { command_id: "big", collectors, version: "v-big" };
    expect(JSON.stringify(big).length).toBeGreaterThan(261_800);
    expect(JSON.stringify(big).length).toBeLessThan(262_000);
    expect(await operator.request("set_cards", big, { timeoutMs: 5000 })).toMatchObject({ ok: true, result: { collectors: 20_140 } });
    expect(await operator.request("set_cards", { command_id: "small", blocked: ["0008844356"], version: "v-small" })).toMatchObject({ ok: true });

    await eventually(() => commandEvents(central).length >= 2, 5000, "both audit events published");
    expect(commandEvents(central).map((d) => [d.command_id, d.args])).toEqual([
      ["big", { collectors: { count: 20_140 }, version: "v-big" }],
      ["small", { blocked: ["0008844356"], version: "v-small" }],
    ]);
    expect(logged(station, "disconnected from broker")).toBe(false);
    expect(station.lines.some((l) => l.includes("event held back"))).toBe(false);
  });

  it("MQTT 3.1.1: replies on P/S/cmd/<name>/reply", async () => {
    const { broker, scale, reader } = await devicesRig(cleanups);
    const cfg = writeStationConfig({ brokerUrl: broker.url, scalePort: scale.pty.devicePath, readerPort: reader.pty.devicePath, protocolVersion: 4 });
    const station = run(cfg.file);
    const operator = await startOperator(broker.url, { protocolVersion: 4 });
    cleanups.push(() => operator.close());
    await eventually(() => logged(station, "connected to broker"), 10_000, "the connection");
    const reply = await firstReply(() => operator.request("status", { command_id: "s-4" }, { timeoutMs: 1000 }));
    expect(reply).toMatchObject({ command_id: "s-4", ok: true });
  });

  it("a command sent while the station is away arrives after it returns; an expired one never does", async () => {
    const { broker, scale, reader, central } = await devicesRig(cleanups);
    const cfg = writeStationConfig({ brokerUrl: broker.url, scalePort: scale.pty.devicePath, readerPort: reader.pty.devicePath });
    let station = run(cfg.file);
    const operator = await startOperator(broker.url);
    cleanups.push(() => operator.close());
    await eventually(() => logged(station, "connected to broker"), 10_000, "the connection");
    station.kill("SIGTERM");
    await exited(station);
    const expiring = operator.request("set_cards", { command_id: "old", blocked: [], version: "old" }, { timeoutMs: 7000, publish: { properties: { messageExpiryInterval: 1 } } });
    const kept = operator.request("set_cards", { command_id: "kept", blocked: [], version: "kept" }, { timeoutMs: 15_000 });
    await sleep(2500);
    station = run(cfg.file);
    expect(await kept).toMatchObject({ command_id: "kept", ok: true });
    expect(await expiring).toBeUndefined();
    expect(commandEvents(central).map((d) => d.command_id)).toEqual(["kept"]);
  });

  it("reload_config: applied, refused with the problems, rolled back when the broker cannot be reached", async () => {
    const { broker, scale, reader } = await devicesRig(cleanups);
    const cfg = writeStationConfig({ brokerUrl: broker.url, scalePort: scale.pty.devicePath, readerPort: reader.pty.devicePath });
    const original = readFileSync(cfg.file, "utf8");
    const station = run(cfg.file);
    const operator = await startOperator(broker.url);
    cleanups.push(() => operator.close());
    await eventually(() => logged(station, "connected to broker"), 10_000, "the connection");

    writeFileSync(cfg.file, original.replace("points_per_kg: 1.16", "points_per_kg: 3"));
    expect(await operator.request("reload_config", { command_id: "l-1" }, { timeoutMs: 10_000 })).toMatchObject({
      ok: true,
      result: { applied: "now", changed: ["points"] },
    });

    writeFileSync(cfg.file, original.replace("idle_close_s: 0.5", "idle_close_s: soon"));
    const invalid = await operator.request("reload_config", { command_id: "l-2" }, { timeoutMs: 10_000 });
    expect(invalid).toMatchObject({ ok: false, error: { code: "refused" } });
    expect(invalid?.error?.message).toContain("session.idle_close_s");

    const nowhere = await freePort();
    writeFileSync(cfg.file, original.replace(broker.url, `mqtt://127.0.0.1:${nowhere}`));
    const rolledBack = await operator.request("reload_config", { command_id: "l-3" }, { timeoutMs: 60_000 });
    expect(rolledBack).toMatchObject({ ok: false, error: { code: "refused" } });
    expect(rolledBack?.error?.message).toMatch(/rolled back/);
    // Still connected with the old settings: commands still work.
    expect(await operator.request("status", { command_id: "s-5" })).toMatchObject({ ok: true });
    expect(station.exitCode).toBeNull();
  }, 90_000);

  it("a second gateway with the same client id: client_id_conflict, reconnects slowed", async () => {
    const { broker, scale, reader, central } = await devicesRig(cleanups);
    const a = writeStationConfig({ brokerUrl: broker.url, scalePort: scale.pty.devicePath, readerPort: reader.pty.devicePath, mqttExtra: "  client_id: cloned\n" });
    const b = writeStationConfig({ brokerUrl: broker.url, scalePort: "/dev/smartbin-missing-scale", readerPort: "/dev/smartbin-missing-reader", mqttExtra: "  client_id: cloned\n" });
    const first = run(a.file);
    await eventually(() => logged(first, "connected to broker"), 10_000, "the first connection");
    const second = run(b.file);
    await eventually(
      () => central.events.find((e) => e.json.type === "smartbin.alarm.v1" && e.json.data.code === "client_id_conflict"),
      40_000,
      "the client_id_conflict alarm",
    );
    const connects = () => first.lines.filter((l) => l.includes('"msg":"connected to broker"')).length + second.lines.filter((l) => l.includes('"msg":"connected to broker"')).length;
    const before = connects();
    await sleep(10_000);
    // Slowed: not flapping (each waits at least 30 s between attempts while the conflict lasts).
    expect(connects() - before).toBeLessThanOrEqual(2);
  }, 90_000);

  it("the example consumer and operator, written from docs/mqtt-api.md alone, work against a running station", async () => {
    const { broker, scale, reader } = await devicesRig(cleanups);
    const cfg = writeStationConfig({ brokerUrl: broker.url, scalePort: scale.pty.devicePath, readerPort: reader.pty.devicePath });
    const station = run(cfg.file);
    await eventually(() => logged(station, "connected to broker"), 10_000, "the connection");
    const tool = (name: string, args: string[]) =>
      promisify(execFile)(process.execPath, [join(ROOT, "examples", name), ...args, "--station", "st-it", "--url", broker.url], { timeout: 30_000 })
        .then((r) => ({ code: 0, stdout: r.stdout }))
        .catch((e: { code?: number; stdout?: string }) => ({ code: e.code ?? -1, stdout: e.stdout ?? "" }));
    // Two audited commands before the consumer starts: seq 1 and 2, which it has not seen.
    for (const version of ["v1", "v2"]) {
      const sent = await tool("operator.mjs", ["set_cards", JSON.stringify({ blocked: [], version })]);
      expect(sent.code).toBe(0);
      expect(JSON.parse(sent.stdout)).toMatchObject({ ok: true, result: { version } });
    }
    const refused = await tool("operator.mjs", ["tare", JSON.stringify({ scale_id: "scale-1" })]);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, error: { code: "not_supported" } });
    // The consumer expects seq 1: the next event (seq 4) shows the gap 1..3, and its replay fills it.
    const consumer = tool("consumer.mjs", ["--once", "6", "--from-seq", "1", "--grace", "1"]);
    await sleep(1500);
    expect((await tool("operator.mjs", ["set_cards", JSON.stringify({ blocked: [], version: "v3" })])).code).toBe(0);
    const done = await consumer;
    expect(done.code).toBe(0);
    // Received: seq 1..5, the last one the audit of the consumer's own replay.
    expect(JSON.parse(done.stdout.trim().split("\n").pop()!)).toMatchObject({ received: 5, duplicates: 0, gaps: 1, replayed: 3, missing: [] });
  }, 60_000);
});
