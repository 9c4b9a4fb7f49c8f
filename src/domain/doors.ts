/**
 * Doors, contacts and what the station's outputs should be (contract.md section 2, "GPIO and doors",
 * "Sessions with doors", "Other station alarms"), as pure functions over the station's state. The
 * session rules that involve doors (who unlocks what, when a door session closes) are in session.ts;
 * this module keeps each door's own state: its debounced closed input, its lock as commanded, its
 * timers (`open_timeout_s` relocks a door never opened, `left_open_s` raises `door_left_open`) and its
 * alarms (`door_forced`, `door_left_open`, `gpio_error`), and the contacts `fire`, `tamper`,
 * `power_fail`.
 *
 * Outputs are not effects: {@link outputsOf} derives every output's level from the state, and the
 * runner writes the lines whose level changed. So no transition can "forget" to lock a door, and the
 * fire rule (`station.fire_doors`) overrides every lock in one place.
 */
import { alarmEffect } from "./alarms.js";
import { META_KEYS } from "./station-types.js";
import type {
  Contact,
  DoorSpec,
  DoorState,
  OpenSession,
  StationContext,
  StationEffect,
  StationState,
} from "./station-types.js";

interface At {
  mono: number;
  wall: number;
}

/** A door at start: locked (the safe state), closed input not yet read, no alarm raised. */
export const initialDoor: DoorState = {
  closed: null,
  locked: true,
  unlockedMono: null,
  openMono: null,
  forced: false,
  leftOpen: false,
  lineError: null,
};

/**
 * Every bin of an open session: covered (measured), armed (its door unlocked, not yet opened) and
 * waiting for its button, in that order. The session's, the lamps' and the commands' one answer to
 * "is this bin in the session".
 */
export function sessionBinIds(session: OpenSession): string[] {
  return [...session.bins.map((b) => b.binId), ...(session.armedBins ?? []).map((b) => b.binId), ...(session.doorBins ?? [])];
}

/** The door spec of a bin, `null` for a bin without a door (or an unknown bin). */
export function doorSpecOf(binId: string, ctx: StationContext): DoorSpec | null {
  return ctx.bins.find((b) => b.binId === binId)?.door ?? null;
}

/** The door state of a bin (initial when not yet known). */
export function doorOf(state: StationState, binId: string): DoorState {
  return state.doors?.[binId] ?? initialDoor;
}

/** Replaces one door's state. */
export function withDoor(state: StationState, binId: string, door: DoorState): StationState {
  return { ...state, doors: { ...state.doors, [binId]: door } };
}

/** True while the contact is active. */
export function contactActive(state: StationState, contact: Contact): boolean {
  return state.contacts?.[contact] === true;
}

/** The door is open now (its closed input inactive); an unread input counts as not open. */
export function doorIsOpen(door: DoorState): boolean {
  return door.closed === false;
}

/** Unlocks a door (the session decided it): the `open_timeout_s` timer starts. */
export function unlockDoor(state: StationState, binId: string, at: At, effects: StationEffect[]): StationState {
  const door = doorOf(state, binId);
  if (!door.locked) return state;
  effects.push({ type: "notice", level: "info", msg: "door unlocked", fields: { bin: binId } });
  return withDoor(state, binId, { ...door, locked: false, unlockedMono: at.mono });
}

/** Locks a door unless it is open (an open door locks as it closes: {@link doorInput}). */
export function lockDoorIfClosed(state: StationState, binId: string, effects: StationEffect[]): StationState {
  const door = doorOf(state, binId);
  if (door.locked || doorIsOpen(door)) return state;
  effects.push({ type: "notice", level: "info", msg: "door locked", fields: { bin: binId } });
  return withDoor(state, binId, { ...door, locked: true, unlockedMono: null });
}

/** Whether the lock output is unlocked now: the commanded state, overridden by the fire rule. */
export function lockReleased(state: StationState, binId: string, ctx: StationContext): boolean {
  if (contactActive(state, "fire")) return ctx.gpio?.fireDoors === "unlock";
  return !doorOf(state, binId).locked;
}

/** What a door's edge means, for the session rules (session.ts). */
export type DoorEdge = "opened" | "closed" | "forced" | "found" | null;

/**
 * A door's debounced closed input. Opening while the lock output is released starts a deposit
 * (`opened`); opening while locked is `door_forced` (once per opening); the first reading after
 * start is only noted (`found`: a door found open at start is not forced). Closing locks the door
 * at once and rearms its alarms.
 */
