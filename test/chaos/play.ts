/**
 * Plays a chaos day (issue 12) on a {@link Rig}: the visits of the plan (residents dropping bags
 * through the kitchen door or onto the recycle bin, collectors emptying bins, disturbances between
 * visits), while two loops strike the plan's kills and faults. Records the ground truth as a
 * visitor sees it (truth.ts), then drains, fills the central subscriber's `seq` gaps with `replay`
 * as a real central system would, stops the station and reads its highest seq.
 */
import Database from "better-sqlite3";
import { maskCardId } from "../../src/domain/privacy.js";
import { randomStream } from "./random.js";
import { CHANGE_THRESHOLD_G, DOOR_OPEN_TIMEOUT_S, LINES, RULES, STATION_ID, fillDisk, holdDatabaseLock, sleep, type Rig } from "./rig.js";
import { BINS, visitCard, type DayPlan, type FaultKind, type KillPlan, type VisitPlan } from "./script.js";
import type { Disturbance, DoorSample, Truth, Visit, WeightMove } from "./truth.js";

/** What the day did, beyond the truth: counts for the report, and problems the player itself saw. */
export interface DayReport {
  seed: number;
  profile: string;
  kills: number;
  killsByMode: Record<string, number>;
  faults: Record<string, number>;
  /** Faults of the plan not made, and why (libfaketime or the disk namespace missing). */
  skipped: Record<string, number>;
  visits: number;
  confirmedVisits: number;
  runs: number;
  replayRequests: number;
  replayedEvents: number;
  /**
   * Starts that exited 1 with a cause the README documents (systemd's `Restart=always` starts the
   * station again 5 s later; the suite after 1 s): the database's write lock held by another process
   * beyond the 5 s the open waits, or a disk too full to open the database. By cause.
   */
  startFailures: Record<string, number>;
  /** Problems outside the checker's invariants: unexpected exits, other failed starts, an unclean stop. */
  problems: string[];
  durationMs: number;
}

/** Options of {@link playDay}. */
export interface PlayOptions {
  /** The folder of the database's own file system (a small tmpfs), or undefined: no disk faults. */
  diskDir: string | undefined;
  /** Progress lines (one per kill and fault). */
  note: (line: string) => void;
}

/**
 * Plays the day of `plan` on `rig` (the station not yet started), then drains and stops it.
 *
 * @returns the truth for the checker, and the report of what was done (kills, faults, runs…).
 * @throws when the station cannot be started 20 times in a row (the run is then void, not judged).
 */
