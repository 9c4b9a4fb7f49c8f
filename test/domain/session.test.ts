import { describe, expect, it } from "vitest";
import { compilePointsTable } from "../../src/domain/points.js";
import {
  initialSessionState,
  nextDeadline,
  step,
  type SessionContext,
  type SessionState,
} from "../../src/domain/session.js";
import type {
  BinSpec,
  CloseReason,
  PointsReason,
  SessionEffect,
  SessionInput,
} from "../../src/domain/types.js";

// The station of these tests: two bins on two scales; scale-2 has a higher change threshold.
const BINS: BinSpec[] = [
  { binId: "kitchen", category: "food_waste", scaleId: "scale-1" },
  { binId: "recycle", category: "recyclable", scaleId: "scale-2" },
];
const POINTS = compilePointsTable({
  rulesVersion: "2026-11",
  categories: {
    food_waste: { pointsPerKg: 2, minNetG: 0 },
    recyclable: { pointsPerKg: "1.16", minNetG: 500 },
  },
});
const CTX: SessionContext = {
  bins: BINS,
  settings: { idleCloseS: 5, firstDepositTimeoutS: 30, maxSessionS: 300 },
  points: POINTS,
  changeThresholdG: (scaleId) => (scaleId === "scale-2" ? 50 : 40),
};

const WALL0 = Date.parse("2026-11-29T14:36:00.000Z");
const iso = (mono: number) => new Date(WALL0 + mono).toISOString();
const ANNA = "0008844356";
const BORIS = "0001234567";

// Inputs. wall = WALL0 + mono, so every timestamp below is predictable.
function scale(
  scaleId: string,
  acceptedG: number | null,
  mono: number,
  view: { online?: boolean; stable?: boolean } = {},
): SessionInput {
  const { online = true, stable = true } = view;
  const wall = WALL0 + mono;
  return { type: "scale", view: { scaleId, online, stable: online && stable, acceptedG }, mono, wall };
}
const card = (cardId: string, mono: number, readerId = "reader-1"): SessionInput => ({
  type: "identified",
  cardId,
  readerId,
  mono,
  wall: WALL0 + mono,
});
const tick = (mono: number): SessionInput => ({ type: "tick", mono, wall: WALL0 + mono });
const flush = (mono: number): SessionInput => ({ type: "flush", mono, wall: WALL0 + mono });

/** Both scales online and stable, kitchen at 12 kg, recycle at 3 kg. */
const READY = [scale("scale-1", 12_000, 0), scale("scale-2", 3000, 0)];

// Effects.
const opened = (cardId: string, binIds: string[], readerId = "reader-1"): SessionEffect => ({
  type: "session_opened",
  cardId,
  readerId,
  binIds,
});
const closed = (cardId: string, reason: CloseReason, deposits: number): SessionEffect => ({
  type: "session_closed",
  cardId,
  reason,
  deposits,
});
/** A deposit effect; defaults: Anna on reader-1 from 1 s, the READY baseline, awarded, rules 2026-11. */
function deposit(d: {
  bin: "kitchen" | "recycle";
  after: number;
  points: number;
  to: number;
  before?: number;
  reason?: PointsReason;
  from?: number;
  cardId?: string;
  readerId?: string;
  rulesVersion?: string | null;
}): SessionEffect {
  const before = d.before ?? (d.bin === "kitchen" ? 12_000 : 3000);
  return {
    type: "record_deposit",
    data: {
      bin_id: d.bin,
      category: d.bin === "kitchen" ? "food_waste" : "recyclable",
      card_id: d.cardId ?? ANNA,
      reader_id: d.readerId ?? "reader-1",
      gross_before_g: before,
      gross_after_g: d.after,
      net_g: d.after - before,
      points: d.points,
      points_reason: d.reason ?? "awarded",
      rules_version: d.rulesVersion === undefined ? "2026-11" : d.rulesVersion,
      started_at: iso(d.from ?? 1000),
      ended_at: iso(d.to),
    },
  };
}

/** The parts of the state a row checks: the open session, or null. */
function summary(state: SessionState) {
  const s = state.session;
  if (s === null) return null;
  return {
    cardId: s.cardId,
    bins: Object.fromEntries(s.bins.map((c) => [c.bin.binId, c.baselineG])),
    firstDepositFromMono: s.firstDepositFromMono,
    lastChangeMono: s.lastChangeMono,
  };
}

function run(inputs: SessionInput[], ctx: SessionContext): { state: SessionState; effects: SessionEffect[] } {
  let state = initialSessionState(ctx.bins);
  const effects: SessionEffect[] = [];
  for (const input of inputs) {
    const result = step(state, input, ctx);
    state = result.state;
    effects.push(...result.effects);
  }
  return { state, effects };
}

