/**
 * The deposit session of bins without door hardware (contract.md section 2 "Sessions" and
 * "Restart mid-session"), as pure functions over the station's state. The station machine
 * (station-machine.ts) calls them; they push effects onto the list they are given.
 *
 * Timers, on the monotonic clock:
 * - `idle`: `idle_close_s` after the latest weight change, closing at the first moment after that
 *   when all the session's scales are stable or offline;
 * - `first_deposit_timeout`: `first_deposit_timeout_s` after identification (restarted by the
 *   same card) while no weight change happened;
 * - `max_session`: `max_session_s` after identification.
 * A recovered session closes (`restart`) once every one of its bins' scales has an accepted weight
 * again, or at its deadline (`recover_timeout_s` after the start).
 */
import { DAILY_DAY_KEY, addPoints, cardsIn, dailyPointsKey, earnedOn, type StoredCardPoints } from "./daily-points.js";
import { collectionEvent, interruptedAlarm, maintenanceEvent, measureBin, tareChangedAlarm, type ClosingSession } from "./deposits.js";
import { contactActive, doorIsOpen, doorOf, doorSpecOf, lockDoorIfClosed, sessionBinIds, unlockDoor } from "./doors.js";
import { isoTime } from "./iso-time.js";
import { maskCardId } from "./privacy.js";
import { noValidWeight, scaleView } from "./scale-state.js";
import type {
  CloseReason,
  CoveredBin,
  DurableEvent,
  OpenSession,
  PersistedSession,
  RecoveringSession,
  Role,
  ScaleState,
  SessionTimings,
  StationContext,
  StationEffect,
  StationState,
} from "./station-types.js";

/** A close reason that comes from a timer. */
export type TimerReason = "idle" | "first_deposit_timeout" | "max_session";

/** A running timer: it fires at `atMono` (ms). */
export interface SessionTimer {
  reason: TimerReason;
  atMono: number;
}

interface At {
  mono: number;
  wall: number;
}

const IDLE = { phase: "idle" } as const;

/** Seconds (config, fractions allowed) to whole milliseconds, so 1.1 s is 1100 ms, not 1100.0000000000002. */
export function secondsToMs(seconds: number): number {
  return Math.round(seconds * 1000);
}

/** True when every scale of the session is stable or offline (a scale never seen counts as offline). */
export function scalesSettled(session: { bins: readonly CoveredBin[] }, state: StationState, ctx: StationContext): boolean {
  return session.bins.every(({ binId }) => {
    const scaleId = ctx.bins.find((b) => b.binId === binId)?.scaleId;
    const scale = scaleId === undefined ? undefined : state.scales[scaleId];
    if (scale === undefined || scaleId === undefined) return true;
    const view = scaleView(scaleId, scale);
    return !view.online || view.stable;
  });
}

/**
 * The open session's running timers. Activity is a weight change on a bin without a door, or a door
 * of the session opening; `idle` runs from the latest of the last such weight change and the last
 * door closing (contract section 2, "Sessions with doors").
 */
export function sessionTimers(session: OpenSession, timings: SessionTimings): SessionTimer[] {
  const closedMono = session.lastDoorClosedMono ?? null;
  const active = session.lastChangeMono !== null || session.doorOpened === true;
  const idleFrom = Math.max(session.lastChangeMono ?? -Infinity, closedMono ?? -Infinity);
  const first: SessionTimer | null = !active
    ? { reason: "first_deposit_timeout", atMono: session.firstDepositFromMono + timings.firstDepositTimeoutMs }
    : Number.isFinite(idleFrom)
      ? { reason: "idle", atMono: idleFrom + timings.idleCloseMs }
      : null;
  const max: SessionTimer = { reason: "max_session", atMono: session.startedMono + timings.maxSessionMs };
  return first === null ? [max] : [first, max];
}

/**
 * True when a door of the session is open (the session then closes only once it has closed). A door
 * whose line failed does not count: its closed sensor may be the failed line, and a session waiting
 * for it would never close (nor let another card in).
 */
export function sessionDoorOpen(session: { bins: readonly CoveredBin[] }, state: StationState, ctx: StationContext): boolean {
  return session.bins.some((b) => {
    if (doorSpecOf(b.binId, ctx) === null) return false;
    const door = doorOf(state, b.binId);
    return door.lineError === null && doorIsOpen(door);
  });
}

