/**
 * Fixtures for tests of the station machine: a two-bin station context, input builders, and
 * summaries of effects. Scales use a 10 ms stability window with 2 samples, so `weigh` makes a
 * scale stable at a weight with two frames.
 */
import { compilePointsTable } from "../../src/domain/points.js";
import { initialState, step } from "../../src/domain/station-machine.js";
import type {
  DurableEvent,
  PersistedSession,
  StationContext,
  StationEffect,
  StationInput,
  StationState,
} from "../../src/domain/station-types.js";
import type { ReaderFrame, ScaleFrame } from "../../src/protocol/types.js";

export const WALL0 = Date.parse("2026-11-29T14:36:00.000Z");
export const iso = (mono: number) => new Date(WALL0 + mono).toISOString();
export const ANNA = "0008844356";
export const BORIS = "0001234567";

export const POINTS = compilePointsTable({
  rulesVersion: "2026-11",
  categories: {
    food_waste: { pointsPerKg: 2, minNetG: 0 },
    recyclable: { pointsPerKg: "1.16", minNetG: 500 },
  },
});

/** Two bins on two scales (scale-2 has a higher change threshold), two readers. */
export function testContext(over: Partial<StationContext> = {}): StationContext {
  const stability = { windowMs: 10, minSamples: 2, toleranceG: 20 };
  return {
    stationId: "st-001",
    scales: [
      { id: "scale-1", binId: "kitchen", stability, changeThresholdG: 40, capacityG: 60_000, noValidFramesMs: 5000 },
      { id: "scale-2", binId: "recycle", stability, changeThresholdG: 50, capacityG: null, noValidFramesMs: 5000 },
    ],
    readers: [
      { id: "reader-1", repeatGapMs: 500, minReads: 2, noValidFramesMs: 30_000 },
      { id: "reader-2", repeatGapMs: 500, minReads: 1, noValidFramesMs: 30_000 },
    ],
    bins: [
      { binId: "kitchen", category: "food_waste", scaleId: "scale-1", maxNetG: 50_000 },
      { binId: "recycle", category: "recyclable", scaleId: "scale-2", maxNetG: 50_000 },
    ],
    session: { idleCloseMs: 5000, firstDepositTimeoutMs: 30_000, maxSessionMs: 300_000, recoverTimeoutMs: 60_000 },
    points: POINTS,
    noiseLogIntervalMs: 60_000,
    ...over,
  };
}

const at = (mono: number) => ({ mono, wall: WALL0 + mono });

export const weight = (grams: number, stable: boolean | null = true): ScaleFrame => ({ kind: "weight", grams, stable, mode: "gross" });

/** One chunk of scale frames (`bytes` defaults to 18 per frame, like `ST,GS,+0012.34kg\r\n`). */
export function scaleData(scaleId: string, mono: number, frames: ScaleFrame[], bytes = 18 * frames.length): StationInput {
  return { type: "scale_data", scaleId, bytes, frames, ...at(mono) };
}

/** Two stable frames 10 ms apart ending at `mono`: with the test window the scale is stable at `grams`. */
export function weigh(scaleId: string, grams: number, mono: number): StationInput[] {
  return [scaleData(scaleId, mono - 10, [weight(grams)]), scaleData(scaleId, mono, [weight(grams)])];
}

/** A frame the indicator flags as unstable. */
export const wobble = (scaleId: string, grams: number, mono: number) => scaleData(scaleId, mono, [weight(grams, false)]);

export const open = (deviceId: string, mono = 0): StationInput => ({ type: "port", deviceId, state: "open", ...at(mono) });
export const close = (deviceId: string, mono: number, reason = "port closed"): StationInput => ({
  type: "port",
  deviceId,
  state: "closed",
  reason,
  ...at(mono),
});

let ids = 0;
/** A fresh session id per call (tests read them back from the state or the events). */
export const nextSessionId = () => `00000000-0000-7000-8000-${String(++ids).padStart(12, "0")}`;