interface Row {
  name: string;
  /** Inputs that build the from-state (their effects are not checked here). */
  given: SessionInput[];
  when: SessionInput;
  effects: SessionEffect[];
  /** The open session afterwards (partial), or null for none. */
  session: Partial<NonNullable<ReturnType<typeof summary>>> | null;
  ctx?: Partial<SessionContext>;
}

/** Anna opens at 1 s on the READY station. */
const ANNA_OPEN = [...READY, card(ANNA, 1000)];
/** ... and puts 1.25 kg into the kitchen bin, accepted at 3 s. */
const KITCHEN_BAG = [
  ...ANNA_OPEN,
  scale("scale-1", 12_000, 2000, { stable: false }),
  scale("scale-1", 13_250, 3000),
];
const KITCHEN_DEPOSIT = deposit({ bin: "kitchen", after: 13_250, points: 2, to: 8000 });

const rows: Row[] = [
  // Opening
  {
    name: "no scale online: refused, no session",
    given: [],
    when: card(ANNA, 1000),
    effects: [{ type: "session_refused", cardId: ANNA, readerId: "reader-1", reason: "no_ready_bin" }],
    session: null,
  },
  {
    name: "scales online but none with an accepted weight: refused",
    given: [scale("scale-1", null, 0, { stable: false }), scale("scale-2", null, 0, { stable: false })],
    when: card(ANNA, 1000),
    effects: [{ type: "session_refused", cardId: ANNA, readerId: "reader-1", reason: "no_ready_bin" }],
    session: null,
  },
  {
    name: "ready scales: opens over every ready bin, baselines are the accepted weights",
    given: READY,
    when: card(ANNA, 1000),
    effects: [opened(ANNA, ["kitchen", "recycle"])],
    session: {
      cardId: ANNA,
      bins: { kitchen: 12_000, recycle: 3000 },
      firstDepositFromMono: 1000,
      lastChangeMono: null,
    },
  },
  {
    name: "an unstable scale with an accepted weight is ready (baseline = accepted weight)",
    given: [scale("scale-1", 12_000, 0, { stable: false }), scale("scale-2", 3000, 0)],
    when: card(ANNA, 1000),
    effects: [opened(ANNA, ["kitchen", "recycle"])],
    session: { bins: { kitchen: 12_000, recycle: 3000 } },
  },
  {
    name: "a scale offline at identification is not covered",
    given: [scale("scale-1", 12_000, 0), scale("scale-2", 3000, 0, { online: false })],
    when: card(ANNA, 1000),
    effects: [opened(ANNA, ["kitchen"])],
    session: { bins: { kitchen: 12_000 } },
  },
  {
    name: "an uncovered scale's weight change neither counts nor deposits",
    given: [
      scale("scale-1", 12_000, 0),
      scale("scale-2", 3000, 0, { online: false }),
      card(ANNA, 1000),
      scale("scale-2", 3000, 2000),
      scale("scale-2", 4000, 3000),
    ],
    when: tick(31_000),
    effects: [closed(ANNA, "first_deposit_timeout", 0)],
    session: null,
  },
  // Weight changes
  {
    name: "a weight change on a covered scale is recorded",
    given: ANNA_OPEN,
    when: scale("scale-1", 13_250, 3000),
    effects: [],
    session: { lastChangeMono: 3000 },
  },
  {
    name: "stability or online changes without a new accepted weight are no weight change",
    given: [...ANNA_OPEN, scale("scale-1", 12_000, 2000, { stable: false })],
    when: scale("scale-1", 12_000, 3000, { online: false }),
    effects: [],
    session: { lastChangeMono: null },
  },
  {
    name: "a change before identification does not count (and sets the baseline)",
    given: [...READY, scale("scale-1", 13_250, 500), card(ANNA, 1000)],
    when: tick(6000),
    effects: [],
    session: { bins: { kitchen: 13_250, recycle: 3000 }, lastChangeMono: null },
  },
  // Idle close
  {
    name: "idle: still open just before idle_close_s after the change",
    given: KITCHEN_BAG,
    when: tick(7999),
    effects: [],
    session: { cardId: ANNA, lastChangeMono: 3000 },
  },
  {
    name: "idle: closes idle_close_s after the change with the scales stable, one deposit",
    given: KITCHEN_BAG,
    when: tick(8000),
    effects: [KITCHEN_DEPOSIT, closed(ANNA, "idle", 1)],
    session: null,
  },
  {
    name: "idle: waits while a scale of the session is unstable",
    given: [...KITCHEN_BAG, scale("scale-2", 3000, 7000, { stable: false })],
    when: tick(9000),
    effects: [],
    session: { lastChangeMono: 3000 },
  },
  {
    name: "idle: closes the moment the last scale settles",
    given: [...KITCHEN_BAG, scale("scale-2", 3000, 7000, { stable: false }), tick(9000)],
    when: scale("scale-2", 3000, 9500),
    effects: [
      deposit({ bin: "kitchen", after: 13_250, points: 2, to: 9500 }),
      closed(ANNA, "idle", 1),
    ],
    session: null,
  },
  {
    name: "idle: a second bag restarts the idle time and both bags make one deposit",
    given: [...KITCHEN_BAG, scale("scale-1", 14_000, 6000)],
    when: tick(10_999),
    effects: [],
    session: { lastChangeMono: 6000 },
  },
  {
    name: "idle: ... and closes with the sum of both bags",
    given: [...KITCHEN_BAG, scale("scale-1", 14_000, 6000)],
    when: tick(11_000),
    effects: [
      deposit({ bin: "kitchen", after: 14_000, points: 4, to: 11_000 }),
      closed(ANNA, "idle", 1),
    ],
    session: null,
  },
  {
    name: "idle: an offline scale counts as settled, with its last accepted weight",
    given: [...KITCHEN_BAG, scale("scale-1", 13_250, 4000, { online: false })],
    when: tick(8000),
    effects: [KITCHEN_DEPOSIT, closed(ANNA, "idle", 1)],
    session: null,
  },
  {
    name: "idle: a change after the due close, seen before any tick, is not part of the session",
    given: KITCHEN_BAG,
    when: scale("scale-1", 15_000, 9000),
    effects: [
      deposit({ bin: "kitchen", after: 13_250, points: 2, to: 9000 }),
      closed(ANNA, "idle", 1),
    ],
    session: null,
  },
  // First-deposit timeout
  {
    name: "first deposit: open just before first_deposit_timeout_s",
    given: ANNA_OPEN,
    when: tick(30_999),
    effects: [],
    session: { cardId: ANNA },
  },
  {
    name: "first deposit: closes first_deposit_timeout_s after identification without a change",
    given: ANNA_OPEN,
    when: tick(31_000),
    effects: [closed(ANNA, "first_deposit_timeout", 0)],
    session: null,
  },
  {
    name: "same card before any change restarts the first-deposit timer",
    given: [...ANNA_OPEN, card(ANNA, 20_000, "reader-2")],
    when: tick(31_000),
    effects: [],
    session: { cardId: ANNA, firstDepositFromMono: 20_000 },
  },
  {
    name: "same card: the restarted timer fires first_deposit_timeout_s after the repeat",
    given: [...ANNA_OPEN, card(ANNA, 20_000)],
    when: tick(50_000),
    effects: [closed(ANNA, "first_deposit_timeout", 0)],
    session: null,
  },
  {
    name: "same card after a weight change changes nothing",
    given: KITCHEN_BAG,
    when: card(ANNA, 5000),
    effects: [],
    session: { cardId: ANNA, firstDepositFromMono: 1000, lastChangeMono: 3000 },
  },
  {
    name: "same card after a weight change does not delay the idle close",
    given: [...KITCHEN_BAG, card(ANNA, 5000)],
    when: tick(8000),
    effects: [KITCHEN_DEPOSIT, closed(ANNA, "idle", 1)],
    session: null,
  },
  {
    name: "same card after the first-deposit timeout (no tick between) opens a new session",
    given: ANNA_OPEN,
    when: card(ANNA, 40_000),
    effects: [closed(ANNA, "first_deposit_timeout", 0), opened(ANNA, ["kitchen", "recycle"])],
    session: { cardId: ANNA, firstDepositFromMono: 40_000 },
  },
  // Different identification
  {
    name: "a different card closes the session (deposits first) and opens its own",
    given: KITCHEN_BAG,
    when: card(BORIS, 4000, "reader-2"),
    effects: [
      deposit({ bin: "kitchen", after: 13_250, points: 2, to: 4000 }),
      closed(ANNA, "other_identification", 1),
      opened(BORIS, ["kitchen", "recycle"], "reader-2"),
    ],
    session: { cardId: BORIS, bins: { kitchen: 13_250, recycle: 3000 }, lastChangeMono: null },
  },
  {
    name: "a different card with no ready bin: the old session closes, the new one is refused",
    given: [
      ...ANNA_OPEN,
      scale("scale-1", 12_000, 2000, { online: false }),
      scale("scale-2", 3000, 2000, { online: false }),
    ],
    when: card(BORIS, 4000),
    effects: [
      closed(ANNA, "other_identification", 0),
      { type: "session_refused", cardId: BORIS, readerId: "reader-1", reason: "no_ready_bin" },
    ],
    session: null,
  },
  // Max session
  {
    name: "max_session: open just before max_session_s while a scale stays unstable",
    given: [...KITCHEN_BAG, scale("scale-1", 13_250, 4000, { stable: false })],
    when: tick(300_999),
    effects: [],
    session: { cardId: ANNA },
  },
  {
    name: "max_session: closes at max_session_s after identification",
    given: [...KITCHEN_BAG, scale("scale-1", 13_250, 4000, { stable: false })],
    when: tick(301_000),
    effects: [
      deposit({ bin: "kitchen", after: 13_250, points: 2, to: 301_000 }),
      closed(ANNA, "max_session", 1),
    ],
    session: null,
  },
  {
    name: "max_session: even with the same card restarting the first-deposit timer",
    given: [...ANNA_OPEN, ...Array.from({ length: 15 }, (_, i) => card(ANNA, 20_000 * (i + 1)))],
    when: tick(301_000),
    effects: [closed(ANNA, "max_session", 0)],
    session: null,
  },
  // Deposits at close
  {
    name: "two bins, two deposits in config order, each with its own points rule",
    given: [...ANNA_OPEN, scale("scale-2", 4000, 2000), scale("scale-1", 13_250, 3000)],
    when: tick(8000),
    effects: [
      KITCHEN_DEPOSIT,
      deposit({ bin: "recycle", after: 4000, points: 1, to: 8000 }),
      closed(ANNA, "idle", 2),
    ],
    session: null,
  },
  {
    name: "a bin whose weight fell yields no deposit",
    given: [...ANNA_OPEN, scale("scale-1", 11_000, 3000)],
    when: tick(8000),
    effects: [closed(ANNA, "idle", 0)],
    session: null,
  },
  {
    name: "net below the scale's change threshold (+60 then -40 = +20 < 40) yields no deposit",
    given: [...ANNA_OPEN, scale("scale-1", 12_060, 2000), scale("scale-1", 12_020, 3000)],
    when: tick(8000),
    effects: [closed(ANNA, "idle", 0)],
    session: null,
  },
  {
    name: "net exactly the change threshold (40 g) is a deposit",
    given: [...ANNA_OPEN, scale("scale-1", 12_080, 2000), scale("scale-1", 12_040, 3000)],
    when: tick(8000),
    effects: [
      deposit({ bin: "kitchen", after: 12_040, points: 0, to: 8000 }),
      closed(ANNA, "idle", 1),
    ],
    session: null,
  },
  {
    name: "the threshold is per scale: 45 g on scale-2 (threshold 50) is no deposit",
    given: [...ANNA_OPEN, scale("scale-2", 3100, 2000), scale("scale-2", 3045, 3000)],
    when: tick(8000),
    effects: [closed(ANNA, "idle", 0)],
    session: null,
  },
  {
    name: "points reason per deposit: awarded and below_minimum",
    given: [...ANNA_OPEN, scale("scale-1", 13_250, 2000), scale("scale-2", 3400, 3000)],
    when: tick(8000),
    effects: [
      deposit({ bin: "kitchen", after: 13_250, points: 2, to: 8000 }),
      deposit({ bin: "recycle", after: 3400, points: 0, reason: "below_minimum", to: 8000 }),
      closed(ANNA, "idle", 2),
    ],
    session: null,
  },
  {
    name: "points reason per deposit: no_rule for a category missing from the table",
    given: [...ANNA_OPEN, scale("scale-1", 13_250, 2000), scale("scale-2", 28_000, 3000)],
    when: tick(8000),
    effects: [
      deposit({ bin: "kitchen", after: 13_250, points: 2, to: 8000 }),
      deposit({ bin: "recycle", after: 28_000, points: 0, reason: "no_rule", to: 8000 }),
      closed(ANNA, "idle", 2),
    ],
    session: null,
    ctx: {
      points: compilePointsTable({
        rulesVersion: "2026-11",
        categories: { food_waste: { pointsPerKg: 2, minNetG: 0 } },
      }),
    },
  },
  {
    name: "points: exact decimals, 25 kg of recyclables at 1.16 is 29 points",
    given: [...ANNA_OPEN, scale("scale-2", 28_000, 3000)],
    when: tick(8000),
    effects: [
      deposit({ bin: "recycle", after: 28_000, points: 29, to: 8000 }),
      closed(ANNA, "idle", 1),
    ],
    session: null,
  },
  {
    name: "points: no table, every deposit no_rule with rules_version null",
    given: KITCHEN_BAG,
    when: tick(8000),
    effects: [
      deposit({ bin: "kitchen", after: 13_250, points: 0, reason: "no_rule", to: 8000, rulesVersion: null }),
      closed(ANNA, "idle", 1),
    ],
    session: null,
    ctx: { points: null },
  },
  // Flush and ticks without a session
  {
    name: "flush closes an open session at once",
    given: KITCHEN_BAG,
    when: flush(4000),
    effects: [
      deposit({ bin: "kitchen", after: 13_250, points: 2, to: 4000 }),
      closed(ANNA, "flush", 1),
    ],
    session: null,
  },
  { name: "flush without a session: nothing", given: READY, when: flush(4000), effects: [], session: null },
  { name: "tick without a session: nothing", given: READY, when: tick(400_000), effects: [], session: null },
];