/**
 * The timers time alone can fire: none while a door of the session is open (a door open at
 * `max_session_s` closes the session as it closes), and not `idle` while a scale is unsettled (a
 * scale input decides that).
 */
export function pendingTimers(session: OpenSession, state: StationState, ctx: StationContext): SessionTimer[] {
  if (sessionDoorOpen(session, state, ctx)) return [];
  const settled = scalesSettled(session, state, ctx);
  return sessionTimers(session, ctx.session).filter((t) => t.reason !== "idle" || settled);
}

/** Of the timers that can fire and are due at `mono`, the one due earliest; `null` when none. */
export function dueTimer(session: OpenSession, state: StationState, ctx: StationContext, mono: number): TimerReason | null {
  let due: SessionTimer | null = null;
  for (const timer of pendingTimers(session, state, ctx)) {
    if (mono >= timer.atMono && (due === null || timer.atMono < due.atMono)) due = timer;
  }
  return due?.reason ?? null;
}

/** The stored form of an open session. */
export function persisted(session: OpenSession): PersistedSession {
  return {
    version: 1,
    session_id: session.id,
    card_id: session.cardId,
    reader_id: session.readerId,
    started_wall: session.startedWall,
    bins: session.bins.map((b) => ({
      bin_id: b.binId,
      baseline_g: b.baselineG,
      ...(b.baselineMode !== undefined ? { baseline_mode: b.baselineMode } : {}),
    })),
    last_change_wall: session.lastChangeWall,
    ...(session.role !== undefined && session.role !== "resident" ? { role: session.role } : {}),
  };
}

/** The scale state of a bin's scale, `undefined` for an unknown bin or scale. */
function scaleOf(binId: string, state: StationState, ctx: StationContext): ScaleState | undefined {
  const scaleId = ctx.bins.find((b) => b.binId === binId)?.scaleId;
  return scaleId === undefined ? undefined : state.scales[scaleId];
}

/** The accepted weight of a bin's scale now, `null` when the scale has none (or the bin is unknown). */
function acceptedOf(binId: string, state: StationState, ctx: StationContext): number | null {
  return scaleOf(binId, state, ctx)?.acceptedG ?? null;
}

/**
 * The events of one covered bin measured at `afterG`: its deposit (deposits.ts), unless the
 * indicator's display switched between gross and net since the baseline (its tare key): then the
 * two weights are on different bases (a tare set before the card and cleared after it would
 * "deposit" what was already in the bin), so no deposit is made and a `tare_changed` alarm says why.
 */
function measureCovered(
  session: ClosingSession & { role?: Role },
  covered: CoveredBin,
  afterG: number,
  reason: CloseReason,
  at: At,
  state: StationState,
  ctx: StationContext,
  daily: DailyTally,
): DurableEvent[] {
  const scale = scaleOf(covered.binId, state, ctx);
  const switched =
    scale !== undefined &&
    (covered.tareChanges !== undefined
      ? scale.tareChanges !== covered.tareChanges
      : covered.baselineMode !== undefined && scale.mode !== null && scale.mode !== covered.baselineMode);
  if (switched) return [tareChangedAlarm(session, covered, afterG, ctx)];
  const role = session.role ?? "resident";
  if (role === "collector") return collectionEvent(session, covered, afterG, reason, at.wall, ctx);
  if (role === "maintenance") return [];
  const events = measureBin(session, covered, afterG, reason, at.wall, ctx, { blocked: role === "blocked", earnedToday: daily.earned(session.cardId) });
  for (const e of events) if (e.kind === "deposit") daily.add(session.cardId, e.data.points);
  return events;
}

/** The daily cap's count while a session closes: today's points per card, and what this close adds. */
interface DailyTally {
  earned(cardId: string): number;
  add(cardId: string, points: number): void;
  /**
   * The `meta` writes when points were added, else `undefined`: the row of each card credited, the
   * count's day and, at a new day's first credit, the deletion of the previous day's rows.
   */
  meta(): Record<string, string | null> | undefined;
  /** The state's new `daily`, or the old one. */
  value(): StationState["daily"];
}

/**
 * Wall clocks before this instant are not set (2026-01-01T00:00Z, before this version was made): a
 * board without a real-time clock starts near 1970 until NTP sets it (systemd uses its own build
 * time the same way).
 */
export const EARLIEST_SET_WALL_MS = 1_767_225_600_000;