export function doorClosedInput(
  state: StationState,
  binId: string,
  closed: boolean,
  at: At,
  ctx: StationContext,
  effects: StationEffect[],
): { state: StationState; edge: DoorEdge } {
  const door = doorOf(state, binId);
  if (door.closed === closed) return { state, edge: null };
  if (door.closed === null) {
    const next: DoorState = { ...door, closed, openMono: closed ? null : at.mono };
    if (!closed) effects.push({ type: "notice", level: "warn", msg: "door found open at start", fields: { bin: binId } });
    return { state: withDoor(state, binId, next), edge: "found" };
  }
  if (!closed) {
    const released = lockReleased(state, binId, ctx);
    const next: DoorState = { ...door, closed: false, openMono: at.mono, unlockedMono: null };
    if (released) {
      effects.push({ type: "notice", level: "info", msg: "door opened", fields: { bin: binId } });
      return { state: withDoor(state, binId, next), edge: "opened" };
    }
    if (!door.forced) {
      effects.push({ type: "notice", level: "error", msg: "door forced: it opened while locked", fields: { bin: binId } });
      effects.push(alarmEffect(binId, { code: "door_forced", bin_id: binId, message: `bin ${binId}: the door opened while locked` }));
    }
    return { state: withDoor(state, binId, { ...next, forced: true }), edge: "forced" };
  }
  effects.push({ type: "notice", level: "info", msg: door.locked ? "door closed" : "door closed and locked", fields: { bin: binId } });
  const next: DoorState = { ...door, closed: true, openMono: null, forced: false, leftOpen: false, locked: true, unlockedMono: null };
  return { state: withDoor(state, binId, next), edge: "closed" };
}

/**
 * Door timers due at `at.mono`: a door unlocked and not opened for `open_timeout_s` locks again; a
 * door open longer than `left_open_s` raises `door_left_open` (once per opening).
 */
export function doorTimers(state: StationState, at: At, ctx: StationContext, effects: StationEffect[]): StationState {
  let s = state;
  for (const bin of ctx.bins) {
    if (!bin.door) continue;
    const door = doorOf(s, bin.binId);
    if (!door.locked && door.unlockedMono !== null && !doorIsOpen(door) && at.mono >= door.unlockedMono + bin.door.openTimeoutMs) {
      effects.push({ type: "notice", level: "info", msg: "door not opened in time: locked again", fields: { bin: bin.binId } });
      s = withDoor(s, bin.binId, { ...door, locked: true, unlockedMono: null });
      continue;
    }
    if (door.openMono !== null && !door.leftOpen && at.mono >= door.openMono + bin.door.leftOpenMs) {
      effects.push({ type: "notice", level: "warn", msg: "door left open", fields: { bin: bin.binId } });
      effects.push(
        alarmEffect(bin.binId, {
          code: "door_left_open",
          bin_id: bin.binId,
          open_s: Math.round((at.mono - door.openMono) / 1000),
          message: `bin ${bin.binId}: the door has been open longer than ${bin.door.leftOpenMs / 1000} s`,
        }),
      );
      s = withDoor(s, bin.binId, { ...door, leftOpen: true });
    }
  }
  return s;
}

/** The earliest door timer, or `null`. */
export function doorDeadline(state: StationState, ctx: StationContext): number | null {
  let at: number | null = null;
  const consider = (t: number) => {
    if (at === null || t < at) at = t;
  };
  for (const bin of ctx.bins) {
    if (!bin.door) continue;
    const door = doorOf(state, bin.binId);
    if (!door.locked && door.unlockedMono !== null && !doorIsOpen(door)) consider(door.unlockedMono + bin.door.openTimeoutMs);
    if (door.openMono !== null && !door.leftOpen) consider(door.openMono + bin.door.leftOpenMs);
  }
  return at;
}

const CONTACT_ALARMS: Record<Contact, { on: "fire" | "tamper" | "power_fail"; off: "fire_cleared" | "tamper_cleared" | "power_ok"; what: string }> = {
  fire: { on: "fire", off: "fire_cleared", what: "fire alarm input" },
  tamper: { on: "tamper", off: "tamper_cleared", what: "tamper contact" },
  power_fail: { on: "power_fail", off: "power_ok", what: "power-fail input" },
};

