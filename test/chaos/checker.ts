/**
 * The invariant checker of the chaos suite (issue 12): compares what the simulation knows happened
 * (truth.ts `Truth`) with what a central subscriber received (`Received[]`) and lists every broken
 * promise of the contract as a sentence naming the seq, card, visit or door to debug it by.
 * Pure: no I/O, no clock; the chaos run and the unit tests (checker.test.ts) call the same function.
 */
import type { DoorSample, Received, Rule, Truth, Verdict, Visit } from "./truth.js";

/**
 * A door closed by its visitor reads locked within this, ms (contract 2, "Sessions with doors":
 * "when it closes again it is locked at once"; debounce and sampling take the rest).
 */
export const LOCK_AFTER_CLOSE_MS = 400;
/** Two samples of one door further apart than this (ms): the station was down between them (a new stretch). */
export const STRETCH_GAP_MS = 500;
/**
 * Longest a closed door may read unlocked outside any visit, ms (contract 2, "GPIO and doors": the
 * safe state, locked, "whenever no session needs them otherwise").
 */
export const UNLOCKED_OUTSIDE_VISIT_MS = 1500;
/** Slack on `open_timeout_s` for a closed unlocked door, ms (contract 2: "locked again after `open_timeout_s`"). */
export const OPEN_TIMEOUT_SLACK_MS = 2000;
/** The stats key counting each event kind (`smartbin.<kind>.v1`); other kinds count only in `events`. */
const KIND_STATS: Partial<Record<string, string>> = {
  deposit: "deposits",
  collection: "collections",
  alarm: "alarms",
  maintenance: "maintenance",
  command: "commands",
};
/** Missing seq ranges listed in one violation before the rest are only counted. */
const MAX_RANGES_LISTED = 20;

/** One event, its first copy: the envelope's `id`, the kind from `type` (`smartbin.<kind>.v1`), `data`. */
interface Event {
  id: string;
  kind: string;
  seq: number;
  data: Data;
  /** `seq 17 deposit`: how violations name it. */
  label: string;
}

/** What one (visit, bin) with weight moved is owed: a deposit (resident) or collection (collector), or a `session_interrupted`. */
interface Credit {
  visit: Visit;
  binId: string;
  /**
   * Grams put in (resident, sum of positive moves) or taken out (collector, minus the sum of
   * negative moves) that the station must see: the moves it weighed with its scale plugged in.
   */
  expectedG: number;
  /** Grams of moves made while the bin's scale was unplugged (`WeightMove.uncertain`): each may or may not be seen. */
  uncertainG: number[];
  /** Whether the station must account for it: `expectedG` reaches `changeThresholdG` (contract 2, "Sessions"). */
  required: boolean;
  events: string[];
  interrupted: string[];
}

type Data = Record<string, unknown>;

/** Adds `n` to the count `key` of `stats`. */
const bump = (stats: Record<string, number>, key: string, n: number) => {
  stats[key] = (stats[key] ?? 0) + n;
};

const isObject = (v: unknown): v is Data => typeof v === "object" && v !== null && !Array.isArray(v);
const text = (d: Data, key: string): string | undefined => (typeof d[key] === "string" ? d[key] : undefined);
const int = (d: Data, key: string): number | undefined => (Number.isSafeInteger(d[key]) ? (d[key] as number) : undefined);