/**
 * The daily cap's day for a close at `wall`: the local day of its `ended_at` in the station's time
 * zone, except while the wall clock is not set ({@link EARLIEST_SET_WALL_MS}): a deposit then counts
 * on the day of the count in force, whose rows stay (else a reboot of a board without a real-time
 * clock, at 1970 until NTP, gave each resident a second cap for the same real day, and its first
 * credit deleted today's count).
 */
export function dailyCapDay(state: StationState, wall: number, ctx: StationContext): string {
  const stored = state.daily?.day;
  if (wall < EARLIEST_SET_WALL_MS && stored !== undefined) return stored;
  return ctx.localDay?.(wall) ?? isoTime(wall).slice(0, 10);
}

/** A tally for a close at `wall` (the local day of its `ended_at` in the station's time zone). */
function dailyTally(state: StationState, wall: number, ctx: StationContext): DailyTally {
  const day = dailyCapDay(state, wall, ctx);
  let tally = state.daily;
  const credited = new Set<string>();
  return {
    earned: (card) => earnedOn(tally, day, card),
    add: (card, n) => {
      if (n <= 0) return;
      tally = addPoints(tally, day, card, n);
      credited.add(card);
    },
    meta: () => {
      if (credited.size === 0) return undefined;
      const rows: Record<string, string | null> = {};
      if (state.daily !== undefined && state.daily.day !== day) for (const card of cardsIn(state.daily)) rows[dailyPointsKey(card)] = null;
      for (const card of credited) rows[dailyPointsKey(card)] = JSON.stringify({ day, points: earnedOn(tally, day, card) } satisfies StoredCardPoints);
      rows[DAILY_DAY_KEY] = day;
      return rows;
    },
    value: () => tally,
  };
}

/** Closes the open session: its events and the deletion of its stored row in one record effect. */
export function closeOpen(
  state: StationState,
  session: OpenSession,
  reason: CloseReason,
  at: At,
  ctx: StationContext,
  effects: StationEffect[],
): StationState {
  const events: DurableEvent[] = [];
  const daily = dailyTally(state, at.wall, ctx);
  for (const covered of session.bins) {
    // An offline scale counts with its last accepted weight (kept while offline).
    const afterG = acceptedOf(covered.binId, state, ctx) ?? covered.baselineG;
    events.push(...measureCovered(session, covered, afterG, reason, at, state, ctx, daily));
  }
  if (session.role === "maintenance") events.push(maintenanceEvent(session, reason, at.wall, ctx));
  const meta = daily.meta();
  effects.push({ type: "record", events, session: { op: "delete", id: session.id }, ...(meta ? { meta } : {}) });
  const deposits = events.filter((e) => e.kind === "deposit").length;
  effects.push({
    type: "notice",
    level: "info",
    msg: "session closed",
    fields: { session: session.id, card: maskCardId(session.cardId), reason, deposits, role: session.role ?? "resident" },
  });
  let s: StationState = { ...state, daily: daily.value() };
  // Every door the session unlocked locks now, or as it closes: its bins, those waiting for their
  // button, and one it unlocked without covering it (a staff session on a bin whose scale had no
  // weight). Only the open session unlocks doors, so that is every door of the station.
  for (const bin of ctx.bins) if (bin.door) s = lockDoorIfClosed(s, bin.binId, effects);
  return afterClose(s);
}

/** The state after the current session closed: the next recovered session waiting, else idle. */
function afterClose(state: StationState): StationState {
  const [next, ...rest] = state.recoveredQueue;
  return { ...state, session: next ?? IDLE, recoveredQueue: rest };
}

/** Closes a recovered session: deposits for the bins whose scales are back, one alarm for the others. */
export function closeRecovered(
  state: StationState,
  session: RecoveringSession,
  at: At,
  ctx: StationContext,
  effects: StationEffect[],
): StationState {
  const events: DurableEvent[] = [];
  const missing: CoveredBin[] = [];
  const daily = dailyTally(state, at.wall, ctx);
  for (const covered of session.bins) {
    const afterG = acceptedOf(covered.binId, state, ctx);
    if (afterG === null) missing.push(covered);
    else events.push(...measureCovered(session, covered, afterG, "restart", at, state, ctx, daily));
  }
  if (session.role === "maintenance") events.push(maintenanceEvent(session, "restart", at.wall, ctx));
  if (missing.length > 0 && session.role !== "maintenance") events.push(interruptedAlarm(session, missing, ctx.stationId));
  const meta = daily.meta();
  effects.push({ type: "record", events, session: { op: "delete", id: session.id }, ...(meta ? { meta } : {}) });
  state = { ...state, daily: daily.value() };
  effects.push({
    type: "notice",
    level: missing.length > 0 ? "warn" : "info",
    msg: "recovered session closed",
    fields: {
      session: session.id,
      card: maskCardId(session.cardId),
      reason: "restart",
      deposits: events.filter((e) => e.kind === "deposit").length,
      interrupted_bins: missing.map((b) => b.binId),
    },
  });
  return afterClose(state);
}