/**
 * A contact's debounced level: an alarm (`fire`, `tamper`, `power_fail`) as it becomes active, its
 * clearing code as it becomes inactive; the level is stored with the alarm (meta `contacts`), so a
 * restart with the contact unchanged raises nothing again.
 */
export function contactInput(state: StationState, contact: Contact, active: boolean, ctx: StationContext, effects: StationEffect[]): StationState {
  if ((state.contacts?.[contact] === true) === active) return state;
  const contacts = { ...state.contacts, [contact]: active };
  const names = CONTACT_ALARMS[contact];
  effects.push({ type: "notice", level: active ? "error" : "info", msg: `${names.what} ${active ? "active" : "cleared"}`, fields: { contact } });
  const extra = contact === "fire" && active ? { doors: ctx.gpio?.fireDoors ?? "unlock" } : {};
  effects.push(
    alarmEffect(
      ctx.stationId,
      { code: active ? names.on : names.off, ...extra, message: `${names.what} ${active ? "active" : "cleared"}` },
      { [META_KEYS.contacts]: JSON.stringify(contacts) },
    ),
  );
  effects.push({ type: "status_changed" });
  return { ...state, contacts };
}

/**
 * A GPIO line failed: a `gpio_error` alarm (once per line until it works again). A door's bin is out
 * of service: not ready, and its lock commanded locked at once, open or not (its closed sensor may
 * be the line that failed, so no "closed" edge may ever come to lock it; a lock that engages on an
 * open door catches it as it closes). The session no longer waits for that door (see
 * `sessionDoorOpen` in session.ts).
 */
export function gpioError(
  state: StationState,
  input: { line: number; message: string; binId?: string; contact?: Contact },
  ctx: StationContext,
  effects: StationEffect[],
): StationState {
  let s = state;
  if (input.binId !== undefined && doorSpecOf(input.binId, ctx) !== null) {
    const door = doorOf(s, input.binId);
    if (door.lineError !== null) return s;
    if (!door.locked) effects.push({ type: "notice", level: "warn", msg: "door locked: a GPIO line of its bin failed", fields: { bin: input.binId } });
    s = withDoor(s, input.binId, { ...door, lineError: input.message, locked: true, unlockedMono: null });
  } else if (input.contact !== undefined) {
    if (s.contactErrors?.[input.contact] !== undefined) return s;
    s = { ...s, contactErrors: { ...s.contactErrors, [input.contact]: input.message } };
  }
  effects.push({ type: "notice", level: "error", msg: "GPIO line failed", fields: { line: input.line, bin: input.binId, contact: input.contact, error: input.message } });
  const subject = input.binId ?? ctx.stationId;
  effects.push(
    alarmEffect(subject, {
      code: "gpio_error",
      line: input.line,
      ...(input.binId !== undefined ? { bin_id: input.binId } : {}),
      ...(input.contact !== undefined ? { contact: input.contact } : {}),
      message: `GPIO line ${input.line} failed: ${input.message}`,
    }),
  );
  effects.push({ type: "status_changed" });
  return s;
}

/** What every output should be now. Lamps: `on` while the door is unlocked, `blink` while the bin waits for its button. */
export interface Outputs {
  /** Per door bin: true = unlocked (the lock line active). */
  readonly locks: Readonly<Record<string, boolean>>;
  readonly lamps: Readonly<Record<string, "off" | "on" | "blink">>;
}

/**
 * Every output's level as the state says (the runner writes what changed). The safe state (every
 * lock locked, every lamp off) is what {@link initialDoor} gives; the fire rule overrides the locks.
 */
export function outputsOf(state: StationState, ctx: StationContext): Outputs {
  const locks: Record<string, boolean> = {};
  const lamps: Record<string, "off" | "on" | "blink"> = {};
  const session = state.session.phase === "open" ? state.session : null;
  for (const bin of ctx.bins) {
    if (!bin.door) continue;
    const released = lockReleased(state, bin.binId, ctx);
    locks[bin.binId] = released;
    if (!bin.door.hasLamp) continue;
    const waiting =
      session !== null &&
      sessionBinIds(session).includes(bin.binId) &&
      (session.doorBins?.includes(bin.binId) === true || (bin.door.hasButton && ctx.gpio?.doorMode === "select"));
    lamps[bin.binId] = released ? "on" : waiting ? "blink" : "off";
  }
  return { locks, lamps };
}

