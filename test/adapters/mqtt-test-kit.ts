/** Helpers of the publisher tests against a real Mosquitto (mqtt-*.test.ts). */
import { Writable } from "node:stream";

import { connect } from "mqtt";
import type { IClientOptions, IPublishPacket, MqttClient } from "mqtt";
import { pino } from "pino";
import type { Logger } from "pino";

export async function eventually(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function settle(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** One log line as pino wrote it. */
export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A pino logger at `level` whose lines are kept, parsed, in `lines`. */
export function capturedLogger(level = "info"): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString("utf8").split("\n")) if (text !== "") lines.push(JSON.parse(text) as LogLine);
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

/** A message as a test client received it, with the MQTT 5 properties that matter here. */
export interface Received {
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
  properties: IPublishPacket["properties"];
}

/** A connected MQTT.js test client that keeps every message it receives. */
export interface TestClient {
  client: MqttClient;
  messages: Received[];
  end(): Promise<void>;
}

/** Connects a test client (MQTT 5 unless told), waits for its CONNACK, subscribes `topics` at QoS 1. */
export async function testClient(url: string, topics: string[], opts: IClientOptions = {}): Promise<TestClient> {
  const client = connect(url, { protocolVersion: 5, reconnectPeriod: 0, ...opts });
  const messages: Received[] = [];
  client.on("message", (topic, payload, packet: IPublishPacket) => {
    messages.push({ topic, payload, qos: packet.qos, retain: packet.retain, properties: packet.properties });
  });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  client.on("error", () => undefined);
  for (const topic of topics) await client.subscribeAsync(topic, { qos: 1 });
  return { client, messages, end: () => new Promise<void>((resolve) => client.end(true, () => resolve())) };
}