/**
 * Checks every invariant of issue 12 and counts what was received.
 *
 * 1. Envelope (contract 4): a payload that is no JSON CloudEvent with `id`, `type`
 *    `smartbin.<kind>.v1` and an integer `data.seq` >= 1 is a violation; `specversion` "1.0",
 *    `source` `smartbin/<station>`, `data.station_id` the station, `data.boot_id` and `data.mono_ms`
 *    present, the topic ending in `<station>/events/<kind>`. Copies of one `id` are byte-identical
 *    (a resend is the same message); two ids never share a seq.
 * 2. `seq` is gap-free: the unique seqs are exactly 1..max (contract 4, `data.seq`).
 * 3. Deposits (contract 2 "Sessions", 3 "Points"): see {@link checkClaims}, {@link expectedPoints}.
 * 4. Every confirmed resident visit is credited once per bin it put weight into: a deposit or a
 *    `session_interrupted` alarm naming its card and the bin (contract 2, "Restart mid-session").
 * 5. The same for collectors and `smartbin.collection.v1` with `removed_g` (contract 2, "Roles").
 * 6. Doors, per stretch of samples (see {@link checkDoors}).
 * 7. Disturbances and `unattributed_weight_change` alarms are only counted.
 *
 * `stats`: `events` (unique ids), `duplicates` (copies beyond the first), `malformed`, `maxSeq`,
 * `deposits`, `collections`, `alarms`, `alarm.<code>`, `maintenance`, `commands`, `pointsAwarded`
 * (sum over deposits), `interruptedCredits`, `visits`, `confirmedVisits`, `disturbances`,
 * `doorSamples`, `doorStretches`.
 */
export function check(truth: Truth, received: Received[]): Verdict {
  const violations: string[] = [];
  const stats: Record<string, number> = {
    ...Object.fromEntries([...Object.values(KIND_STATS), "events", "duplicates", "malformed", "maxSeq"].map((k) => [k, 0])),
    pointsAwarded: 0,
    interruptedCredits: 0,
    visits: truth.visits.length,
    confirmedVisits: truth.visits.filter((v) => v.confirmed).length,
    disturbances: truth.disturbances.length,
    doorSamples: truth.doorSamples.length,
    doorStretches: 0,
  };
  const events = dedupe(truth.stationId, received, violations, stats);
  checkSeq(events, truth.lastSeq, violations, stats);
  for (const ev of events) {
    const key = KIND_STATS[ev.kind];
    if (key !== undefined) bump(stats, key, 1);
    if (ev.kind === "alarm") bump(stats, `alarm.${text(ev.data, "code") ?? "(none)"}`, 1);
    if (ev.kind === "deposit") bump(stats, "pointsAwarded", int(ev.data, "points") ?? 0);
  }
  checkClaims(truth, events, violations, stats);
  checkDoors(truth, violations, stats);
  checkDelivery(truth, violations, stats);
  if ((truth.storedSessionsLeft ?? 0) > 0) {
    violations.push(`${truth.storedSessionsLeft} open session rows left in the database after the final stop: a session never recovered or never closed`);
  }
  return { violations, stats };
}

/** A seq may come only through `replay` when the broker was killed within this after its PUBACK (ms). */
export const BROKER_LOSS_WINDOW_MS = 3000;
/** Slack on "the central was not subscribed yet" (ms): the PUBACK is stamped a round trip after the broker routed the PUBLISH. */
const RESUBSCRIBE_SLACK_MS = 250;

/**
 * Invariant 2, its other half: an event the station marked published (the broker's PUBACK) reached
 * the central subscriber live, unless the broker was killed within {@link BROKER_LOSS_WINDOW_MS}
 * after (a killed Mosquitto loses what it acknowledged and had not yet saved or delivered:
 * `lostByBrokerKill`), or the broker had been killed before and the central subscriber had not yet
 * subscribed again (the killed broker forgot its session, so it routed the event to no one:
 * `publishedBeforeResubscribe`). An event the central system had to ask again for any other reason
 * was marked published but never delivered. A seq replayed while never marked published is
 * counted, not judged.
 */
