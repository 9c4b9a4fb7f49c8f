/**
 * The station's storage rules (issue 7, items 1 and 4; contract.md section 2 `storage`, section 4
 * status `storage` and the alarms `storage_nearly_full` / `storage_ok`), as pure functions over the
 * station's state. The station machine (station-machine.ts) calls them.
 *
 * - `busy` (another process holds the database's write lock) only shows on the status: commits wait,
 *   sessions still open.
 * - `fault` (commits fail) refuses new sessions; that check is in session.ts (`identify`).
 * - Space: at 90 % of `max_size_mb` or below twice `min_free_mb`, one `storage_nearly_full` alarm;
 *   at the budget or below the floor, no new session (fail safe: a deposit that may not be
 *   recordable is not taken); one `storage_ok` once back under 80 % and above twice the floor.
 *   The alarms mark crossings of {@link StorageState.spaceAlarm}, which the outbox stores with the
 *   alarm, so a restart neither repeats one nor misses one.
 */
import { maskCardId } from "./privacy.js";
import type {
  SpaceAlarm,
  SpaceLevel,
  SpaceMeasure,
  StationContext,
  StationEffect,
  StationInput,
  StationState,
  StorageState,
} from "./station-types.js";

/** The storage state at start: commits assumed fine, space `ok` until measured, no alarm standing. */
export const initialStorage: StorageState = { state: "ok", message: null, space: "ok", spaceAlarm: "ok" };

/** `storage_nearly_full` at this share of the budget... */
const NEARLY_FULL_SHARE = 0.9;
/** ...and `storage_ok` again only below this one (hysteresis: one alarm per crossing, no flapping). */
const OK_SHARE = 0.8;

/** The level of one measurement (see {@link SpaceLevel}). */
export function spaceLevel(m: SpaceMeasure): SpaceLevel {
  if (m.usedBytes >= m.budgetBytes || m.freeBytes < m.floorBytes) return "full";
  if (m.usedBytes >= m.budgetBytes * NEARLY_FULL_SHARE || m.freeBytes < 2 * m.floorBytes) return "nearly_full";
  return "ok";
}

/** True when a measurement is clear of every threshold by the hysteresis margin: `storage_ok` may be said. */
export function spaceClear(m: SpaceMeasure): boolean {
  return m.usedBytes < m.budgetBytes * OK_SHARE && m.freeBytes > 2 * m.floorBytes;
}

type Input<T extends StationInput["type"]> = Extract<StationInput, { type: T }>;

/** The outbox's commit state changed: only the status says so (a storage fault cannot be an event). */
export function storageChanged(state: StationState, input: Input<"storage">, effects: StationEffect[]): StationState {
  const message = input.state === "ok" ? null : (input.message ?? null);
  if (state.storage.state === input.state && state.storage.message === message) return state;
  effects.push({ type: "status_changed" });
  return { ...state, storage: { ...state.storage, state: input.state, message } };
}

/** A measurement: the level (status, refusals) and the crossing alarms. */
export function spaceMeasured(state: StationState, input: Input<"storage_space">, ctx: StationContext, effects: StationEffect[]): StationState {
  const m = input.space;
  const space = spaceLevel(m);
  const before = state.storage;
  const standing: SpaceAlarm = input.alarm ?? before.spaceAlarm;
  let spaceAlarm = standing;
  if (standing === "ok" && space !== "ok") spaceAlarm = "nearly_full";
  else if (standing === "nearly_full" && spaceClear(m)) spaceAlarm = "ok";
  if (spaceAlarm !== standing) effects.push(spaceAlarmRecord(spaceAlarm, m, ctx));
  if (space !== before.space) {
    effects.push({
      type: "notice",
      level: space === "ok" ? "info" : space === "full" ? "error" : "warn",
      msg:
        space === "full"
          ? "storage full: no new sessions until space is back"
          : space === "nearly_full"
            ? "storage nearly full: published events are pruned early"
            : "storage space ok",
      fields: figures(m),
    });
    effects.push({ type: "status_changed" });
  }
  if (space === before.space && spaceAlarm === before.spaceAlarm) return state;
  return { ...state, storage: { ...before, space, spaceAlarm } };
}

/**
 * The fail-safe rule for space: at the budget or below the floor, an identification that would open
 * a new session is refused (notice, counted), and the open session goes on. Returns `null` when the
 * identification may go on to the session rules (space not full, the open session's own card again,
 * or a recovered session that refuses it anyway).
 */
export function refusedForSpace(
  state: StationState,
  input: { cardId: string; readerId: string },
  effects: StationEffect[],
): StationState | null {
  if (state.storage.space !== "full") return null;
  const session = state.session;
  if (session.phase === "recovering") return null;
  if (session.phase === "open" && session.cardId === input.cardId) return null;
  effects.push({
    type: "notice",
    level: "warn",
    msg: "session refused: storage full",
    fields: { card: maskCardId(input.cardId), reader: input.readerId },
  });
  const counters = state.counters;
  return { ...state, counters: { ...counters, sessionsRefused: counters.sessionsRefused + 1 } };
}

/** The status's `storage` object (contract section 4): `{state, space, message?}`. */
export function storageStatus(storage: StorageState): { state: StorageState["state"]; space: SpaceLevel; message?: string } {
  const { state, message, space } = storage;
  return message === null ? { state, space } : { state, space, message };
}

/** Whole mebibytes with one decimal, for messages and log fields. */
function mib(bytes: number): number {
  return Math.round((bytes / 1_048_576) * 10) / 10;
}

function figures(m: SpaceMeasure): Record<string, number> {
  return { used_bytes: m.usedBytes, max_size_bytes: m.budgetBytes, free_bytes: m.freeBytes, min_free_bytes: m.floorBytes };
}

function spaceAlarmRecord(alarm: SpaceAlarm, m: SpaceMeasure, ctx: StationContext): StationEffect {
  const use = `${mib(m.usedBytes)} of ${mib(m.budgetBytes)} MiB used, ${mib(m.freeBytes)} MiB free (floor ${mib(m.floorBytes)} MiB)`;
  return {
    type: "record",
    events: [
      {
        kind: "alarm",
        subject: ctx.stationId,
        data: {
          code: alarm === "nearly_full" ? "storage_nearly_full" : "storage_ok",
          message: alarm === "nearly_full" ? `storage nearly full: ${use}` : `storage space ok again: ${use}`,
          ...figures(m),
        },
      },
    ],
    storageAlarm: alarm,
  };
}
