import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { pino } from "pino";
import { afterEach, expect, it } from "vitest";

import { Publisher, SUBACK_WAIT_MS } from "../../src/adapters/mqtt/publisher.js";
import { Outbox } from "../../src/adapters/outbox/outbox.js";
import { startEmbeddedBroker } from "../../src/app/demo/broker.js";
import { capturedLogger, eventually, settle } from "./mqtt-test-kit.js";

/**
 * "connected to broker" is logged at the command subscription's SUBACK (an operator who commands
 * on seeing it finds the subscription in place), and still logged, with a warning, when a broker
 * never answers the SUBSCRIBE. An embedded aedes broker (MQTT 3.1.1) whose authorizeSubscribe hook
 * holds the SUBSCRIBE stands for such a broker.
 */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function broker(holdSubscribe: boolean): Promise<{ url: string; held: () => number }> {
  let held = 0;
  const b = await startEmbeddedBroker(0, (aedes) => {
    if (holdSubscribe) {
      aedes.authorizeSubscribe = () => {
        held++; // never calls back: no SUBACK
      };
    }
  });
  cleanups.push(() => b.close());
  return { url: b.url, held: () => held };
}

function publisher(url: string) {
  const dir = mkdtempSync(join(tmpdir(), "smartbin-suback-"));
  const outbox = Outbox.open({ path: join(dir, "smartbin.db"), stationId: "st-001", logger: pino({ level: "silent" }), clockSynced: () => true });
  const { logger, lines } = capturedLogger("info");
  const p = new Publisher({ outbox, url, stationId: "st-001", topicPrefix: "smartbin", protocolVersion: 4, clientId: "station-suback", logger, reconnect: { startMs: 20, maxMs: 200 } });
  cleanups.push(async () => {
    await p.stop();
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });
  p.start();
  return { p, lines, connectedLines: () => lines.filter((l) => l.msg === "connected to broker") };
}

it("logs \"connected to broker\" once the broker has answered the command SUBSCRIBE", async () => {
  const b = await broker(false);
  const { p, connectedLines } = publisher(b.url);
  await eventually(() => connectedLines().length === 1, "the line");
  expect(p.stats().commandsSubscribed).toBe(true);
  expect(connectedLines()[0]).toMatchObject({ commands_subscribed: true });
});

it("a broker that never answers the SUBSCRIBE: the line comes SUBACK_WAIT_MS after the CONNACK, with a warning", async () => {
  const b = await broker(true);
  const { p, lines, connectedLines } = publisher(b.url);
  await eventually(() => p.stats().connected && b.held() === 1, "connected, the SUBSCRIBE held");
  await settle(SUBACK_WAIT_MS / 2);
  expect(connectedLines()).toHaveLength(0);
  expect(p.stats().commandsSubscribed).toBe(false);
  await eventually(() => connectedLines().length === 1, "the line without a SUBACK", SUBACK_WAIT_MS);
  expect(connectedLines()[0]).toMatchObject({ commands_subscribed: false });
  expect(lines.some((l) => l.level === 40 && l.msg.includes("no SUBACK"))).toBe(true);
  await settle(200);
  expect(connectedLines()).toHaveLength(1);
}, 15_000);
