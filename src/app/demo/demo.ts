import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import mqtt from "mqtt";
import type { Logger } from "../../adapters/log/logger.js";
import { isSerialReader } from "../../config/device-schema.js";
import { configSchema, type Config } from "../../config/schema.js";
import { Station } from "../station.js";
import { contextFromConfig } from "../station-context.js";
import { findProtocol, type DeviceCodec, type DeviceKind } from "../../protocol/index.js";
import type { DepositData } from "../../domain/types.js";
import { until } from "../../waits.js";
import { startEmbeddedBroker } from "./broker.js";
import { createDemoBinding } from "./binding.js";
import type { CollectionEventData, StationState } from "../../domain/station-types.js";
import { Simulator, seededRandom, type SimDoor, type SimScale, type Visitor } from "./simulator.js";
import { addCollection, addDeposit, emptySummary, storyLine, type DemoSummary, type StoryContext, type StoryItem } from "./story.js";

export type { DemoSummary } from "./story.js";

/** Where the demo stands, for a progress line: handed to `onProgress` about every 250 ms. */
export interface DemoProgress {
  /** Whole seconds until the demo ends by itself (rounded up). */
  secondsLeft: number;
  /** The card id of the open session (a resident at the bins), `null` while the station waits for one. */
  atBins: string | null;
  /** The time is up (or the demo was interrupted): the last session closes and its events arrive. */
  ending: boolean;
}

export interface DemoOptions {
  seconds: number;
  /** Port of the embedded broker on 127.0.0.1; 0 or omitted: a free port. */
  mqttPort?: number;
  logger: Logger;
  /**
   * Called once the embedded broker listens, before the station starts: its URL and the topic filter
   * of everything the station publishes (`smartbin/demo-station/#`).
   */
  onBroker?: (url: string, topicFilter: string) => void;
  /** Receives each event exactly as a central subscriber gets it (one JSON document). */
  onEvent: (payload: string) => void;
  /** Each identification, deposit and alarm, for the readable account: its line (see `storyLine`) and the item. */
  onStory?: (line: string, item: StoryItem) => void;
  /** Where the demo stands, about every 250 ms while it runs. */
  onProgress?: (progress: DemoProgress) => void;
  /** Human-readable lines about the demo itself (start, end). */
  note: (line: string) => void;
  /** Resolves early (Ctrl-C, SIGTERM). */
  interrupted?: Promise<unknown>;
}

const PORTS = {
  kitchenScale: "/dev/demo/scale-kitchen",
  recycleScale: "/dev/demo/scale-recycle",
  residualScale: "/dev/demo/scale-residual",
  cardReader: "/dev/demo/reader-card",
  qrReader: "/dev/demo/reader-qr",
};

/** The kitchen bin's door lines in the simulated GPIO folder (BCM numbers, as on a Raspberry Pi header). */
export const KITCHEN_DOOR: Readonly<SimDoor> & { lamp: number } = { binId: "kitchen", lock: 17, closed: 27, button: 22, lamp: 23 };

/** The doors' `debounce_ms` (the contract's default). */
const DEBOUNCE_MS = 30;

/** The collector's EM4100 tag: card id `0012340777` (`******0777`). */
export const COLLECTOR_TAG = "0F00BC4E29";
/** {@link COLLECTOR_TAG} as the reader reports it (`dec10`), listed in `cards.collectors`. */
export const COLLECTOR_CARD_ID = "0012340777";

/**
 * The visitors, in the order they come, one every 6.5 s from 1 s after start (then again, weights
 * varied): in the first 30 s the residents' deposits show each way a deposit earns what it does
 * (points by weight in two bins, one of them behind a door; a bag below the food-waste minimum; one
 * above the recyclables bin's plausible maximum: 0 points and an alarm; residual waste, which has
 * no points rule; an award that rounds down to 0), and at about 20 s a collector empties the
 * kitchen bin through its door (a collection). Then once per round (every 39 s): the kitchen bin
 * never fills up, and the collector empties a bin without a door too once it is heavier than 40 kg.
 */
