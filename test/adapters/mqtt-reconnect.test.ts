import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { pino } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { ClientIdConflictTracker } from "../../src/adapters/mqtt/client-id-conflict.js";
import { Publisher } from "../../src/adapters/mqtt/publisher.js";
import type { PublisherOptions } from "../../src/adapters/mqtt/publisher.js";
import { Outbox } from "../../src/adapters/outbox/outbox.js";
import { freePort, startMosquitto } from "../support/mosquitto.js";
import type { MosquittoBroker } from "../support/mosquitto.js";
import { describeWithTool } from "../support/require-tool.js";
import { startTcpProxy } from "../support/mqtt-tcp-proxy.js";
import { capturedLogger, eventually, settle, testClient } from "./mqtt-test-kit.js";
import type { LogLine } from "./mqtt-test-kit.js";

const STATION = "st-001";

describe("ClientIdConflictTracker (contract.md section 4: three takeovers within 60 s)", () => {
  it("begins at the third takeover within the window, once; ends once a connection stayed up", () => {
    const t = new ClientIdConflictTracker();
    expect(t.takenOver(0)).toBeNull();
    expect(t.takenOver(30_000)).toBeNull();
    // The first one is out of the window by now.
    expect(t.takenOver(60_500)).toBeNull();
    expect(t.active).toBe(false);
    expect(t.minReconnectMs).toBe(0);
    expect(t.takenOver(70_000)).toBe("began");
    expect(t.active).toBe(true);
    expect(t.minReconnectMs).toBe(30_000);
    expect(t.takenOver(71_000)).toBeNull();
    expect(t.stayedUp()).toBe("ended");
    expect(t.stayedUp()).toBeNull();
    expect(t.active).toBe(false);
    // Counting starts again from nothing.
    expect(t.takenOver(72_000)).toBeNull();
    expect(t.takenOver(73_000)).toBeNull();
    expect(t.takenOver(74_000)).toBe("began");
  });
});

