import { describe, expect, it } from "vitest";
import { initialState, nextDeadline, statusOf, step } from "../../src/domain/station-machine.js";
import type { StationContext, StationInput, StationState } from "../../src/domain/station-types.js";
import {
  ANNA,
  BORIS,
  READY,
  card,
  close,
  eventSummary,
  flush,
  iso,
  notices,
  open,
  readerData,
  recorded,
  run,
  scaleData,
  sessionWrites,
  storage,
  tag,
  testContext,
  tick,
  weigh,
  weight,
  wobble,
} from "../support/machine.js";

/** Anna opens at 1 s on the READY station. */
const ANNA_OPEN = [...READY, card(ANNA, 1000)];
/** ... and puts 1.25 kg into the kitchen bin, accepted at 3 s. */
const KITCHEN_BAG = [...ANNA_OPEN, wobble("scale-1", 12_600, 2000), ...weigh("scale-1", 13_250, 3000)];
const KITCHEN_DEPOSIT = "deposit kitchen 1250g 2 awarded";

interface Row {
  name: string;
  given: StationInput[];
  when: StationInput | StationInput[];
  /** Events recorded by `when`, as eventSummary texts. */
  events: string[];
  /** The session phase afterwards. */
  phase: StationState["session"]["phase"];
  ctx?: Partial<StationContext>;
  /** Extra checks on the state after `when`. */
  check?: (state: StationState) => void;
}

const baselines = (s: StationState) =>
  s.session.phase === "idle" ? null : Object.fromEntries(s.session.bins.map((b) => [b.binId, b.baselineG]));

/** Scale-1 (kitchen, 12 kg accepted) reads `grams`, no valid weight (`condition`), when Anna shows her card. */
function noValidWeightRow(name: string, grams: number, condition: "above_capacity" | "underload"): Row {
  return {
    name,
    given: [...READY, ...weigh("scale-1", grams, 500)],
    when: card(ANNA, 1000),
    events: [],
    phase: "open",
    check: (s) => {
      expect(baselines(s)).toEqual({ recycle: 3000 });
      expect(s.scales["scale-1"]!.acceptedG).toBe(12_000);
      expect(s.scales["scale-1"]!.condition).toBe(condition);
    },
  };
}

