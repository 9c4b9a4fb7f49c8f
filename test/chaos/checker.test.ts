/**
 * The chaos suite's invariant checker (checker.ts) on hand-made station days: for each invariant a
 * day that keeps it (no violation) and days that break it, each caught by a sentence that names
 * the seq, card, visit or door.
 */
import { describe, expect, it } from "vitest";
import { check, expectedPoints } from "./checker.js";
import type { DoorSample, Received, Truth, Visit } from "./truth.js";

const STATION = "st-chaos";
const SESSION_A = "01a227bb-2c41-7a0e-8b3e-55c1d0e4f6a2";
const SESSION_B = "01a227bb-2c41-7a0e-8b3e-55c1d0e4f6b3";

/** A station day with two bins (kitchen 1.16 points/kg from 100 g, paper 0.29/kg) and the given parts. */
function truth(parts: Partial<Truth> = {}): Truth {
  return {
    stationId: STATION,
    visits: [],
    disturbances: [],
    rules: {
      kitchen: { category: "food_waste", pointsPerKg: "1.16", minNetG: 100 },
      paper: { category: "recyclable", pointsPerKg: "0.29", minNetG: 0 },
    },
    doorSamples: [],
    doorOpenTimeoutMs: 15_000,
    ...parts,
  };
}

/** Visit `n`: a confirmed resident at kitchen who put 1250 g in, unless `parts` says otherwise. */
function visit(n: number, parts: Partial<Visit> = {}): Visit {
  const binId = parts.binId ?? "kitchen";
  return {
    n,
    cardId: `card-${n}`,
    role: "resident",
    binId,
    door: false,
    confirmed: true,
    moves: [{ binId, deltaG: 1250, at: 1000 * n + 500 }],
    killsDuring: 0,
    startedAt: 1000 * n,
    endedAt: 1000 * n + 900,
    ...parts,
  };
}

/** A CloudEvent of `kind` with `seq` and `data` as the station sends it (id derived from seq unless given). */
function event(kind: string, seq: number, data: Record<string, unknown>, id = `01a227bc-8d6b-76f1-9312-${String(seq).padStart(12, "0")}`): Received {
  const doc = {
    specversion: "1.0",
    id,
    source: `smartbin/${STATION}`,
    type: `smartbin.${kind}.v1`,
    time: "2026-11-29T14:36:38.123Z",
    subject: typeof data.bin_id === "string" ? data.bin_id : STATION,
    datacontenttype: "application/json",
    data: { station_id: STATION, seq, ...data, boot_id: "5b1f9a0e-3c0a-4f57-9a52-2b3c4d5e6f70", mono_ms: 1000 + seq, clock_synced: true },
  };
  return { topic: `smartbin/${STATION}/events/${kind}`, payload: JSON.stringify(doc) };
}

/** The deposit a correct station sends for visit `v` into its bin: net_g the moves, points by the rule. */
function deposit(seq: number, v: Visit, over: Record<string, unknown> = {}): Received {
  const netG = v.moves.filter((m) => m.binId === v.binId).reduce((a, m) => a + m.deltaG, 0);
  const want = expectedPoints(netG, truth().rules[v.binId]);
  return event("deposit", seq, {
    bin_id: v.binId, category: truth().rules[v.binId]?.category, card_id: v.cardId, reader_id: "reader-1",
    gross_before_g: 10_000, gross_after_g: 10_000 + netG, net_g: netG, points: want.points, points_reason: want.reason,
    rules_version: "2026-11", started_at: "2026-11-29T14:36:21.002Z", ended_at: "2026-11-29T14:36:37.950Z",
    session_id: v.sessionId ?? SESSION_A, close_reason: "idle", ...over,
  });
}