export async function playDay(rig: Rig, plan: DayPlan, opts: PlayOptions): Promise<{ truth: Truth; report: DayReport }> {
  const t0 = Date.now();
  const elapsed = () => Date.now() - t0;
  let over = false;
  const visits: Visit[] = [];
  const disturbances: Disturbance[] = [];
  const doorSamples: DoorSample[] = [];
  const report: DayReport = {
    seed: plan.seed,
    profile: plan.profile.name,
    kills: 0,
    killsByMode: {},
    faults: {},
    skipped: {},
    visits: 0,
    confirmedVisits: 0,
    runs: 0,
    replayRequests: 0,
    replayedEvents: 0,
    startFailures: {},
    problems: [],
    durationMs: 0,
  };
  const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);
  let current: Visit | undefined;
  let lastBagAt = 0;
  let brokerBackAt = 0;
  /** Whether another process holds the database's write lock now, and since when. */
  let dbLocked = false;
  let dbLockedSince = 0;
  /** Scales unplugged, or plugged back but not yet seen again by the station: weight moved now may go unseen. */
  const suspect = new Set<string>();
  /** Every weight move of the day with its scale, to mark those an unplug came too soon after. */
  const allMoves: Array<{ move: WeightMove; scaleId: string }> = [];
  /** The station's wall-clock offsets (seconds) from each test instant on: libfaketime's file. */
  const clock: Array<{ from: number; offsetS: number }> = [{ from: t0, offsetS: 0 }];
  /** When the broker was killed (test ms): it loses what it acknowledged and had not saved. */
  const brokerKills: number[] = [];
  const { station, door } = rig;

  /** Starts the station, retrying (a start can fail while the database is locked or the disk full). */
  async function startStation(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await station.start();
        return;
      } catch (err) {
        const message = (err as Error).message;
        const cause = /database is locked/.test(message) ? "database locked" : /ENOSPC|disk is full|no space left/i.test(message) ? "disk full" : null;
        if (cause !== null) bump(report.startFailures, cause);
        else report.problems.push(`start failed (attempt ${attempt}, ${Math.round(elapsed() / 1000)} s): ${message.slice(0, 400)}`);
        await station.kill();
        if (attempt >= 20) throw err;
        await sleep(1000);
      }
    }
  }

  // Door sampler: the kitchen door's lines while the station runs and has started.
  const sampler = setInterval(() => {
    if (!station.started) return;
    // A collector's session unlocks every door, whichever bin the collector came for.
    const inVisit = current !== undefined && (current.binId === "kitchen" || current.role === "collector");
    doorSamples.push({ binId: "kitchen", at: Date.now(), closed: door.closed, unlocked: door.unlocked, inVisit });
  }, 50);

  /** Waits until `check()` is true, up to `ms`; false on timeout. */
  async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (!check()) {
      if (Date.now() > until) return false;
      await sleep(25);
    }
    return true;
  }

  /** The `session opened` line for this card, logged after log index `from`. */
  function sessionOpenedFor(cardId: string, from: number): { session: string; bins: unknown[] } | undefined {
    const mask = maskCardId(cardId);
    for (let i = from; i < station.log.length; i++) {
      const l = station.log[i]!;
      if (l.msg === "session opened" && l.fields.card === mask) {
        return { session: String(l.fields.session), bins: Array.isArray(l.fields.bins) ? l.fields.bins : [] };
      }
    }
    return undefined;
  }

  /** Whether the running station's log says a session is open (or a recovered one waits); undefined when not started. */
  function sessionOpenNow(): boolean | undefined {
    if (!station.started) return undefined;
    const run = station.runs;
    for (let i = station.log.length - 1; i >= 0; i--) {
      const l = station.log[i]!;
      if (l.run !== run) return false;
      if (l.msg === "session opened" || l.msg.startsWith("session recovered")) return true;
      if (l.msg === "session closed" || l.msg === "recovered session closed") return false;
    }
    return false;
  }

  async function playVisit(p: VisitPlan): Promise<Visit> {
    const { tagHex, cardId } = visitCard(p);
    const spec = BINS[p.binId];
    const scale = rig.scales[p.binId];
    const v: Visit = { n: p.n, cardId, role: p.role, binId: p.binId, door: spec.door, confirmed: false, moves: [], killsDuring: 0, startedAt: Date.now(), endedAt: 0 };
    current = v;
    const killsBefore = station.kills;
    const from = station.log.length;
    const move = (deltaG: number) => {
      scale.loadG += deltaG;
      const m: WeightMove = { binId: p.binId, deltaG, at: Date.now(), ...(suspect.has(spec.scaleId) ? { uncertain: true } : {}) };
      v.moves.push(m);
      allMoves.push({ move: m, scaleId: spec.scaleId });
      lastBagAt = Date.now();
    };
    // A visitor moves no weight after a kill: the recovered session closes once its scales are back.
    const killed = () => station.kills > killsBefore;
    const weigh = async () => {
      if (p.role === "resident") {
        for (const bag of p.bags) {
          if (killed()) return;
          move(bag);
          await sleep(700);
        }
      } else if (scale.loadG > p.emptyToG + 200 && !killed()) {
        move(p.emptyToG - scale.loadG);
        await sleep(700);
      }
    };
    await rig.reader.present(tagHex, 300).catch(() => undefined);
    const opened = await waitFor(() => sessionOpenedFor(cardId, from) !== undefined, 3000);
    const session = sessionOpenedFor(cardId, from);
    if (session !== undefined) v.sessionId = session.session;
    if (spec.door) {
      if (p.role === "resident" && opened) {
        door.set(LINES.button, 1);
        await sleep(150);
        door.set(LINES.button, 0);
      }
      // The door opens only while its lock reads unlocked: a locked door cannot be pulled open.
      if (await waitFor(() => door.unlocked, 3000)) {
        v.confirmed = true;
        door.set(LINES.closed, 0);
        await sleep(300);
        await weigh();
        door.set(LINES.closed, 1);
        // Locked at once as it closes (while the station runs), then the session closes.
        await waitFor(() => !door.unlocked, (DOOR_OPEN_TIMEOUT_S + 6) * 1000);
        await sleep(2000);
      }
    } else if (session?.bins.includes(p.binId) === true) {
      // The session covers this bin (its scale online with a weight): the resident drops the bag.
      v.confirmed = true;
      await weigh();
      await sleep(2200);
    }
    // A door unlocked after the visitor gave up (a slow unlock) locks again after open_timeout_s:
    // the visit lasts until then, so the door is never judged unlocked outside a visit for it.
    if (spec.door || p.role === "collector") await waitFor(() => !door.unlocked || !station.started, (DOOR_OPEN_TIMEOUT_S + 3) * 1000);
    v.killsDuring = station.kills - killsBefore;
    v.endedAt = Date.now();
    current = undefined;
    return v;
  }

  async function visitsLoop(): Promise<void> {
    for (const p of plan.visits) {
      if (elapsed() > plan.profile.durationMs) break;
      // Visits do not overlap a session the station still has open (a restart's recovered one).
      await waitFor(() => sessionOpenNow() === false, 8000);
      // Not on a scale just unplugged: its change could land in the next visit's session when it is seen.
      if (p.disturbance !== null && sessionOpenNow() === false && !suspect.has(BINS[p.disturbance.binId].scaleId)) {
        rig.scales[p.disturbance.binId].loadG += p.disturbance.deltaG;
        disturbances.push({ binId: p.disturbance.binId, deltaG: p.disturbance.deltaG, at: Date.now() });
        await sleep(1000);
      }
      await sleep(p.pauseMs);
      const v = await playVisit(p);
      visits.push(v);
      if (v.confirmed) report.confirmedVisits++;
    }
  }

  async function killOne(k: KillPlan): Promise<void> {
    const drainFrom = station.log.length;
    const cond: Record<KillPlan["mode"], () => boolean> = {
      now: () => true,
      door_unlocked: () => door.unlocked && station.started,
      mid_session: () => lastBagAt > Date.now() - 200,
      commit: () => lastBagAt > Date.now() - 200,
      // The station reconnected after the broker came back: its backlog drains now.
      drain: () => brokerBackAt > 0 && station.log.some((l, i) => i >= drainFrom && l.msg === "connected to broker" && l.at >= brokerBackAt),
    };
    const met = await waitFor(() => over || cond[k.mode](), 20_000);
    if (over) return;
    // A bag is weighed 300 ms after it lands (stable_window_ms) and the session closes idle_close_s
    // (1 s) later, committing its deposit; a drain of a few events lasts tens of milliseconds.
    const after = { now: k.delayMs, door_unlocked: k.delayMs, mid_session: 500 + k.delayMs / 2, commit: 800 + k.delayMs * 2, drain: k.delayMs / 8 };
    await sleep(after[k.mode]);
    if (!station.running) return;
    // README, "Busy": a session opened while the lock is held waits in memory for its row (and its
    // deposit after it); a kill before the lock is free can lose it, even once the visit is over.
    if (dbLocked) {
      for (const v of [...visits, ...(current ? [current] : [])]) if (v.startedAt >= dbLockedSince - 500) v.killedWhileBusy = true;
    }
    await station.kill();
    report.kills++;
    bump(report.killsByMode, met ? k.mode : `${k.mode}(timed out)`);
    opts.note(`kill ${report.kills} (${k.mode}${met ? "" : ", condition not met"}) at ${Math.round(elapsed() / 1000)} s`);
    await sleep(k.downMs);
    await startStation();
  }

  async function killsLoop(): Promise<void> {
    for (const k of plan.kills) {
      await waitFor(() => over || elapsed() >= k.at, plan.profile.durationMs);
      if (over) break;
      await killOne(k);
    }
  }

  async function fault(kind: FaultKind, f: DayPlan["faults"][number], garbage: ReturnType<typeof randomStream>): Promise<boolean> {
    switch (kind) {
      case "broker_stop":
      case "broker_kill":
        if (kind === "broker_kill") brokerKills.push(Date.now());
        await (kind === "broker_stop" ? rig.broker.stop() : rig.broker.kill());
        await sleep(f.durationMs);
        await rig.broker.start();
        brokerBackAt = Date.now();
        return true;
      case "proxy_cut":
        rig.proxy.cut();
        return true;
      case "serial_unplug": {
        const dev = rig.device(f.device);
        const isScale = f.device !== "reader-1";
        if (isScale) {
          suspect.add(f.device);
          // Weight moved just before is not weighed yet (stable_window_ms 300, then the close): it may go unseen too.
          for (const { move, scaleId } of allMoves) if (scaleId === f.device && move.at > Date.now() - 1500) move.uncertain = true;
        }
        await dev.pty.close();
        await sleep(f.durationMs);
        await dev.pty.restart();
        if (isScale) void seenAgain(f.device, station.log.length);
        return true;
      }
      case "garbage":
        await rig
          .device(f.device)
          .pty.write(garbage.bytes(f.bytes))
          .catch(() => undefined);
        return true;
      case "clock_jump":
        if (rig.setClockOffset === null) return false;
        rig.setClockOffset(f.offsetS);
        clock.push({ from: Date.now(), offsetS: f.offsetS });
        return true;
      case "db_lock":
        dbLocked = true;
        dbLockedSince = Date.now();
        try {
          await holdDatabaseLock(rig.dbPath, f.durationMs);
        } finally {
          dbLocked = false;
        }
        return true;
      case "disk_floor":
      case "disk_full": {
        if (opts.diskDir === undefined) return false;
        // disk_floor: 4 MiB left, below the 8 MiB floor (no new session); disk_full: nothing left.
        const undo = fillDisk(opts.diskDir, kind === "disk_floor" ? 4 * 1024 * 1024 : 0);
        await sleep(f.durationMs);
        undo();
        return true;
      }
    }
  }

  /** Clears a scale's suspicion once the station has seen it again (its log says so) and had time to weigh. */
  async function seenAgain(scaleId: string, from: number): Promise<void> {
    const back = (l: { msg: string; fields: Record<string, unknown> }) =>
      (l.msg === "scale back online" || l.msg === "serial device online") && l.fields.device === scaleId;
    let i = from;
    await waitFor(() => {
      for (; i < station.log.length; i++) if (back(station.log[i]!)) return true;
      return over;
    }, 60_000);
    await sleep(1500);
    suspect.delete(scaleId);
  }

  async function faultsLoop(): Promise<void> {
    const garbage = randomStream(plan.seed, "garbage");
    for (const f of plan.faults) {
      await waitFor(() => over || elapsed() >= f.at, plan.profile.durationMs);
      if (over) break;
      const made = await fault(f.kind, f, garbage);
      bump(made ? report.faults : report.skipped, f.kind);
      opts.note(`${made ? "fault" : "skipped"} ${f.kind}${f.kind === "clock_jump" ? ` ${f.offsetS} s` : ""} at ${Math.round(elapsed() / 1000)} s`);
    }
  }

  await startStation();
  const loops = [visitsLoop(), killsLoop(), faultsLoop(), fillGapsWhile(rig, report, () => !over)];
  await loops[0];
  over = true;
  await Promise.all(loops);
  report.durationMs = elapsed();

  // The end of the day: everything back, the station running, the backlog drained.
  await rig.broker.start();
  for (const id of [BINS.kitchen.scaleId, BINS.recycle.scaleId, "reader-1"]) {
    const dev = rig.device(id);
    if (!dev.pty.plugged) await dev.pty.restart();
  }
  await startStation();
  await waitFor(() => sessionOpenNow() === false, 30_000);
  await drain(rig, report);
  clearInterval(sampler);

  const code = await station.stop();
  if (code !== 0) report.problems.push(`the final SIGTERM ended the station with ${code === null ? "a signal" : `exit code ${code}`}`);
  report.runs = station.runs;
  report.visits = visits.length;
  report.problems.push(...station.unexpectedExits);
  const db = new Database(rig.dbPath, { readonly: true });
  let lastSeq: number;
  let storedSessionsLeft: number;
  const replayOnly: Array<{ seq: number; publishedAt: number | null }> = [];
  try {
    lastSeq = db.prepare<[], { s: number | null }>("SELECT max(seq) AS s FROM events").get()?.s ?? 0;
    storedSessionsLeft = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM open_sessions").get()?.n ?? 0;
    const publishedAt = db.prepare<[number], { p: string | null }>("SELECT published_at AS p FROM events WHERE seq = ?");
    for (const seq of rig.central.viaReplay()) {
      const p = publishedAt.get(seq)?.p ?? null;
      replayOnly.push({ seq, publishedAt: p === null ? null : trueTime(Date.parse(p), clock) });
    }
  } finally {
    db.close();
  }
  const truth: Truth = {
    stationId: STATION_ID,
    visits,
    disturbances,
    rules: Object.fromEntries(Object.entries(RULES).map(([bin, r]) => [bin, { ...r }])),
    doorSamples,
    doorOpenTimeoutMs: DOOR_OPEN_TIMEOUT_S * 1000,
    lastSeq,
    changeThresholdG: CHANGE_THRESHOLD_G,
    storedSessionsLeft,
    replayOnly,
    brokerKills,
    centralResubscribed: rig.central.resubscribedAt,
  };
  return { truth, report };
}

