import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll } from "vitest";
import { buildOnce } from "../support/build.js";
import { encodeEm4100, encodeYaohuaA9 } from "../../src/protocol/index.js";
import { startMosquitto, type MosquittoBroker } from "../support/mosquitto.js";
import { createPtyPair } from "../support/socat.js";

/** A simulated indicator behind a socat pseudo-terminal: streams its display every 50 ms. */
export class FakeIndicator {
  loadG: number;
  /** How the display is encoded: yaohua-a9 with 3 decimals unless a test says otherwise. */
  encode: (grams: number) => Uint8Array = (grams) => encodeYaohuaA9({ grams, unit: "kg", decimals: 3 });
  private timer: NodeJS.Timeout | undefined;
  private constructor(
    readonly pty: Awaited<ReturnType<typeof createPtyPair>>,
    initialG: number,
  ) {
    this.loadG = initialG;
  }

  static async start(initialG: number): Promise<FakeIndicator> {
    const ind = new FakeIndicator(await createPtyPair(), initialG);
    ind.timer = setInterval(() => {
      void ind.pty.write(ind.encode(ind.loadG)).catch(() => undefined);
    }, 50);
    return ind;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.pty.dispose();
  }
}

/** A simulated EM4100 reader behind a socat pseudo-terminal. */
export class FakeCardReader {
  private constructor(readonly pty: Awaited<ReturnType<typeof createPtyPair>>) {}
  static async start(): Promise<FakeCardReader> {
    return new FakeCardReader(await createPtyPair());
  }
  /** Holds a tag in the field for `ms`: the frame repeats every 50 ms, as RDM6300 modules do. */
  async present(tagHex: string, ms = 300): Promise<void> {
    const frame = encodeEm4100(tagHex);
    for (let t = 0; t < ms; t += 50) {
      await this.pty.write(frame);
      await sleep(50);
    }
  }
  async stop(): Promise<void> {
    await this.pty.dispose();
  }
}

/** The real parts around a station under test: a Mosquitto, an indicator and a card reader on pseudo-terminals. */
export interface Rig {
  broker: MosquittoBroker;
  scale: FakeIndicator;
  reader: FakeCardReader;
  /** Stops the devices and the broker. */
  dispose(): Promise<void>;
}