/** Closes whatever is due at `at`: an open session's timer, or a recovered session that is complete or late. */
export function closeIfDue(state: StationState, at: At, ctx: StationContext, effects: StationEffect[]): StationState {
  let s = state;
  // A loop, because a recovered session closing may bring the next one from the queue.
  for (let guard = 0; guard <= state.recoveredQueue.length + 1; guard++) {
    const session = s.session;
    if (session.phase === "open") {
      // A shutdown waits for the doors to close and the bag to settle, then closes at once.
      const reason = session.closingFromMono !== undefined && readyToClose(session, s, ctx) ? "shutdown" : dueTimer(session, s, ctx, at.mono);
      if (reason === null) return s;
      s = closeOpen(s, session, reason, at, ctx, effects);
      continue;
    }
    if (session.phase !== "recovering") return s;
    const allBack = session.bins.every((b) => acceptedOf(b.binId, s, ctx) !== null);
    if (!allBack && at.mono < session.deadlineMono) return s;
    s = closeRecovered(s, session, at, ctx, effects);
  }
  return s;
}

/** Every door of the session is closed and every scale of it settled: closing now measures every bag. */
function readyToClose(session: OpenSession, state: StationState, ctx: StationContext): boolean {
  return !sessionDoorOpen(session, state, ctx) && scalesSettled(session, state, ctx);
}

/**
 * Shutdown (SIGTERM/SIGINT, the end of the demo): an open session whose doors are closed and whose
 * scales are settled closes now (`shutdown`). One with a scale still settling (a bag just dropped,
 * not yet stable), or with a door open (a resident in the middle of a deposit), would close on the
 * weight accepted before the bag and lose it, so it waits: it closes the moment its doors are
 * closed and its scales settled (see {@link closeIfDue}). When the runner's wait is over (`final`)
 * and that has not happened, it is left open and stored: the next start recovers it and measures
 * the bag (`restart`), as after a crash. A recovered session still waiting also stays stored.
 */
export function shutdown(state: StationState, at: At, final: boolean, ctx: StationContext, effects: StationEffect[]): StationState {
  const session = state.session;
  if (session.phase === "open") {
    if (readyToClose(session, state, ctx)) return closeOpen(state, session, "shutdown", at, ctx, effects);
    const doorOpen = sessionDoorOpen(session, state, ctx);
    const fields = { session: session.id, card: maskCardId(session.cardId), ...(doorOpen ? { door_open: true } : {}) };
    const what = doorOpen ? "a door of the session is open" : "a scale of the session is still settling";
    if (final) {
      effects.push({
        type: "notice",
        level: "warn",
        msg: `shutdown while ${what}: the session stays stored and is measured at the next start`,
        fields,
      });
      return state;
    }
    if (session.closingFromMono !== undefined) return state;
    const waitFor = doorOpen ? "the session's open door to close" : "the session's scales to settle";
    effects.push({ type: "notice", level: "info", msg: `shutdown: waiting for ${waitFor} before closing it`, fields });
    return { ...state, session: { ...session, closingFromMono: at.mono } };
  }
  if (session.phase === "recovering") {
    effects.push({
      type: "notice",
      level: "warn",
      msg: "shutdown while a recovered session waits for its scales: it stays stored for the next start",
      fields: { session: session.id, card: maskCardId(session.cardId) },
    });
  }
  return state;
}