/** A presentation, bypassing the reader rules. */
export const card = (cardId: string, mono: number, readerId = "reader-2", sessionId = nextSessionId()): StationInput => ({
  type: "identified",
  cardId,
  readerId,
  sessionId,
  ...at(mono),
});

export function readerData(readerId: string, mono: number, frames: ReaderFrame[], bytes = 14 * frames.length): StationInput {
  return { type: "reader_data", readerId, bytes, frames, sessionId: nextSessionId(), ...at(mono) };
}
export const tag = (cardId: string): ReaderFrame => ({ kind: "id", cardId });
export const tick = (mono: number): StationInput => ({ type: "tick", ...at(mono) });
export const flush = (mono: number): StationInput => ({ type: "flush", ...at(mono) });
export const storage = (state: "ok" | "busy" | "fault", mono: number): StationInput => ({
  type: "storage",
  state,
  ...(state === "ok" ? {} : { message: "disk I/O error" }),
  ...at(mono),
});
/** What a crash left in the database: Anna's session over both bins, opened 10 s before WALL0, a change at -8 s. */
export const STORED_SESSION: PersistedSession = {
  version: 1,
  session_id: "0190f1a2-0000-7000-8000-000000000001",
  card_id: ANNA,
  reader_id: "reader-1",
  started_wall: WALL0 - 10_000,
  bins: [
    { bin_id: "kitchen", baseline_g: 12_000 },
    { bin_id: "recycle", baseline_g: 3000 },
  ],
  last_change_wall: WALL0 - 8000,
};

export const recoverInput = (sessions: PersistedSession[], mono: number): StationInput => ({ type: "recover", sessions, ...at(mono) });

/** All ports open at 0, kitchen at 12 kg and recycle at 3 kg by 100 ms. */
export const READY: StationInput[] = [
  open("scale-1"),
  open("scale-2"),
  open("reader-1"),
  open("reader-2"),
  ...weigh("scale-1", 12_000, 100),
  ...weigh("scale-2", 3000, 100),
];

/** Runs inputs from the initial state; returns the final state and every effect. */
export function run(inputs: StationInput[], ctx: StationContext = testContext(), from?: StationState) {
  let state = from ?? initialState(ctx);
  const effects: StationEffect[] = [];
  for (const input of inputs) {
    const r = step(state, input, ctx);
    state = r.state;
    effects.push(...r.effects);
  }
  return { state, effects };
}

/** The recorded events of some effects, in order. */
export function recorded(effects: StationEffect[]): DurableEvent[] {
  return effects.flatMap((e) => (e.type === "record" ? e.events : []));
}

/** A short text per recorded event: `deposit kitchen 1250g 2 awarded idle`, `alarm negative_net kitchen`. */
export function eventSummary(effects: StationEffect[]): string[] {
  return recorded(effects).map((e) => {
    switch (e.kind) {
      case "deposit":
        return `deposit ${e.data.bin_id} ${e.data.net_g}g ${e.data.points} ${e.data.points_reason} ${e.data.close_reason}`;
      case "alarm":
        return `alarm ${e.data.code} ${e.subject}`;
      case "collection":
        return `collection ${e.data.bin_id} ${e.data.removed_g}g ${e.data.close_reason}`;
      case "maintenance":
        return `maintenance ${e.data.close_reason}`;
      case "command":
        return `command ${e.data.name} ${e.data.ok ? "ok" : String(e.data.error_code)}`;
    }
  });
}

/** The session writes of some effects: `put <id>` / `delete <id>`. */
export function sessionWrites(effects: StationEffect[]): string[] {
  return effects.flatMap((e) => (e.type === "record" && e.session ? [`${e.session.op}`] : []));
}

/** The notice messages of some effects at `level` or above warn. */
export function notices(effects: StationEffect[], level?: "debug" | "info" | "warn" | "error"): string[] {
  return effects.flatMap((e) => (e.type === "notice" && (level === undefined || e.level === level) ? [e.msg] : []));
}