function checkDelivery(truth: Truth, out: string[], stats: Record<string, number>): void {
  const kills = truth.brokerKills ?? [];
  for (const { seq, publishedAt } of truth.replayOnly ?? []) {
    if (publishedAt === null) {
      bump(stats, "replayedUnpublished", 1);
      continue;
    }
    if (kills.some((k) => k >= publishedAt - 500 && k - publishedAt <= BROKER_LOSS_WINDOW_MS)) {
      bump(stats, "lostByBrokerKill", 1);
      continue;
    }
    const lastKill = Math.max(...kills.filter((k) => k <= publishedAt));
    const resubscribed = (truth.centralResubscribed ?? []).find((s) => s > lastKill);
    if (Number.isFinite(lastKill) && (resubscribed === undefined || resubscribed >= publishedAt - RESUBSCRIBE_SLACK_MS)) {
      bump(stats, "publishedBeforeResubscribe", 1);
      continue;
    }
    out.push(`seq ${seq}: marked published at t=${publishedAt} ms but reached the central subscriber only through replay (no broker kill within ${BROKER_LOSS_WINDOW_MS} ms after, and the central was subscribed)`);
  }
}

/** The unique events in arrival order; checks the envelope (invariant 1). */
function dedupe(stationId: string, received: Received[], out: string[], stats: Record<string, number>): Event[] {
  const firstPayload = new Map<string, string>();
  const events: Event[] = [];
  received.forEach((r, i) => {
    const where = `message #${i + 1} on ${r.topic}`;
    let doc: unknown;
    try {
      doc = JSON.parse(r.payload);
    } catch (e) {
      bump(stats, "malformed", 1);
      out.push(`${where}: payload is not JSON (${(e as Error).message}): ${r.payload.slice(0, 120)}`);
      return;
    }
    const env: Data = isObject(doc) ? doc : {};
    const { data } = env;
    const seq = isObject(data) ? int(data, "seq") : undefined;
    const kind = /^smartbin\.([a-z_]+)\.v1$/.exec(String(env.type))?.[1];
    const id = typeof env.id === "string" && env.id !== "" ? env.id : undefined;
    if (!isObject(data) || id === undefined || seq === undefined || seq < 1 || kind === undefined) {
      bump(stats, "malformed", 1);
      const what = "not a CloudEvent with an id, a type smartbin.<kind>.v1 and an integer data.seq >= 1";
      out.push(`${where}: ${what}: ${r.payload.slice(0, 120)}`);
      return;
    }
    const first = firstPayload.get(id);
    if (first !== undefined) {
      bump(stats, "duplicates", 1);
      if (first !== r.payload) {
        out.push(`seq ${seq} ${kind} (id ${id}): ${where} repeats the id with different bytes (a resend is the same message)`);
      }
      return;
    }
    firstPayload.set(id, r.payload);
    const label = `seq ${seq} ${kind}`;
    const bad = (what: string) => out.push(`${label} (id ${id}): ${what}`);
    if (env.specversion !== "1.0") bad(`specversion ${JSON.stringify(env.specversion)}, expected "1.0"`);
    if (env.source !== `smartbin/${stationId}`) bad(`source ${JSON.stringify(env.source)}, expected "smartbin/${stationId}"`);
    if (data.station_id !== stationId) bad(`data.station_id ${JSON.stringify(data.station_id)}, expected "${stationId}"`);
    if (!(typeof data.boot_id === "string" || data.boot_id === null)) bad("data.boot_id missing (a string or null)");
    if (!(data.mono_ms === null || (int(data, "mono_ms") ?? -1) >= 0)) bad("data.mono_ms missing (an integer >= 0 or null)");
    if (!r.topic.endsWith(`/${stationId}/events/${kind}`)) bad(`received on ${r.topic}, expected …/${stationId}/events/${kind}`);
    events.push({ id, kind, seq, data, label });
  });
  stats.events = events.length;
  return events;
}

/**
 * Invariant 1 (no seq shared by two ids) and 2 (seqs exactly 1..max, where max is the station's
 * highest seq when the truth knows it, else the highest received).
 */