/** The collection a correct station sends for collector visit `v`. */
function collection(seq: number, v: Visit, over: Record<string, unknown> = {}): Received {
  const removed = -v.moves.reduce((a, m) => a + m.deltaG, 0);
  return event("collection", seq, {
    bin_id: v.binId, card_id: v.cardId, removed_g: removed, gross_before_g: 30_000, gross_after_g: 30_000 - removed,
    rules_version: "2026-11", session_id: v.sessionId ?? SESSION_A,
    started_at: "2026-11-29T14:36:21.002Z", ended_at: "2026-11-29T14:36:37.950Z", close_reason: "idle", ...over,
  });
}

function alarm(seq: number, code: string, details: Record<string, unknown> = {}): Received {
  return event("alarm", seq, { code, message: code, ...details });
}

function interrupted(seq: number, v: Visit, binIds = [v.binId]): Received {
  return alarm(seq, "session_interrupted", {
    session_id: v.sessionId ?? SESSION_A, card_id: v.cardId, bin_ids: binIds, baselines_g: Object.fromEntries(binIds.map((b) => [b, 10_000])),
  });
}

describe("envelope and deduplication (invariant 1)", () => {
  const v = visit(1);

  it("accepts a resend of the same bytes and counts it as a duplicate", () => {
    const d = deposit(1, v);
    const verdict = check(truth({ visits: [v] }), [d, d, d]);
    expect(verdict.violations).toEqual([]);
    expect(verdict.stats).toMatchObject({ events: 1, duplicates: 2, deposits: 1, maxSeq: 1 });
  });

  it("catches one id received with different bytes", () => {
    const first = deposit(1, v);
    const changed = { ...first, payload: first.payload.replace('"clock_synced":true', '"clock_synced":false') };
    expect(check(truth({ visits: [v] }), [first, changed]).violations).toEqual([
      expect.stringMatching(/^seq 1 deposit \(id .*\): message #2 .* repeats the id with different bytes/),
    ]);
  });

  it("catches two ids with the same seq", () => {
    const verdict = check(truth({ visits: [v] }), [
      deposit(1, v),
      event("alarm", 1, { code: "scale_offline", message: "scale-1 offline" }, "01a227bc-8d6b-76f1-9312-7ebc6e2d33fd"),
    ]);
    expect(verdict.violations).toContainEqual(expect.stringMatching(/^seq 1 carried by 2 different ids: .*\(deposit\), .*\(alarm\)/));
  });

  it("catches a payload that is not JSON, or not a CloudEvent", () => {
    const verdict = check(truth(), [
      { topic: `smartbin/${STATION}/events/alarm`, payload: '{"specversion":"1.0",' },
      { topic: `smartbin/${STATION}/events/alarm`, payload: '{"id":"x","type":"smartbin.alarm.v1","data":{"seq":0}}' },
    ]);
    expect(verdict.violations).toEqual([
      expect.stringMatching(/^message #1 on smartbin\/st-chaos\/events\/alarm: payload is not JSON/),
      expect.stringMatching(/^message #2 .*: not a CloudEvent with an id/),
    ]);
    expect(verdict.stats.malformed).toBe(2);
  });

  it("catches another station's id, a wrong source and the wrong topic", () => {
    const other = event("alarm", 1, { code: "fire", message: "fire", station_id: "st-other" });
    const wrongTopic = { ...alarm(2, "fire_cleared"), topic: `smartbin/${STATION}/events/deposit` };
    const wrongSource = { ...alarm(3, "tamper"), payload: alarm(3, "tamper").payload.replace(`smartbin/${STATION}`, "smartbin/st-x") };
    expect(check(truth(), [other, wrongTopic, wrongSource]).violations).toEqual([
      expect.stringMatching(/^seq 1 alarm .*: data.station_id "st-other", expected "st-chaos"/),
      expect.stringMatching(/^seq 2 alarm .*: received on smartbin\/st-chaos\/events\/deposit, expected …\/st-chaos\/events\/alarm/),
      expect.stringMatching(/^seq 3 alarm .*: source "smartbin\/st-x"/),
    ]);
  });
});

describe("seq is gap-free (invariant 2)", () => {
  it("accepts 1..n in any arrival order", () => {
    const verdict = check(truth(), [alarm(2, "fire_cleared"), alarm(1, "fire"), alarm(3, "tamper")]);
    expect(verdict.violations).toEqual([]);
    expect(verdict.stats).toMatchObject({ maxSeq: 3, alarms: 3, "alarm.fire": 1 });
  });

  it("lists the missing seqs compactly", () => {
    const received = [1, 2, 6, 8, 13].map((s) => alarm(s, "tamper"));
    expect(check(truth(), received).violations).toEqual(["missing seq 3-5, 7, 9-12 (received up to 13, the station's highest 13)"]);
  });

  it("accepts the jump right before storage_recovered (README: seq continues above the high-water mark after a salvage), no other", () => {
    const received = [alarm(1, "tamper"), alarm(2, "tamper_cleared"), alarm(1002, "storage_recovered"), alarm(1003, "tamper")];
    const verdict = check(truth(), received);
    expect(verdict.violations).toEqual([]);
    expect(verdict.stats).toMatchObject({ seqSkippedBySalvage: 999 });
    const elsewhere = [alarm(1, "tamper"), alarm(1000, "tamper_cleared"), alarm(1002, "storage_recovered")];
    expect(check(truth(), elsewhere).violations).toEqual(["missing seq 2-999 (received up to 1002, the station's highest 1002)"]);
  });

  it("accepts an event that came only through replay after a broker kill right after its PUBACK, no other", () => {
    const received = [alarm(1, "tamper"), alarm(2, "tamper_cleared")];
    const lost = check(truth({ replayOnly: [{ seq: 2, publishedAt: 10_000 }], brokerKills: [11_000] }), received);
    expect(lost.violations).toEqual([]);
    expect(lost.stats).toMatchObject({ lostByBrokerKill: 1 });
    const dropped = check(truth({ replayOnly: [{ seq: 2, publishedAt: 10_000 }], brokerKills: [20_000] }), received);
    expect(dropped.violations).toEqual([expect.stringMatching(/^seq 2: marked published at t=10000 ms but reached the central subscriber only through replay/)]);
  });

  it("accepts an event published after a broker kill before the central subscribed again (the broker had forgotten it), no other", () => {
    const received = [alarm(1, "tamper"), alarm(2, "tamper_cleared")];
    const base = { replayOnly: [{ seq: 2, publishedAt: 10_000 }], brokerKills: [5_000] };
    const unrouted = check(truth({ ...base, centralResubscribed: [10_100] }), received);
    expect(unrouted.violations).toEqual([]);
    expect(unrouted.stats).toMatchObject({ publishedBeforeResubscribe: 1 });
    // Subscribed again well before the PUBACK: the broker routed it, so it was lost after that.
    const routed = check(truth({ ...base, centralResubscribed: [6_000] }), received);
    expect(routed.violations).toEqual([expect.stringMatching(/^seq 2: marked published at t=10000 ms but reached the central subscriber only through replay/)]);
    // No kill before it: nothing was forgotten.
    const noKill = check(truth({ replayOnly: [{ seq: 2, publishedAt: 10_000 }], brokerKills: [], centralResubscribed: [10_100] }), received);
    expect(noKill.violations).toHaveLength(1);
  });

  it("catches open session rows left in the database after the final stop", () => {
    expect(check(truth({ storedSessionsLeft: 1 }), []).violations).toEqual([expect.stringContaining("1 open session rows left")]);
    expect(check(truth({ storedSessionsLeft: 0 }), []).violations).toEqual([]);
  });

  it("counts the tail the central never received up to the station's highest seq", () => {
    const received = [1, 2, 3].map((s) => alarm(s, "tamper"));
    expect(check(truth({ lastSeq: 3 }), received).violations).toEqual([]);
    expect(check(truth({ lastSeq: 5 }), received).violations).toEqual(["missing seq 4-5 (received up to 3, the station's highest 5)"]);
    expect(check(truth({ lastSeq: 2 }), received).violations).toEqual(["seq 3 received, above the station's highest seq 2"]);
  });
});

describe("deposits (invariant 3)", () => {
  const v = visit(1, { sessionId: SESSION_B });

  it("accepts a deposit that matches its visit, with exact points", () => {
    const paper = visit(2, { binId: "paper", moves: [{ binId: "paper", deltaG: 100_000, at: 2500 }] });
    const verdict = check(truth({ visits: [v, paper] }), [deposit(1, v), deposit(2, paper)]);
    expect(verdict.violations).toEqual([]);
    // 1250 g at 1.16/kg = 1.45 -> 1; 100 kg at 0.29/kg = 29 (binary floats give 28.999…).
    expect(verdict.stats).toMatchObject({ deposits: 2, pointsAwarded: 30, visits: 2, confirmedVisits: 2 });
  });

  it("computes points from the decimal text, never through floats", () => {
    const rule = { category: "recyclable", pointsPerKg: "0.29", minNetG: 0 };
    expect(Math.floor((100_000 * 0.29) / 1000)).toBe(28);
    expect(expectedPoints(100_000, rule)).toEqual({ points: 29, reason: "awarded" });
    expect(expectedPoints(99, { ...rule, minNetG: 100 })).toEqual({ points: 0, reason: "below_minimum" });
    expect(expectedPoints(5000, undefined)).toEqual({ points: 0, reason: "no_rule" });
  });

  it("catches points computed through a float", () => {
    const paper = visit(2, { binId: "paper", moves: [{ binId: "paper", deltaG: 100_000, at: 2500 }] });
    expect(check(truth({ visits: [paper] }), [deposit(1, paper, { points: 28 })]).violations).toEqual([
      "seq 1 deposit (card card-2) bin paper: 28 points for 100000 g at 0.29/kg, expected 29",
    ]);
  });

  it("catches negative or fractional points and a wrong points_reason", () => {
    const light = visit(3, { moves: [{ binId: "kitchen", deltaG: 60, at: 3500 }] });
    const verdict = check(truth({ visits: [v, light] }), [deposit(1, v, { points: -1 }), deposit(2, light, { points_reason: "awarded" }), deposit(3, v, { points: 1.5 })]);
    expect(verdict.violations).toEqual(
      expect.arrayContaining([
        "seq 1 deposit (card card-1) bin kitchen: points -1 is not a non-negative integer",
        "seq 2 deposit (card card-3) bin kitchen: points_reason awarded, expected below_minimum",
        "seq 3 deposit (card card-1) bin kitchen: points 1.5 is not a non-negative integer",
      ]),
    );
  });

  it("catches a deposit for a card no visit used", () => {
    const stranger = deposit(1, visit(9));
    expect(check(truth({ visits: [v] }), [stranger]).violations).toContainEqual(
      "seq 1 deposit (card card-9): event for a session that never happened (no visit used card card-9)",
    );
  });

  it("catches a deposit for an unconfirmed visit, a collector or a bin without weight", () => {
    const walkedAway = visit(2, { confirmed: false, moves: [] });
    const collector = visit(3, { role: "collector", moves: [{ binId: "kitchen", deltaG: -5000, at: 3500 }] });
    const received = [deposit(1, v, { bin_id: "paper" }), deposit(2, walkedAway, { net_g: 1250 }), deposit(3, collector), collection(4, collector)];
    expect(check(truth({ visits: [v, walkedAway, collector] }), received).violations).toEqual([
      "seq 1 deposit (card card-1) bin paper: visit #1 (card card-1, resident, bin kitchen) moved no weight into that bin",
      "seq 2 deposit (card card-2) bin kitchen: visit #2 (card card-2, resident, bin kitchen) was never confirmed (the visitor moved no weight)",
      "seq 3 deposit (card card-3) bin kitchen: a deposit for visit #3 (card card-3, collector, bin kitchen), which is no resident",
      "visit #1 (card card-1, resident, bin kitchen) bin kitchen (1250 g in): award lost: no deposit and no session_interrupted alarm",
    ]);
  });

  it("catches a doubled award, another session and a wrong net_g", () => {
    const verdict = check(truth({ visits: [v] }), [deposit(1, v), deposit(2, v, { session_id: SESSION_A, net_g: 1200, gross_after_g: 11_200 })]);
    expect(verdict.violations).toEqual([
      `seq 2 deposit (card card-1): session_id ${SESSION_A}, but visit #1 (card card-1, resident, bin kitchen) had session ${SESSION_B}`,
      "seq 2 deposit (card card-1) bin kitchen: net_g 1200 g, but visit #1 (card card-1, resident, bin kitchen) moved 1250 g",
      "visit #1 (card card-1, resident, bin kitchen) bin kitchen (1250 g in): 2 deposits (seq 1 deposit, seq 2 deposit): a doubled award",
    ]);
  });

  it("catches gross weights that disagree with net_g, and the wrong category", () => {
    expect(check(truth({ visits: [v] }), [deposit(1, v, { gross_after_g: 10_000, category: "residual" })]).violations).toEqual([
      "seq 1 deposit (card card-1) bin kitchen: gross_before_g 10000 and gross_after_g 10000 do not differ by net_g 1250",
      "seq 1 deposit (card card-1) bin kitchen: category residual, expected food_waste",
    ]);
  });
});

describe("every confirmed resident visit is credited once per bin (invariant 4)", () => {
  const killed = visit(1, { killsDuring: 1, sessionId: SESSION_A, moves: [{ binId: "kitchen", deltaG: 700, at: 1200 }, { binId: "paper", deltaG: 300, at: 1300 }, { binId: "kitchen", deltaG: 50, at: 1400 }] });

  it("accepts a deposit for one bin and a session_interrupted alarm for the other", () => {
    const received = [deposit(1, killed, { net_g: 750, gross_after_g: 10_750, points: 0, points_reason: "awarded", close_reason: "restart" }), interrupted(2, killed, ["paper", "glass"])];
    const verdict = check(truth({ visits: [killed] }), received);
    expect(verdict.violations).toEqual([]);
    expect(verdict.stats).toMatchObject({ interruptedCredits: 1, "alarm.session_interrupted": 1 });
  });

  it("catches an award lost in a kill", () => {
    const received = [deposit(1, killed, { net_g: 750, gross_after_g: 10_750, points: 0 })];
    expect(check(truth({ visits: [killed] }), received).violations).toEqual([
      "visit #1 (card card-1, resident, bin kitchen, 1 kill during) bin paper (300 g in): award lost: no deposit and no session_interrupted alarm",
    ]);
  });

  it("counts, without a violation, an award lost to a kill while another process held the database lock (README, Busy); a double is still one", () => {
    const busy = { ...killed, killedWhileBusy: true };
    const one = [deposit(1, busy, { net_g: 750, gross_after_g: 10_750, points: 0 })];
    const verdict = check(truth({ visits: [busy] }), one);
    expect(verdict.violations).toEqual([]);
    expect(verdict.stats).toMatchObject({ lostInBusyWindow: 1 });
    const twice = [...one, deposit(2, busy, { net_g: 750, gross_after_g: 10_750, points: 0 })];
    expect(check(truth({ visits: [busy] }), twice).violations).toEqual([expect.stringContaining("a doubled award")]);
  });

  it("accepts weight moved while the scale was unplugged as seen or not seen, nothing else", () => {
    const unplugged = visit(1, { sessionId: SESSION_A, moves: [{ binId: "kitchen", deltaG: 700, at: 1200 }, { binId: "kitchen", deltaG: 300, at: 1300, uncertain: true }] });
    for (const net of [700, 1000]) {
      const got = [deposit(1, unplugged, { net_g: net, gross_after_g: 10_000 + net, points: Math.floor((net * 116) / 100_000) })];
      expect(check(truth({ visits: [unplugged] }), got).violations, `${net} g`).toEqual([]);
    }
    const wrong = [deposit(1, unplugged, { net_g: 300, gross_after_g: 10_300, points: 0 })];
    expect(check(truth({ visits: [unplugged] }), wrong).violations).toEqual([expect.stringContaining("net_g 300 g, but")]);
    // Only unplugged weight: no deposit is owed.
    const only = visit(2, { moves: [{ binId: "kitchen", deltaG: 500, at: 1300, uncertain: true }] });
    expect(check(truth({ visits: [only] }), []).violations).toEqual([]);
  });

  it("accepts the next visit's weight in a deposit only when that visit's session was lost to a kill while the database was locked", () => {
    const first = visit(1, { sessionId: SESSION_A, moves: [{ binId: "kitchen", deltaG: 700, at: 1200 }] });
    const lostNext = visit(2, { sessionId: SESSION_B, killedWhileBusy: true, moves: [{ binId: "kitchen", deltaG: 300, at: 2200 }] });
    const merged = [deposit(1, first, { net_g: 1000, gross_after_g: 11_000, points: 1 })];
    const verdict = check(truth({ visits: [first, lostNext] }), merged);
    expect(verdict.violations).toEqual([]);
    expect(verdict.stats).toMatchObject({ misattributedInBusyWindow: 1, lostInBusyWindow: 1 });
    const notLost = { ...lostNext, killedWhileBusy: false };
    expect(check(truth({ visits: [first, notLost] }), merged).violations).toEqual([
      expect.stringContaining("net_g 1000 g, but visit #1"),
      expect.stringContaining("visit #2 (card card-2, resident, bin kitchen) bin kitchen (300 g in): award lost"),
    ]);
  });

  it("catches a bin credited by a deposit and a session_interrupted alarm both", () => {
    const received = [deposit(1, killed, { net_g: 750, gross_after_g: 10_750, points: 0 }), interrupted(2, killed, ["kitchen", "paper"])];
    expect(check(truth({ visits: [killed] }), received).violations).toEqual([
      "visit #1 (card card-1, resident, bin kitchen, 1 kill during) bin kitchen (750 g in): both a deposit (seq 1 deposit) and session_interrupted (seq 2 alarm)",
    ]);
  });

  it("catches a session_interrupted alarm for a card no visit used", () => {
    expect(check(truth({ visits: [] }), [interrupted(1, visit(4))]).violations).toEqual([
      "seq 1 alarm (card card-4): event for a session that never happened (no visit used card card-4)",
    ]);
  });

  it("owes nothing below changeThresholdG", () => {
    const crumbs = visit(2, { moves: [{ binId: "kitchen", deltaG: 30, at: 2500 }] });
    expect(check(truth({ visits: [crumbs], changeThresholdG: 40 }), []).violations).toEqual([]);
    expect(check(truth({ visits: [crumbs] }), []).violations).toHaveLength(1);
  });
});

describe("collections (invariant 5)", () => {
  const collector = visit(1, { role: "collector", moves: [{ binId: "kitchen", deltaG: -8000, at: 1500 }, { binId: "kitchen", deltaG: -2000, at: 1600 }] });

  it("accepts one collection of the grams taken out", () => {
    const verdict = check(truth({ visits: [collector] }), [collection(1, collector)]);
    expect(verdict.violations).toEqual([]);
    expect(verdict.stats.collections).toBe(1);
  });

  it("catches a wrong removed_g, a second collection and one for a resident", () => {
    const resident = visit(2);
    const received = [collection(1, collector, { removed_g: 8000, gross_after_g: 22_000 }), collection(2, collector), collection(3, resident, { removed_g: 1250 }), deposit(4, resident)];
    expect(check(truth({ visits: [collector, resident] }), received).violations).toEqual([
      "seq 1 collection (card card-1) bin kitchen: removed_g 8000 g, but visit #1 (card card-1, collector, bin kitchen) moved 10000 g",
      "seq 3 collection (card card-2) bin kitchen: a collection for visit #2 (card card-2, resident, bin kitchen), which is no collector",
      "visit #1 (card card-1, collector, bin kitchen) bin kitchen (10000 g out): 2 collections (seq 1 collection, seq 2 collection): a doubled collection",
    ]);
  });

  it("catches a lost collection, and accepts session_interrupted instead", () => {
    expect(check(truth({ visits: [collector] }), []).violations).toEqual([
      "visit #1 (card card-1, collector, bin kitchen) bin kitchen (10000 g out): collection lost: no collection and no session_interrupted alarm",
    ]);
    expect(check(truth({ visits: [collector] }), [interrupted(1, collector)]).violations).toEqual([]);
  });
});

/** Samples of door `kitchen` every 50 ms from `from` ms: `states` is one letter pair per sample (o/c door, L/U lock). */
function doorSamples(from: number, states: string, inVisit = true): DoorSample[] {
  return states.split(" ").map((s, i) => ({ binId: "kitchen", at: from + 50 * i, closed: s[0] === "c", unlocked: s[1] === "U", inVisit }));
}

/** `n` samples of the same state. */
const times = (state: string, n: number) => Array(n).fill(state).join(" ");

describe("doors (invariant 6)", () => {
  it("accepts a visit: unlocked, opened, closed, locked at once", () => {
    const samples = doorSamples(0, `cL ${times("cU", 10)} ${times("oU", 10)} cU cU cL cL`);
    const verdict = check(truth({ doorSamples: samples }), []);
    expect(verdict.violations).toEqual([]);
    expect(verdict.stats).toMatchObject({ doorSamples: 25, doorStretches: 1 });
  });

  it("catches a closed door still unlocked 400 ms after it closed (the session's idle close is 1 s: a door locked only then is caught)", () => {
    const samples = doorSamples(1000, `oU ${times("cU", 10)} cL`);
    expect(check(truth({ doorSamples: samples }), []).violations).toEqual([
      "door kitchen: closed at t=1050 ms, still unlocked at t=1500 ms (locked within 400 ms expected)",
    ]);
    expect(check(truth({ doorSamples: doorSamples(1000, `oU ${times("cU", 9)} cL`) }), []).violations).toEqual([]);
  });

  it("forgives a door whose station went down before the second was over (a new stretch)", () => {
    const samples = [...doorSamples(1000, `oU ${times("cU", 5)}`), ...doorSamples(3000, times("cL", 5))];
    const verdict = check(truth({ doorSamples: samples }), []);
    expect(verdict.violations).toEqual([]);
    expect(verdict.stats.doorStretches).toBe(2);
  });

  it("catches a closed door left unlocked outside any visit for more than 1.5 s", () => {
    const ok = doorSamples(0, times("cU", 30), false); // 1450 ms
    const bad = doorSamples(10_000, times("cU", 32), false); // 1550 ms
    expect(check(truth({ doorSamples: ok }), []).violations).toEqual([]);
    expect(check(truth({ doorSamples: bad }), []).violations).toEqual([
      "door kitchen: closed and unlocked outside any visit from t=10000 to t=11550 ms (1550 ms > 1500 ms)",
    ]);
  });

  it("catches a closed door unlocked past open_timeout_s + 2 s, even in a visit", () => {
    const ok = doorSamples(0, times("cU", 340)); // 16950 ms of a 15 s timeout
    const bad = doorSamples(0, times("cU", 342)); // 17050 ms
    expect(check(truth({ doorSamples: ok }), []).violations).toEqual([]);
    expect(check(truth({ doorSamples: bad }), []).violations).toEqual([
      "door kitchen: closed and unlocked from t=0 to t=17050 ms (17050 ms > open timeout + 2000 = 17000 ms)",
    ]);
  });
});

describe("disturbances and unattributed weight (invariant 7)", () => {
  it("counts them, seen or not, without a violation", () => {
    const verdict = check(
      truth({ disturbances: [{ binId: "kitchen", deltaG: 300, at: 5000 }, { binId: "paper", deltaG: -200, at: 6000 }] }),
      [alarm(1, "unattributed_weight_change", { bin_id: "kitchen", delta_g: 300, gross_before_g: 1000, gross_after_g: 1300 })],
    );
    expect(verdict.violations).toEqual([]);
    expect(verdict.stats).toMatchObject({ disturbances: 2, "alarm.unattributed_weight_change": 1 });
  });
});