/**
 * Waits for the station's backlog to reach 0 (the `status` command), then asks `replay` for every
 * gap in what the central subscriber received and for anything after the newest it has, until
 * nothing is missing (at most five rounds).
 */
async function drain(rig: Rig, report: DayReport): Promise<void> {
  const command = (name: string, args: Record<string, unknown> = {}) => operatorCommand(rig, name, args, 5000);
  const backlogZero = async () => {
    for (let i = 0; i < 60; i++) {
      const r = await command("status");
      if (r?.ok === true && (r.result as { backlog?: number }).backlog === 0) return;
      await sleep(1000);
    }
  };
  for (let round = 0; round < 5; round++) {
    await backlogZero();
    await sleep(1500);
    // Anything after the newest received first, while nothing new is pending: each replay below is
    // audited by a new event, which this range must not cover.
    let republished = (await replay(rig, report, rig.central.maxSeq() + 1)) ?? 0;
    for (const [from, to] of rig.central.gaps()) republished += (await replay(rig, report, from, to)) ?? 0;
    await backlogZero();
    await sleep(1500);
    if (republished === 0 && rig.central.gaps().length === 0) return;
  }
}

let commandIds = 0;

/** Sends a command as the operator and waits for its reply (`undefined` after `timeoutMs`). */
function operatorCommand(rig: Rig, name: string, args: Record<string, unknown>, timeoutMs: number) {
  return rig.operator.request(name, { command_id: `chaos-${name}-${++commandIds}`, ...args }, { timeoutMs });
}