function checkSeq(events: Event[], lastSeq: number | undefined, out: string[], stats: Record<string, number>): void {
  const bySeq = new Map<number, Event[]>();
  for (const ev of events) bySeq.set(ev.seq, [...(bySeq.get(ev.seq) ?? []), ev]);
  for (const [seq, same] of bySeq) {
    if (same.length < 2) continue;
    out.push(`seq ${seq} carried by ${same.length} different ids: ${same.map((e) => `${e.id} (${e.kind})`).join(", ")}`);
  }
  const received = Math.max(0, ...bySeq.keys());
  stats.maxSeq = received;
  if (lastSeq !== undefined && received > lastSeq) out.push(`seq ${received} received, above the station's highest seq ${lastSeq}`);
  const max = Math.max(received, lastSeq ?? 0);
  const ranges: string[] = [];
  for (let s = 1; s <= max; s++) {
    if (bySeq.has(s)) continue;
    let end = s;
    while (end + 1 <= max && !bySeq.has(end + 1)) end++;
    // README ("seq never goes back"): after a salvage seq continues above the high-water mark, so a
    // jump right before `storage_recovered` is seqs never given (or lost with the damaged part, which
    // the visits' checks then find as lost awards).
    const next = bySeq.get(end + 1)?.[0];
    if (next?.kind === "alarm" && next.data.code === "storage_recovered") {
      bump(stats, "seqSkippedBySalvage", end - s + 1);
      s = end;
      continue;
    }
    ranges.push(end === s ? `${s}` : `${s}-${end}`);
    s = end;
  }
  if (ranges.length > 0) {
    const more = ranges.length > MAX_RANGES_LISTED ? ` and ${ranges.length - MAX_RANGES_LISTED} more ranges` : "";
    out.push(`missing seq ${ranges.slice(0, MAX_RANGES_LISTED).join(", ")}${more} (received up to ${received}, the station's highest ${max})`);
  }
}

/**
 * Points and `points_reason` of a deposit of `netG` grams under `rule` (contract 3): no rule is
 * `no_rule`; below `minNetG` is 0, `below_minimum`; else `floor(netG * points_per_kg / 1000)`,
 * `awarded` (0 points included), in BigInt from the rule's decimal text ("1.16" is 116/100).
 * The chaos day has no blocked cards, `max_net_g` overruns or daily cap, so no other reason.
 * @throws RangeError when `pointsPerKg` is not a plain decimal (a bug of the suite's truth).
 */
export function expectedPoints(netG: number, rule: Rule | undefined): { points: number; reason: string } {
  if (rule === undefined) return { points: 0, reason: "no_rule" };
  if (netG < rule.minNetG) return { points: 0, reason: "below_minimum" };
  const m = /^([0-9]+)(?:\.([0-9]+))?$/.exec(rule.pointsPerKg);
  if (m === null) throw new RangeError(`points_per_kg ${JSON.stringify(rule.pointsPerKg)} is not a decimal such as 1.16`);
  const frac = m[2] ?? "";
  const num = BigInt(netG) * BigInt((m[1] ?? "0") + frac);
  return { points: Number(num / (1000n * 10n ** BigInt(frac.length))), reason: "awarded" };
}

/**
 * The amounts a credit may be measured at: the certain grams plus any subset of the uncertain ones
 * (contract 2: a scale that went offline during the session counts with its last accepted weight,
 * so weight moved while it was unplugged may be missed, and is seen if it is back before the close).
 */
function possibleAmounts(credit: Credit): Set<number> {
  let sums = new Set([credit.expectedG]);
  for (const g of credit.uncertainG) sums = new Set([...sums, ...[...sums].map((s) => s + g)]);
  return sums;
}

/**
 * The grams of the next visit to the same bin when a kill struck while another process held the
 * database lock and lost that visit's session (`killedWhileBusy`), else `null`. If this visit's
 * close was still waiting too, its stored session is recovered at the restart and measured with
 * the next visit's weight in it (README, "Busy"): the one misattribution that window allows.
 */
function busyAbsorbed(truth: Truth, credit: Credit): number | null {
  const next = truth.visits.find((v) => v.n === credit.visit.n + 1);
  if (next?.killedWhileBusy !== true || !next.confirmed || next.role !== credit.visit.role) return null;
  const sign = next.role === "resident" ? 1 : -1;
  const grams = next.moves.filter((m) => m.binId === credit.binId && m.deltaG * sign > 0).reduce((a, m) => a + m.deltaG * sign, 0);
  return grams > 0 ? grams : null;
}

