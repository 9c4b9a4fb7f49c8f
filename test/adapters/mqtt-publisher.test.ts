import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { connect } from "mqtt";
import type { IClientOptions, IPublishPacket, MqttClient } from "mqtt";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from "vitest";

import { createLogging } from "../../src/adapters/log/logger.js";
import { CLOUDEVENTS_CONTENT_TYPE, Publisher } from "../../src/adapters/mqtt/publisher.js";
import type { PublisherOptions } from "../../src/adapters/mqtt/publisher.js";
import { Outbox } from "../../src/adapters/outbox/outbox.js";
import type { StoredEvent } from "../../src/adapters/outbox/outbox.js";
import { freePort, startMosquitto } from "../support/mosquitto.js";
import type { MosquittoBroker } from "../support/mosquitto.js";
import { describeWithTool } from "../support/require-tool.js";
import { startTcpProxy } from "../support/mqtt-tcp-proxy.js";
import type { TcpProxy } from "../support/mqtt-tcp-proxy.js";

const logger = pino({ level: "silent" });
const STATION = "st-001";
/** Fast reconnects: the tests break links on purpose. */
const FAST_RECONNECT = { startMs: 20, maxMs: 200 };

interface Received {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
  contentType: string | undefined;
}

interface Subscriber {
  client: MqttClient;
  messages: Received[];
  /** Event messages only, parsed: `data.seq` and `id`. */
  events(): { seq: number; id: string; topic: string; payload: Buffer }[];
}