/** The sessions found in the database at start become recovered sessions (the first one current). */
export function recover(
  state: StationState,
  sessions: readonly PersistedSession[],
  at: At,
  ctx: StationContext,
  effects: StationEffect[],
): StationState {
  // A session already current or waiting is never taken twice (it would be credited twice).
  const known = new Set([...state.recoveredQueue.map((r) => r.id), ...(state.session.phase === "idle" ? [] : [state.session.id])]);
  const fresh = sessions.filter((p) => {
    if (known.has(p.session_id)) return false;
    known.add(p.session_id);
    return true;
  });
  if (fresh.length === 0) return state;
  const recovered: RecoveringSession[] = fresh.map((p) => ({
    phase: "recovering",
    id: p.session_id,
    cardId: p.card_id,
    readerId: p.reader_id,
    startedWall: p.started_wall,
    bins: p.bins.map((b) => ({ binId: b.bin_id, baselineG: b.baseline_g, ...(b.baseline_mode !== undefined ? { baselineMode: b.baseline_mode } : {}) })),
    deadlineMono: at.mono + ctx.session.recoverTimeoutMs,
    ...(p.role !== undefined ? { role: p.role } : {}),
  }));
  for (const r of recovered) {
    effects.push({
      type: "notice",
      level: "warn",
      msg: "session recovered after a restart: it closes once its scales are back",
      fields: { session: r.id, card: maskCardId(r.cardId), bins: r.bins.map((b) => b.binId) },
    });
  }
  if (state.session.phase === "idle") {
    const [first, ...rest] = recovered;
    return { ...state, session: first!, recoveredQueue: [...state.recoveredQueue, ...rest] };
  }
  return { ...state, recoveredQueue: [...state.recoveredQueue, ...recovered] };
}

/** A card's role by the lists in force (contract section 2 "Roles"). */
export function roleOf(cardId: string, state: StationState): Role {
  const cards = state.cards;
  if (cards === undefined) return "resident";
  if (cards.blocked.includes(cardId)) return "blocked";
  if (cards.collectors.includes(cardId)) return "collector";
  if (cards.maintenance.includes(cardId)) return "maintenance";
  return "resident";
}

/**
 * A bin is ready for a resident (contract section 2, "Sessions with doors"): its scale is online
 * with a valid accepted weight, it is not full, and, for a door bin, its door is closed, its lines
 * work and the fire input is not active. (Storage and power are checked for the whole station.)
 */
export function binReady(binId: string, state: StationState, ctx: StationContext): boolean {
  const bin = ctx.bins.find((b) => b.binId === binId);
  const scale = bin === undefined ? undefined : state.scales[bin.scaleId];
  if (bin === undefined || scale === undefined) return false;
  const view = scaleView(bin.scaleId, scale);
  // `no_reading`: open, but no current weight (a port just reopened, a balance answering busy).
  if (!view.online || view.acceptedG === null || noValidWeight(scale.condition) || scale.condition === "no_reading") return false;
  if (state.full?.[binId] === true) return false;
  if (!bin.door) return true;
  const door = doorOf(state, binId);
  return door.closed === true && door.lineError === null && !contactActive(state, "fire");
}

/** A bin covered from now on: its baseline is its scale's accepted weight now (`null` when it has none). */
function coverNow(binId: string, state: StationState, ctx: StationContext): CoveredBin | null {
  const bin = ctx.bins.find((b) => b.binId === binId);
  const scale = bin === undefined ? undefined : state.scales[bin.scaleId];
  if (bin === undefined || scale === undefined || scale.acceptedG === null) return null;
  return { binId, baselineG: scale.acceptedG, tareChanges: scale.tareChanges, ...(scale.mode !== null ? { baselineMode: scale.mode } : {}) };
}

/**
 * Unlocks a door bin of the open session: the door unlocks, and at its first unlock in the session
 * the bin is covered with its baseline (its accepted weight now). A door that is open, or whose line
 * failed, is left as it is.
 */
function unlockSessionDoor(state: StationState, binId: string, at: At, ctx: StationContext, effects: StationEffect[]): StationState {
  const session = state.session;
  if (session.phase !== "open") return state;
  const door = doorOf(state, binId);
  if (doorIsOpen(door) || door.lineError !== null) return state;
  let next: OpenSession = session;
  // Covered or armed already: the baseline of its first unlock stays.
  const known = [...session.bins, ...(session.armedBins ?? [])].some((b) => b.binId === binId);
  if (!known) {
    const covered = coverNow(binId, state, ctx);
    if (covered === null) {
      effects.push({ type: "notice", level: "warn", msg: "door unlocked on a bin whose scale has no weight: nothing is measured there", fields: { bin: binId } });
    }
    // Armed, not yet covered: the bin joins the session's measured (and stored) bins as its door opens.
    next = {
      ...session,
      ...(covered === null ? {} : { armedBins: [...(session.armedBins ?? []), covered] }),
      doorBins: (session.doorBins ?? []).filter((b) => b !== binId),
    };
  }
  return unlockDoor({ ...state, session: next }, binId, at, effects);
}