export const DEMO_VISITORS: readonly Visitor[] = [
  { cardTag: "100086F444", bags: [{ binId: "recycle", grams: 900 }, { binId: "kitchen", grams: 1_250 }] },
  { qr: "SB:0000424242", bags: [{ binId: "kitchen", grams: 150 }] },
  { cardTag: "13005D1DA5", bags: [{ binId: "recycle", grams: 12_400 }] },
  { collector: true, cardTag: COLLECTOR_TAG },
  { cardTag: "0A00C0FFEE", bags: [{ binId: "residual", grams: 2_100 }, { binId: "recycle", grams: 500 }] },
  { qr: "SB:0000777001", bags: [{ binId: "kitchen", grams: 400 }] },
];

/**
 * The demo station's configuration, validated by the same schema as a technician's file. The
 * kitchen bin has a door (lock, closed sensor, button, lamp) on the `simulated` GPIO backend, whose
 * folder is `gpioDir` (default: `gpio` next to the database).
 */
export function demoConfig(dbPath: string, brokerUrl: string, gpioDir = join(dirname(dbPath), "gpio")): Readonly<Config> {
  const door = KITCHEN_DOOR;
  return configSchema.parse({
    station: { id: "demo-station" },
    storage: { path: dbPath },
    mqtt: { url: brokerUrl, protocol_version: 4 },
    gpio: { backend: "simulated", simulated_dir: gpioDir },
    scales: [
      { id: "scale-kitchen", port: PORTS.kitchenScale, protocol: "yaohua-a9", unit: "kg" },
      { id: "scale-recycle", port: PORTS.recycleScale, protocol: "ascii-st-gs" },
      { id: "scale-residual", port: PORTS.residualScale, protocol: "yaohua-a9", unit: "kg" },
    ],
    readers: [
      { id: "reader-card", port: PORTS.cardReader, protocol: "em4100-ascii" },
      { id: "reader-qr", port: PORTS.qrReader, protocol: "ascii-line", pattern: "^SB:(\\d{10})$" },
    ],
    bins: [
      {
        id: "kitchen",
        category: "food_waste",
        scale: "scale-kitchen",
        door: {
          lock: { line: door.lock },
          closed: { line: door.closed },
          button: { line: door.button },
          lamp: { line: door.lamp },
          debounce_ms: DEBOUNCE_MS,
        },
      },
      { id: "recycle", category: "recyclable", scale: "scale-recycle", max_net_g: 10_000 },
      // No points rule for residual waste: its deposits are recorded with 0 points (no_rule).
      { id: "residual", category: "residual", scale: "scale-residual" },
    ],
    points: {
      rules_version: "2026-11",
      categories: {
        food_waste: { points_per_kg: 2, min_net_g: 200 },
        recyclable: { points_per_kg: 1.16 },
      },
    },
    session: { idle_close_s: 2, first_deposit_timeout_s: 10, max_session_s: 60, door_mode: "select" },
    cards: { collectors: [COLLECTOR_CARD_ID] },
  });
}

/** What the story needs of the demo's config: each bin's effective `max_net_g` and the points rules. */
export function storyContext(config: Readonly<Config>): StoryContext {
  const ctx = contextFromConfig(config);
  return {
    maxNetG: Object.fromEntries(ctx.bins.map((b) => [b.binId, b.maxNetG])),
    rules: Object.fromEntries(
      Object.entries(config.points?.categories ?? {}).map(([c, r]) => [c, { pointsPerKg: r.points_per_kg, pointsPerDeposit: r.points_per_deposit, minNetG: r.min_net_g }]),
    ),
  };
}

/** How often the station's state is looked at for identifications and progress. */
const WATCH_MS = 100;
const PROGRESS_MS = 250;

/**
 * Runs the whole station for `seconds` on simulated devices (serialport's mock binding, and the
 * `simulated` GPIO backend for the kitchen bin's door), an embedded aedes broker and a temporary
 * folder (database and GPIO files), with a central subscriber that hands every event to `onEvent`
 * (and deposits, collections and alarms to `onStory`). Identifications and doors are not events:
 * they are seen in the station's state (a newly opened session; a door's lock and closed input).
 * At the end a visitor at a door closes it; then a session still open is closed, its events waited
 * for, the temporary folder removed, and the summary of what the subscriber received returned.
 * Rejects with the listen error (`code` EADDRINUSE, EACCES) when the broker's port cannot be bound.
 */