describe("session state machine (contract section 2)", () => {
  it.each(rows)("$name", (row) => {
    const ctx = { ...CTX, ...row.ctx };
    const from = run(row.given, ctx).state;
    const { state, effects } = step(from, row.when, ctx);
    expect(effects).toEqual(row.effects);
    if (row.session === null) expect(state.session).toBeNull();
    else expect(summary(state)).toMatchObject(row.session);
  });

  it("tracks every scale's latest view", () => {
    const { state } = run([...READY, scale("scale-1", 12_500, 100, { stable: false })], CTX);
    expect(state.scales.get("scale-1")).toEqual({
      scaleId: "scale-1",
      online: true,
      stable: false,
      acceptedG: 12_500,
    });
    expect(state.scales.get("scale-2")).toEqual({
      scaleId: "scale-2",
      online: true,
      stable: true,
      acceptedG: 3000,
    });
  });

  it("starts with every bin's scale offline and no session", () => {
    const state = initialSessionState(BINS);
    expect(state.session).toBeNull();
    expect([...state.scales.values()]).toEqual([
      { scaleId: "scale-1", online: false, stable: false, acceptedG: null },
      { scaleId: "scale-2", online: false, stable: false, acceptedG: null },
    ]);
  });

  it("does not mutate the state it is given", () => {
    const from = run(KITCHEN_BAG, CTX).state;
    const snapshot = summary(from);
    const scales = new Map(from.scales);
    step(from, scale("scale-1", 20_000, 4000), CTX);
    step(from, tick(8000), CTX);
    expect(summary(from)).toEqual(snapshot);
    expect(from.scales).toEqual(scales);
  });

  it("rounds fractional seconds to whole milliseconds", () => {
    const ctx = { ...CTX, settings: { ...CTX.settings, firstDepositTimeoutS: 4.35 } };
    const from = run(ANNA_OPEN, ctx).state;
    expect(nextDeadline(from, ctx)).toBe(5350);
    expect(step(from, tick(5350), ctx).effects).toEqual([closed(ANNA, "first_deposit_timeout", 0)]);
  });
});

