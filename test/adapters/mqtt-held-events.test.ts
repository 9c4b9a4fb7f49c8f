/**
 * Events the broker will not take (a Mosquitto ACL answering the MQTT 5 PUBACK with 0x87, or an
 * event larger than its `max_packet_size`): held back, pending, retried, and never in the way of
 * later events or of the connection (held-events.ts, event-drain.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterEach, beforeEach, expect, it } from "vitest";

import { Publisher } from "../../src/adapters/mqtt/publisher.js";
import type { PublisherOptions } from "../../src/adapters/mqtt/publisher.js";
import { Outbox } from "../../src/adapters/outbox/outbox.js";
import { startMosquitto } from "../support/mosquitto.js";
import type { MosquittoBroker } from "../support/mosquitto.js";
import { describeWithTool } from "../support/require-tool.js";
import { capturedLogger, eventually, settle, testClient } from "./mqtt-test-kit.js";
import type { LogLine, TestClient } from "./mqtt-test-kit.js";

const STATION = "st-001";
const PREFIX = "smartbin";
const DENY_COMMAND_EVENTS = `topic deny ${PREFIX}/${STATION}/events/command\ntopic readwrite #\n`;
const ALLOW_ALL = "topic readwrite #\n";

describeWithTool("mosquitto", "Publisher: events the broker refuses or cannot take are held back", () => {
  let dir: string;
  let outbox: Outbox;
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "smartbin-held-"));
    const { logger } = capturedLogger("silent");
    outbox = Outbox.open({ path: join(dir, "smartbin.db"), stationId: STATION, logger, clockSynced: () => true });
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function broker(settings: string[]): Promise<MosquittoBroker> {
    const b = await startMosquitto({ settings });
    cleanups.push(() => b.dispose());
    return b;
  }

  async function brokerWithAcl(acl: string): Promise<{ b: MosquittoBroker; aclFile: string }> {
    const aclFile = join(dir, "acl");
    writeFileSync(aclFile, acl);
    return { b: await broker([`acl_file ${aclFile}`]), aclFile };
  }

  function station(url: string, overrides: Partial<PublisherOptions> = {}): { p: Publisher; lines: LogLine[] } {
    const { logger, lines } = capturedLogger("debug");
    const p = new Publisher({
      outbox,
      url,
      stationId: STATION,
      topicPrefix: PREFIX,
      protocolVersion: 5,
      logger,
      reconnect: { startMs: 20, maxMs: 200 },
      heldRetry: { startMs: 300, maxMs: 1000 },
      ...overrides,
    });
    cleanups.push(() => p.stop());
    return { p, lines };
  }

  async function watcher(url: string): Promise<TestClient> {
    const c = await testClient(url, [`${PREFIX}/${STATION}/#`]);
    cleanups.push(() => c.end());
    return c;
  }

  const published = (seq: number) => outbox.heldPage(seq - 1, seq, 1)[0] !== undefined && outbox.pendingAfter(seq - 1, 1)[0]?.seq !== seq;
  const seqsOn = (c: TestClient, kind: string) =>
    c.messages.filter((m) => m.topic === `${PREFIX}/${STATION}/events/${kind}`).map((m) => (JSON.parse(m.payload.toString()) as { data: { seq: number } }).data.seq);
  const statuses = (c: TestClient) =>
    c.messages.filter((m) => m.topic.endsWith("/status")).map((m) => (JSON.parse(m.payload.toString()) as { state: string }).state);

  it("an event refused by the ACL (PUBACK 0x87) is held back: later deposits go through, no reconnect, no will; it goes through once the ACL allows it", async () => {
    const { b, aclFile } = await brokerWithAcl(DENY_COMMAND_EVENTS);
    const watch = await watcher(b.url);
    outbox.append("deposit", "kitchen", { net_g: 1000 });
    const refused = outbox.append("command", STATION, { command_id: "c1", name: "set_cards", args: { version: "v1" }, ok: true, error_code: null });
    const { p, lines } = station(b.url);
    p.start();
    // Deposits recorded after the refusal, as a resident's would be.
    await eventually(() => p.stats().rejected >= 1, "the command event refused");
    for (let i = 0; i < 3; i++) outbox.append("deposit", "kitchen", { net_g: 2000 + i });
    p.notify();

    await eventually(() => [1, 3, 4, 5].every(published), "the deposits acknowledged and marked published");
    expect(seqsOn(watch, "deposit")).toEqual([1, 3, 4, 5]);
    expect(published(2)).toBe(false);
    expect(outbox.status()).toMatchObject({ pending: 1 });

    // A few retry rounds pass: still refused, still held, the connection never dropped.
    await eventually(() => p.stats().rejected >= 3, "retried and refused again");
    expect(p.stats()).toMatchObject({ connected: true, connections: 1, heldBack: 1 });
    expect(statuses(watch)).toEqual(["online"]);
    expect(published(2)).toBe(false);
    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ seq: 2, id: refused.id, kind: "command", topic: `${PREFIX}/${STATION}/events/command`, reason_code: "0x87", held_back: 1 });
    expect(String(errors[0]!.retry)).toMatch(/new connection.*0\.3 s.*1 s/);
    expect(lines.some((l) => l.msg === "disconnected from broker")).toBe(false);

    // The operator fixes the ACL (Mosquitto reloads it on SIGHUP, the connection stays): the next
    // retry round gets the held event through, on the same connection.
    writeFileSync(aclFile, ALLOW_ALL);
    b.reload();
    await eventually(() => published(2), "the held event acknowledged and marked published", 10_000);
    expect(outbox.status()).toMatchObject({ pending: 0 });
    expect(p.stats()).toMatchObject({ connections: 1, heldBack: 0 });
    expect(seqsOn(watch, "command")).toEqual([2]);
    expect(lines.some((l) => l.msg === "a held-back event was accepted by the broker: it is marked published" && l.seq === 2)).toBe(true);
    expect(statuses(watch)).toEqual(["online"]);
  });

  it("a held-back event is sent again at a new connection, first, in seq order: a broker restarted with an allowing ACL takes it", async () => {
    const { b, aclFile } = await brokerWithAcl(DENY_COMMAND_EVENTS);
    outbox.append("command", STATION, { command_id: "c1", name: "tare", args: { scale_id: "s1" }, ok: true, error_code: null });
    outbox.append("deposit", "kitchen", { net_g: 1000 });
    // Retry rounds far away: only the new connection can send it again.
    const { p } = station(b.url, { heldRetry: { startMs: 600_000, maxMs: 600_000 } });
    p.start();
    await eventually(() => published(2), "the deposit behind the refused event");
    expect(published(1)).toBe(false);
    expect(p.stats().heldBack).toBe(1);

    writeFileSync(aclFile, ALLOW_ALL);
    await b.restart();
    await eventually(() => published(1), "the held event, at the new connection");
    expect(p.stats()).toMatchObject({ heldBack: 0, connections: 2 });
  });

  it("an event larger than the broker's Maximum Packet Size is not sent: held back, later events go through, the connection stays", async () => {
    const b = await broker(["max_packet_size 4096"]);
    const watch = await watcher(b.url);
    outbox.append("deposit", "kitchen", { net_g: 1000 });
    outbox.append("command", STATION, { command_id: "big", name: "set_cards", args: { version: "v1", collectors: Array.from({ length: 600 }, (_, i) => String(i).padStart(10, "0")) }, ok: true, error_code: null });
    outbox.append("deposit", "kitchen", { net_g: 1001 });
    const { p, lines } = station(b.url);
    p.start();
    await eventually(() => published(1) && published(3), "the deposits around the oversized event");
    await settle(700); // a retry round or two
    expect(published(2)).toBe(false);
    expect(p.stats()).toMatchObject({ connected: true, connections: 1, heldBack: 1 });
    expect(statuses(watch)).toEqual(["online"]);
    expect(seqsOn(watch, "command")).toEqual([]);
    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ seq: 2, kind: "command", reason_code: "0x95" });
    expect(String(errors[0]!.reason)).toMatch(/Maximum Packet Size \(\d+ > 4096 bytes\)/);

    // A broker that takes larger packets gets it at the next connection.
    const conf = join(b.dir, "mosquitto.conf");
    writeFileSync(conf, readFileSync(conf, "utf8").replace("max_packet_size 4096", "max_packet_size 65536"));
    await b.restart();
    await eventually(() => published(2), "the event, to a broker that can take it");
    expect(p.stats().heldBack).toBe(0);
  });
});