export async function runDemo(opts: DemoOptions): Promise<DemoSummary> {
  const broker = await startEmbeddedBroker(opts.mqttPort ?? 0);
  const dir = mkdtempSync(join(tmpdir(), "smartbin-demo-"));
  const config = demoConfig(join(dir, "demo.db"), broker.url);
  const stationTopics = `${config.mqtt.topic_prefix}/${config.station.id}`;
  opts.onBroker?.(broker.url, `${stationTopics}/#`);
  const summary = emptySummary();
  const seen = new Set<string>();
  const context = storyContext(config);
  const story = (item: StoryItem) => opts.onStory?.(storyLine(item, context), item);
  let subscriber: mqtt.MqttClient | undefined;
  let station: Station | undefined;
  let simulator: Simulator | undefined;
  let watch: NodeJS.Timeout | undefined;

  try {
    subscriber = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: "demo-central", clean: true });
    await subscriber.subscribeAsync(`${stationTopics}/events/#`, { qos: 1 });
    subscriber.on("message", (_topic, payload) => {
      const text = payload.toString("utf8");
      const event = JSON.parse(text) as { id: string; type: string; time: string; subject: string; data: Record<string, unknown> };
      if (seen.has(event.id)) return; // at-least-once: a central consumer deduplicates by id
      seen.add(event.id);
      summary.events++;
      const at = Date.parse(event.time);
      if (event.type === "smartbin.deposit.v1") {
        const d = event.data as unknown as DepositData;
        addDeposit(summary, d);
        story({ kind: "deposit", at, data: d });
      } else if (event.type === "smartbin.collection.v1") {
        const d = event.data as unknown as CollectionEventData;
        addCollection(summary, d);
        story({ kind: "collection", at, data: d });
      } else if (event.type === "smartbin.alarm.v1") {
        summary.alarms++;
        story({ kind: "alarm", at, subject: event.subject, code: String(event.data.code), message: String(event.data.message) });
      }
      opts.onEvent(text);
    });

    const demo = createDemoBinding();
    for (const path of Object.values(PORTS)) demo.createPort(path);
    const running = new Station({ config, logger: opts.logger, binding: demo.binding });
    station = running;
    // Each simulated device speaks what the station is configured to read, encoded by the same
    // protocol module (the device registry).
    const codec = <K extends DeviceKind>(kind: K, list: readonly { port?: string | undefined; protocol: string }[], port: string): DeviceCodec<K> => {
      const device = list.find((d) => d.port === port);
      if (device === undefined) throw new Error(`demo: no device on ${port}`);
      return findProtocol(kind, device.protocol).configure(device);
    };
    const scale = (binId: string, path: string, loadG: number): SimScale => ({
      binId,
      path,
      codec: codec("scale", config.scales, path),
      loadG,
      settleTicks: 0,
    });
    simulator = new Simulator({
      demo,
      scales: [scale("kitchen", PORTS.kitchenScale, 10_200), scale("recycle", PORTS.recycleScale, 5_400), scale("residual", PORTS.residualScale, 8_100)],
      cardReader: { path: PORTS.cardReader, codec: codec("reader", config.readers.filter(isSerialReader), PORTS.cardReader) },
      qrReader: { path: PORTS.qrReader, codec: codec("reader", config.readers.filter(isSerialReader), PORTS.qrReader) },
      gpio: { dir: config.gpio.simulated_dir, doors: [KITCHEN_DOOR], debounceMs: DEBOUNCE_MS },
      visitors: DEMO_VISITORS,
      random: seededRandom(2026),
      // The first visitor waits for every bin's scale to have a weight (a loaded machine can take
      // longer than the first second), so that the story starts with every bin open.
      ready: () => {
        const state = running.snapshot();
        return state !== undefined && config.scales.every((s) => (state.scales[s.id]?.acceptedG ?? null) !== null);
      },
    });

    // The door's input files first: the station reads them as it opens its GPIO lines.
    simulator.start();
    running.start();
    const startedAt = performance.now();
    const endsAt = startedAt + opts.seconds * 1000;
    opts.note(
      `demo: station demo-station running for ${opts.seconds} s on simulated devices: ` +
        `${config.scales.length} scales, ${config.readers.length} readers, the kitchen bin's door ` +
        `(GPIO files in ${config.gpio.simulated_dir}) (Ctrl-C ends it)`,
    );
    let lastSession: string | null = null;
    let lastProgress = -Infinity;
    const doors = new DoorWatch();
    watch = setInterval(() => {
      const state = running.snapshot();
      const session = state?.session;
      const open = session?.phase === "open" ? session : null;
      if (open !== null && open.id !== lastSession) {
        const waitingDoors = open.doorBins ?? [];
        const inSession = new Set([...open.bins.map((b) => b.binId), ...waitingDoors]);
        story({
          kind: "identification",
          at: open.startedWall,
          cardId: open.cardId,
          readerId: open.readerId,
          bins: config.bins.map((b) => b.id).filter((id) => inSession.has(id)),
          waitingDoors,
          role: open.role ?? "resident",
        });
      }
      lastSession = open?.id ?? null;
      if (state !== undefined) for (const item of doors.changes(state, Date.now())) story(item);
      const now = performance.now();
      if (now - lastProgress >= PROGRESS_MS) {
        lastProgress = now;
        opts.onProgress?.({ secondsLeft: Math.max(0, Math.ceil((endsAt - now) / 1000)), atBins: open?.cardId ?? null, ending: false });
      }
    }, WATCH_MS);

    let timer: NodeJS.Timeout | undefined;
    const ended = await Promise.race([
      new Promise<"time">((resolve) => (timer = setTimeout(() => resolve("time"), opts.seconds * 1000))),
      (opts.interrupted ?? new Promise(() => undefined)).then(() => "interrupted" as const),
    ]);
    clearTimeout(timer);
    clearInterval(watch);
    simulator.stopResidents();
    // A visitor at a door has closed it as they left: let the station see it (debounced) before the close.
    await until(() => Object.values(running.snapshot()?.doors ?? {}).every((d) => d.closed !== false), 1_000);
    const last = running.snapshot();
    if (last !== undefined) for (const item of doors.changes(last, Date.now())) story(item);
    const open = running.snapshot()?.session.phase === "open";
    opts.note(`demo: ${ended === "time" ? "time is up" : "interrupted"}${open ? ": closing the open session" : ""}`);
    opts.onProgress?.({ secondsLeft: 0, atBins: null, ending: true });
    await running.flushSession();
    await running.waitForPublished(3_000);
    // Give the subscriber a moment for the last PUBLISH in flight to it.
    await until(() => summary.events >= running.lastSeq(), 2_000);
  } finally {
    clearInterval(watch);
    await station?.stop();
    simulator?.stop();
    await subscriber?.endAsync(true);
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return summary;
}


/**
 * Door lines for the story, from the station's state looked at every {@link WATCH_MS}: a lock that
 * opened, a door that opened, one that closed (locked as it closed, or not), a closed door locked
 * again. Steps are 300 ms or more apart in the demo, so a look every 100 ms sees each of them.
 */
export class DoorWatch {
  private readonly last = new Map<string, { closed: boolean | null; locked: boolean }>();

  /** What changed since the last look, in the order it happens at a door. */
  changes(state: StationState, at: number): StoryItem[] {
    const items: StoryItem[] = [];
    for (const [binId, door] of Object.entries(state.doors ?? {})) {
      const before = this.last.get(binId);
      this.last.set(binId, { closed: door.closed, locked: door.locked });
      if (before === undefined || door.closed === null) continue;
      const item = (change: "unlocked" | "opened" | "closed" | "relocked"): StoryItem => ({ kind: "door", at, binId, change, locked: door.locked });
      if (before.locked && !door.locked) items.push(item("unlocked"));
      if (before.closed !== false && door.closed === false) items.push(item("opened"));
      else if (before.closed === false && door.closed) items.push(item("closed"));
      else if (!before.locked && door.locked && door.closed) items.push(item("relocked"));
    }
    return items;
  }
}
