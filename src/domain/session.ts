/**
 * The deposit-session state machine for bins without door hardware, exactly contract.md section 2
 * "Sessions". Pure: `step(state, input, ctx) -> { state, effects }`; time comes in with every input
 * (`mono` for every timer, `wall` only for `started_at`/`ended_at`), effects are data for the runner.
 *
 * On every input the machine first closes a session whose timer is due at the input's `mono` (as if
 * a tick had come exactly then), then applies the input, then closes again if that made a close due
 * (e.g. the last scale of a session settling after `idle_close_s`). So the result does not depend on
 * how often the runner ticks, only on when it observes.
 */
import { closeSession } from "./deposits.js";
import { unreachable } from "./exhaustive.js";
import type { CompiledPointsTable } from "./points.js";
import { dueTimer, pendingDeadlines } from "./session-timers.js";
import type { BinSpec, ScaleView, SessionEffect, SessionInput, SessionSettings } from "./types.js";

/** A bin covered by the open session, with its baseline (accepted grams at identification). */
export interface CoveredBin {
  readonly bin: BinSpec;
  readonly baselineG: number;
}

/** The open session. Times are `mono`/`wall` milliseconds of the inputs that set them. */
export interface OpenSession {
  readonly cardId: string;
  readonly readerId: string;
  /** The identification that opened it. */
  readonly startedMono: number;
  readonly startedWall: number;
  /** Bins in config order whose scale was online with an accepted weight at identification. */
  readonly bins: readonly CoveredBin[];
  /** Start of the `first_deposit_timeout_s` timer: identification, or the same card shown again. */
  readonly firstDepositFromMono: number;
  /** The latest weight change on one of the session's scales, `null` while none happened. */
  readonly lastChangeMono: number | null;
}

/** The machine's whole state. Treat as immutable: `step` returns a new one. */
export interface SessionState {
  /** The latest view of every scale, by scale id (from `scale` inputs). */
  readonly scales: ReadonlyMap<string, ScaleView>;
  readonly session: OpenSession | null;
}

/** What `step` needs besides the state: the validated config, passed as one object. */
export interface SessionContext {
  /** Config `bins[]`, in config order (deposit effects follow it). */
  readonly bins: readonly BinSpec[];
  readonly settings: SessionSettings;
  /** The compiled rule table; `null` without `points.categories` (every deposit `no_rule`). */
  readonly points: CompiledPointsTable | null;
  /** The scale's `change_threshold_g`: a bin's net weight below it is no deposit. */
  readonly changeThresholdG: (scaleId: string) => number;
}

/** The result of one transition. */
export interface StepResult {
  state: SessionState;
  /** In the order the runner must execute them. */
  effects: SessionEffect[];
}

/** The state at start: no session, every bin's scale offline with no accepted weight. */
export function initialSessionState(bins: readonly BinSpec[]): SessionState {
  const scales = new Map<string, ScaleView>();
  for (const { scaleId } of bins) {
    scales.set(scaleId, { scaleId, online: false, stable: false, acceptedG: null });
  }
  return { scales, session: null };
}

/**
 * One transition. Effects, by input:
 * - `identified`: with a different card's session open, its close effects first; then
 *   `session_opened` (bins whose scale is online with an accepted weight) or `session_refused`
 *   (none). The same card again restarts the first-deposit timer if no weight change happened yet,
 *   else changes nothing.
 * - `scale`: records the view; a new accepted weight on a covered scale is a weight change.
 * - `tick`: only the timers.
 * - `flush`: closes an open session now (reason `flush`).
 * A close yields `record_deposit` per bin with `net_g >= change_threshold_g` (config order), then
 * `session_closed`. Timer closes have reasons `idle`, `first_deposit_timeout`, `max_session`.
 */
export function step(state: SessionState, input: SessionInput, ctx: SessionContext): StepResult {
  const effects: SessionEffect[] = [];
  let next = closeIfDue(state, input, ctx, effects);
  switch (input.type) {
    case "tick":
      break;
    case "flush":
      if (next.session !== null) {
        effects.push(...closeSession(next.session, next.scales, ctx, "flush", input));
        next = { ...next, session: null };
      }
      break;
    case "scale":
      next = applyScale(next, input);
      break;
    case "identified":
      next = identify(next, input, ctx, effects);
      break;
    default:
      return unreachable(input);
  }
  next = closeIfDue(next, input, ctx, effects);
  return { state: next, effects };
}

/**
 * The earliest `mono` at which a tick could change something, or `null` without a session. It is
 * the earliest running timer of the open session, leaving out an idle close that waits for a scale
 * to settle (a `scale` input decides that one). A runner may schedule its next tick exactly then.
 */
export function nextDeadline(state: SessionState, ctx: SessionContext): number | null {
  if (state.session === null) return null;
  const deadlines = pendingDeadlines(state.session, state.scales, ctx.settings).map((t) => t.atMono);
  return deadlines.length === 0 ? null : Math.min(...deadlines);
}

function closeIfDue(
  state: SessionState,
  at: { mono: number; wall: number },
  ctx: SessionContext,
  effects: SessionEffect[],
): SessionState {
  if (state.session === null) return state;
  const reason = dueTimer(state.session, state.scales, ctx.settings, at.mono);
  if (reason === null) return state;
  effects.push(...closeSession(state.session, state.scales, ctx, reason, at));
  return { ...state, session: null };
}

function applyScale(state: SessionState, input: Extract<SessionInput, { type: "scale" }>): SessionState {
  const { scaleId, online, stable, acceptedG } = input.view;
  const previous = state.scales.get(scaleId);
  const scales = new Map(state.scales);
  scales.set(scaleId, { scaleId, online, stable, acceptedG });
  const weightChange = acceptedG !== null && acceptedG !== (previous?.acceptedG ?? null);
  const session = state.session;
  if (session === null || !weightChange || !session.bins.some((c) => c.bin.scaleId === scaleId)) {
    return { ...state, scales };
  }
  return { scales, session: { ...session, lastChangeMono: input.mono } };
}

function identify(
  state: SessionState,
  input: Extract<SessionInput, { type: "identified" }>,
  ctx: SessionContext,
  effects: SessionEffect[],
): SessionState {
  const open = state.session;
  if (open !== null && open.cardId === input.cardId) {
    if (open.lastChangeMono !== null) return state;
    return { ...state, session: { ...open, firstDepositFromMono: input.mono } };
  }
  if (open !== null) effects.push(...closeSession(open, state.scales, ctx, "other_identification", input));

  const { cardId, readerId } = input;
  const bins: CoveredBin[] = [];
  for (const bin of ctx.bins) {
    const view = state.scales.get(bin.scaleId);
    if (view?.online === true && view.acceptedG !== null) bins.push({ bin, baselineG: view.acceptedG });
  }
  if (bins.length === 0) {
    effects.push({ type: "session_refused", cardId, readerId, reason: "no_ready_bin" });
    return { ...state, session: null };
  }
  effects.push({ type: "session_opened", cardId, readerId, binIds: bins.map((c) => c.bin.binId) });
  const session: OpenSession = {
    cardId,
    readerId,
    startedMono: input.mono,
    startedWall: input.wall,
    bins,
    firstDepositFromMono: input.mono,
    lastChangeMono: null,
  };
  return { ...state, session };
}