/** `visit #3 (card 0000000042, resident, bin kitchen, 1 kill during)`: a visit as violations name it. */
function visitLabel(v: Visit): string {
  const kills = v.killsDuring > 0 ? `, ${v.killsDuring} kill${v.killsDuring > 1 ? "s" : ""} during` : "";
  return `visit #${v.n} (card ${v.cardId}, ${v.role}, bin ${v.binId}${kills})`;
}

/**
 * Invariants 3 to 5: deposits and collections against the visits, `session_interrupted` alarms,
 * and the credit owed to every confirmed visit per bin it moved weight into.
 * A deposit: its card is a visit's (else "a session that never happened"), a confirmed resident's,
 * for a bin that visit put weight into, with the visit's `session_id` when the simulation saw it;
 * `net_g` the sum of those moves, `gross_after_g - gross_before_g = net_g`, the bin's category,
 * points and reason per {@link expectedPoints}. A collection likewise for a collector, `removed_g`
 * the grams taken out and `gross_before_g - gross_after_g`. Per (visit, bin): at most one of them,
 * at most one `session_interrupted`, never both, and (from `changeThresholdG` up) at least one.
 */
function checkClaims(truth: Truth, events: Event[], out: string[], stats: Record<string, number>): void {
  const byCard = new Map(truth.visits.map((v) => [v.cardId, v]));
  const credits = new Map<string, Credit>();
  const threshold = truth.changeThresholdG ?? 1;
  for (const visit of truth.visits.filter((v) => v.confirmed)) {
    const sign = visit.role === "resident" ? 1 : -1;
    for (const m of visit.moves) {
      if (m.deltaG * sign <= 0) continue;
      const key = `${visit.n}/${m.binId}`;
      const credit = credits.get(key) ?? { visit, binId: m.binId, expectedG: 0, uncertainG: [], required: false, events: [], interrupted: [] };
      if (m.uncertain === true) credit.uncertainG.push(m.deltaG * sign);
      else credit.expectedG += m.deltaG * sign;
      credit.required = credit.expectedG >= threshold;
      credits.set(key, credit);
    }
  }
  const sessionOf = (ev: Event, label: string, visit: Visit) => {
    const sid = text(ev.data, "session_id");
    if (visit.sessionId !== undefined && sid !== visit.sessionId) {
      out.push(`${label}: session_id ${String(sid)}, but ${visitLabel(visit)} had session ${visit.sessionId}`);
    }
  };

  for (const ev of events) {
    const interrupted = ev.kind === "alarm" && ev.data.code === "session_interrupted";
    if (ev.kind !== "deposit" && ev.kind !== "collection" && !interrupted) continue;
    const card = text(ev.data, "card_id");
    const label = `${ev.label} (card ${card ?? "?"})`;
    const visit = card === undefined ? undefined : byCard.get(card);
    if (visit === undefined) {
      out.push(`${label}: event for a session that never happened (no visit used card ${card ?? "(none)"})`);
      continue;
    }
    sessionOf(ev, label, visit);
    if (interrupted) {
      const listed = Array.isArray(ev.data.bin_ids) ? ev.data.bin_ids : [];
      const binIds = [...new Set(listed.filter((b): b is string => typeof b === "string"))];
      if (binIds.length === 0) out.push(`${label}: session_interrupted without bin_ids`);
      for (const bin of binIds) credits.get(`${visit.n}/${bin}`)?.interrupted.push(ev.label);
      continue;
    }
    const role = ev.kind === "deposit" ? "resident" : "collector";
    const amountKey = ev.kind === "deposit" ? "net_g" : "removed_g";
    const bin = text(ev.data, "bin_id");
    const amount = int(ev.data, amountKey);
    const before = int(ev.data, "gross_before_g");
    const after = int(ev.data, "gross_after_g");
    const where = `${label} bin ${bin ?? "?"}`;
    if (visit.role !== role) {
      out.push(`${where}: a ${ev.kind} for ${visitLabel(visit)}, which is no ${role}`);
      continue;
    }
    if (!visit.confirmed) {
      out.push(`${where}: ${visitLabel(visit)} was never confirmed (the visitor moved no weight)`);
      continue;
    }
    const credit = bin === undefined ? undefined : credits.get(`${visit.n}/${bin}`);
    if (credit === undefined) {
      out.push(`${where}: ${visitLabel(visit)} moved no weight ${role === "resident" ? "into" : "out of"} that bin`);
      continue;
    }
    credit.events.push(ev.label);
    if (amount === undefined) {
      out.push(`${where}: data.${amountKey} missing or not an integer`);
      continue;
    }
    const absorbed = busyAbsorbed(truth, credit);
    if (!possibleAmounts(credit).has(amount) && absorbed !== null && possibleAmounts({ ...credit, expectedG: credit.expectedG + absorbed }).has(amount)) {
      bump(stats, "misattributedInBusyWindow", 1);
    } else if (!possibleAmounts(credit).has(amount)) {
      const maybe = credit.uncertainG.length > 0 ? ` (and ${credit.uncertainG.join(" + ")} g while the scale was unplugged)` : "";
      out.push(`${where}: ${amountKey} ${amount} g, but ${visitLabel(visit)} moved ${credit.expectedG} g${maybe}`);
    }
    if (before === undefined || after === undefined || (after - before) * (role === "resident" ? 1 : -1) !== amount) {
      out.push(`${where}: gross_before_g ${String(before)} and gross_after_g ${String(after)} do not differ by ${amountKey} ${amount}`);
    }
    if (ev.kind === "deposit") checkPoints(where, ev.data, amount, truth.rules[credit.binId], out);
  }

  for (const c of credits.values()) {
    const resident = c.visit.role === "resident";
    const who = `${visitLabel(c.visit)} bin ${c.binId} (${c.expectedG} g ${resident ? "in" : "out"})`;
    const kind = resident ? "deposit" : "collection";
    const [events, alarms] = [c.events.join(", "), c.interrupted.join(", ")];
    bump(stats, "interruptedCredits", c.interrupted.length);
    if (c.events.length > 1) out.push(`${who}: ${c.events.length} ${kind}s (${events}): a doubled ${resident ? "award" : "collection"}`);
    if (c.interrupted.length > 1) out.push(`${who}: ${c.interrupted.length} session_interrupted alarms (${alarms})`);
    if (c.events.length > 0 && c.interrupted.length > 0) out.push(`${who}: both a ${kind} (${events}) and session_interrupted (${alarms})`);
    if (c.required && c.events.length === 0 && c.interrupted.length === 0) {
      // README, "Busy": a session opened while another process holds the database's write lock
      // waits in memory for its row; a SIGKILL in that window can lose that session only.
      if (c.visit.killedWhileBusy === true) {
        bump(stats, "lostInBusyWindow", 1);
        continue;
      }
      out.push(`${who}: ${resident ? "award" : "collection"} lost: no ${kind} and no session_interrupted alarm`);
    }
  }
}

