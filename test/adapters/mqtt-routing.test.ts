import { describe, expect, it } from "vitest";

import { describeDelay, reconnectBackoff } from "../../src/adapters/backoff.js";
import { commandOf, replyRoute } from "../../src/adapters/mqtt/commands.js";
import { clientOptions } from "../../src/adapters/mqtt/connect-options.js";
import { MAX_QUEUED_REPLAYS, ReplayQueue } from "../../src/adapters/mqtt/replay-queue.js";
import type { StoredEvent } from "../../src/adapters/outbox/outbox.js";

const PREFIX = "smartbin/st-001/cmd/";
const packet = (properties?: Record<string, unknown>) => ({ cmd: "publish", qos: 1, dup: false, retain: false, topic: "", payload: "", ...(properties ? { properties } : {}) }) as never;

describe("commands: which topics are commands, where replies go (contract.md section 4)", () => {
  it("a command is one level below cmd/", () => {
    const payload = Buffer.from("{}");
    expect(commandOf(PREFIX, "smartbin/st-001/cmd/status", payload, packet())).toEqual({ name: "status", topic: "smartbin/st-001/cmd/status", payload });
    expect(commandOf(PREFIX, "smartbin/st-001/cmd/status/reply", payload, packet())).toBeUndefined();
    expect(commandOf(PREFIX, "smartbin/st-001/cmd/", payload, packet())).toBeUndefined();
    expect(commandOf(PREFIX, "smartbin/st-002/cmd/status", payload, packet())).toBeUndefined();
    const cd = Buffer.from([9]);
    expect(commandOf(PREFIX, "smartbin/st-001/cmd/tare", payload, packet({ responseTopic: "r/1", correlationData: cd }))).toMatchObject({ responseTopic: "r/1", correlationData: cd });
  });

  it("replies: the response topic with MQTT 5, else the reply topic; a response topic with a wildcard falls back", () => {
    const cd = Buffer.from("abc");
    const cmd = { name: "status", topic: `${PREFIX}status`, payload: Buffer.alloc(0), responseTopic: "central/r/7", correlationData: cd };
    expect(replyRoute(cmd, PREFIX, 5)).toEqual({ topic: "central/r/7", correlationData: cd });
    expect(replyRoute(cmd, PREFIX, 4)).toEqual({ topic: `${PREFIX}status/reply` });
    // A fallback keeps the correlation data (MQTT 5): the sender can still match the reply by it.
    expect(replyRoute({ ...cmd, responseTopic: "central/+/x" }, PREFIX, 5)).toEqual({ topic: `${PREFIX}status/reply`, correlationData: cd });
    expect(replyRoute({ ...cmd, responseTopic: "" }, PREFIX, 5)).toEqual({ topic: `${PREFIX}status/reply`, correlationData: cd });
    const { correlationData: _cd, ...noCorrelation } = cmd;
    expect(replyRoute(noCorrelation, PREFIX, 5)).toEqual({ topic: "central/r/7" });
  });

  /** The `status` command with `responseTopic`: where its reply goes (MQTT 5). */
  const statusCmd = { name: "status", topic: `${PREFIX}status`, payload: Buffer.alloc(0), responseTopic: "" };
  const to = (responseTopic: string) => replyRoute({ ...statusCmd, responseTopic }, PREFIX, 5).topic;
  const fallback = `${PREFIX}status/reply`;

  it("a response topic among the station's own topics is used only under its reply topic: a sender cannot make it publish on its events or status", () => {
    expect(to("smartbin/st-001/events/deposit")).toBe(fallback);
    expect(to("smartbin/st-001/status")).toBe(fallback);
    expect(to("smartbin/st-001/telemetry")).toBe(fallback);
    expect(to("smartbin/st-001/cmd/set_cards")).toBe(fallback);
    expect(to("smartbin/st-001/cmd/tare/reply")).toBe(fallback); // another command's reply topic
    expect(to("$SYS/broker/x")).toBe(fallback);
    expect(to("smartbin/st-001/cmd/status/reply")).toBe("smartbin/st-001/cmd/status/reply");
    expect(to("smartbin/st-001/cmd/status/reply/operator-7")).toBe("smartbin/st-001/cmd/status/reply/operator-7");
    expect(to("smartbin/st-001/cmd/status/replyx")).toBe(fallback);
    expect(to("operators/replies/7")).toBe("operators/replies/7");
  });

  it("nor on another station's streams under the same prefix: its events, status, telemetry or commands", () => {
    expect(to("smartbin/st-002/events/deposit")).toBe(fallback);
    expect(to("smartbin/st-002/status")).toBe(fallback);
    expect(to("smartbin/st-002/telemetry")).toBe(fallback);
    expect(to("smartbin/st-002/cmd/set_cards")).toBe(fallback);
    // Other topics under the prefix are the central system's own: used as given.
    expect(to("smartbin/central/replies/7")).toBe("smartbin/central/replies/7");
    expect(to("smartbin/st-002")).toBe("smartbin/st-002");
    expect(to("smartbinx/st-002/status")).toBe("smartbinx/st-002/status");
    // A prefix with levels of its own.
    const nested = "org/smartbin/st-001/cmd/";
    const toNested = (responseTopic: string) => replyRoute({ ...statusCmd, topic: `${nested}status`, responseTopic }, nested, 5).topic;
    expect(toNested("org/smartbin/st-009/events/alarm")).toBe(`${nested}status/reply`);
    expect(toNested("org/central/r/1")).toBe("org/central/r/1");
  });
});