function orderByConfig(bins: CoveredBin[], ctx: StationContext): CoveredBin[] {
  const index = (id: string) => ctx.bins.findIndex((b) => b.binId === id);
  return bins.sort((a, b) => index(a.binId) - index(b.binId));
}

/** The door bins of the session (covered, armed or waiting). */
function sessionDoorBins(session: OpenSession, ctx: StationContext): string[] {
  return sessionBinIds(session).filter((id) => doorSpecOf(id, ctx) !== null);
}

/** A presentation (from any reader): open, restart a timer, or refuse (contract section 2, "Sessions", "Sessions with doors", "Roles"). */
export function identify(
  state: StationState,
  input: { cardId: string; readerId: string; sessionId: string } & At,
  ctx: StationContext,
  effects: StationEffect[],
): StationState {
  const { cardId, readerId } = input;
  const card = maskCardId(cardId);
  /** A warn line, and the count of refused identifications (`identification refused: …`) or sessions (`session refused: …`). */
  const refuse = (from: StationState, counter: "identificationsRefused" | "sessionsRefused", msg: string, extra: Record<string, unknown> = {}): StationState => {
    effects.push({ type: "notice", level: "warn", msg, fields: { card, reader: readerId, ...extra } });
    return { ...from, counters: { ...from.counters, [counter]: from.counters[counter] + 1 } };
  };
  if (state.session.phase === "recovering") {
    return refuse(state, "identificationsRefused", "identification refused: a session recovered after a restart is still open", {
      recovered_session: state.session.id,
    });
  }
  const open = state.session.phase === "open" ? state.session : null;
  if (open?.closingFromMono !== undefined) return refuse(state, "identificationsRefused", "identification refused: the station is shutting down");
  if (open !== null && open.cardId === cardId) return sameCardAgain(state, open, input, ctx, effects);
  const role = roleOf(cardId, state);
  if (role === "blocked") effects.push({ type: "indicate", signal: "blocked" });
  if (open !== null && role === "blocked") {
    return refuse(state, "identificationsRefused", "identification refused: a blocked card does not end another card's session");
  }
  if (open !== null && sessionDoorOpen(open, state, ctx)) {
    return refuse(state, "identificationsRefused", "identification ignored: a door of the open session is open");
  }
  if (open !== null && !scalesSettled(open, state, ctx)) {
    // Closing now would measure the open session on the weight from before its last bag, and the
    // new session's baseline would be that weight too: the bag would be paid to this card.
    effects.push({ type: "indicate", signal: "refused" });
    return refuse(state, "identificationsRefused", "identification refused: a scale of the open session is still settling (a bag just landed); show the card again", {
      session: open.id,
    });
  }
  if (state.storage.state === "fault") {
    // Fail safe at the bin: a deposit that cannot be recorded must not be taken.
    effects.push({ type: "indicate", signal: "refused" });
    return refuse(state, "sessionsRefused", "session refused: storage fault", { fault: state.storage.message });
  }
  if (contactActive(state, "power_fail")) {
    effects.push({ type: "indicate", signal: "refused" });
    return refuse(state, "sessionsRefused", "session refused: power failure (the power_fail input is active)");
  }
  let s = state;
  if (open !== null) {
    s = closeOpen(s, open, "other_identification", input, ctx, effects);
    // A recovered session waiting behind the closed one is served first (restart recovery).
    if (s.session.phase === "recovering") return identify(s, input, ctx, effects);
  }

  const staff = role === "collector" || role === "maintenance";
  const bins: CoveredBin[] = [];
  const doorBins: string[] = [];
  for (const bin of ctx.bins) {
    if (bin.door) {
      // Staff open every door, ready or not (full ones too); a blocked card opens none.
      if (role === "blocked") continue;
      const door = doorOf(s, bin.binId);
      if (staff ? door.lineError === null : binReady(bin.binId, s, ctx)) doorBins.push(bin.binId);
      continue;
    }
    if (!(staff ? coverNow(bin.binId, s, ctx) !== null : binReady(bin.binId, s, ctx))) continue;
    const covered = coverNow(bin.binId, s, ctx);
    if (covered !== null) bins.push(covered);
  }
  if (bins.length === 0 && doorBins.length === 0) {
    effects.push({ type: "indicate", signal: "refused" });
    return refuse(s, "sessionsRefused", "session refused: no bin ready", { role });
  }
  let session: OpenSession = {
    phase: "open",
    id: input.sessionId,
    cardId,
    readerId,
    startedMono: input.mono,
    startedWall: input.wall,
    bins,
    firstDepositFromMono: input.mono,
    lastChangeMono: null,
    lastChangeWall: null,
    ...(role !== "resident" ? { role } : {}),
    ...(doorBins.length > 0 ? { doorBins, doorOpened: false, lastDoorClosedMono: null } : {}),
  };
  effects.push({ type: "record", events: [], session: { op: "put", id: session.id, state: persisted(session) } });
  effects.push({
    type: "notice",
    level: "info",
    msg: "session opened",
    fields: { session: session.id, card, reader: readerId, role, bins: bins.map((b) => b.binId), door_bins: doorBins },
  });
  s = { ...s, session, counters: { ...s.counters, sessionsOpened: s.counters.sessionsOpened + 1 } };
  // Doors that unlock at once: every one for staff and in `all` mode, else those without a button.
  for (const binId of doorBins) {
    const unlockNow = staff || ctx.gpio?.doorMode === "all" || doorSpecOf(binId, ctx)?.hasButton !== true;
    if (unlockNow) s = unlockSessionDoor(s, binId, input, ctx, effects);
  }
  session = s.session as OpenSession;
  if ((session.doorBins ?? []).length > 0) effects.push({ type: "indicate", signal: "select" });
  return s;
}