/**
 * Asks `replay` of `from`..`to` (absent: up to the newest) as a central system does; returns how
 * many the station sent again, `null` when no success reply came in time.
 */
async function replay(rig: Rig, report: DayReport, from: number, to?: number, timeoutMs = 5000): Promise<number | null> {
  // Up to the newest: until the reply says how many, nothing after `from` counts as replayed.
  const range = rig.central.asking(from, to ?? from - 1);
  report.replayRequests++;
  const reply = await operatorCommand(rig, "replay", { from_seq: from, ...(to !== undefined ? { to_seq: to } : {}) }, timeoutMs);
  if (reply?.ok !== true) return null;
  const count = Number((reply.result as { count?: number }).count ?? 0);
  if (to === undefined) range.to = from + count - 1;
  report.replayedEvents += count;
  return count;
}

/**
 * A central system's gap filling during the day: a seq missing below the newest received for 3 s
 * (a broker killed after it acknowledged the event) is asked again with `replay`, before a
 * nearly-full disk may prune it.
 */
export async function fillGapsWhile(rig: Rig, report: DayReport, going: () => boolean): Promise<void> {
  let seen = new Set<string>();
  // A range the station answered with nothing (seqs a salvage skipped) is not asked again.
  const empty = new Set<string>();
  while (going()) {
    await sleep(3000);
    const now = new Set(rig.central.gaps().map(([a, b]) => `${a}-${b}`));
    for (const g of now) {
      if (!seen.has(g) || empty.has(g) || !going()) continue;
      const [a, b] = g.split("-").map(Number) as [number, number];
      if ((await replay(rig, report, a, b, 3000)) === 0) empty.add(g);
    }
    seen = now;
  }
}

/**
 * The test's time of a station wall-clock time `ms`: the station's clock ran `offsetS` ahead from
 * each segment's start (libfaketime), so the time is the one segment in which `ms - offset` falls.
 */
function trueTime(ms: number, clock: ReadonlyArray<{ from: number; offsetS: number }>): number {
  // A second of slack at each end: the station reads the offset file at its next clock call.
  for (let i = clock.length - 1; i >= 0; i--) {
    const t = ms - clock[i]!.offsetS * 1000;
    const until = clock[i + 1]?.from ?? Date.now();
    if (t >= clock[i]!.from - 1000 && t <= until + 1000) return t;
  }
  return ms;
}
