/**
 * The three session timers of contract.md section 2 "Sessions", on the monotonic clock:
 * - `idle`: `idle_close_s` after the latest weight change, closing at the first moment after that
 *   when all the session's scales are stable or offline;
 * - `first_deposit_timeout`: `first_deposit_timeout_s` after identification (restarted by the same
 *   card) while no weight change happened;
 * - `max_session`: `max_session_s` after identification.
 */
import type { OpenSession } from "./session.js";
import type { ScaleView, SessionSettings } from "./types.js";

/** A close reason that comes from a timer. */
export type TimerReason = "idle" | "first_deposit_timeout" | "max_session";

/** A running timer: it fires at `atMono` (ms). */
export interface SessionTimer {
  reason: TimerReason;
  atMono: number;
}

/** Seconds (config, fractions allowed) to whole milliseconds, so 1.1 s is 1100 ms, not 1100.0000000000002. */
export function secondsToMs(seconds: number): number {
  return Math.round(seconds * 1000);
}

/** True when every scale of the session is stable or offline (a scale never seen counts as offline). */
export function scalesSettled(session: OpenSession, scales: ReadonlyMap<string, ScaleView>): boolean {
  return session.bins.every(({ bin }) => {
    const view = scales.get(bin.scaleId);
    return view === undefined || !view.online || view.stable;
  });
}

/** The session's running timers, earliest-first on ties in the order idle/first-deposit, max. */
export function sessionTimers(session: OpenSession, settings: SessionSettings): SessionTimer[] {
  const first: SessionTimer =
    session.lastChangeMono === null
      ? {
          reason: "first_deposit_timeout",
          atMono: session.firstDepositFromMono + secondsToMs(settings.firstDepositTimeoutS),
        }
      : { reason: "idle", atMono: session.lastChangeMono + secondsToMs(settings.idleCloseS) };
  return [first, { reason: "max_session", atMono: session.startedMono + secondsToMs(settings.maxSessionS) }];
}

/**
 * The timers that time alone can fire: all of them, except `idle` while a scale is unsettled
 * (then a scale input, not a tick, decides).
 */
export function pendingDeadlines(
  session: OpenSession,
  scales: ReadonlyMap<string, ScaleView>,
  settings: SessionSettings,
): SessionTimer[] {
  const settled = scalesSettled(session, scales);
  return sessionTimers(session, settings).filter((t) => t.reason !== "idle" || settled);
}

/**
 * The reason the session must close at `mono`, or `null`: of the timers that can fire and are due,
 * the one due earliest (it would have fired first with a perfect clock).
 */
export function dueTimer(
  session: OpenSession,
  scales: ReadonlyMap<string, ScaleView>,
  settings: SessionSettings,
  mono: number,
): TimerReason | null {
  let due: SessionTimer | null = null;
  for (const timer of pendingDeadlines(session, scales, settings)) {
    if (mono >= timer.atMono && (due === null || timer.atMono < due.atMono)) due = timer;
  }
  return due?.reason ?? null;
}