describeWithTool("mosquitto", "Publisher reconnects against a real Mosquitto", () => {
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
    dir = mkdtempSync(join(tmpdir(), "smartbin-mqtt-reconnect-"));
    outbox = Outbox.open({ path: join(dir, "smartbin.db"), stationId: STATION, logger: pino({ level: "silent" }), clockSynced: () => true });
    prefix = `r${++testNo}-${process.pid}`;
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function publisher(overrides: Partial<PublisherOptions>): Publisher {
    const p = new Publisher({
      outbox,
      url: broker.url,
      stationId: STATION,
      topicPrefix: prefix,
      protocolVersion: 5,
      clientId: `station-${prefix}`,
      logger: pino({ level: "silent" }),
      reconnect: { startMs: 20, maxMs: 200 },
      ...overrides,
    });
    cleanups.push(() => p.stop());
    return p;
  }

  const reconnectLines = (lines: LogLine[]) => lines.filter((l) => l.msg.startsWith("reconnecting to the broker in "));

  for (const protocolVersion of [5, 4] as const) {
    it(`two publishers with one client id (MQTT ${protocolVersion === 5 ? "5" : "3.1.1"}: the broker closes the socket or sends DISCONNECT 0x8E): a conflict, reconnects slowed, over once one stays up`, async () => {
      const conflict = { minReconnectMs: 1000, clearAfterMs: 1500 };
      const a = { events: [] as boolean[], log: capturedLogger("info") };
      const b = { events: [] as boolean[], log: capturedLogger("info") };
      const pa = publisher({ protocolVersion, conflict, logger: a.log.logger, onClientIdConflict: (on) => a.events.push(on) });
      const pb = publisher({ protocolVersion, conflict, logger: b.log.logger, onClientIdConflict: (on) => b.events.push(on) });
      pa.start();
      pb.start();
      await eventually(() => a.events.length > 0 && b.events.length > 0, "both see the conflict", 8000);
      expect(a.events).toEqual([true]);
      expect(b.events).toEqual([true]);
      expect(pa.stats().clientIdConflict).toBe(true);
      expect(a.log.lines.some((l) => l.level === 50 && l.msg.startsWith("client id conflict"))).toBe(true);

      // Slowed: every wait is at least a second now, so over 2.5 s each connects at most 3 times.
      const before = pa.stats().connections + pb.stats().connections;
      await settle(2500);
      const during = pa.stats().connections + pb.stats().connections - before;
      expect(during).toBeLessThanOrEqual(6);
      const waits = reconnectLines(a.log.lines).filter((l) => l.client_id_conflict === true);
      expect(waits.length).toBeGreaterThan(0);
      for (const w of waits) expect(w.delay_ms).toBeGreaterThanOrEqual(1000);

      // The clone goes away: the other stays up and the conflict ends.
      await pb.stop();
      await eventually(() => a.events.length === 2, "the conflict ends", 6000);
      expect(a.events).toEqual([true, false]);
      expect(pa.stats()).toMatchObject({ connected: true, clientIdConflict: false });
    }, 20_000);
  }

  it("a broker that drops every connection at once: bounded attempts, one log line per wait with its length", async () => {
    const proxy = await startTcpProxy(broker.port);
    cleanups.push(() => proxy.close());
    proxy.dropEvery("at-once");
    const { logger, lines } = capturedLogger("info");
    const p = publisher({ url: proxy.url, logger, reconnect: { startMs: 50, maxMs: 400 } });
    p.start();
    await settle(3000);
    const attempts = proxy.connections();
    // Full jitter up to 400 ms: about 15 in 3 s; never a tight loop.
    expect(attempts).toBeGreaterThanOrEqual(3);
    expect(attempts).toBeLessThanOrEqual(40);
    const waits = reconnectLines(lines);
    expect(Math.abs(waits.length - attempts)).toBeLessThanOrEqual(1);
    for (const w of waits) {
      expect(w.level).toBe(30);
      expect(w.msg).toMatch(/^reconnecting to the broker in \d+(\.\d)? (s|ms)$/);
      expect(typeof w.delay_ms).toBe("number");
      expect(typeof w.reason).toBe("string");
    }
    // Besides the waits: one warning for the outage, nothing per attempt.
    expect(lines.length - waits.length).toBeLessThanOrEqual(2);
    expect(p.stats().connections).toBe(0);
  }, 10_000);

  it("a broker that drops every connection after its CONNACK: bounded connections and log lines", async () => {
    const proxy = await startTcpProxy(broker.port);
    cleanups.push(() => proxy.close());
    proxy.dropEvery(100);
    const { logger, lines } = capturedLogger("info");
    const p = publisher({ url: proxy.url, logger, reconnect: { startMs: 50, maxMs: 400 } });
    outbox.append("deposit", "kitchen", { net_g: 1 });
    p.start();
    await settle(3000);
    const connections = p.stats().connections;
    expect(connections).toBeGreaterThanOrEqual(2);
    // Each cycle holds the connection 100 ms plus a wait up to 400 ms that does not reset (the
    // connection never stays up 10 s): about 10 in 3 s.
    expect(connections).toBeLessThanOrEqual(30);
    // Per cycle: connected, disconnected, the wait.
    expect(lines.length).toBeLessThanOrEqual(3 * proxy.connections() + 3);
    expect(reconnectLines(lines).length).toBeGreaterThanOrEqual(connections - 1);
    // Events stay safe in the database meanwhile (acknowledged or pending, never lost).
    expect(outbox.status().last_seq).toBe(1);
  }, 10_000);

  it("a reply still waiting for its PUBACK when the link drops is sent again at the next connection", async () => {
    const proxy = await startTcpProxy(broker.port);
    cleanups.push(() => proxy.close());
    const p = publisher({ url: proxy.url });
    p.start();
    await eventually(() => p.stats().connected, "connected");
    const replyTopic = `${prefix}/${STATION}/cmd/status/reply`;
    const sub = await testClient(broker.url, [replyTopic]);
    cleanups.push(() => sub.end());
    // The reply leaves the station and is lost on the way; then the link drops.
    proxy.holdSends(true);
    p.reply({ name: "status", topic: `${prefix}/${STATION}/cmd/status`, payload: Buffer.from("{}") }, '{"command_id":"s1","ok":true,"result":{}}');
    await settle(200);
    proxy.holdSends(false);
    proxy.cut();
    await eventually(() => sub.messages.some((m) => m.topic === replyTopic), "the reply, sent again on the new connection", 8000);
    expect(proxy.connections()).toBe(2);
  }, 15_000);

  it("reconfigure: true at the CONNACK with the new settings; false and back to the old ones when they do not connect in time", async () => {
    const proxy = await startTcpProxy(broker.port);
    cleanups.push(() => proxy.close());
    const { logger, lines } = capturedLogger("info");
    const p = publisher({ logger });
    p.start();
    await eventually(() => p.stats().connected, "connected");
    const oldReply = `${prefix}/${STATION}/cmd/reload_config/reply`;
    const status = await testClient(broker.url, [`${prefix}/${STATION}/status`, `other-${prefix}/${STATION}/status`, oldReply]);
    cleanups.push(() => status.end());

    const settings = { url: proxy.url, topicPrefix: `other-${prefix}`, protocolVersion: 5 as const, clientId: `station-${prefix}` };
    expect(await p.reconfigure(settings, 3000)).toBe(true);
    expect(p.stats()).toMatchObject({ connected: true, connections: 2 });
    expect(proxy.connections()).toBe(1);
    await eventually(() => status.messages.some((m) => m.topic.startsWith("other-")), "the status under the new prefix");
    // The reload_config that changed the prefix is answered on the prefix it came in on.
    p.reply({ name: "reload_config", topic: `${prefix}/${STATION}/cmd/reload_config`, payload: Buffer.from("{}") }, '{"command_id":"rl1","ok":true,"result":{}}');
    await eventually(() => status.messages.some((m) => m.topic === oldReply), "the reply on the old prefix's reply topic");

    const dead = await freePort();
    expect(await p.reconfigure({ ...settings, url: `mqtt://127.0.0.1:${dead}` }, 500)).toBe(false);
    await eventually(() => p.stats().connected, "connected again with the previous settings");
    expect(proxy.connections()).toBe(2);
    expect(lines.some((l) => l.msg.includes("back to the previous ones"))).toBe(true);
    // A clean DISCONNECT each time: the will {"state":"offline"} was never published. The status
    // topic left behind says offline, "reconfigured" (the old prefix at the first switch; the
    // broker behind the proxy at the second, until the rollback says online there again).
    await settle(100);
    const statuses = status.messages.filter((m) => m.topic.endsWith("/status")).map((m) => ({ topic: m.topic, ...(JSON.parse(m.payload.toString()) as { state: string }) }));
    expect(statuses.filter((s) => s.state === "offline")).toEqual([
      { topic: `${prefix}/${STATION}/status`, state: "offline", reason: "reconfigured" },
      { topic: `other-${prefix}/${STATION}/status`, state: "offline", reason: "reconfigured" },
    ]);
    expect(statuses.at(-1)).toMatchObject({ topic: `other-${prefix}/${STATION}/status`, state: "online" });
  }, 15_000);
});
