import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { pino } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest";

import { CLOUDEVENTS_CONTENT_TYPE, Publisher } from "../../src/adapters/mqtt/publisher.js";
import type { IncomingCommand, PublisherOptions } from "../../src/adapters/mqtt/publisher.js";
import { Outbox } from "../../src/adapters/outbox/outbox.js";
import type { StoredEvent } from "../../src/adapters/outbox/outbox.js";
import { startMosquitto } from "../support/mosquitto.js";
import type { MosquittoBroker } from "../support/mosquitto.js";
import { describeWithTool } from "../support/require-tool.js";
import { startTcpProxy } from "../support/mqtt-tcp-proxy.js";
import { eventually, settle, testClient } from "./mqtt-test-kit.js";
import type { Received, TestClient } from "./mqtt-test-kit.js";

const logger = pino({ level: "silent" });
const STATION = "st-001";
const FAST_RECONNECT = { startMs: 20, maxMs: 200 };

describeWithTool("mosquitto", "Publisher: session, commands, replies, telemetry and replay against a real Mosquitto", () => {
  let broker: MosquittoBroker;
  let dir: string;
  let outbox: Outbox;
  let prefix: string;
  let testNo = 0;
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.dispose();
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "smartbin-mqtt-commands-"));
    outbox = Outbox.open({ path: join(dir, "smartbin.db"), stationId: STATION, logger, clockSynced: () => true });
    prefix = `c${++testNo}-${process.pid}`;
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A publisher with a client id of its own per test: MQTT 5 sessions outlive a test. */
  function publisher(overrides: Partial<PublisherOptions> = {}): { p: Publisher; commands: IncomingCommand[] } {
    const commands: IncomingCommand[] = [];
    const p = new Publisher({
      outbox,
      url: broker.url,
      stationId: STATION,
      topicPrefix: prefix,
      protocolVersion: 5,
      clientId: `station-${prefix}`,
      logger,
      reconnect: FAST_RECONNECT,
      onCommand: (cmd) => void commands.push(cmd),
      ...overrides,
    });
    cleanups.push(() => p.stop());
    return { p, commands };
  }

  async function client(topics: string[], opts: Parameters<typeof testClient>[2] = {}): Promise<TestClient> {
    const c = await testClient(broker.url, topics, opts);
    cleanups.push(() => c.end());
    return c;
  }

  const cmdTopic = (name: string) => `${prefix}/${STATION}/cmd/${name}`;
  const events = (c: TestClient): Received[] => c.messages.filter((m) => m.topic.includes("/events/"));

  function append(n: number): StoredEvent[] {
    return Array.from({ length: n }, (_, i) => outbox.append(i % 2 ? "alarm" : "deposit", "kitchen", { net_g: 1000 + i }));
  }

  it("MQTT 5: every event carries the content type and the user properties id, type and seq", async () => {
    const sub = await client([`${prefix}/${STATION}/events/#`]);
    const stored = append(4);
    const { p } = publisher();
    p.start();
    await eventually(() => events(sub).length >= 4, "4 events");
    events(sub).forEach((m, i) => {
      const e = stored[i]!;
      expect(m.payload.equals(Buffer.from(e.payload, "utf8"))).toBe(true);
      expect(m.properties?.contentType).toBe(CLOUDEVENTS_CONTENT_TYPE);
      expect(m.properties?.userProperties).toEqual({ id: e.id, type: `smartbin.${e.kind}.v1`, seq: String(e.seq) });
    });
  });

  it("MQTT 5: a command sent while the station is briefly away arrives after the reconnect (clean start off, session expiry)", async () => {
    const proxy = await startTcpProxy(broker.port);
    cleanups.push(() => proxy.close());
    const { p, commands } = publisher({ url: proxy.url, sessionExpiryS: 60 });
    p.start();
    await eventually(() => p.stats().commandsSubscribed, "subscribed");
    const operator = await client([]);
    await operator.client.publishAsync(cmdTopic("status"), '{"command_id":"a1"}', { qos: 1 });
    await eventually(() => commands.length === 1, "the first command");

    proxy.dropEvery("at-once");
    proxy.cut();
    await eventually(() => !p.stats().connected, "away");
    await operator.client.publishAsync(cmdTopic("tare"), '{"command_id":"a2","scale_id":"scale-1"}', { qos: 1 });
    await settle(300);
    expect(commands).toHaveLength(1);
    proxy.dropEvery(null);
    // The cut can come before the first command's PUBACK has reached the broker: it is then
    // delivered again (at least once, MQTT 5.0 section 4.4) ahead of the queued one, and the command
    // service's command_id dedupe answers it from the kept reply.
    const tare = () => commands.find((c) => c.name === "tare");
    await eventually(() => tare() !== undefined, "the command queued by the broker", 8000);
    expect(tare()).toMatchObject({ name: "tare", topic: cmdTopic("tare") });
    expect(tare()!.payload.toString()).toBe('{"command_id":"a2","scale_id":"scale-1"}');
    expect(commands.every((c) => c.name === "tare" || c.payload.toString() === '{"command_id":"a1"}')).toBe(true);
    expect(commands.filter((c) => c.name === "tare")).toHaveLength(1);
  }, 15_000);

  it("MQTT 5: commands still buffered when the station drops its own connection are not acknowledged: the broker delivers them again", async () => {
    const ids = (list: IncomingCommand[]) => new Set(list.map((c) => (JSON.parse(c.payload.toString()) as { command_id: string }).command_id));
    let dropped = false;
    const { p, commands } = publisher({
      sessionExpiryS: 60,
      onCommand: (cmd) => {
        commands.push(cmd);
        if (commands.length === 3 && !dropped) {
          dropped = true;
          // What an event refused by the broker does (event-drain.ts onRefused): the station drops
          // its own connection at once (conn.closed), MQTT.js ends it on the next turn, and still
          // hands over the rest of the burst it has read meanwhile.
          const inside = p as unknown as { conn: unknown; onClose(conn: unknown): void };
          inside.onClose(inside.conn);
        }
      },
    });
    p.start();
    await eventually(() => p.stats().commandsSubscribed, "subscribed");
    const operator = await client([]);
    const sent = Array.from({ length: 60 }, (_, i) => `burst-${i}`);
    await Promise.all(sent.map((id) => operator.client.publishAsync(cmdTopic("set_cards"), `{"command_id":"${id}","version":"v"}`, { qos: 1 })));
    await eventually(() => ids(commands).size === sent.length, "every command handed over, some after a redelivery", 8000);
    expect(dropped).toBe(true);
    expect([...ids(commands)].sort()).toEqual([...sent].sort());
  }, 15_000);

  it("MQTT 5: a command the station does not take (onCommand false: stopping) gets no PUBACK and is delivered again at the next start", async () => {
    const first = publisher({ sessionExpiryS: 60, onCommand: () => false });
    first.p.start();
    await eventually(() => first.p.stats().commandsSubscribed, "subscribed");
    const operator = await client([]);
    let acked = false;
    operator.client.publish(cmdTopic("set_cards"), '{"command_id":"late","version":"v"}', { qos: 1 }, () => (acked = true));
    // Mosquitto PUBACKs the sender at once; the station withholds its own PUBACK to the broker.
    await eventually(() => acked, "the broker took it");
    await settle(300);
    expect(first.p.stats().commandsReceived).toBe(0);
    await first.p.stop();

    const second = publisher({ sessionExpiryS: 60 });
    second.p.start();
    await eventually(() => second.commands.length === 1, "the command delivered again to the next run", 8000);
    expect(second.commands[0]!.payload.toString()).toBe('{"command_id":"late","version":"v"}');
  }, 15_000);

  it("MQTT 3.1.1: a clean session, the subscription made again at every connect", async () => {
    const proxy = await startTcpProxy(broker.port);
    cleanups.push(() => proxy.close());
    const { p, commands } = publisher({ url: proxy.url, protocolVersion: 4 });
    p.start();
    await eventually(() => p.stats().commandsSubscribed, "subscribed");
    const operator = await client([], { protocolVersion: 4 });
    proxy.dropEvery("at-once");
    proxy.cut();
    await eventually(() => !p.stats().connected, "away");
    await operator.client.publishAsync(cmdTopic("status"), '{"command_id":"lost"}', { qos: 1 });
    proxy.dropEvery(null);
    await eventually(() => p.stats().commandsSubscribed, "subscribed again", 8000);
    await operator.client.publishAsync(cmdTopic("status"), '{"command_id":"b1"}', { qos: 1 });
    await eventually(() => commands.length >= 1, "the command sent after the reconnect");
    await settle(100);
    // The clean session forgot the subscription while away: that command was never queued.
    expect(commands.map((c) => c.payload.toString())).toEqual(['{"command_id":"b1"}']);
    expect(commands[0]).not.toHaveProperty("responseTopic");
  }, 15_000);

  it("a retained command is never run: MQTT 3.1.1 hands it over at every subscription, MQTT 5 is not sent it (Retain Handling 2)", async () => {
    const operator = await client([]);
    await operator.client.publishAsync(cmdTopic("set_cards"), '{"command_id":"old","version":"old","blocked":["X1"]}', { qos: 1, retain: true });
    cleanups.push(() => operator.client.publishAsync(cmdTopic("set_cards"), "", { qos: 1, retain: true }).then(() => undefined));
    for (const protocolVersion of [4, 5] as const) {
      const { p, commands } = publisher({ protocolVersion, clientId: `station-${prefix}-${protocolVersion}` });
      p.start();
      await eventually(() => p.stats().commandsSubscribed, "subscribed");
      await settle(300); // a retained message would follow the SUBACK
      expect(commands).toEqual([]);
      // A live command still arrives.
      await operator.client.publishAsync(cmdTopic("status"), `{"command_id":"live-${protocolVersion}"}`, { qos: 1 });
      await eventually(() => commands.length === 1, "the live command");
      await p.stop();
    }
  });

  it("MQTT 5: a command published retained while the station is connected is ignored too (Retain As Published); an empty message that clears one is no command", async () => {
    const operator = await client([]);
    cleanups.push(() => operator.client.publishAsync(cmdTopic("set_cards"), "", { qos: 1, retain: true }).then(() => undefined));
    const { p, commands } = publisher({ protocolVersion: 5, clientId: `station-${prefix}-rap` });
    p.start();
    await eventually(() => p.stats().commandsSubscribed, "subscribed");
    await operator.client.publishAsync(cmdTopic("set_cards"), '{"command_id":"ret","version":"r","blocked":["X1"]}', { qos: 1, retain: true });
    await operator.client.publishAsync(cmdTopic("set_cards"), "", { qos: 1, retain: true });
    await operator.client.publishAsync(cmdTopic("status"), '{"command_id":"after"}', { qos: 1 });
    await eventually(() => commands.length >= 1, "the live command after them");
    await settle(200);
    expect(commands.map((c) => c.payload.toString())).toEqual(['{"command_id":"after"}']);
    await p.stop();
  });

  it("MQTT 3.1.1: an empty message on a command topic (clearing a retained one) is no command", async () => {
    const operator = await client([], { protocolVersion: 4 });
    const { p, commands } = publisher({ protocolVersion: 4, clientId: `station-${prefix}-empty` });
    p.start();
    await eventually(() => p.stats().commandsSubscribed, "subscribed");
    await operator.client.publishAsync(cmdTopic("set_cards"), "", { qos: 1, retain: true });
    await operator.client.publishAsync(cmdTopic("status"), '{"command_id":"after"}', { qos: 1 });
    await eventually(() => commands.length >= 1, "the live command after it");
    await settle(200);
    expect(commands.map((c) => c.payload.toString())).toEqual(['{"command_id":"after"}']);
    expect(p.stats().commandsReceived).toBe(1);
    await p.stop();
  });

  it("replies: MQTT 5 to the response topic with the correlation data, else to P/S/cmd/<name>/reply; QoS 1, not retained", async () => {
    const { p, commands } = publisher();
    p.start();
    await eventually(() => p.stats().commandsSubscribed, "subscribed");
    const operator = await client([`${prefix}/central/responses/#`, `${prefix}/${STATION}/cmd/+/reply`]);
    await operator.client.publishAsync(cmdTopic("status"), '{"command_id":"r1"}', {
      qos: 1,
      properties: { responseTopic: `${prefix}/central/responses/42`, correlationData: Buffer.from([1, 2, 3]) },
    });
    await operator.client.publishAsync(cmdTopic("replay"), '{"command_id":"r2"}', { qos: 1 });
    await eventually(() => commands.length === 2, "both commands");
    expect(commands[0]).toMatchObject({ name: "status", responseTopic: `${prefix}/central/responses/42` });
    expect(commands[0]!.correlationData).toEqual(Buffer.from([1, 2, 3]));
    p.reply(commands[0]!, '{"command_id":"r1","ok":true,"result":{}}');
    p.reply(commands[1]!, '{"command_id":"r2","ok":true,"result":{"count":0,"first_held_seq":null}}');
    await eventually(() => operator.messages.length === 2, "both replies");
    const [viaResponse, viaReplyTopic] = [
      operator.messages.find((m) => m.topic.includes("/responses/"))!,
      operator.messages.find((m) => m.topic.endsWith("/reply"))!,
    ];
    expect(viaResponse).toMatchObject({ topic: `${prefix}/central/responses/42`, qos: 1, retain: false });
    expect(viaResponse.properties?.correlationData).toEqual(Buffer.from([1, 2, 3]));
    expect(viaResponse.payload.toString()).toBe('{"command_id":"r1","ok":true,"result":{}}');
    expect(viaReplyTopic).toMatchObject({ topic: `${prefix}/${STATION}/cmd/replay/reply`, qos: 1, retain: false });
  });

  it("replies with MQTT 3.1.1 go to P/S/cmd/<name>/reply; dropped without a throw while disconnected", async () => {
    const { p, commands } = publisher({ protocolVersion: 4 });
    p.start();
    await eventually(() => p.stats().commandsSubscribed, "subscribed");
    const operator = await client([`${prefix}/${STATION}/cmd/+/reply`], { protocolVersion: 4 });
    await operator.client.publishAsync(cmdTopic("set_cards"), '{"command_id":"v4"}', { qos: 1 });
    await eventually(() => commands.length === 1, "the command");
    p.reply(commands[0]!, '{"command_id":"v4","ok":true,"result":{}}');
    await eventually(() => operator.messages.length === 1, "the reply");
    expect(operator.messages[0]).toMatchObject({ topic: `${prefix}/${STATION}/cmd/set_cards/reply`, qos: 1, retain: false });
    await p.stop();
    expect(() => p.reply(commands[0]!, "{}")).not.toThrow();
  });

  it("a throwing command handler is logged, never reaches MQTT.js: the next command still arrives", async () => {
    let calls = 0;
    const { p } = publisher({
      onCommand: () => {
        calls++;
        throw new Error("boom");
      },
    });
    p.start();
    await eventually(() => p.stats().commandsSubscribed, "subscribed");
    const operator = await client([]);
    await operator.client.publishAsync(cmdTopic("status"), "{}", { qos: 1 });
    await operator.client.publishAsync(cmdTopic("status"), "{}", { qos: 1 });
    await eventually(() => calls === 2, "both commands");
    expect(p.stats()).toMatchObject({ connected: true, connections: 1, commandsReceived: 2 });
  });

  it("the announced maximum packet size keeps larger commands away", async () => {
    const { p, commands } = publisher({ maximumPacketSize: 1024 });
    p.start();
    await eventually(() => p.stats().commandsSubscribed, "subscribed");
    const operator = await client([]);
    await operator.client.publishAsync(cmdTopic("set_cards"), JSON.stringify({ command_id: "big", collectors: ["x".repeat(2000)] }), { qos: 1 });
    await operator.client.publishAsync(cmdTopic("status"), '{"command_id":"small"}', { qos: 1 });
    await eventually(() => commands.length >= 1, "the small command");
    await settle(100);
    expect(commands.map((c) => c.name)).toEqual(["status"]);
    expect(p.stats()).toMatchObject({ connected: true, connections: 1 });
  });

  it("telemetry: P/S/telemetry, QoS 0, not retained, MQTT 5 message expiry twice the interval; dropped while disconnected", async () => {
    const sub = await client([`${prefix}/${STATION}/telemetry`]);
    const { p } = publisher();
    p.publishTelemetry('{"early":true}', 60);
    p.start();
    await eventually(() => p.stats().connected, "connected");
    p.publishTelemetry('{"backlog":0}', 60);
    await eventually(() => sub.messages.length === 1, "telemetry");
    const [m] = sub.messages;
    expect(m).toMatchObject({ topic: `${prefix}/${STATION}/telemetry`, qos: 0, retain: false });
    expect(m!.payload.toString()).toBe('{"backlog":0}');
    // Mosquitto forwards the remaining lifetime: at most 120 s, and not much less.
    expect(m!.properties?.messageExpiryInterval).toBeGreaterThanOrEqual(119);
    expect(m!.properties?.messageExpiryInterval).toBeLessThanOrEqual(120);
  });

  it("replay republishes held events byte for byte with the same properties, published ones too, marking nothing; heldRange counts them", async () => {
    const sub = await client([`${prefix}/${STATION}/events/#`]);
    const stored = append(6);
    const { p } = publisher({ inflight: 2 });
    p.start();
    await eventually(() => outbox.status().published === 6, "all published");
    await eventually(() => events(sub).length === 6, "first copies");
    expect(outbox.heldRange(2, 4)).toMatchObject({ count: 3, firstHeldSeq: 1 });

    p.replay(2, 4);
    // A second replay while the first runs is queued behind it.
    p.replay(6, undefined);
    await eventually(() => events(sub).length === 10, "the replayed copies");
    await settle(100);
    const again = events(sub).slice(6);
    expect(again.map((m) => (JSON.parse(m.payload.toString()) as { data: { seq: number } }).data.seq)).toEqual([2, 3, 4, 6]);
    for (const m of again) {
      const e = stored.find((s) => m.payload.equals(Buffer.from(s.payload, "utf8")))!;
      expect(e).toBeDefined();
      expect(m.topic).toBe(`${prefix}/${STATION}/events/${e.kind}`);
      expect(m.properties?.contentType).toBe(CLOUDEVENTS_CONTENT_TYPE);
      expect(m.properties?.userProperties).toEqual({ id: e.id, type: `smartbin.${e.kind}.v1`, seq: String(e.seq) });
    }
    expect(outbox.status()).toMatchObject({ pending: 0, published: 6 });
    expect(p.stats()).toMatchObject({ replayed: 4, sent: 6, inflight: 0 });
  });

  it("replay takes turns with the drain of pending events, within the window", async () => {
    const sub = await client([`${prefix}/${STATION}/events/#`]);
    append(20);
    const { p } = publisher({ inflight: 4 });
    p.start();
    await eventually(() => outbox.status().published === 20, "published");
    append(200);
    p.replay(1, 20);
    p.notify();
    let maxInflight = 0;
    while (outbox.status().pending > 0) {
      maxInflight = Math.max(maxInflight, p.stats().inflight);
      await settle(2);
    }
    await eventually(() => events(sub).length === 240, "drain and replay", 8000);
    expect(maxInflight).toBeLessThanOrEqual(4);
    const seqs = events(sub).slice(20).map((m) => JSON.parse(m.payload.toString()).data.seq as number);
    // The replay did not wait for the 200 new events: its last copy came before the drain's end.
    expect(seqs.lastIndexOf(20)).toBeLessThan(seqs.indexOf(220));
  });
});
