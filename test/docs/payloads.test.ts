/**
 * The payload schemas of src/app/mqtt-api/payloads.ts (the source of docs/asyncapi.yaml) against
 * what the station really makes, so they cannot drift apart: events of the real station machine
 * in the CloudEvents envelope of the real outbox code (envelope.ts), the machine's status, and
 * (the demo test below) everything a subscriber receives from the whole station over MQTT.
 */
import mqtt from "mqtt";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { runDemo } from "../../src/app/demo/demo.js";
import { envelopeJson } from "../../src/adapters/outbox/envelope.js";
import { statusOf } from "../../src/domain/station-machine.js";
import type { DurableEvent, StationContext, StationInput } from "../../src/domain/station-types.js";
import type { ScaleFrame } from "../../src/protocol/types.js";
import { ALL_ALARM_CODES, CLOUD_EVENT_SCHEMAS, onlineStatusSchema, statusSchema, type EventKind } from "../../src/app/mqtt-api/payloads.js";
import { ALARM_CODES } from "../../src/domain/station-types.js";
import { contact, doorClosed, doorContext, doorOpened, readyWithDoors } from "../support/doors.js";
import {
  ANNA,
  BORIS,
  READY,
  STORED_SESSION,
  WALL0,
  card,
  close,
  open,
  recorded,
  recoverInput,
  run,
  scaleData,
  testContext,
  tick,
  weigh,
} from "../support/machine.js";

const COLLECTOR = "0000000777";
const TECH = "0000000888";
const at = (mono: number) => ({ mono, wall: WALL0 + mono });
const lists: StationInput = { type: "set_cards", collectors: [COLLECTOR], maintenance: [TECH], blocked: [], version: "v1", ...at(0) };
const MIB = 1_048_576;
const netWeight = (grams: number): ScaleFrame => ({ kind: "weight", grams, stable: true, mode: "net" });
const levelData = (mono: number, mm: number): StationInput => ({
  type: "level_data",
  sensorId: "level-1",
  bytes: 4,
  frames: [{ kind: "distance", mm, strength: null, temperatureC: null }],
  ...at(mono),
});