const rows: Row[] = [
  // Opening
  { name: "no scale online: refused, no session", given: [], when: card(ANNA, 1000), events: [], phase: "idle" },
  {
    name: "scales online but none with an accepted weight: refused",
    given: [open("scale-1"), open("scale-2"), wobble("scale-1", 5000, 500)],
    when: card(ANNA, 1000),
    events: [],
    phase: "idle",
  },
  {
    name: "ready scales: opens over every ready bin, baselines are the accepted weights",
    given: READY,
    when: card(ANNA, 1000),
    events: [],
    phase: "open",
    check: (s) => expect(baselines(s)).toEqual({ kitchen: 12_000, recycle: 3000 }),
  },
  {
    name: "an unstable scale with an accepted weight is ready (baseline = accepted weight)",
    given: [...READY, wobble("scale-1", 12_300, 500)],
    when: card(ANNA, 1000),
    events: [],
    phase: "open",
    check: (s) => expect(baselines(s)).toEqual({ kitchen: 12_000, recycle: 3000 }),
  },
  {
    name: "a scale offline at identification is not covered",
    given: [...READY, close("scale-2", 500)],
    when: card(ANNA, 1000),
    events: [],
    phase: "open",
    check: (s) => expect(baselines(s)).toEqual({ kitchen: 12_000 }),
  },
  {
    name: "a scale in overload at identification is not covered (no valid weight)",
    given: [...READY, scaleData("scale-2", 500, [{ kind: "no_weight", reason: "overload" }])],
    when: card(ANNA, 1000),
    events: [],
    phase: "open",
    check: (s) => expect(baselines(s)).toEqual({ kitchen: 12_000 }),
  },
  noValidWeightRow("a scale reading above capacity_g is not covered and its accepted weight stays", 999_999_000, "above_capacity"),
  noValidWeightRow("a reading more than change_threshold_g below zero is underload: not covered, its accepted weight stays", -45_000, "underload"),
  {
    name: "the climb back from a negative reading to zero is never a deposit (the bin was not covered)",
    given: [...READY, ...weigh("scale-1", -45_000, 500), card(ANNA, 1000), ...weigh("scale-1", 0, 2000)],
    when: tick(40_000),
    events: [],
    phase: "idle",
  },
  {
    name: "a small negative reading (indicator drift within change_threshold_g) is still a weight",
    given: [...READY, ...weigh("scale-1", -30, 500)],
    when: card(ANNA, 1000),
    events: [],
    phase: "open",
    check: (s) => {
      expect(s.scales["scale-1"]!.condition).toBe("ok");
      expect(s.scales["scale-1"]!.acceptedG).toBe(-30);
    },
  },
  {
    name: "an uncovered scale's weight change neither counts nor deposits",
    given: [...READY, close("scale-2", 500), card(ANNA, 1000), open("scale-2", 1500), ...weigh("scale-2", 4000, 3000)],
    when: tick(31_000),
    events: [],
    phase: "idle",
  },
  // Weight changes
  {
    name: "a weight change on a covered scale restarts the idle timer",
    given: ANNA_OPEN,
    when: weigh("scale-1", 13_250, 3000),
    events: [],
    phase: "open",
    check: (s) => expect(s.session.phase === "open" && s.session.lastChangeMono).toBe(3000),
  },
  {
    name: "a change before identification does not count (and sets the baseline)",
    given: [...READY, ...weigh("scale-1", 13_250, 500), card(ANNA, 1000)],
    when: tick(6000),
    events: [],
    phase: "open",
    check: (s) => expect(baselines(s)).toEqual({ kitchen: 13_250, recycle: 3000 }),
  },
  // Idle close
  { name: "idle: still open just before idle_close_s after the change", given: KITCHEN_BAG, when: tick(7999), events: [], phase: "open" },
  {
    name: "idle: closes idle_close_s after the change with the scales stable, one deposit",
    given: KITCHEN_BAG,
    when: tick(8000),
    events: [`${KITCHEN_DEPOSIT} idle`],
    phase: "idle",
  },
  {
    name: "idle: waits while a scale of the session is unstable",
    given: [...KITCHEN_BAG, wobble("scale-2", 3000, 7000)],
    when: tick(9000),
    events: [],
    phase: "open",
  },
  {
    name: "idle: closes the moment the last scale settles",
    given: [...KITCHEN_BAG, wobble("scale-2", 3000, 7000), tick(9000)],
    when: weigh("scale-2", 3000, 9500),
    events: [`${KITCHEN_DEPOSIT} idle`],
    phase: "idle",
  },
  {
    name: "idle: a second bag restarts the idle time",
    given: [...KITCHEN_BAG, ...weigh("scale-1", 14_000, 6000)],
    when: tick(10_999),
    events: [],
    phase: "open",
  },
  {
    name: "idle: ... and both bags make one deposit",
    given: [...KITCHEN_BAG, ...weigh("scale-1", 14_000, 6000)],
    when: tick(11_000),
    events: ["deposit kitchen 2000g 4 awarded idle"],
    phase: "idle",
  },
  {
    name: "idle: an offline scale counts as settled, with its last accepted weight",
    given: [...KITCHEN_BAG, close("scale-1", 4000)],
    when: tick(8000),
    events: [`${KITCHEN_DEPOSIT} idle`],
    phase: "idle",
  },
  {
    name: "idle: a change after the due close, seen before any tick, is not part of the session",
    given: KITCHEN_BAG,
    when: weigh("scale-1", 15_000, 9000),
    events: [`${KITCHEN_DEPOSIT} idle`, "alarm unattributed_weight_change kitchen"],
    phase: "idle",
  },
  // First deposit timeout and the same card
  { name: "first deposit: open just before first_deposit_timeout_s", given: ANNA_OPEN, when: tick(30_999), events: [], phase: "open" },
  { name: "first deposit: closes at first_deposit_timeout_s without a change", given: ANNA_OPEN, when: tick(31_000), events: [], phase: "idle" },
  {
    name: "same card before any change restarts the first-deposit timer",
    given: [...ANNA_OPEN, card(ANNA, 20_000, "reader-1")],
    when: tick(31_000),
    events: [],
    phase: "open",
  },
  {
    name: "same card: the restarted timer fires first_deposit_timeout_s after the repeat",
    given: [...ANNA_OPEN, card(ANNA, 20_000)],
    when: tick(50_000),
    events: [],
    phase: "idle",
  },
  {
    name: "same card after a weight change does not delay the idle close",
    given: [...KITCHEN_BAG, card(ANNA, 5000)],
    when: tick(8000),
    events: [`${KITCHEN_DEPOSIT} idle`],
    phase: "idle",
  },
  {
    name: "same card after the first-deposit timeout (no tick between) opens a new session",
    given: ANNA_OPEN,
    when: card(ANNA, 40_000),
    events: [],
    phase: "open",
    check: (s) => expect(s.session.phase === "open" && s.session.startedMono).toBe(40_000),
  },
  {
    name: "a different card closes the session (deposits first) and opens its own",
    given: KITCHEN_BAG,
    when: card(BORIS, 4000, "reader-1"),
    events: [`${KITCHEN_DEPOSIT} other_identification`],
    phase: "open",
    check: (s) => {
      expect(s.session.phase === "open" && s.session.cardId).toBe(BORIS);
      expect(baselines(s)).toEqual({ kitchen: 13_250, recycle: 3000 });
    },
  },
  // Max session
  {
    name: "max_session: open just before max_session_s while a scale stays unstable",
    given: [...KITCHEN_BAG, wobble("scale-1", 13_250, 4000)],
    when: tick(300_999),
    events: [],
    phase: "open",
  },
  {
    name: "max_session: closes at max_session_s after identification",
    given: [...KITCHEN_BAG, wobble("scale-1", 13_250, 4000)],
    when: tick(301_000),
    events: [`${KITCHEN_DEPOSIT} max_session`],
    phase: "idle",
  },
  {
    name: "max_session: even with the same card restarting the first-deposit timer",
    given: [...ANNA_OPEN, ...Array.from({ length: 15 }, (_, i) => card(ANNA, 20_000 * (i + 1)))],
    when: tick(301_000),
    events: [],
    phase: "idle",
  },
  // Deposits and points
  {
    name: "two bins, two deposits in config order, each with its own points rule",
    given: [...ANNA_OPEN, ...weigh("scale-2", 4000, 2000), ...weigh("scale-1", 13_250, 3000)],
    when: tick(8000),
    events: [`${KITCHEN_DEPOSIT} idle`, "deposit recycle 1000g 1 awarded idle"],
    phase: "idle",
  },
  {
    name: "a bin whose weight fell by at least change_threshold_g: no deposit, a negative_net alarm",
    given: [...ANNA_OPEN, ...weigh("scale-1", 11_000, 3000)],
    when: tick(8000),
    events: ["alarm negative_net kitchen"],
    phase: "idle",
  },
  {
    name: "net below the scale's change threshold (+60 then -40 = +20 < 40) yields nothing",
    given: [...ANNA_OPEN, ...weigh("scale-1", 12_060, 2000), ...weigh("scale-1", 12_020, 3000)],
    when: tick(8000),
    events: [],
    phase: "idle",
  },
  {
    name: "net exactly the change threshold (40 g) is a deposit",
    given: [...ANNA_OPEN, ...weigh("scale-1", 12_080, 2000), ...weigh("scale-1", 12_040, 3000)],
    when: tick(8000),
    events: ["deposit kitchen 40g 0 awarded idle"],
    phase: "idle",
  },
  {
    name: "the threshold is per scale: 45 g on scale-2 (threshold 50) is no deposit",
    given: [...ANNA_OPEN, ...weigh("scale-2", 3100, 2000), ...weigh("scale-2", 3045, 3000)],
    when: tick(8000),
    events: [],
    phase: "idle",
  },
  {
    name: "points reason per deposit: awarded and below_minimum",
    given: [...ANNA_OPEN, ...weigh("scale-1", 13_250, 2000), ...weigh("scale-2", 3400, 3000)],
    when: tick(8000),
    events: [`${KITCHEN_DEPOSIT} idle`, "deposit recycle 400g 0 below_minimum idle"],
    phase: "idle",
  },
  {
    name: "points: exact decimals, 25 kg of recyclables at 1.16 is 29 points",
    given: [...ANNA_OPEN, ...weigh("scale-2", 28_000, 3000)],
    when: tick(8000),
    events: ["deposit recycle 25000g 29 awarded idle"],
    phase: "idle",
  },
  {
    name: "points: no table, every deposit no_rule",
    given: KITCHEN_BAG,
    when: tick(8000),
    events: ["deposit kitchen 1250g 0 no_rule idle"],
    phase: "idle",
    ctx: { points: null },
  },
  {
    name: "a deposit above max_net_g: 0 points, implausible, and an implausible_weight alarm",
    given: [...ANNA_OPEN, ...weigh("scale-2", 999_999_000, 3000)],
    when: tick(8000),
    events: ["deposit recycle 999996000g 0 implausible idle", "alarm implausible_weight recycle"],
    phase: "idle",
  },
  {
    name: "exactly max_net_g is plausible",
    given: [...ANNA_OPEN, ...weigh("scale-2", 53_000, 3000)],
    when: tick(8000),
    events: ["deposit recycle 50000g 58 awarded idle"],
    phase: "idle",
  },
  // Flush, tick, storage
  { name: "flush closes an open session at once (reason shutdown)", given: KITCHEN_BAG, when: flush(4000), events: [`${KITCHEN_DEPOSIT} shutdown`], phase: "idle" },
  { name: "flush without a session: nothing", given: READY, when: flush(4000), events: [], phase: "idle" },
  { name: "tick without a session: nothing", given: READY, when: tick(400_000), events: [], phase: "idle" },
  { name: "storage fault: an identification is refused (fail safe)", given: [...READY, storage("fault", 500)], when: card(ANNA, 1000), events: [], phase: "idle" },
  { name: "storage busy: a session still opens", given: [...READY, storage("busy", 500)], when: card(ANNA, 1000), events: [], phase: "open" },
  { name: "storage fault while open: the session goes on and closes", given: [...KITCHEN_BAG, storage("fault", 3500)], when: tick(8000), events: [`${KITCHEN_DEPOSIT} idle`], phase: "idle" },
];