/** A deposit's `category`, `points` (a non-negative integer) and `points_reason` against the bin's rule ({@link expectedPoints}). */
function checkPoints(where: string, data: Data, netG: number, rule: Rule | undefined, out: string[]): void {
  const want = expectedPoints(netG, rule);
  const { points, category, points_reason: reason } = data;
  if (rule !== undefined && category !== rule.category) out.push(`${where}: category ${String(category)}, expected ${rule.category}`);
  if (!Number.isSafeInteger(points) || (points as number) < 0) {
    out.push(`${where}: points ${JSON.stringify(points)} is not a non-negative integer`);
  } else if (points !== want.points) {
    out.push(`${where}: ${String(points)} points for ${netG} g at ${rule?.pointsPerKg ?? "(no rule)"}/kg, expected ${want.points}`);
  }
  if (reason !== want.reason) out.push(`${where}: points_reason ${String(reason)}, expected ${want.reason}`);
}

/**
 * Invariant 6, per door bin. Samples split into stretches where two of them are more than
 * {@link STRETCH_GAP_MS} apart (the station was down). Within a stretch: (a) a door that went from
 * open to closed reads locked within {@link LOCK_AFTER_CLOSE_MS} of the closing sample, unless it
 * opens again first or the stretch ends; (b) a run of closed, unlocked samples outside any visit
 * lasts at most {@link UNLOCKED_OUTSIDE_VISIT_MS}; (c) any run of closed, unlocked samples at most
 * `doorOpenTimeoutMs` + {@link OPEN_TIMEOUT_SLACK_MS}. A run lasts from its first to its last sample.
 */