describe("nextDeadline", () => {
  it.each([
    { name: "no session", given: READY, deadline: null },
    { name: "no change yet: the first-deposit timer", given: ANNA_OPEN, deadline: 31_000 },
    { name: "restarted first-deposit timer", given: [...ANNA_OPEN, card(ANNA, 5000)], deadline: 35_000 },
    { name: "after a change with settled scales: the idle time", given: KITCHEN_BAG, deadline: 8000 },
    {
      name: "after a change with an unsettled scale: only max_session",
      given: [...KITCHEN_BAG, scale("scale-2", 3000, 3500, { stable: false })],
      deadline: 301_000,
    },
    {
      name: "an idle time beyond max_session: max_session",
      given: [
        ...ANNA_OPEN,
        scale("scale-1", 12_500, 20_000),
        scale("scale-1", 12_500, 21_000, { stable: false }),
        scale("scale-1", 13_250, 298_000),
      ],
      deadline: 301_000,
    },
  ])("$name → $deadline", ({ given, deadline }) => {
    expect(nextDeadline(run(given, CTX).state, CTX)).toBe(deadline);
  });

  it("a tick at the deadline changes something, a tick just before does not", () => {
    const state = run(KITCHEN_BAG, CTX).state;
    const at = nextDeadline(state, CTX)!;
    expect(step(state, tick(at - 1), CTX).effects).toEqual([]);
    expect(step(state, tick(at), CTX).effects).not.toEqual([]);
  });
});