/** Scenarios of the machine, each making some kinds of event (see the coverage test). */
const SCENARIOS: Array<[name: string, inputs: StationInput[], ctx: StationContext]> = [
  ["a deposit", [...READY, card(ANNA, 1000), ...weigh("scale-1", 13_250, 2000), tick(8000)], testContext()],
  ["a negative net", [...READY, card(ANNA, 1000), ...weigh("scale-1", 11_000, 2000), tick(8000)], testContext()],
  [
    "an implausible deposit",
    [...READY, card(ANNA, 1000), ...weigh("scale-2", 63_000, 2000), tick(8000)],
    testContext({ bins: testContext().bins.map((b) => ({ ...b, maxNetG: 10_000 })) }),
  ],
  ["a weight change outside a session", [...READY, ...weigh("scale-1", 14_000, 2000)], testContext()],
  ["a scale lost and back", [...READY, close("scale-1", 1000, "read failed: EIO"), open("scale-1", 2000), ...weigh("scale-1", 12_000, 2100)], testContext()],
  ["a reader lost and back", [...READY, close("reader-2", 1000, "read failed: EIO"), open("reader-2", 2000)], testContext()],
  [
    "a tare on the indicator's keys during a session",
    [...READY, card(ANNA, 1000), scaleData("scale-1", 1990, [netWeight(1250)]), scaleData("scale-1", 2000, [netWeight(1250)]), tick(8000)],
    testContext(),
  ],
  [
    "a level sensor: full, lost and back",
    [
      ...READY,
      open("level-1"),
      ...[0, 1, 2, 3, 4, 5, 6].map((i) => levelData(200 + i * 100, 240)),
      close("level-1", 1000, "read failed: EIO"),
      open("level-1", 2000),
      levelData(2100, 240),
    ],
    testContext({ levelSensors: [{ id: "level-1", binId: "kitchen", emptyMm: 1200, fullMm: 250, medianWindowMs: 3000, noValidFramesMs: 5000 }] }),
  ],
  ["a reader missing at start", [open("scale-1"), open("scale-2"), open("reader-1"), tick(1000), close("reader-2", 1100, "no such file")], testContext()],
  ["a session interrupted by a restart", [recoverInput([STORED_SESSION], 0), open("scale-1"), ...weigh("scale-1", 12_000, 100), tick(61_000), tick(62_000)], testContext()],
  [
    "a collector emptying a full bin",
    [lists, ...readyWithDoors(doorContext({ fullG: 12_000 })), card(COLLECTOR, 1000), doorOpened("kitchen", 2000), ...weigh("scale-1", 400, 3000), doorClosed("kitchen", 4000), tick(9000)],
    doorContext({ fullG: 12_000 }),
  ],
  [
    "a maintenance session",
    [lists, ...readyWithDoors(doorContext()), card(TECH, 1000), doorOpened("kitchen", 2000), ...weigh("scale-1", 9000, 3000), doorClosed("kitchen", 4000), tick(9000)],
    doorContext(),
  ],
  [
    "a forced door, left open",
    [...readyWithDoors(doorContext()), doorOpened("kitchen", 1000), tick(62_000), doorClosed("kitchen", 63_000)],
    doorContext(),
  ],
  [
    "contacts and a GPIO line",
    [
      ...readyWithDoors(doorContext()),
      contact("fire", true, 1000),
      contact("fire", false, 2000),
      contact("tamper", true, 3000),
      contact("tamper", false, 3500),
      contact("power_fail", true, 4000),
      contact("power_fail", false, 5000),
      { type: "gpio_error", line: 5, message: "EBUSY", contact: "tamper", ...at(6000) },
    ],
    doorContext(),
  ],
  [
    "storage nearly full, then ok",
    [
      ...READY,
      { type: "storage_space", space: { usedBytes: 95 * MIB, budgetBytes: 100 * MIB, freeBytes: 1000 * MIB, floorBytes: 10 * MIB }, ...at(1000) },
      { type: "storage_space", space: { usedBytes: 10 * MIB, budgetBytes: 100 * MIB, freeBytes: 1000 * MIB, floorBytes: 10 * MIB }, ...at(2000) },
    ],
    testContext(),
  ],
  ["a second card's deposit with a daily cap of nothing", [...READY, card(BORIS, 1000), ...weigh("scale-2", 3400, 2000), tick(8000)], testContext()],
  [
    "commands: set_cards and a tare the scale does not take (audited)",
    [
      ...READY,
      { type: "command", command: { id: "c-1", name: "set_cards", args: { blocked: [BORIS], version: "v2" } }, ...at(1000) },
      { type: "command", command: { id: "t-1", name: "tare", args: { scale_id: "scale-1" } }, ...at(1100) },
    ],
    testContext(),
  ],
  ["a second gateway with the same client id", [...READY, { type: "broker_conflict", active: true, ...at(1000) }], testContext()],
];

/** The events of `inputs` as the outbox writes them (envelope.ts), parsed back. */
function envelopes(inputs: StationInput[], ctx: StationContext): Array<{ kind: EventKind; event: unknown; source: DurableEvent }> {
  const { effects } = run(inputs, ctx);
  return recorded(effects).map((e, i) => ({
    kind: e.kind,
    source: e,
    event: JSON.parse(
      envelopeJson({
        id: `0190f1a2-0000-7000-8000-${String(i + 1).padStart(12, "0")}`,
        stationId: ctx.stationId,
        seq: i + 1,
        kind: e.kind,
        subject: e.subject,
        time: new Date(WALL0 + i).toISOString(),
        data: e.data as unknown as Record<string, unknown>,
        stamp: { boot_id: "5b1f9a0e-3c0a-4f57-9a52-2b3c4d5e6f70", mono_ms: 1000 + i, clock_synced: i % 2 === 0 },
      }),
    ) as unknown,
  }));
}