describe("station machine: sessions (contract section 2), as a transition table", () => {
  it.each(rows)("$name", (row) => {
    const ctx = testContext(row.ctx);
    const { state: from } = run(row.given, ctx);
    const when = Array.isArray(row.when) ? row.when : [row.when];
    const { state, effects } = run(when, ctx, from);
    expect(eventSummary(effects)).toEqual(row.events);
    expect(state.session.phase).toBe(row.phase);
    row.check?.(state);
  });

  it("stamps deposits with the session id, times and close reason", () => {
    const ctx = testContext();
    const { effects } = run([...KITCHEN_BAG, tick(8000)], ctx);
    const opened = effects.find((e) => e.type === "record" && e.session?.op === "put");
    const deposit = recorded(effects).find((e) => e.kind === "deposit");
    expect(deposit?.data).toEqual({
      bin_id: "kitchen",
      category: "food_waste",
      card_id: ANNA,
      reader_id: "reader-2",
      gross_before_g: 12_000,
      gross_after_g: 13_250,
      net_g: 1250,
      points: 2,
      points_reason: "awarded",
      rules_version: "2026-11",
      started_at: iso(1000),
      ended_at: iso(8000),
      session_id: opened?.type === "record" ? opened.session?.id : "missing",
      close_reason: "idle",
    });
  });

  it("persists the session when it opens and at each weight change, and deletes it with its deposits", () => {
    const { effects } = run([...KITCHEN_BAG, tick(8000)]);
    expect(sessionWrites(effects)).toEqual(["put", "put", "delete"]);
    const last = effects.filter((e) => e.type === "record").at(-1);
    expect(last?.type === "record" && last.events.map((e) => e.kind)).toEqual(["deposit"]);
  });

  it("gives the negative_net alarm the grams, negative", () => {
    const { effects } = run([...ANNA_OPEN, ...weigh("scale-1", 11_000, 3000), tick(8000)]);
    const alarm = recorded(effects).find((e) => e.kind === "alarm");
    expect(alarm?.data).toMatchObject({ code: "negative_net", bin_id: "kitchen", net_g: -1000 });
    expect(alarm?.data.session_id).toMatch(/^0{8}-/);
  });

  it("gives the implausible_weight alarm net_g and max_net_g", () => {
    const { effects } = run([...ANNA_OPEN, ...weigh("scale-2", 999_999_000, 3000), tick(8000)]);
    expect(recorded(effects).find((e) => e.kind === "alarm")?.data).toMatchObject({
      code: "implausible_weight",
      bin_id: "recycle",
      net_g: 999_996_000,
      max_net_g: 50_000,
    });
  });

  it("keeps its state plain data: JSON round-trips it", () => {
    const { state } = run([...KITCHEN_BAG, ...weigh("scale-1", 14_000, 5000)]);
    expect(JSON.parse(JSON.stringify(state))).toEqual(state);
  });

  it("does not mutate the state it is given", () => {
    const ctx = testContext();
    const { state: from } = run(KITCHEN_BAG, ctx);
    const snapshot = JSON.stringify(from);
    step(from, tick(8000), ctx);
    step(from, card(BORIS, 4000), ctx);
    expect(JSON.stringify(from)).toBe(snapshot);
  });

  it("nextDeadline: a tick at the deadline changes something, a tick just before does not", () => {
    const ctx = testContext();
    const { state } = run(KITCHEN_BAG, ctx);
    const at = nextDeadline(state, ctx);
    expect(at).toBe(8000);
    expect(eventSummary(step(state, tick(at! - 1), ctx).effects)).toEqual([]);
    expect(eventSummary(step(state, tick(at!), ctx).effects)).toEqual([`${KITCHEN_DEPOSIT} idle`]);
    expect(nextDeadline(initialState(ctx), ctx)).toBeNull();
  });
});

