/**
 * The watchdog's side of liveness (issue 10, item 1): WATCHDOG=1 goes out only while every loop
 * turns. Loops are fakes driven by a manual clock; the publisher's drain-or-reconnect loop is
 * checked against a refused port (broker down: waiting, not stuck) and a fake broker that accepts
 * the connection but never acknowledges an event (stuck).
 */
import { createServer, type Server, type Socket } from "node:net";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { Publisher } from "../../src/adapters/mqtt/publisher.js";
import type { StoredEvent } from "../../src/adapters/outbox/outbox.js";
import { Liveness } from "../../src/app/liveness.js";
import { startWatchdog } from "../../src/app/watchdog.js";
import { ManualClock } from "../support/manual-clock.js";
import { eventually } from "../integration/harness.js";

const silent = pino({ level: "silent" });

function feeder(clock: ManualClock, liveness: Liveness) {
  const pings: number[] = [];
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const stop = startWatchdog({ clock, liveness, ping: () => void pings.push(clock.mono()), intervalMs: 15_000, logger });
  return { pings, lines, stop };
}

describe("watchdog fed by liveness", () => {
  it("pings at once and every interval while every loop turns, idle or busy within its limit", () => {
    const clock = new ManualClock();
    const liveness = new Liveness(() => clock.mono());
    const scale = liveness.register("scale scale-1");
    const publisher = liveness.register("publisher");
    scale.beat("idle");
    publisher.beat("idle");
    const { pings } = feeder(clock, liveness);
    clock.advance(600_000);
    expect(pings.length).toBe(41);
    publisher.beat("busy");
    clock.advance(59_000);
    expect(pings.length).toBe(44);
  });

  it("stops pinging while a loop is stuck, logs it once, and pings again when it turns", () => {
    const clock = new ManualClock();
    const liveness = new Liveness(() => clock.mono());
    liveness.register("scale scale-1").beat("idle");
    const publisher = liveness.register("publisher", 60_000);
    publisher.beat("busy");
    const { pings, lines } = feeder(clock, liveness);
    clock.advance(60_000);
    const fed = pings.length;
    expect(fed).toBe(5);
    clock.advance(120_000);
    expect(pings.length).toBe(fed);
    expect(lines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual([
      "a loop is stuck: the systemd watchdog is no longer fed, and systemd will restart the station",
    ]);
    publisher.beat("idle");
    clock.advance(15_000);
    expect(pings.length).toBe(fed + 1);
  });

  it("a loop registered but never turning counts as stuck after its limit", () => {
    const clock = new ManualClock();
    const liveness = new Liveness(() => clock.mono());
    liveness.register("reader reader-1", 60_000);
    clock.advance(60_001);
    expect(liveness.stuck()).toEqual([{ name: "reader reader-1", busyForMs: 60_001, limitMs: 60_000 }]);
  });

  it("stops pinging when stopped", () => {
    const clock = new ManualClock();
    const liveness = new Liveness(() => clock.mono());
    const { pings, stop } = feeder(clock, liveness);
    stop();
    clock.advance(60_000);
    expect(pings.length).toBe(1);
  });
});

describe("publisher's drain-or-reconnect loop beats", () => {
  const servers: Server[] = [];
  const publishers: Publisher[] = [];
  afterEach(async () => {
    await Promise.all(publishers.splice(0).map((p) => p.stop()));
    for (const s of servers.splice(0)) s.close();
  });

  function beats() {
    const seen: Array<"idle" | "busy"> = [];
    return { seen, beat: { beat: (w: "idle" | "busy") => void seen.push(w) } };
  }

  const event: StoredEvent = { seq: 1, id: "01a227bc-8d6b-76f1-9312-7ebc6e2d33fd", kind: "alarm", payload: "{}" };

  function publisher(url: string, liveness: { beat(w: "idle" | "busy"): void }, pending: StoredEvent[]): Publisher {
    const p = new Publisher({
      outbox: { pendingAfter: (after) => pending.filter((e) => e.seq > after), markPublished: () => undefined },
      url,
      stationId: "st-1",
      topicPrefix: "smartbin",
      protocolVersion: 4,
      logger: silent,
      reconnect: { startMs: 10, maxMs: 20 },
      stopTimeoutMs: 100,
      liveness,
    });
    publishers.push(p);
    return p;
  }

  it("a broker that is down: each attempt is busy, each backoff idle, so the loop is waiting, not stuck", async () => {
    const { seen, beat } = beats();
    publisher("mqtt://127.0.0.1:1", beat, []).start();
    await eventually(() => seen.length >= 6, 5_000);
    expect(seen.slice(0, 6)).toEqual(["busy", "idle", "busy", "idle", "busy", "idle"]);
  });

  it("a broker that accepts the event but never acknowledges it leaves the loop busy", async () => {
    // MQTT 3.1.1: CONNACK (0x20 0x02, session present 0, return code 0); PUBLISH packets are swallowed.
    const server = createServer((socket: Socket) => {
      socket.once("data", () => socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00])));
      socket.on("error", () => undefined);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const { seen, beat } = beats();
    const p = publisher(`mqtt://127.0.0.1:${port}`, beat, [event]);
    p.start();
    await eventually(() => p.stats().inflight === 1, 5_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual(["busy", "busy", "busy"]);
  });
});