describe("the events the station machine makes, in the outbox's envelope, match the schemas", () => {
  it.each(SCENARIOS)("%s", (_name, inputs, ctx) => {
    const events = envelopes(inputs, ctx);
    expect(events.length).toBeGreaterThan(0);
    for (const { kind, event } of events) {
      const parsed = CLOUD_EVENT_SCHEMAS[kind].safeParse(event);
      expect(parsed.error?.issues ?? [], `${kind} ${JSON.stringify(event)}`).toEqual([]);
    }
    // The machine's status as the publisher sends it (station.ts adds station_id, the publisher state).
    const status = { state: "online", station_id: ctx.stationId, ...statusOf(run(inputs, ctx).state, ctx) };
    expect(onlineStatusSchema.safeParse(status).error?.issues ?? [], JSON.stringify(status)).toEqual([]);
  });

  it("covers every kind and every alarm code the machine makes (a new code needs a scenario above)", () => {
    const seen = new Set<string>();
    const codes = new Set<string>();
    for (const [, inputs, ctx] of SCENARIOS) {
      for (const { kind, source } of envelopes(inputs, ctx)) {
        seen.add(kind);
        if (source.kind === "alarm") codes.add(source.data.code);
      }
    }
    expect([...seen].sort()).toEqual(["alarm", "collection", "command", "deposit", "maintenance"]);
    const missing = ALARM_CODES.filter((c) => !codes.has(c));
    expect(missing, "alarm codes no scenario reaches").toEqual([]);
    for (const c of ALARM_CODES) expect(ALL_ALARM_CODES).toContain(c);
  });

  it("an event with a key the schema does not know, or a wrong type, fails", () => {
    const event = envelopes(SCENARIOS[0]![1], SCENARIOS[0]![2])[0]!.event as { data: Record<string, unknown> };
    expect(CLOUD_EVENT_SCHEMAS.deposit.safeParse({ ...event, data: { ...event.data, surprise: 1 } }).success).toBe(false);
    expect(CLOUD_EVENT_SCHEMAS.deposit.safeParse({ ...event, type: "smartbin.alarm.v1" }).success).toBe(false);
    expect(statusSchema.safeParse({ state: "offline", reason: "shutdown" }).success).toBe(true);
    expect(statusSchema.safeParse({ state: "offline" }).success).toBe(true);
  });
});

describe("what a subscriber receives from the whole station (the demo: real outbox, publisher and broker) matches the schemas", () => {
  it(
    "every event and every status message of a demo run",
    async () => {
      const events: string[] = [];
      const statuses: string[] = [];
      let client: mqtt.MqttClient | undefined;
      let subscribed: Promise<unknown> = Promise.resolve();
      await runDemo({
        seconds: 24,
        logger: pino({ level: "silent" }),
        note: () => undefined,
        onEvent: (payload) => events.push(payload),
        onBroker: (url, filter) => {
          client = mqtt.connect(url, { protocolVersion: 4, clientId: "payloads-test", clean: true });
          client.on("message", (topic, payload) => {
            if (topic.endsWith("/status")) statuses.push(payload.toString("utf8"));
          });
          subscribed = client.subscribeAsync(filter, { qos: 1 });
        },
      });
      await subscribed;
      await client?.endAsync(true);
      const kinds = new Set<string>();
      for (const text of events) {
        const event = JSON.parse(text) as { type: string };
        const kind = /^smartbin\.(\w+)\.v1$/.exec(event.type)?.[1] as EventKind;
        kinds.add(kind);
        expect(CLOUD_EVENT_SCHEMAS[kind].safeParse(event).error?.issues ?? [], text).toEqual([]);
      }
      // The demo's story has deposits (one implausible, with its alarm) and, at about 20 s, a
      // collection; a loaded machine may start the story later, so only the deposits are sure.
      expect([...kinds]).toContain("deposit");
      expect(events.length).toBeGreaterThanOrEqual(3);
      expect(statuses.length).toBeGreaterThan(1);
      for (const text of statuses) expect(statusSchema.safeParse(JSON.parse(text)).error?.issues ?? [], text).toEqual([]);
      expect(JSON.parse(statuses.at(-1)!)).toEqual({ state: "offline", reason: "shutdown" });
    },
    60_000,
  );
});