describe("connect options: the session rules", () => {
  const attempt = { clientId: "smartbin-st-001", statusTopic: "smartbin/st-001/status", connectTimeoutMs: 10_000, maximumPacketSize: 262_144 };
  it("MQTT 5: clean start off, session expiry, maximum packet size; 3.1.1: clean session", () => {
    const v5 = clientOptions({ url: "mqtt://b", topicPrefix: "smartbin", protocolVersion: 5, sessionExpiryS: 120 }, attempt);
    expect(v5).toMatchObject({ clean: false, reconnectPeriod: 0, resubscribe: false, properties: { sessionExpiryInterval: 120, maximumPacketSize: 262_144 } });
    expect(clientOptions({ url: "mqtt://b", topicPrefix: "smartbin", protocolVersion: 5 }, attempt).properties?.sessionExpiryInterval).toBe(3600);
    const v4 = clientOptions({ url: "mqtt://b", topicPrefix: "smartbin", protocolVersion: 4, sessionExpiryS: 120 }, attempt);
    expect(v4.clean).toBe(true);
    expect(v4.properties).toBeUndefined();
    expect(v4).not.toHaveProperty("rejectUnauthorized");
    expect(clientOptions({ url: "mqtts://b", topicPrefix: "smartbin", protocolVersion: 4, tlsInsecure: true }, attempt).rejectUnauthorized).toBe(false);
  });
});

describe("reconnect backoff from mqtt.reconnect_max_s", () => {
  it("first retry within 1 s (or the cap), capped at the setting; delays as a technician reads them", () => {
    expect(reconnectBackoff(60)).toEqual({ startMs: 1000, maxMs: 60_000 });
    expect(reconnectBackoff(0.5)).toEqual({ startMs: 500, maxMs: 500 });
    expect(describeDelay(7400)).toBe("7.4 s");
    expect(describeDelay(850)).toBe("850 ms");
  });
});

describe("ReplayQueue", () => {
  const events = (seqs: number[]): StoredEvent[] => seqs.map((seq) => ({ seq, id: `id-${seq}`, kind: "deposit", payload: `{"seq":${seq}}` }));
  const held = events([1, 2, 3, 5, 8, 9]);
  const read = (afterSeq: number, toSeq: number | undefined, limit: number) =>
    held.filter((e) => e.seq > afterSeq && (toSeq === undefined || e.seq <= toSeq)).slice(0, limit);

  it("pages through each range in turn, queued replays after the running one", () => {
    const q = new ReplayQueue();
    expect(q.add(2, 5)).toBe("started");
    expect(q.add(8, undefined)).toBe("queued");
    expect(q.add(8, undefined)).toBe("duplicate");
    const out: number[] = [];
    for (let e = q.next(read, 2); e !== undefined; e = q.next(read, 2)) out.push(e.seq);
    expect(out).toEqual([2, 3, 5, 8, 9]);
    expect(q.busy).toBe(false);
  });

  it("refuses past the bound, and clear drops everything", () => {
    const q = new ReplayQueue();
    for (let i = 0; i < MAX_QUEUED_REPLAYS; i++) expect(q.add(i + 1, i + 1)).not.toBe("full");
    expect(q.add(100, 200)).toBe("full");
    expect(q.clear()).toBe(MAX_QUEUED_REPLAYS);
    expect(q.next(read, 10)).toBeUndefined();
  });
});