function checkDoors(truth: Truth, out: string[], stats: Record<string, number>): void {
  const byBin = new Map<string, DoorSample[]>();
  for (const s of truth.doorSamples) byBin.set(s.binId, [...(byBin.get(s.binId) ?? []), s]);
  for (const [bin, samples] of byBin) {
    samples.sort((a, b) => a.at - b.at);
    const stretches: DoorSample[][] = [];
    samples.forEach((s, i) => {
      if (i === 0 || s.at - samples[i - 1]!.at > STRETCH_GAP_MS) stretches.push([s]);
      else stretches.at(-1)!.push(s);
    });
    bump(stats, "doorStretches", stretches.length);
    for (const st of stretches) checkStretch(`door ${bin}`, st, truth.doorOpenTimeoutMs + OPEN_TIMEOUT_SLACK_MS, out);
  }
}

/** Rules (a), (b), (c) of {@link checkDoors} on one stretch of one door's samples; `limit` is (c)'s bound, ms. */
function checkStretch(door: string, st: DoorSample[], limit: number, out: string[]): void {
  for (let i = 1; i < st.length; i++) {
    const closing = st[i]!;
    if (st[i - 1]!.closed || !closing.closed) continue;
    for (const s of st.slice(i)) {
      if (!s.unlocked) break;
      if (s.at - closing.at > LOCK_AFTER_CLOSE_MS) {
        out.push(`${door}: closed at t=${closing.at} ms, still unlocked at t=${s.at} ms (locked within ${LOCK_AFTER_CLOSE_MS} ms expected)`);
        break;
      }
      if (!s.closed) break;
    }
  }
  for (const [first, last] of runs(st, (s) => s.closed && s.unlocked && !s.inVisit)) {
    const ms = last.at - first.at;
    if (ms > UNLOCKED_OUTSIDE_VISIT_MS) {
      out.push(`${door}: closed and unlocked outside any visit from t=${first.at} to t=${last.at} ms (${ms} ms > ${UNLOCKED_OUTSIDE_VISIT_MS} ms)`);
    }
  }
  for (const [first, last] of runs(st, (s) => s.closed && s.unlocked)) {
    const ms = last.at - first.at;
    if (ms > limit) {
      out.push(`${door}: closed and unlocked from t=${first.at} to t=${last.at} ms (${ms} ms > open timeout + ${OPEN_TIMEOUT_SLACK_MS} = ${limit} ms)`);
    }
  }
}

/** The first and last sample of each run of consecutive samples for which `pred` holds. */
function runs(samples: DoorSample[], pred: (s: DoorSample) => boolean): Array<[DoorSample, DoorSample]> {
  const found: Array<[DoorSample, DoorSample]> = [];
  let first: DoorSample | undefined;
  samples.forEach((s, i) => {
    if (pred(s)) first ??= s;
    if (first !== undefined && (!pred(s) || i === samples.length - 1)) {
      found.push([first, pred(s) ? s : samples[i - 1]!]);
      first = undefined;
    }
  });
  return found;
}