async function eventually(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function settle(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Seqs of the first copy of each event, in arrival order. */
function firstCopies(events: { seq: number; id: string }[]): number[] {
  const seen = new Set<string>();
  const out: number[] = [];
  for (const e of events) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    out.push(e.seq);
  }
  return out;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describeWithTool("mosquitto", "Publisher against a real Mosquitto", () => {
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
    dir = mkdtempSync(join(tmpdir(), "smartbin-publisher-"));
    const path = join(dir, "smartbin.db");
    outbox = Outbox.open({ path, stationId: STATION, logger, clockSynced: () => true });
    // A prefix per test: retained status messages of one test never reach another.
    prefix = `t${++testNo}-${process.pid}`;
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function publisher(overrides: Partial<PublisherOptions> = {}): Publisher {
    const p = new Publisher({
      outbox,
      url: broker.url,
      stationId: STATION,
      topicPrefix: prefix,
      protocolVersion: 5,
      inflight: 32,
      keepaliveS: 30,
      logger,
      reconnect: FAST_RECONNECT,
      ...overrides,
    });
    cleanups.push(() => p.stop());
    return p;
  }

  async function subscribe(topic: string, opts: IClientOptions = {}, url = broker.url): Promise<Subscriber> {
    const client = connect(url, { protocolVersion: 5, reconnectPeriod: 100, ...opts });
    cleanups.push(() => new Promise<void>((resolve) => client.end(true, () => resolve())));
    const messages: Received[] = [];
    client.on("message", (t, payload, packet: IPublishPacket) => {
      messages.push({
        topic: t,
        payload,
        qos: packet.qos,
        retain: packet.retain,
        contentType: packet.properties?.contentType,
      });
    });
    client.on("error", () => undefined);
    await new Promise<void>((resolve, reject) => {
      client.once("connect", () => resolve());
      client.once("error", reject);
    });
    await client.subscribeAsync(topic, { qos: 1 });
    return {
      client,
      messages,
      events: () =>
        messages
          .filter((m) => m.topic.includes("/events/"))
          .map((m) => {
            const doc = JSON.parse(m.payload.toString("utf8"));
            return { seq: doc.data.seq as number, id: doc.id as string, topic: m.topic, payload: m.payload };
          }),
    };
  }

  function append(n: number, kind = "deposit"): StoredEvent[] {
    return Array.from({ length: n }, (_, i) =>
      outbox.append(i % 4 === 3 ? "alarm" : kind, "kitchen", { net_g: 1000 + i, card_id: "0008844356" }),
    );
  }

  const statusOf = (s: Subscriber): Record<string, unknown>[] =>
    s.messages
      .filter((m) => m.topic.endsWith("/status"))
      .map((m) => JSON.parse(m.payload.toString("utf8")) as Record<string, unknown>);

  it("publishes in seq order to P/S/events/<kind>, QoS 1, not retained, byte for byte, with the MQTT 5 content type", async () => {
    const sub = await subscribe(`${prefix}/${STATION}/events/#`);
    const before = append(5);
    const p = publisher();
    p.start();
    await eventually(() => sub.messages.length >= 5, "the backlog");
    const after = append(5);
    p.notify();
    await eventually(() => sub.messages.length >= 10, "the new events");
    await settle(50);

    const stored = [...before, ...after];
    expect(sub.messages).toHaveLength(10);
    sub.messages.forEach((m, i) => {
      const e = stored[i]!;
      expect(m.topic).toBe(`${prefix}/${STATION}/events/${e.kind}`);
      expect(m.qos).toBe(1);
      expect(m.retain).toBe(false);
      expect(m.contentType).toBe(CLOUDEVENTS_CONTENT_TYPE);
      expect(m.payload.equals(Buffer.from(e.payload, "utf8"))).toBe(true);
    });
    expect(sub.events().map((e) => e.seq)).toEqual(range(1, 10));
    expect(sub.messages.some((m) => m.topic.endsWith("/events/alarm"))).toBe(true);
    await eventually(() => outbox.status().pending === 0, "all marked published");
    expect(outbox.status()).toMatchObject({ pending: 0, published: 10, last_seq: 10 });
  });

  it("follows a switch to debug made after it started (SIGUSR2): 'publishing event' lines appear for later events", async () => {
    const lines: Record<string, unknown>[] = [];
    const logging = createLogging({ level: "info", fd: 1, rateLimit: false, stream: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } });
    const sub = await subscribe(`${prefix}/${STATION}/events/#`);
    const p = publisher({ logger: logging.logger.child({ module: "mqtt" }) });
    p.start();
    append(2);
    p.notify();
    await eventually(() => sub.messages.length >= 2, "the first events");
    const publishing = () => lines.filter((l) => l.msg === "publishing event").map((l) => l.seq);
    expect(publishing()).toEqual([]);
    logging.setLevel("debug");
    append(2);
    p.notify();
    await eventually(() => sub.messages.length >= 4, "the events after the switch");
    expect(publishing()).toEqual([3, 4]);
  });

  it("sends each of 200 events exactly once over a steady connection, in seq order, within the window", async () => {
    const sub = await subscribe(`${prefix}/${STATION}/events/#`);
    append(120);
    const p = publisher({ inflight: 8 });
    p.start();
    let maxInflight = 0;
    for (let i = 0; i < 8; i++) {
      append(10);
      p.notify();
      maxInflight = Math.max(maxInflight, p.stats().inflight);
      await settle(5);
    }
    await eventually(() => sub.messages.length >= 200, "200 events");
    await eventually(() => outbox.status().pending === 0, "all marked published");
    await settle(50);

    const counts = new Map<string, number>();
    for (const e of sub.events()) counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
    expect(counts.size).toBe(200);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(sub.events().map((e) => e.seq)).toEqual(range(1, 200));
    expect(p.stats()).toMatchObject({ connections: 1, sent: 200, acked: 200, rejected: 0 });
    expect(maxInflight).toBeLessThanOrEqual(8);
  });

  /**
   * The outbox as the publisher sees it, with a probe: how many events the publisher has read and not
   * yet seen acknowledged (what it holds in memory) at each page read, and marks that fail on demand.
   */
  function probedOutbox(p: () => Publisher | undefined, marksFail: () => boolean) {
    const probe = { reads: 0, maxLimit: 0, maxHeld: 0, read: 0 };
    const wrapped: PublisherOptions["outbox"] = {
      pendingAfter(afterSeq, limit) {
        const rows = outbox.pendingAfter(afterSeq, limit);
        probe.reads++;
        probe.maxLimit = Math.max(probe.maxLimit, limit);
        probe.read += rows.length;
        probe.maxHeld = Math.max(probe.maxHeld, probe.read - (p()?.stats().acked ?? 0));
        return rows;
      },
      markPublished(seqs) {
        if (marksFail()) throw new Error("disk I/O error");
        outbox.markPublished(seqs);
      },
    };
    return { probe, wrapped };
  }

  it("drains a backlog a page at a time: never holds more than a page waiting plus a window in flight", async () => {
    const sub = await subscribe(`${prefix}/${STATION}/events/#`);
    append(1500);
    const ref: { p?: Publisher } = {};
    const { probe, wrapped } = probedOutbox(() => ref.p, () => false);
    const p = (ref.p = publisher({ outbox: wrapped, inflight: 8 }));
    p.start();
    await eventually(() => outbox.status().pending === 0, "the backlog drained", 15_000);
    await eventually(() => sub.events().length >= 1500, "all received");
    expect(probe.maxLimit).toBe(4 * 8);
    expect(probe.maxHeld).toBeLessThanOrEqual(4 * 8 + 8);
    expect(probe.reads).toBeGreaterThanOrEqual(1500 / 32);
    expect(firstCopies(sub.events())).toEqual(range(1, 1500));
  }, 20_000);

  it("pauses sending while acknowledged events cannot be marked, and resumes once they can", async () => {
    const sub = await subscribe(`${prefix}/${STATION}/events/#`);
    append(1500);
    let failing = true;
    const ref: { p?: Publisher } = {};
    const { wrapped } = probedOutbox(() => ref.p, () => failing);
    const p = (ref.p = publisher({ outbox: wrapped, inflight: 8 }));
    p.start();
    await eventually(() => p.stats().acked >= 800, "acks up to the unmarked bound");
    await settle(300);
    // 800 acked seqs wait to be marked (4 mark batches); nothing more is sent meanwhile.
    expect(p.stats().sent).toBeLessThanOrEqual(800 + 8);
    expect(outbox.status().pending).toBe(1500);
    failing = false;
    await eventually(() => outbox.status().pending === 0, "drained once marks work again", 15_000);
    expect(new Set(sub.events().map((e) => e.id)).size).toBe(1500);
  }, 25_000);

  it("works with MQTT 3.1.1 (protocol 4)", async () => {
    const sub = await subscribe(`${prefix}/${STATION}/#`, { protocolVersion: 4 });
    const stored = append(3);
    const p = publisher({ protocolVersion: 4 });
    p.start();
    await eventually(() => sub.events().length >= 3, "3 events");
    expect(sub.events().map((e) => e.payload.toString("utf8"))).toEqual(stored.map((e) => e.payload));
    expect(statusOf(sub)[0]).toEqual({ state: "online" });
    await eventually(() => outbox.status().published === 3, "marked published");
  });

  it("retains the online status with its fields, refreshes it on publishStatus, and says shutdown on stop", async () => {
    let fields: Record<string, unknown> = { devices: { "scale-1": "online" }, state: "ignored" };
    const p = publisher({ statusFields: () => fields });
    p.start();
    await eventually(() => p.stats().connected, "connected");
    const topic = `${prefix}/${STATION}/status`;

    const late = await subscribe(topic);
    await eventually(() => late.messages.length >= 1, "retained status");
    expect(late.messages[0]!.retain).toBe(true);
    expect(late.messages[0]!.qos).toBe(1);
    expect(late.messages[0]!.payload.toString()).toBe('{"state":"online","devices":{"scale-1":"online"}}');

    fields = { devices: { "scale-1": "offline" }, storage: "fault" };
    p.publishStatus();
    await eventually(() => late.messages.length >= 2, "refreshed status");
    expect(statusOf(late)[1]).toEqual({
      state: "online",
      devices: { "scale-1": "offline" },
      storage: "fault",
    });

    await p.stop();
    await eventually(() => late.messages.length >= 3, "shutdown status");
    expect(late.messages[2]!.payload.toString()).toBe('{"state":"offline","reason":"shutdown"}');

    // A clean DISCONNECT: the broker discards the will, the retained status stays "shutdown".
    await settle(200);
    const after = await subscribe(topic);
    await eventually(() => after.messages.length >= 1, "retained status after stop");
    await settle(100);
    expect(statusOf(after)).toEqual([{ state: "offline", reason: "shutdown" }]);
  });

  it("a flapping status is sent at most once per interval, the latest fields at its end", async () => {
    let n = 0;
    const p = publisher({ statusFields: () => ({ flap: n }), statusMinIntervalMs: 300 });
    p.start();
    await eventually(() => p.stats().connected, "connected");
    const sub = await subscribe(`${prefix}/${STATION}/status`);
    await eventually(() => sub.messages.length >= 1, "retained status");
    // 50 changes 5 ms apart, as an indicator flapping between overload and ok at 200 Hz.
    const from = performance.now();
    for (let i = 1; i <= 50; i++) {
      n = i;
      p.publishStatus();
      await settle(5);
    }
    const burstMs = performance.now() - from;
    await settle(700);
    const flaps = statusOf(sub).map((m) => m.flap);
    // The connect status, then at most one per 300 ms over the burst (and one at its end), ending with the latest.
    expect(flaps.length).toBeGreaterThanOrEqual(2);
    expect(flaps.length).toBeLessThanOrEqual(2 + Math.ceil(burstMs / 300));
    expect(flaps.length).toBeLessThan(20);
    expect(flaps.at(-1)).toBe(50);
  });

  it('leaves the will {"state":"offline"} when the link dies without DISCONNECT, then comes back online', async () => {
    const proxy: TcpProxy = await startTcpProxy(broker.port);
    cleanups.push(() => proxy.close());
    const sub = await subscribe(`${prefix}/${STATION}/status`);
    const p = publisher({ url: proxy.url });
    p.start();
    await eventually(() => statusOf(sub).length >= 1, "online");
    proxy.cut();
    await eventually(() => statusOf(sub).length >= 2, "the will");
    expect(statusOf(sub)[1]).toEqual({ state: "offline" });
    await eventually(() => statusOf(sub).length >= 3, "online again");
    expect(statusOf(sub)[2]).toEqual({ state: "online" });
    expect(p.stats().connections).toBe(2);
  });

  it("marks events published only on PUBACK, and resends the unacknowledged ones from the database after a reconnect", async () => {
    const proxy = await startTcpProxy(broker.port);
    cleanups.push(() => proxy.close());
    const sub = await subscribe(`${prefix}/${STATION}/events/#`);
    const p = publisher({ url: proxy.url, inflight: 4 });
    p.start();
    await eventually(() => p.stats().connected, "connected");
    await settle(50); // let the online status's PUBACK through

    proxy.holdAcks(true);
    append(10);
    p.notify();
    await eventually(() => sub.messages.length >= 4, "the first window");
    await settle(200);
    // The broker got a full window, PUBACKs never arrived: nothing marked, nothing more sent.
    expect(sub.events().map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(p.stats()).toMatchObject({ inflight: 4, acked: 0, sent: 4 });
    expect(outbox.status()).toMatchObject({ pending: 10, published: 0 });

    proxy.holdAcks(false);
    proxy.cut();
    await eventually(() => outbox.status().pending === 0, "all acknowledged after the reconnect");
    await eventually(() => sub.events().length >= 14, "resends");
    const seqs = sub.events().map((e) => e.seq);
    expect(firstCopies(sub.events())).toEqual(range(1, 10));
    // The second connection starts again from the lowest unpublished seq, each event once.
    expect(seqs.slice(4)).toEqual(range(1, 10));
    expect(p.stats().connections).toBe(2);
  });

  it("with no broker: append and notify never throw, nothing is marked, stop resolves; a new publisher delivers later", async () => {
    const deadPort = await freePort();
    const p = publisher({ url: `mqtt://127.0.0.1:${deadPort}` });
    p.start();
    append(3);
    expect(() => p.notify()).not.toThrow();
    expect(() => p.publishStatus()).not.toThrow();
    await settle(300);
    expect(outbox.status()).toMatchObject({ pending: 3, published: 0, last_seq: 3 });
    expect(p.stats()).toMatchObject({ connected: false, connections: 0, sent: 0 });
    await p.stop();

    const sub = await subscribe(`${prefix}/${STATION}/events/#`);
    const next = publisher();
    next.start();
    await eventually(() => sub.events().length >= 3, "delivered by the restarted publisher");
    expect(sub.events().map((e) => e.seq)).toEqual([1, 2, 3]);
    await eventually(() => outbox.status().pending === 0, "marked published");
  }, 10_000);

  it("stop resolves promptly while the broker does not answer", async () => {
    const proxy = await startTcpProxy(broker.port);
    cleanups.push(() => proxy.close());
    const p = publisher({ url: proxy.url, stopTimeoutMs: 1000 });
    p.start();
    await eventually(() => p.stats().connected, "connected");
    proxy.holdAcks(true);
    append(3);
    p.notify();
    await settle(50);
    await p.stop();
    expect(outbox.status()).toMatchObject({ pending: 3, published: 0 });
  }, 5000);

  it("delivers events appended while the broker was down after it restarts, none missing, first copies in seq order", async () => {
    const sub = await subscribe(
      `${prefix}/${STATION}/events/#`,
      { protocolVersion: 4, clean: false, clientId: `central-${prefix}` },
    );
    const p = publisher();
    p.start();
    append(3);
    p.notify();
    await eventually(() => sub.events().length >= 3, "events before the outage");
    await eventually(() => outbox.status().published === 3, "marked");

    await broker.stop();
    await eventually(() => !p.stats().connected, "publisher sees the outage");
    append(5);
    expect(() => p.notify()).not.toThrow();
    await settle(100);
    expect(outbox.status()).toMatchObject({ pending: 5, published: 3, last_seq: 8 });

    await broker.restart();
    await eventually(() => outbox.status().pending === 0, "published after the restart", 10_000);
    const distinct = () => new Set(sub.events().map((e) => e.id)).size;
    await eventually(() => distinct() >= 8, "the subscriber got them all", 10_000);
    expect(firstCopies(sub.events())).toEqual(range(1, 8));
  }, 15_000);
});