/**
 * The same card again (contract section 2): without doors, before any weight change it restarts the
 * first-deposit timer, after one it changes nothing. With doors: before any door opened, it restarts
 * the first-deposit timer and (in `all` mode, and for staff) unlocks again the session's doors that
 * locked again; after a door opened, it restarts the idle timer. Never beyond `max_session_s`.
 */
function sameCardAgain(state: StationState, open: OpenSession, at: At, ctx: StationContext, effects: StationEffect[]): StationState {
  const hasDoors = sessionDoorBins(open, ctx).length > 0;
  if (!hasDoors) {
    if (open.lastChangeMono !== null) return state;
    return { ...state, session: { ...open, firstDepositFromMono: at.mono } };
  }
  if (open.doorOpened === true) {
    if (sessionDoorOpen(open, state, ctx)) return state;
    return { ...state, session: { ...open, lastDoorClosedMono: at.mono } };
  }
  if (open.lastChangeMono !== null) return state;
  let s: StationState = { ...state, session: { ...open, firstDepositFromMono: at.mono } };
  const staff = open.role === "collector" || open.role === "maintenance";
  if (staff || ctx.gpio?.doorMode === "all") {
    for (const binId of sessionDoorBins(open, ctx)) if (staff || binReady(binId, s, ctx)) s = unlockSessionDoor(s, binId, at, ctx, effects);
  }
  return s;
}

/**
 * A button press (select mode): unlocks that bin's door when the bin belongs to the open session
 * and its door is closed; presses of other buttons, and presses without a session, are ignored.
 * Two buttons pressed together: the first edge wins (each edge is its own input; the second finds
 * its bin not in the session, or unlocks it too when it is: a resident may use two bins).
 */
export function buttonPressed(state: StationState, binId: string, at: At, ctx: StationContext, effects: StationEffect[]): StationState {
  const session = state.session;
  if (session.phase !== "open") {
    effects.push({ type: "notice", level: "debug", msg: "button pressed without a session: ignored", fields: { bin: binId } });
    return state;
  }
  const inSession = sessionDoorBins(session, ctx).includes(binId);
  if (!inSession || doorSpecOf(binId, ctx) === null) {
    effects.push({ type: "notice", level: "info", msg: "button of a bin outside the session: ignored", fields: { bin: binId } });
    effects.push({ type: "indicate", signal: "refused", binId });
    return state;
  }
  // A resident's bin must still be ready as at the card (its scale online with a valid weight, not
  // full, no fire, its lines working), and the station still able to record (no storage fault, no
  // power failure): a door unlocked on an offline scale would take a bag that is never weighed.
  const staff = session.role === "collector" || session.role === "maintenance";
  const notReady = staff ? null : buttonRefusal(binId, state, ctx);
  if (notReady !== null) {
    effects.push({ type: "notice", level: "info", msg: `button refused: ${notReady}`, fields: { bin: binId } });
    effects.push({ type: "indicate", signal: "refused", binId });
    return state;
  }
  // Two buttons together: the first edge wins; another door of the session unlocked or open holds the choice.
  const busy = sessionDoorBins(session, ctx).some((other) => {
    if (other === binId) return false;
    const door = doorOf(state, other);
    return doorIsOpen(door) || (!door.locked && door.unlockedMono !== null);
  });
  if (busy) {
    effects.push({ type: "notice", level: "info", msg: "button ignored: another door of the session is unlocked or open", fields: { bin: binId } });
    return state;
  }
  return unlockSessionDoor(state, binId, at, ctx, effects);
}