/** Starts a {@link Rig}, the indicator showing `initialG`. */
export async function startRig(initialG = 12_000): Promise<Rig> {
  const broker = await startMosquitto();
  const scale = await FakeIndicator.start(initialG);
  const reader = await FakeCardReader.start();
  return {
    broker,
    scale,
    reader,
    dispose: async () => {
      await scale.stop();
      await reader.stop();
      await broker.dispose();
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 50 ms until it returns a value other than undefined/false, or throws after `ms`. */
export async function eventually<T>(check: () => T | undefined | false, ms = 10_000, what = "condition"): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const tempDirs: string[] = [];

/** A temporary folder, removed by {@link removeTempDirs}. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Removes every folder {@link tempDir} made (call from afterAll). */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Writes a station config for the test and returns its path. */
export function writeStationConfig(opts: {
  dir?: string;
  stationId?: string;
  brokerUrl: string;
  scalePort: string;
  readerPort: string;
  dbPath?: string;
  protocolVersion?: 4 | 5;
  /** Extra YAML lines for the scale entry (indented by the caller as `    key: value`). */
  scaleExtra?: string;
  /** The scale's protocol (default yaohua-a9); `unit: kg` is written only for the protocols that take it. */
  scaleProtocol?: string;
  /** Extra YAML lines for the bin entry. */
  binExtra?: string;
  /** Extra YAML lines for the session section. */
  sessionExtra?: string;
  /** `session.idle_close_s` (default 0.5). */
  idleCloseS?: number;
  /** Extra YAML lines for the storage section (indented by the caller as `  key: value`). */
  storageExtra?: string;
  /** Extra YAML lines for the mqtt section (indented by the caller as `  key: value`). */
  mqttExtra?: string;
  /** Extra top-level YAML sections, written before `log:`. */
  extra?: string;
}): { file: string; dir: string; dbPath: string } {
  const dir = opts.dir ?? tempDir("smartbin-it-");
  const dbPath = opts.dbPath ?? join(dir, "station.db");
  const file = join(dir, "config.yaml");
  writeFileSync(
    file,
    `station:
  id: ${opts.stationId ?? "st-it"}
storage:
  path: ${dbPath}
${opts.storageExtra ?? ""}mqtt:
  url: ${opts.brokerUrl}
  protocol_version: ${opts.protocolVersion ?? 5}
${opts.mqttExtra ?? ""}scales:
  - id: scale-1
    port: ${opts.scalePort}
    protocol: ${opts.scaleProtocol ?? "yaohua-a9"}
${(opts.scaleProtocol ?? "yaohua-a9") === "mt-sics" ? "" : "    unit: kg\n"}    stable_window_ms: 300
    silence_timeout_s: 2
${opts.scaleExtra ?? ""}readers:
  - id: reader-1
    port: ${opts.readerPort}
    protocol: em4100-ascii
bins:
  - id: kitchen
    category: food_waste
    scale: scale-1
${opts.binExtra ?? ""}points:
  rules_version: "2026-11"
  categories:
    food_waste: { points_per_kg: 1.16, min_net_g: 0 }
session:
  idle_close_s: ${opts.idleCloseS ?? 0.5}
  first_deposit_timeout_s: 5
  max_session_s: 60
${opts.sessionExtra ?? ""}${opts.extra ?? ""}log:
  level: debug
`,
  );
  return { file, dir, dbPath };
}

/** A central subscriber: collects every event PUBLISH it receives, in arrival order. */
export interface Central {
  client: MqttClient;
  events: Array<{ topic: string; payload: string; json: { id: string; type: string; subject?: string; data: Record<string, unknown> } }>;
  close(): Promise<void>;
}

export async function startCentral(url: string, opts: { clientId?: string; persistent?: boolean } = {}): Promise<Central> {
  const client = await mqtt.connectAsync(url, {
    protocolVersion: 5,
    clientId: opts.clientId ?? `central-${Math.random().toString(16).slice(2)}`,
    clean: !opts.persistent,
    ...(opts.persistent ? { properties: { sessionExpiryInterval: 3600 } } : {}),
    reconnectPeriod: 200,
  });
  const central: Central = {
    client,
    events: [],
    close: () => client.endAsync(true),
  };
  client.on("message", (topic, payload) => {
    if (!topic.includes("/events/")) return;
    const text = payload.toString("utf8");
    central.events.push({ topic, payload: text, json: JSON.parse(text) });
  });
  await client.subscribeAsync("smartbin/+/events/#", { qos: 1 });
  return central;
}

/**
 * For process tests of the built `smartbin`: builds it once before the describe's tests, runs the
 * returned cleanups after each test (last pushed first; failures ignored), and removes the temporary
 * folders after all. Call at the top of a `describe`.
 */
export function processTestCleanups(): Array<() => Promise<void>> {
  const cleanups: Array<() => Promise<void>> = [];
  beforeAll(() => buildOnce());
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups.length = 0;
  });
  afterAll(() => removeTempDirs());
  return cleanups;
}

/** A Mosquitto, an indicator showing `initialG` and a card reader on pseudo-terminals, and a central subscriber; disposed by `cleanups`. */
export async function devicesRig(cleanups: Array<() => Promise<void>>, initialG = 12_000, brokerSettings: string[] = []) {
  const broker = await startMosquitto({ settings: brokerSettings });
  cleanups.push(() => broker.dispose());
  const scale = await FakeIndicator.start(initialG);
  const reader = await FakeCardReader.start();
  cleanups.push(() => scale.stop(), () => reader.stop());
  const central = await startCentral(broker.url);
  cleanups.push(() => central.close());
  return { broker, scale, reader, central };
}