describe("station machine: device links and alarms (contract section 4)", () => {
  it("a clean start with every device present emits no alarm; status says online", () => {
    const ctx = testContext();
    const { state, effects } = run(READY, ctx);
    expect(eventSummary(effects)).toEqual([]);
    expect(statusOf(state, ctx).devices).toEqual({ "scale-1": "online", "scale-2": "online", "reader-1": "online", "reader-2": "online" });
  });

  it("before its port opens a device is starting", () => {
    const ctx = testContext();
    expect(statusOf(initialState(ctx), ctx).devices["scale-1"]).toBe("starting");
  });

  it("a device missing at start is offline with the port's reason; back online (at its first valid frame) is an alarm too", () => {
    const ctx = testContext();
    const missing = run([close("scale-1", 0, "open failed: ENOENT"), open("scale-1", 5000)], ctx);
    expect(eventSummary(missing.effects)).toEqual(["alarm scale_offline scale-1"]);
    expect(recorded(missing.effects)[0]!.data).toMatchObject({ device_id: "scale-1", bin_id: "kitchen", reason: "open failed: ENOENT" });
    // The port is open again, but a streaming indicator proves itself by a valid frame first.
    expect(statusOf(missing.state, ctx).devices["scale-1"]).toBe("offline");
    const back = run([scaleData("scale-1", 5200, [weight(0)])], ctx, missing.state);
    expect(eventSummary(back.effects)).toEqual(["alarm scale_online scale-1"]);
    expect(statusOf(back.state, ctx).devices["scale-1"]).toBe("online");
  });

  it("a scale's port reopened after an outage onto another device (only invalid bytes): never back online, one scale_offline for the whole outage", () => {
    const ctx = testContext();
    const junk = (mono: number) => scaleData("scale-1", mono, [{ kind: "discarded", bytes: new Uint8Array(20), reason: "no header" }], 20);
    const inputs = [open("scale-1", 0), scaleData("scale-1", 100, [weight(0)]), close("scale-1", 1000, "disconnected"), open("scale-1", 3000)];
    for (let t = 3500; t <= 12_000; t += 500) inputs.push(junk(t));
    const { state, effects } = run(inputs, ctx);
    expect(eventSummary(effects)).toEqual(["alarm scale_offline scale-1"]);
    expect(recorded(effects)[0]!.data).toMatchObject({ reason: "disconnected" });
    expect(statusOf(state, ctx).devices["scale-1"]).toBe("offline");
    // What has been learnt since the alarm is in the status.
    expect(statusOf(state, ctx).offline_reasons).toEqual({ "scale-1": "no valid frames" });
    expect(statusOf(run(inputs.slice(0, 4), ctx).state, ctx).offline_reasons).toEqual({ "scale-1": "port reopened, no valid frame yet" });
    // A reader is quiet until a card is shown: its reopened port is online at once.
    const reader = run([open("reader-1", 0), close("reader-1", 1000, "disconnected"), open("reader-1", 3000)], ctx);
    expect(eventSummary(reader.effects)).toEqual(["alarm reader_offline reader-1", "alarm reader_online reader-1"]);
  });

  it("a scale that starts reading no valid weight is logged once at warn (reading and capacity), and at info when it reads one again", () => {
    const ctx = testContext();
    const noticeOf = (effects: ReturnType<typeof run>["effects"]) => effects.flatMap((e) => (e.type === "notice" && e.msg.startsWith("scale reads") ? [[e.level, e.msg, e.fields]] : []));
    const above = run([...READY, ...weigh("scale-1", 75_000, 500)], ctx);
    expect(noticeOf(above.effects)).toEqual([
      ["warn", "scale reads no valid weight (above capacity): no session opens on its bin", { scale: "scale-1", bin: "kitchen", condition: "above_capacity", capacity_g: 60_000, reading_g: 75_000 }],
    ]);
    // Still above: nothing more. Then back to a valid weight: one info line.
    const back = run([...weigh("scale-1", 75_000, 1500), ...weigh("scale-1", 12_000, 2500)], ctx, above.state);
    expect(noticeOf(back.effects)).toEqual([["info", "scale reads a valid weight again", { scale: "scale-1", bin: "kitchen", was: "above_capacity" }]]);
    const over = run([scaleData("scale-2", 3000, [{ kind: "no_weight", reason: "overload" }])], ctx, back.state);
    expect(noticeOf(over.effects)).toEqual([
      ["warn", "scale reads no valid weight (overload): no session opens on its bin", { scale: "scale-2", bin: "recycle", condition: "overload" }],
    ]);
    const under = run(weigh("scale-1", -45_000, 3500), ctx, over.state);
    expect(noticeOf(under.effects)).toEqual([
      ["warn", "scale reads no valid weight (underload): no session opens on its bin", { scale: "scale-1", bin: "kitchen", condition: "underload", reading_g: -45_000 }],
    ]);
  });

  it("a polled scale answering only errors goes offline with 'no valid frames', whatever its poll_ms: a few bytes a poll is enough", () => {
    // MT-SICS `ES` (4 bytes) once a second: 20 bytes in the 5 s window, under the 64 a streaming scale needs.
    const errorsOnly = (polled: boolean) => {
      const ctx = testContext({ scales: testContext().scales.map((s) => (s.id === "scale-1" ? { ...s, polled } : s)) });
      const inputs: StationInput[] = [...READY];
      for (let t = 1000; t <= 8000; t += 1000) inputs.push(scaleData("scale-1", t, [{ kind: "discarded", bytes: new Uint8Array(4), reason: "error answer" }], 4));
      return run(inputs, ctx);
    };
    const polled = errorsOnly(true);
    expect(eventSummary(polled.effects)).toEqual(["alarm scale_offline scale-1"]);
    expect(recorded(polled.effects)[0]!.data).toMatchObject({ reason: "no valid frames" });
    // A streaming indicator sending 4 bytes a second is not judged by them (a stray byte run is not a verdict).
    expect(eventSummary(errorsOnly(false).effects)).toEqual([]);
  });

  it("a scale answering only 'busy' (no weight) for silence_timeout_s: no reading, no session on its bin; its next weight change is unattributed", () => {
    const ctx = testContext();
    const noticeOf = (effects: ReturnType<typeof run>["effects"]) => effects.flatMap((e) => (e.type === "notice" && e.msg.includes("weight (busy)") ? [e.level] : e.type === "notice" && e.msg === "scale reads a weight again" ? [e.level] : []));
    const inputs: StationInput[] = [...READY];
    // MT-SICS `S I` every 200 ms from 300 ms on: 5 s later (the test's silence_timeout_s) the 12 kg is not current.
    for (let t = 300; t <= 5400; t += 200) inputs.push(scaleData("scale-1", t, [{ kind: "ignored", reason: "busy (S I)" }]));
    const busy = run(inputs, ctx);
    expect(busy.state.scales["scale-1"]).toMatchObject({ condition: "no_reading", stable: false, acceptedG: 12_000 });
    expect(noticeOf(busy.effects)).toEqual(["warn"]);
    expect(statusOf(busy.state, ctx).scales["scale-1"]).toBe("no_reading");
    // Anna's card: only the recycle bin (its scale is current) is covered.
    const anna = run([card(ANNA, 5500)], ctx, busy.state);
    expect(anna.state.session).toMatchObject({ phase: "open" });
    const covered = anna.state.session.phase === "open" ? anna.state.session.bins.map((b) => b.binId) : [];
    expect(covered).toEqual(["recycle"]);
    // The balance answers a weight again, 2 kg more: logged, and no one is paid for it.
    const back = run([...weigh("scale-1", 14_000, 7000), tick(60_000)], ctx, anna.state);
    expect(noticeOf(back.effects)).toEqual(["info"]);
    expect(eventSummary(back.effects)).toContain("alarm unattributed_weight_change kitchen");
    expect(recorded(back.effects).filter((e) => e.kind === "deposit" && e.data.bin_id === "kitchen")).toEqual([]);
  });

  it("a session that opens or closes has the retained status published again (its `session` field)", () => {
    const ctx = testContext();
    const ready = run(READY, ctx);
    const statusChanges = (effects: ReturnType<typeof run>["effects"]) => effects.filter((e) => e.type === "status_changed").length;
    const opened = run([card(ANNA, 1000)], ctx, ready.state);
    expect(statusOf(opened.state, ctx).session).toBe("open");
    expect(statusChanges(opened.effects)).toBe(1);
    const weighed = run(weigh("scale-2", 4000, 2000), ctx, opened.state);
    expect(statusChanges(weighed.effects)).toBe(0);
    const closed = run([tick(60_000)], ctx, weighed.state);
    expect(statusOf(closed.state, ctx).session).toBe("idle");
    expect(statusChanges(closed.effects)).toBe(1);
  });

  it("a scale whose frames come too far apart for its window is logged once at warn (the window it needs), and at info when they come in time", () => {
    // The default window (1 s, 3 samples) holds frames at most 500 ms apart; this indicator sends every 550 ms.
    const ctx = testContext({ scales: testContext().scales.map((s) => ({ ...s, stability: { windowMs: 1000, minSamples: 3, toleranceG: 20 } })) });
    const noticeOf = (effects: ReturnType<typeof run>["effects"]) => effects.flatMap((e) => (e.type === "notice" && e.msg.startsWith("scale ") && e.msg.includes("often") ? [[e.level, e.fields]] : []));
    const every = (period: number, from: number, count: number) => Array.from({ length: count }, (_, i) => scaleData("scale-1", from + i * period, [weight(18_000)]));
    // Four late frames are no pattern (a pause); the fifth in a row is.
    const four = run([open("scale-1"), ...every(550, 0, 5)], ctx);
    expect(noticeOf(four.effects)).toEqual([]);
    const slow = run(every(550, 2750, 1), ctx, four.state);
    expect(noticeOf(slow.effects)).toEqual([
      ["warn", { scale: "scale-1", bin: "kitchen", period_ms: 550, stable_window_ms: 1000, stable_min_samples: 3, needed_window_ms: 1700 }],
    ]);
    expect(notices(slow.effects, "warn")[0]).toContain("set stable_window_ms to at least 1700");
    expect(slow.state.scales["scale-1"]!.acceptedG).toBeNull();
    // Still slow: nothing more. Then every 200 ms: one info line, and the scale is stable.
    const still = run(every(550, 3300, 10), ctx, slow.state);
    expect(noticeOf(still.effects)).toEqual([]);
    const fast = run(every(200, 8800, 8), ctx, still.state);
    expect(noticeOf(fast.effects)).toEqual([["info", { scale: "scale-1", bin: "kitchen" }]]);
    expect(fast.state.scales["scale-1"]!.acceptedG).toBe(18_000);
    // A single late frame among timely ones says nothing.
    const pause = run([...every(2000, 11_000, 1), ...every(200, 11_200, 10)], ctx, fast.state);
    expect(noticeOf(pause.effects)).toEqual([]);
  });

  it("no valid frames: garbage over the whole window takes a scale offline once, a valid frame brings it back", () => {
    const ctx = testContext();
    const junk = (mono: number) => scaleData("scale-1", mono, [{ kind: "discarded", bytes: new Uint8Array(20), reason: "no header" }], 20);
    const inputs = [open("scale-1", 0)];
    for (let t = 500; t <= 6000; t += 500) inputs.push(junk(t));
    const { state, effects } = run(inputs, ctx);
    expect(eventSummary(effects)).toEqual(["alarm scale_offline scale-1"]);
    expect(recorded(effects)[0]!.data).toMatchObject({ reason: "no valid frames" });
    expect(notices(effects, "warn").filter((m) => m.includes("never form a valid frame"))).toHaveLength(1);
    expect(statusOf(state, ctx).devices["scale-1"]).toBe("offline");
    const back = run([scaleData("scale-1", 6500, [weight(12_000)])], ctx, state);
    expect(eventSummary(back.effects)).toEqual(["alarm scale_online scale-1"]);
    expect(statusOf(back.state, ctx).devices["scale-1"]).toBe("online");
  });

  it("a noisy line (a third of its bytes discarded, valid frames still coming): the status says so, a warning at most once a minute, clean again after a clean window; no alarm", () => {
    const ctx = testContext();
    const noisyChunk = (mono: number) =>
      scaleData("scale-1", mono, [weight(12_000), { kind: "discarded", bytes: new Uint8Array(20), reason: "no header" }], 60);
    const cleanChunk = (mono: number) => scaleData("scale-1", mono, [weight(12_000)], 40);
    const noisy: StationInput[] = [open("scale-1", 0)];
    for (let t = 100; t <= 75_000; t += 100) noisy.push(noisyChunk(t));
    let { state, effects } = run(noisy, ctx);
    expect(eventSummary(effects)).toEqual([]);
    expect(statusOf(state, ctx).devices["scale-1"]).toBe("online");
    expect(statusOf(state, ctx).noisy_lines).toEqual({ "scale-1": { bytes: expect.any(Number), discarded_bytes: expect.any(Number), window_s: 10 } });
    const line = statusOf(state, ctx).noisy_lines!["scale-1"]!;
    expect(line.discarded_bytes / line.bytes).toBeCloseTo(1 / 3, 2);
    // 75 s of noise: warned at the end of the first window and once more a minute later.
    const warnings = notices(effects, "warn").filter((m) => m.startsWith("serial line of scale-1 is noisy: 33 % of its bytes discarded over 10 s"));
    expect(warnings).toHaveLength(2);
    const clean: StationInput[] = [];
    for (let t = 75_100; t <= 100_000; t += 100) clean.push(cleanChunk(t));
    ({ state, effects } = run(clean, ctx, state));
    expect(statusOf(state, ctx).noisy_lines).toBeUndefined();
    expect(effects.some((e) => e.type === "status_changed")).toBe(true);
    // A quiet reader with a stray bad byte run now and then (all of its bytes, but few): not noise.
    const stray = (mono: number) => readerData("reader-1", mono, [{ kind: "discarded", bytes: new Uint8Array(20), reason: "no STX" }], 20);
    const fewBad: StationInput[] = [open("reader-1", 0)];
    for (let t = 1000; t <= 60_000; t += 1000) fewBad.push(stray(t));
    expect(statusOf(run(fewBad, ctx).state, ctx).noisy_lines).toBeUndefined();
    // Bytes held by the framer and discarded in a later window never make the figures claim more
    // discarded bytes than arrived.
    const late: StationInput[] = [open("scale-1", 0)];
    for (let t = 100; t <= 12_000; t += 100) late.push(scaleData("scale-1", t, [{ kind: "discarded", bytes: new Uint8Array(40), reason: "held" }], 20));
    const lateLine = statusOf(run(late, ctx).state, ctx).noisy_lines?.["scale-1"];
    expect(lateLine?.discarded_bytes).toBe(lateLine?.bytes);
    // Ten times as many such runs are.
    const manyBad: StationInput[] = [open("reader-1", 0)];
    for (let t = 100; t <= 25_000; t += 100) manyBad.push(stray(t));
    expect(Object.keys(statusOf(run(manyBad, ctx).state, ctx).noisy_lines ?? {})).toEqual(["reader-1"]);
  });

  it("no valid frames: a stray byte now and then, or garbage shorter than the window, keeps a device online", () => {
    const stray = [open("reader-1", 0)];
    for (let t = 1000; t <= 120_000; t += 1000) stray.push(readerData("reader-1", t, [], 1));
    expect(eventSummary(run(stray).effects)).toEqual([]);
    const burst = [open("scale-1", 0)];
    for (let t = 100; t <= 4000; t += 100) burst.push(scaleData("scale-1", t, [{ kind: "discarded", bytes: new Uint8Array(30), reason: "x" }], 30));
    expect(eventSummary(run(burst).effects)).toEqual([]);
  });

  it("a quiet reader is not offline", () => {
    const { effects } = run([open("reader-1", 0), tick(600_000)]);
    expect(eventSummary(effects)).toEqual([]);
  });

  it("input for an unknown device is ignored with an error notice, not thrown", () => {
    const { effects } = run([scaleData("scale-9", 0, [weight(1)]), open("nobody", 0)]);
    expect(notices(effects, "error")).toHaveLength(2);
  });
});