/**
 * Why a resident's button press on `binId` is refused now, `null` when it may unlock: the station
 * cannot record (storage fault, power failure), or the bin is not ready ({@link binReady}; an open
 * door is not a reason here: pressing while it is open changes nothing anyway).
 */
function buttonRefusal(binId: string, state: StationState, ctx: StationContext): string | null {
  if (state.storage.state === "fault") return "storage fault";
  if (contactActive(state, "power_fail")) return "power failure (the power_fail input is active)";
  if (contactActive(state, "fire")) return "the fire input is active";
  if (state.full?.[binId] === true) return "the bin is full";
  const door = doorOf(state, binId);
  if (door.lineError !== null) return "a GPIO line of the bin failed";
  if (!doorIsOpen(door) && !binReady(binId, state, ctx)) return "the bin's scale is offline or has no valid weight";
  return null;
}

/**
 * A door of the session opened while unlocked (its deposit starts: an armed bin becomes covered, and
 * the session is stored with it) or closed (the idle timer restarts from now). Doors outside the
 * session change nothing here (doors.ts raises their alarms).
 */
export function sessionDoorEdge(state: StationState, binId: string, edge: "opened" | "closed", at: At, ctx: StationContext, effects: StationEffect[]): StationState {
  const session = state.session;
  if (session.phase !== "open") return state;
  const armed = (session.armedBins ?? []).find((b) => b.binId === binId);
  if (edge === "opened" && armed !== undefined) {
    const next: OpenSession = {
      ...session,
      bins: orderByConfig([...session.bins, armed], ctx),
      armedBins: (session.armedBins ?? []).filter((b) => b.binId !== binId),
      doorOpened: true,
    };
    effects.push({ type: "record", events: [], session: { op: "put", id: next.id, state: persisted(next) } });
    return { ...state, session: next };
  }
  if (!session.bins.some((b) => b.binId === binId)) return state;
  if (edge === "opened") return { ...state, session: { ...session, doorOpened: true } };
  return { ...state, session: { ...session, lastDoorClosedMono: at.mono } };
}

/**
 * A weight change on `scaleId` at `at`: when it is one of the open session's scales of a bin without
 * a door, the idle timer restarts (a door bin's activity is its door).
 */
export function weightChanged(
  state: StationState,
  scaleId: string,
  at: At,
  ctx: StationContext,
  effects: StationEffect[],
): StationState {
  const session = state.session;
  if (session.phase !== "open") return state;
  const covered = session.bins.some((c) => {
    const bin = ctx.bins.find((b) => b.binId === c.binId);
    return bin?.scaleId === scaleId && !bin.door;
  });
  if (!covered) return state;
  const next: OpenSession = { ...session, lastChangeMono: at.mono, lastChangeWall: at.wall };
  effects.push({ type: "record", events: [], session: { op: "put", id: next.id, state: persisted(next) } });
  return { ...state, session: next };
}

/**
 * Whether a weight change on a bin belongs to a session (else it is an `unattributed_weight_change`):
 * the bin is covered by the open or recovered session, or a maintenance session is open.
 */
export function weightAttributed(state: StationState, binId: string): boolean {
  const session = state.session;
  if (session.phase === "idle") return false;
  if (session.role === "maintenance") return true;
  return session.bins.some((b) => b.binId === binId);
}

/** The earliest `mono` at which a tick could change the session, or `null`. */
export function sessionDeadline(state: StationState, ctx: StationContext): number | null {
  const session = state.session;
  if (session.phase === "recovering") return session.deadlineMono;
  if (session.phase !== "open") return null;
  const deadlines = pendingTimers(session, state, ctx).map((t) => t.atMono);
  return deadlines.length === 0 ? null : Math.min(...deadlines);
}
