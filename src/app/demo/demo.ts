import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import type { Logger } from "../../adapters/log/logger.js";
import { configSchema, type Config } from "../../config/schema.js";
import { Station } from "../station.js";
import { maskCardId } from "../../domain/privacy.js";
import { findProtocol, type DeviceCodec, type DeviceKind } from "../../protocol/index.js";
import type { DepositData } from "../../domain/types.js";
import { until } from "../../waits.js";
import { startEmbeddedBroker } from "./broker.js";
import { createDemoBinding } from "./binding.js";
import { Simulator, seededRandom, type SimScale } from "./simulator.js";

/** What the demo's central subscriber saw: the basis of the closing summary. */
export interface DemoSummary {
  events: number;
  deposits: number;
  alarms: number;
  /** Kilograms per category, from the received deposit events. */
  kgByCategory: Record<string, number>;
  points: number;
}

export interface DemoOptions {
  seconds: number;
  logger: Logger;
  /** Receives each event exactly as a central subscriber gets it (one JSON document). */
  onEvent: (payload: string) => void;
  /** Human-readable progress lines (stderr in the CLI). */
  note: (line: string) => void;
  /** Resolves early (Ctrl-C, SIGTERM). */
  interrupted?: Promise<unknown>;
}

const PORTS = {
  kitchenScale: "/dev/demo/scale-kitchen",
  recycleScale: "/dev/demo/scale-recycle",
  cardReader: "/dev/demo/reader-card",
  qrReader: "/dev/demo/reader-qr",
};

/** The demo station's configuration, validated by the same schema as a technician's file. */
export function demoConfig(dbPath: string, brokerUrl: string): Readonly<Config> {
  return configSchema.parse({
    station: { id: "demo-station" },
    storage: { path: dbPath },
    mqtt: { url: brokerUrl, protocol_version: 4 },
    scales: [
      { id: "scale-kitchen", port: PORTS.kitchenScale, protocol: "yaohua-a9", unit: "kg" },
      { id: "scale-recycle", port: PORTS.recycleScale, protocol: "ascii-st-gs" },
    ],
    readers: [
      { id: "reader-card", port: PORTS.cardReader, protocol: "em4100-ascii" },
      { id: "reader-qr", port: PORTS.qrReader, protocol: "ascii-line", pattern: "^SB:(\\d{10})$" },
    ],
    bins: [
      { id: "kitchen", category: "food_waste", scale: "scale-kitchen" },
      { id: "recycle", category: "recyclable", scale: "scale-recycle" },
    ],
    points: {
      rules_version: "2026-11",
      categories: {
        food_waste: { points_per_kg: 2, min_net_g: 200 },
        recyclable: { points_per_kg: 1.16 },
      },
    },
    session: { idle_close_s: 2, first_deposit_timeout_s: 10, max_session_s: 60 },
  });
}

/**
 * Runs the whole station for `seconds` on simulated devices (serialport's mock binding), an embedded
 * aedes broker and a temporary database, with a central subscriber that hands every event to
 * `onEvent`. Closes a session still open at the end, waits for its events to arrive, and returns the
 * summary of what the subscriber received.
 */
export async function runDemo(opts: DemoOptions): Promise<DemoSummary> {
  const dir = mkdtempSync(join(tmpdir(), "smartbin-demo-"));
  const broker = await startEmbeddedBroker();
  const config = demoConfig(join(dir, "demo.db"), broker.url);
  const summary: DemoSummary = { events: 0, deposits: 0, alarms: 0, kgByCategory: {}, points: 0 };
  const seen = new Set<string>();

  const subscriber = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: "demo-central", clean: true });
  await subscriber.subscribeAsync(`${config.mqtt.topic_prefix}/${config.station.id}/events/#`, { qos: 1 });
  subscriber.on("message", (_topic, payload) => {
    const text = payload.toString("utf8");
    const event = JSON.parse(text) as { id: string; type: string; data: Record<string, unknown> };
    if (seen.has(event.id)) return; // at-least-once: a central consumer deduplicates by id
    seen.add(event.id);
    summary.events++;
    if (event.type === "smartbin.deposit.v1") {
      const d = event.data as unknown as DepositData;
      summary.deposits++;
      summary.points += d.points;
      summary.kgByCategory[d.category] = (summary.kgByCategory[d.category] ?? 0) + d.net_g / 1000;
    } else if (event.type === "smartbin.alarm.v1") {
      summary.alarms++;
    }
    opts.onEvent(text);
  });

  const demo = createDemoBinding();
  for (const path of Object.values(PORTS)) demo.createPort(path);
  const station = new Station({
    config,
    logger: opts.logger,
    binding: demo.binding,
    onDepositCommitted: (d) =>
      opts.note(
        `deposit: ${(d.net_g / 1000).toFixed(3)} kg of ${d.category} into ${d.bin_id} by ${maskCardId(d.card_id)}: ` +
          `${d.points} points (${d.points_reason})`,
      ),
  });
  // Each simulated device speaks what the station is configured to read, encoded by the same
  // protocol module (the device registry).
  const codec = <K extends DeviceKind>(kind: K, list: readonly { port: string; protocol: string }[], port: string): DeviceCodec<K> => {
    const device = list.find((d) => d.port === port);
    if (device === undefined) throw new Error(`demo: no device on ${port}`);
    return findProtocol(kind, device.protocol).configure(device);
  };
  const scales: SimScale[] = [
    { path: PORTS.kitchenScale, codec: codec("scale", config.scales, PORTS.kitchenScale), loadG: 3_200, settleTicks: 0 },
    { path: PORTS.recycleScale, codec: codec("scale", config.scales, PORTS.recycleScale), loadG: 5_400, settleTicks: 0 },
  ];
  const simulator = new Simulator({
    demo,
    scales,
    cardReader: { path: PORTS.cardReader, codec: codec("reader", config.readers, PORTS.cardReader) },
    qrReader: { path: PORTS.qrReader, codec: codec("reader", config.readers, PORTS.qrReader) },
    residents: [
      { cardTag: "100086F444" },
      { qr: "SB:0000424242" },
      { cardTag: "13005D1DA5" },
      { cardTag: "0A00C0FFEE" },
      { qr: "SB:0000777001" },
    ],
    random: seededRandom(2026),
  });

  try {
    station.start();
    simulator.start();
    opts.note(`demo: station demo-station running for ${opts.seconds} s on simulated devices (Ctrl-C ends it)`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise((resolve) => (timer = setTimeout(resolve, opts.seconds * 1000))),
      opts.interrupted ?? new Promise(() => undefined),
    ]);
    clearTimeout(timer);
    simulator.stop();
    await station.flushSession();
    await station.waitForPublished(3_000);
    // Give the subscriber a moment for the last PUBLISH in flight to it.
    await until(() => summary.events >= station.lastSeq(), 2_000);
  } finally {
    simulator.stop();
    await station.stop();
    await subscriber.endAsync(true);
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return summary;
}


/** The closing summary lines (stderr). */
export function formatSummary(s: DemoSummary): string[] {
  const n = (count: number, noun: string) => `${count} ${noun}${count === 1 ? "" : "s"}`;
  const lines = [
    `demo summary: ${n(s.deposits, "deposit")}, ${n(s.points, "point")}, ${n(s.alarms, "alarm")}, ${n(s.events, "event")}`,
  ];
  for (const [category, kg] of Object.entries(s.kgByCategory).sort()) {
    lines.push(`  ${category}: ${kg.toFixed(3)} kg`);
  }
  return lines;
}
