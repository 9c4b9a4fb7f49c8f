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
import { interruptedAlarm, measureBin, tareChangedAlarm, type ClosingSession } from "./deposits.js";
import { maskCardId } from "./privacy.js";
import { noValidWeight, scaleView } from "./scale-state.js";
import type {
  CloseReason,
  CoveredBin,
  DurableEvent,
  OpenSession,
  PersistedSession,
  RecoveringSession,
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

/** The open session's running timers. */
export function sessionTimers(session: OpenSession, timings: SessionTimings): SessionTimer[] {
  const first: SessionTimer =
    session.lastChangeMono === null
      ? { reason: "first_deposit_timeout", atMono: session.firstDepositFromMono + timings.firstDepositTimeoutMs }
      : { reason: "idle", atMono: session.lastChangeMono + timings.idleCloseMs };
  return [first, { reason: "max_session", atMono: session.startedMono + timings.maxSessionMs }];
}

/** The timers time alone can fire: all, except `idle` while a scale is unsettled (a scale input decides that). */
export function pendingTimers(session: OpenSession, state: StationState, ctx: StationContext): SessionTimer[] {
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
function measureCovered(session: ClosingSession, covered: CoveredBin, afterG: number, reason: CloseReason, at: At, state: StationState, ctx: StationContext): DurableEvent[] {
  const scale = scaleOf(covered.binId, state, ctx);
  const switched =
    scale !== undefined &&
    (covered.tareChanges !== undefined
      ? scale.tareChanges !== covered.tareChanges
      : covered.baselineMode !== undefined && scale.mode !== null && scale.mode !== covered.baselineMode);
  if (!switched) return measureBin(session, covered, afterG, reason, at.wall, ctx);
  return [tareChangedAlarm(session, covered, afterG, ctx)];
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
  for (const covered of session.bins) {
    // An offline scale counts with its last accepted weight (kept while offline).
    const afterG = acceptedOf(covered.binId, state, ctx) ?? covered.baselineG;
    events.push(...measureCovered(session, covered, afterG, reason, at, state, ctx));
  }
  effects.push({ type: "record", events, session: { op: "delete", id: session.id } });
  const deposits = events.filter((e) => e.kind === "deposit").length;
  effects.push({
    type: "notice",
    level: "info",
    msg: "session closed",
    fields: { session: session.id, card: maskCardId(session.cardId), reason, deposits },
  });
  return afterClose(state);
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
  for (const covered of session.bins) {
    const afterG = acceptedOf(covered.binId, state, ctx);
    if (afterG === null) missing.push(covered);
    else events.push(...measureCovered(session, covered, afterG, "restart", at, state, ctx));
  }
  if (missing.length > 0) events.push(interruptedAlarm(session, missing, ctx.stationId));
  effects.push({ type: "record", events, session: { op: "delete", id: session.id } });
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
      // A shutdown waits for the bag to settle, then closes at once.
      const reason = session.closingFromMono !== undefined && scalesSettled(session, s, ctx) ? "shutdown" : dueTimer(session, s, ctx, at.mono);
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

/**
 * Shutdown (SIGTERM/SIGINT, the end of the demo): an open session whose scales are settled closes
 * now (`shutdown`). One with a scale still settling (a bag just dropped, not yet stable) would
 * close on the weight accepted before the bag and lose it, so it waits: it closes the moment its
 * scales settle (see {@link closeIfDue}). When the runner's wait is over (`final`) and it still has
 * not settled, it is left open and stored: the next start recovers it and measures the bag
 * (`restart`), as after a crash. A recovered session still waiting also stays stored.
 */
export function shutdown(state: StationState, at: At, final: boolean, ctx: StationContext, effects: StationEffect[]): StationState {
  const session = state.session;
  if (session.phase === "open") {
    if (scalesSettled(session, state, ctx)) return closeOpen(state, session, "shutdown", at, ctx, effects);
    const fields = { session: session.id, card: maskCardId(session.cardId) };
    if (final) {
      effects.push({
        type: "notice",
        level: "warn",
        msg: "shutdown while a scale of the session is still settling: the session stays stored and is measured at the next start",
        fields,
      });
      return state;
    }
    if (session.closingFromMono !== undefined) return state;
    effects.push({ type: "notice", level: "info", msg: "shutdown: waiting for the session's scales to settle before closing it", fields });
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

/** A presentation (from any reader): open, restart the first-deposit timer, or refuse. */
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
  if (open !== null && open.cardId === cardId) {
    if (open.lastChangeMono !== null) return state;
    return { ...state, session: { ...open, firstDepositFromMono: input.mono } };
  }
  if (state.storage.state === "fault") {
    // Fail safe at the bin: a deposit that cannot be recorded must not be taken.
    return refuse(state, "sessionsRefused", "session refused: storage fault", { fault: state.storage.message });
  }
  let s = state;
  if (open !== null) {
    s = closeOpen(s, open, "other_identification", input, ctx, effects);
    // A recovered session waiting behind the closed one is served first (restart recovery).
    if (s.session.phase === "recovering") return identify(s, input, ctx, effects);
  }

  const bins: CoveredBin[] = [];
  for (const bin of ctx.bins) {
    const scale = s.scales[bin.scaleId];
    if (scale === undefined) continue;
    const view = scaleView(bin.scaleId, scale);
    if (view.online && view.acceptedG !== null && !noValidWeight(scale.condition)) {
      bins.push({
        binId: bin.binId,
        baselineG: view.acceptedG,
        tareChanges: scale.tareChanges,
        ...(scale.mode !== null ? { baselineMode: scale.mode } : {}),
      });
    }
  }
  if (bins.length === 0) return refuse(s, "sessionsRefused", "session refused: no bin ready");
  const session: OpenSession = {
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
  };
  effects.push({ type: "record", events: [], session: { op: "put", id: session.id, state: persisted(session) } });
  effects.push({
    type: "notice",
    level: "info",
    msg: "session opened",
    fields: { session: session.id, card, reader: readerId, bins: bins.map((b) => b.binId) },
  });
  return { ...s, session, counters: { ...s.counters, sessionsOpened: s.counters.sessionsOpened + 1 } };
}

/** A weight change on `scaleId` at `at`: when it is one of the open session's scales, the idle timer restarts. */
export function weightChanged(
  state: StationState,
  scaleId: string,
  at: At,
  ctx: StationContext,
  effects: StationEffect[],
): StationState {
  const session = state.session;
  if (session.phase !== "open") return state;
  const covered = session.bins.some((c) => ctx.bins.find((b) => b.binId === c.binId)?.scaleId === scaleId);
  if (!covered) return state;
  const next: OpenSession = { ...session, lastChangeMono: at.mono, lastChangeWall: at.wall };
  effects.push({ type: "record", events: [], session: { op: "put", id: next.id, state: persisted(next) } });
  return { ...state, session: next };
}

/** The earliest `mono` at which a tick could change the session, or `null`. */
export function sessionDeadline(state: StationState, ctx: StationContext): number | null {
  const session = state.session;
  if (session.phase === "recovering") return session.deadlineMono;
  if (session.phase !== "open") return null;
  const deadlines = pendingTimers(session, state, ctx).map((t) => t.atMono);
  return deadlines.length === 0 ? null : Math.min(...deadlines);
}