describe("station machine: readers (contract section 4 'Readers')", () => {
  const held = (cardId: string, from: number, to: number, readerId = "reader-1") => {
    const out: StationInput[] = [];
    for (let t = from; t <= to; t += 50) out.push(readerData(readerId, t, [tag(cardId)]));
    return out;
  };

  it("min_reads 2: a one-off frame is noise; two frames within repeat_gap_ms open a session", () => {
    const once = run([...READY, readerData("reader-1", 1000, [tag(ANNA)]), tick(2000)]);
    expect(once.state.session.phase).toBe("idle");
    expect(once.state.counters.devices["reader-1"]!.noise).toBe(1);
    const twice = run([...READY, ...held(ANNA, 1000, 1050)]);
    expect(twice.state.session.phase).toBe("open");
  });

  it("a tag held for 5 s is one presentation", () => {
    const { state } = run([...READY, ...held(ANNA, 1000, 6000)]);
    expect(state.counters.sessionsOpened).toBe(1);
  });

  it("draws the line at repeat_gap_ms: 499 ms apart is one presentation, 500 ms two", () => {
    const one = run([...READY, readerData("reader-2", 1000, [tag(ANNA)]), readerData("reader-2", 1499, [tag(BORIS)]), readerData("reader-2", 1998, [tag(BORIS)])]);
    expect(one.state.counters.sessionsOpened).toBe(2);
    const near = run([...READY, readerData("reader-2", 1000, [tag(ANNA)]), readerData("reader-2", 1499, [tag(ANNA)])]);
    expect(near.state.counters.sessionsOpened).toBe(1);
  });

  it("noise frames are counted, never presented, and logged at most once a minute", () => {
    const noise = (t: number) => readerData("reader-1", t, [{ kind: "noise", bytes: new Uint8Array(14), reason: "all-zero tag" }]);
    const { state, effects } = run([...READY, noise(1000), noise(1050), noise(30_000), noise(61_000)]);
    expect(state.session.phase).toBe("idle");
    expect(state.counters.devices["reader-1"]!.noise).toBe(4);
    expect(notices(effects, "warn").filter((m) => m.startsWith("reader noise"))).toHaveLength(2);
  });

  it("noise within the minute is logged with its count when the minute ends, without waiting for more noise", () => {
    const noise = (t: number) => readerData("reader-1", t, [{ kind: "noise", bytes: new Uint8Array(14), reason: "all-zero tag" }]);
    const counts = (effects: ReturnType<typeof run>["effects"]) => effects.flatMap((e) => (e.type === "notice" && e.msg.startsWith("reader noise") ? [e.fields?.count] : []));
    const ctx = testContext();
    const first = run([...READY, noise(1000), noise(1050), noise(2000)], ctx);
    expect(counts(first.effects)).toEqual([1]);
    // The runner ticks at the deadline: the two held back are logged then, and nothing is due after.
    expect(nextDeadline(first.state, ctx)).toBe(61_000);
    const due = run([tick(60_999), tick(61_000)], ctx, first.state);
    expect(counts(due.effects)).toEqual([2]);
    expect(nextDeadline(due.state, ctx)).toBeNull();
    expect(due.state.counters.devices["reader-1"]!.noise).toBe(3);
  });

  it("a flood of distinct one-off ids stays bounded", () => {
    const inputs = [...READY];
    for (let i = 0; i < 500; i++) inputs.push(readerData("reader-1", 1000 + i, [tag(String(i).padStart(10, "0"))]));
    const { state } = run(inputs);
    expect(state.readers["reader-1"]!.candidates.length).toBeLessThanOrEqual(32);
    expect(state.session.phase).toBe("idle");
  });
});
