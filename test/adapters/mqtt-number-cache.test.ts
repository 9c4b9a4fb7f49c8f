/**
 * The publisher's MQTT client leaves mqtt-packet's number cache ungenerated (`writeCache: false`):
 * otherwise the first packet written makes a Buffer for each of the 65,536 two-byte numbers, 6.8 MB
 * of heap kept for good (README "Memory"). A file of its own: the switch is process-wide, and any
 * client that wrote a packet before the publisher's would have generated the cache already.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";

import { Publisher } from "../../src/adapters/mqtt/publisher.js";
import { Outbox } from "../../src/adapters/outbox/outbox.js";
import { startMosquitto, type MosquittoBroker } from "../support/mosquitto.js";
import { describeWithTool } from "../support/require-tool.js";

// mqtt-packet as MQTT.js itself resolves it (a dependency of mqtt, not of this project).
const fromMqtt = createRequire(createRequire(import.meta.url).resolve("mqtt"));
const numbers = fromMqtt("mqtt-packet/numbers.js") as { cache: Record<number, Buffer> };

describeWithTool("mosquitto", "the publisher's MQTT client", () => {
  let broker: MosquittoBroker;
  beforeAll(async () => {
    broker = await startMosquitto();
  });
  afterAll(async () => {
    await broker?.dispose();
  });

  it("publishes a backlog without generating mqtt-packet's cache of 65,536 number buffers", async () => {
    const dir = mkdtempSync(join(tmpdir(), "smartbin-numcache-"));
    const logger = pino({ level: "silent" });
    const outbox = Outbox.open({ path: join(dir, "smartbin.db"), stationId: "st-001", logger, clockSynced: () => true });
    try {
      for (let i = 0; i < 50; i++) outbox.append("deposit", "kitchen", { net_g: 1000 + i, card_id: "0008844356" });
      expect(Object.keys(numbers.cache)).toHaveLength(0);
      const publisher = new Publisher({ outbox, url: broker.url, stationId: "st-001", topicPrefix: "numcache", protocolVersion: 5, inflight: 8, logger });
      publisher.start();
      const until = Date.now() + 5000;
      while (outbox.status().pending > 0) {
        if (Date.now() > until) throw new Error("timed out waiting for the backlog to be published");
        await new Promise((r) => setTimeout(r, 10));
      }
      await publisher.stop();
      // PUBLISH packet ids 1..50 were written: with the cache on, the first of them generates it.
      expect(Object.keys(numbers.cache)).toHaveLength(0);
    } finally {
      outbox.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
