/**
 * The station machine (architecture.md, "The station machine"): every decision of the station in
 * one pure function, `step(state, input, ctx) -> { state, effects }`. The state is plain data
 * (`JSON.stringify` round-trips it); time comes in with every input; effects are data the runner
 * (app/station.ts) executes in order: record events (with the open session's stored row in the
 * same transaction), publish the status, write notices to the log.
 *
 * On every input the machine first closes what is due at the input's `mono` (as if a tick had come
 * exactly then), then applies the input, then closes again if that made a close due (e.g. the last
 * scale of a session settling after `idle_close_s`). So results depend on when the runner
 * observes, not on how often it ticks.
 *
 * Rules that live here: sessions (session.ts), deposits and plausibility (deposits.ts), weighing
 * (scale-state.ts), presentations and reader noise (reader-state.ts), device links, alarms and
 * "no valid frames" (device-link.ts), fill-level sensors (level-state.ts) and full bins (bin-full.ts), storage (storage.ts: busy, fault, space and its alarms, and the
 * fail-safe rule: no new session while storage is at fault or full), and the status payload
 * ({@link statusOf}).
 */
import type { LevelFrame, ReaderFrame, ScaleFrame } from "../protocol/types.js";
import { NOISY_WINDOW_MS, NO_VALID_FRAMES_MIN_BYTES, POLLED_NO_VALID_FRAMES_MIN_BYTES, chunkArrived, lineNoiseJudged, linkOnline, linkState, offlineReason, portChanged, reportLink, type LinkAlarm } from "./device-link.js";
import { tallyOf } from "./daily-points.js";
import { unreachable } from "./exhaustive.js";
import { maskCardId } from "./privacy.js";
import { expireTags, initialReader, readTag, resetTags } from "./reader-state.js";
import { applyScaleFrame, framesTooSlow, initialScale, noValidWeight, scaleLinkChanged, windowNeededMs } from "./scale-state.js";
import { alarmEffect } from "./alarms.js";
import { judgeBinFull, priorVerdict } from "./bin-full.js";
import { LEVEL_STATUS_STEP_PERCENT, addReading, initialLevel, levelLinkChanged, levelSaysFull } from "./level-state.js";
import { contactInput, doorClosedInput, doorDeadline, doorIsOpen, doorOf, doorTimers, gpioError, initialDoor, outputsOf } from "./doors.js";
import { buttonPressed, closeIfDue, identify, recover, sessionDeadline, sessionDoorEdge, shutdown, weightAttributed, weightChanged } from "./session.js";
import { replaceCards } from "./cards.js";
import { brokerConflict, commandInput, finishCommand, scaleRequestDone } from "./commands.js";
import { initialStorage, refusedForSpace, spaceMeasured, storageChanged, storageStatus } from "./storage.js";
import { META_KEYS } from "./station-types.js";
import type {
  DeviceCounters,
  DoorState,
  DeviceLink,
  LevelSensorSpec,
  LevelSensorState,
  ReaderSpec,
  ReaderState,
  ScaleCondition,
  ScaleSpec,
  ScaleState,
  StationContext,
  StationEffect,
  StationInput,
  SpaceLevel,
  StationState,
  StepResult,
} from "./station-types.js";

const ZERO_COUNTERS: DeviceCounters = { bytes: 0, frames: 0, discarded: 0, noise: 0 };

/** The state at start: no session, every device `starting`, storage ok. */
export function initialState(ctx: StationContext): StationState {
  const scales: Record<string, ScaleState> = {};
  const readers: Record<string, ReaderState> = {};
  const devices: Record<string, DeviceCounters> = {};
  for (const s of ctx.scales) {
    scales[s.id] = initialScale;
    devices[s.id] = ZERO_COUNTERS;
  }
  for (const r of ctx.readers) {
    readers[r.id] = initialReader;
    devices[r.id] = ZERO_COUNTERS;
  }
  const levels: Record<string, LevelSensorState> = {};
  for (const l of ctx.levelSensors ?? []) {
    levels[l.id] = initialLevel;
    devices[l.id] = ZERO_COUNTERS;
  }
  const doors: Record<string, DoorState> = {};
  for (const b of ctx.bins) if (b.door) doors[b.binId] = initialDoor;
  return {
    scales,
    readers,
    storage: initialStorage,
    session: { phase: "idle" },
    recoveredQueue: [],
    counters: { sessionsOpened: 0, sessionsRefused: 0, identificationsRefused: 0, devices },
    doors,
    contacts: {},
    full: {},
    fullBy: {},
    levels,
    cards: { collectors: [], maintenance: [], blocked: [], version: null },
  };
}

export { outputsOf };

/**
 * One transition. Never throws for any input sequence; inputs naming an unknown device are
 * ignored with a notice.
 */
export function step(state: StationState, input: StationInput, ctx: StationContext): StepResult {
  const effects: StationEffect[] = [];
  let next = closeIfDue(state, input, ctx, effects);
  switch (input.type) {
    case "tick":
      next = tickReaders(next, input.mono, ctx, effects);
      next = doorTimers(next, input, ctx, effects);
      break;
    case "door_input":
      next = doorInput(next, input, ctx, effects);
      break;
    case "contact":
      next = contactInput(next, input.contact, input.active, ctx, effects);
      break;
    case "gpio_error": {
      const wasOpen = input.binId !== undefined && doorIsOpen(doorOf(next, input.binId));
      next = gpioError(next, input, ctx, effects);
      // A session bin's door open as its line failed counts as closed now: the idle timer starts.
      if (wasOpen && input.binId !== undefined) next = sessionDoorEdge(next, input.binId, "closed", input, ctx, effects);
      break;
    }
    case "restore":
      next = restore(next, input);
      break;
    case "set_cards":
      next = setCards(next, input, effects);
      break;
    case "command":
      next = commandInput(next, input.command, input, ctx, effects);
      break;
    case "scale_request_done":
      scaleRequestDone(input, ctx, effects);
      break;
    case "command_done":
      finishCommand(input, input, ctx, effects);
      break;
    case "broker_conflict":
      next = brokerConflict(next, input.active, ctx, effects);
      break;
    case "reconfigured":
      next = reconfigured(next, input, effects);
      // The rest of this step (closing what is due) runs on the new context.
      return { state: closeIfDue(next, input, input.context, effects), effects };
    case "flush":
      next = flush(next, input, ctx, effects);
      break;
    case "scale_data":
      next = scaleData(next, input, ctx, effects);
      break;
    case "reader_data":
      next = readerData(next, input, ctx, effects);
      break;
    case "level_data":
      next = levelData(next, input, ctx, effects);
      break;
    case "identified":
      next = identifyIfRoom(next, input, ctx, effects);
      break;
    case "port":
      next = port(next, input, ctx, effects);
      break;
    case "storage":
      next = storageChanged(next, input, effects);
      break;
    case "storage_space":
      next = spaceMeasured(next, input, ctx, effects);
      break;
    case "recover":
      next = recover(next, input.sessions, input, ctx, effects);
      break;
    default:
      return unreachable(input);
  }
  next = closeIfDue(next, input, ctx, effects);
  // The retained status carries `session` (idle, open, recovering): a session that opens or closes
  // changes it as a device or a fault does.
  if (next.session.phase !== state.session.phase && !effects.some((e) => e.type === "status_changed")) effects.push({ type: "status_changed" });
  return { state: next, effects };
}

/**
 * The earliest `mono` at which a tick could change something, or `null`: a session timer, a
 * recovered session's deadline, or a reader candidate's gap running out. A runner may schedule its
 * next tick exactly then.
 */
export function nextDeadline(state: StationState, ctx: StationContext): number | null {
  let at = sessionDeadline(state, ctx);
  const door = doorDeadline(state, ctx);
  if (door !== null && (at === null || door < at)) at = door;
  for (const spec of ctx.readers) {
    const reader = state.readers[spec.id];
    for (const c of reader?.candidates ?? []) {
      const due = c.lastMono + spec.repeatGapMs;
      if (at === null || due < at) at = due;
    }
    const noiseDue = unloggedNoiseDue(reader, ctx);
    if (noiseDue !== null && (at === null || noiseDue < at)) at = noiseDue;
  }
  return at;
}

/** When the noise counted since a reader's last noise line is due to be logged, or `null` when there is none. */
function unloggedNoiseDue(reader: ReaderState | undefined, ctx: StationContext): number | null {
  if (reader === undefined || reader.noiseUnlogged === 0 || reader.noiseLoggedMono === null) return null;
  return reader.noiseLoggedMono + ctx.noiseLogIntervalMs;
}

/** The machine's part of the retained status (contract section 4): devices, scale conditions, storage. */
export interface StationStatus {
  devices: Record<string, "starting" | "online" | "offline">;
  scales: Record<string, ScaleCondition>;
  storage: { state: "ok" | "busy" | "fault"; space: SpaceLevel; message?: string };
  session: "idle" | "open" | "recovering";
  /** Per door bin: `closed`, `open` or `unknown` (not read yet), whether it is locked, and a failed line. */
  doors?: Record<string, { door: "closed" | "open" | "unknown"; locked: boolean; error?: string }>;
  /** Active contacts (fire, tamper, power_fail). */
  alarms?: string[];
  /** Bins that are full. */
  full_bins?: string[];
  /**
   * Per fill-level sensor: its bin, the median distance (mm) and the fill level (0..100 %, one
   * decimal), `null` before the first median (5 readings). Present when level sensors are configured.
   */
  levels?: Record<string, { bin_id: string; distance_mm: number | null; fill_percent: number | null }>;
  /**
   * Why each offline device is offline (the reason its `…_offline` alarm gave, or what has been
   * learnt since: `no valid frames` for a port that reopened onto another device); present while
   * any device is offline.
   */
  offline_reasons?: Record<string, string>;
  /**
   * Devices whose serial line is judged noisy (device-link.ts, `lineNoiseJudged`): the last
   * window's bytes and discarded bytes; present while any line is.
   */
  noisy_lines?: Record<string, NoisyLine>;
  /** A second client uses our MQTT client id (a cloned SD card): present, `true`, while the broker keeps taking our connection over. */
  client_id_conflict?: true;
}

/** A noisy line's figures in the status: bytes and discarded bytes over `window_s` seconds. */
export interface NoisyLine {
  bytes: number;
  discarded_bytes: number;
  window_s: number;
}

/** The status fields the machine decides. */
export function statusOf(state: StationState, ctx: StationContext): StationStatus {
  const devices: StationStatus["devices"] = {};
  const scales: StationStatus["scales"] = {};
  for (const s of ctx.scales) {
    const scale = state.scales[s.id] ?? initialScale;
    devices[s.id] = linkState(scale.link);
    scales[s.id] = scale.condition;
  }
  for (const r of ctx.readers) devices[r.id] = linkState((state.readers[r.id] ?? initialReader).link);
  const levelSensors = ctx.levelSensors ?? [];
  for (const l of levelSensors) devices[l.id] = linkState((state.levels?.[l.id] ?? initialLevel).link);
  const status: StationStatus = {
    devices,
    scales,
    storage: storageStatus(state.storage),
    session: state.session.phase,
  };
  const links: Array<[string, DeviceLink]> = [
    ...ctx.scales.map((s): [string, DeviceLink] => [s.id, (state.scales[s.id] ?? initialScale).link]),
    ...ctx.readers.map((r): [string, DeviceLink] => [r.id, (state.readers[r.id] ?? initialReader).link]),
    ...levelSensors.map((l): [string, DeviceLink] => [l.id, (state.levels?.[l.id] ?? initialLevel).link]),
  ];
  const reasons = links.flatMap(([id, link]): Array<[string, string]> => {
    const reason = linkState(link) === "offline" ? offlineReason(link) : null;
    return reason === null ? [] : [[id, reason]];
  });
  if (reasons.length > 0) status.offline_reasons = Object.fromEntries(reasons);
  const noisy = links.flatMap(([id, link]): Array<[string, NoisyLine]> => {
    const judged = link.noise?.noisy;
    return judged === null || judged === undefined ? [] : [[id, { bytes: judged.bytes, discarded_bytes: judged.discarded, window_s: NOISY_WINDOW_MS / 1000 }]];
  });
  if (noisy.length > 0) status.noisy_lines = Object.fromEntries(noisy);
  const doorBins = ctx.bins.filter((b) => b.door);
  if (doorBins.length > 0) {
    const locks = outputsOf(state, ctx).locks;
    status.doors = Object.fromEntries(
      doorBins.map((b) => {
        const d = doorOf(state, b.binId);
        const door = d.closed === null ? "unknown" : d.closed ? "closed" : "open";
        return [b.binId, { door, locked: locks[b.binId] !== true, ...(d.lineError !== null ? { error: d.lineError } : {}) }];
      }),
    );
  }
  const active = Object.entries(state.contacts ?? {}).filter(([, v]) => v).map(([k]) => k);
  if ((ctx.gpio?.contacts.length ?? 0) > 0) status.alarms = active;
  const full = Object.entries(state.full ?? {}).filter(([, v]) => v).map(([k]) => k);
  if (ctx.bins.some((b) => b.fullG !== undefined && b.fullG !== null) || levelSensors.length > 0) status.full_bins = full;
  if (levelSensors.length > 0) {
    status.levels = Object.fromEntries(
      levelSensors.map((l) => {
        const level = state.levels?.[l.id] ?? initialLevel;
        return [l.id, { bin_id: l.binId, distance_mm: level.medianMm, fill_percent: level.fillPercent }];
      }),
    );
  }
  if (state.clientIdConflict === true) status.client_id_conflict = true;
  return status;
}

/** A door's debounced input: the closed sensor (alarms in doors.ts, the session's timers) or a button press. */
function doorInput(state: StationState, input: Input<"door_input">, ctx: StationContext, effects: StationEffect[]): StationState {
  const bin = ctx.bins.find((b) => b.binId === input.binId);
  if (bin?.door === undefined || bin.door === null) {
    unknownDevice(input.binId, effects);
    return state;
  }
  if (input.part === "button") return input.active ? buttonPressed(state, bin.binId, input, ctx, effects) : state;
  const { state: next, edge } = doorClosedInput(state, bin.binId, input.active, input, ctx, effects);
  if (edge !== null) effects.push({ type: "status_changed" });
  if (edge === "opened" || edge === "closed") return sessionDoorEdge(next, bin.binId, edge, input, ctx, effects);
  return next;
}

/**
 * The state under a new context (a reload): kept for devices, doors and bins that remain and are
 * not in `reset`; initial for new and reset ones; removed ones are dropped. Sessions, storage,
 * contacts, role lists and the daily count are kept, and so are the frame counters of every device
 * that remains, reset or not (they count since start).
 */
function reconfigured(state: StationState, input: Input<"reconfigured">, effects: StationEffect[]): StationState {
  const ctx = input.context;
  const fresh = initialState(ctx);
  const reset = new Set(input.reset);
  const pick = <T>(from: Readonly<Record<string, T>> | undefined, initial: Readonly<Record<string, T>> | undefined): Record<string, T> => {
    const out: Record<string, T> = {};
    for (const [id, value] of Object.entries(initial ?? {})) out[id] = !reset.has(id) && from?.[id] !== undefined ? from[id] : value;
    return out;
  };
  const binIds = new Set(ctx.bins.map((b) => b.binId));
  // No notice: the station logs "configuration reloaded" (with what changed) once the whole reload has applied.
  effects.push({ type: "status_changed" });
  return {
    ...state,
    scales: pick(state.scales, fresh.scales),
    readers: pick(state.readers, fresh.readers),
    doors: pick(state.doors, fresh.doors),
    levels: pick(state.levels, fresh.levels),
    full: Object.fromEntries(Object.entries(state.full ?? {}).filter(([id]) => binIds.has(id))),
    fullBy: Object.fromEntries(Object.entries(state.fullBy ?? {}).filter(([id]) => binIds.has(id))),
    // Counters run since start (the status command's, like telemetry's): a reopened device keeps its.
    counters: { ...state.counters, devices: Object.fromEntries(Object.entries(fresh.counters.devices).map(([id, zero]) => [id, state.counters.devices[id] ?? zero])) },
  };
}

/** What the database kept (at start): role lists, today's points, full bins, active contacts. */
function restore(state: StationState, input: Input<"restore">): StationState {
  return {
    ...state,
    ...(input.cards !== undefined ? { cards: input.cards } : {}),
    ...(input.daily !== undefined ? { daily: tallyOf(input.daily) } : {}),
    ...(input.full !== undefined ? { full: { ...input.full } } : {}),
    ...(input.fullBy !== undefined ? { fullBy: { ...input.fullBy } } : {}),
    ...(input.contacts !== undefined ? { contacts: { ...input.contacts } } : {}),
  };
}

/** New role lists: each given list replaces the current one; stored (meta `cards`) so they survive a restart. */
function setCards(state: StationState, input: Input<"set_cards">, effects: StationEffect[]): StationState {
  const { state: next, cards, notice } = replaceCards(state, input);
  effects.push({ type: "record", events: [], meta: { [META_KEYS.cards]: JSON.stringify(cards) } });
  effects.push(notice);
  return next;
}

/**
 * After a bin's accepted weight changed from `beforeG` to its scale's accepted weight: an
 * `unattributed_weight_change` when no session covers the bin (contract section 2, "Other station
 * alarms"), and `bin_full` / `bin_ok` as the weight crosses `full_g` / 90 % of it.
 */
function binWeightChanged(state: StationState, binId: string | null, beforeG: number | null, afterG: number | null, ctx: StationContext, effects: StationEffect[]): StationState {
  if (binId === null || afterG === null) return state;
  const bin = ctx.bins.find((b) => b.binId === binId);
  if (bin === undefined) return state;
  if (beforeG !== null && !weightAttributed(state, binId)) {
    effects.push({ type: "notice", level: "warn", msg: "weight changed outside any session", fields: { bin: binId, delta_g: afterG - beforeG } });
    effects.push(
      alarmEffect(binId, {
        code: "unattributed_weight_change",
        bin_id: binId,
        device_id: bin.scaleId,
        delta_g: afterG - beforeG,
        gross_before_g: beforeG,
        gross_after_g: afterG,
        message: `bin ${binId}: weight changed by ${afterG - beforeG} g outside any session`,
      }),
    );
  }
  const fullG = bin.fullG ?? null;
  if (fullG === null) return state;
  const verdict = priorVerdict(state, binId, "weight") ? afterG >= fullG * 0.9 : afterG >= fullG;
  return judgeBinFull(
    state,
    binId,
    "weight",
    verdict,
    {
      details: { gross_g: afterG, full_g: fullG },
      fullMessage: `bin ${binId} is full (${afterG} g, full at ${fullG} g)`,
      okMessage: `bin ${binId} is no longer full (${afterG} g)`,
      fields: { gross_g: afterG },
    },
    ctx,
    effects,
  );
}

// ---------------------------------------------------------------------------------------------

type Input<T extends StationInput["type"]> = Extract<StationInput, { type: T }>;

function unknownDevice(id: string, effects: StationEffect[]): void {
  effects.push({ type: "notice", level: "error", msg: "input for an unknown device ignored", fields: { device: id } });
}

function bumpCounters(state: StationState, id: string, add: Partial<DeviceCounters>): StationState {
  const c = state.counters.devices[id] ?? ZERO_COUNTERS;
  const next: DeviceCounters = {
    bytes: c.bytes + (add.bytes ?? 0),
    frames: c.frames + (add.frames ?? 0),
    discarded: c.discarded + (add.discarded ?? 0),
    noise: c.noise + (add.noise ?? 0),
  };
  return { ...state, counters: { ...state.counters, devices: { ...state.counters.devices, [id]: next } } };
}

/** The kinds of device whose link the machine judges; the alarm codes are `<kind>_offline` / `<kind>_online`. */
type LinkKind = "scale" | "reader" | "level_sensor";

/** Raises the alarm a link change calls for, and the status change. */
function reportLinkChange(
  kind: LinkKind,
  id: string,
  link: DeviceLink,
  binId: string | null,
  effects: StationEffect[],
): DeviceLink {
  const { link: reported, alarm } = reportLink(link);
  if (alarm !== null) recordLinkAlarm(kind, id, binId, alarm, effects);
  return reported;
}

function recordLinkAlarm(kind: LinkKind, id: string, binId: string | null, alarm: NonNullable<LinkAlarm>, effects: StationEffect[]): void {
  const bin = binId === null ? {} : { bin_id: binId };
  const name = kind === "level_sensor" ? "level sensor" : kind;
  if (alarm.state === "offline") {
    effects.push({ type: "notice", level: "warn", msg: `${name} offline`, fields: { device: id, reason: alarm.reason } });
    effects.push(
      alarmEffect(id, {
        code: `${kind}_offline`,
        device_id: id,
        ...bin,
        reason: alarm.reason,
        message: `${name} ${id} offline: ${alarm.reason}`,
      }),
    );
  } else {
    effects.push({ type: "notice", level: "info", msg: `${name} back online`, fields: { device: id } });
    effects.push(
      alarmEffect(id, {
        code: `${kind}_online`,
        device_id: id,
        ...bin,
        message: `${name} ${id} back online`,
      }),
    );
  }
}

function port(state: StationState, input: Input<"port">, ctx: StationContext, effects: StationEffect[]): StationState {
  const scaleSpec = ctx.scales.find((s) => s.id === input.deviceId);
  if (scaleSpec !== undefined) {
    const scale = state.scales[scaleSpec.id] ?? initialScale;
    const before = linkState(scale.link);
    let link = portChanged(scale.link, input.state, input.mono, input.reason, { confirmByFrame: true });
    link = reportLinkChange("scale", scaleSpec.id, link, scaleSpec.binId, effects);
    const next = scaleLinkChanged({ ...scale, link });
    if (linkState(link) !== before || next.condition !== scale.condition) effects.push({ type: "status_changed" });
    return { ...state, scales: { ...state.scales, [scaleSpec.id]: next } };
  }
  const readerSpec = ctx.readers.find((r) => r.id === input.deviceId);
  if (readerSpec !== undefined) {
    const reader = state.readers[readerSpec.id] ?? initialReader;
    const before = linkState(reader.link);
    let link = portChanged(reader.link, input.state, input.mono, input.reason);
    link = reportLinkChange("reader", readerSpec.id, link, null, effects);
    if (linkState(link) !== before) effects.push({ type: "status_changed" });
    return { ...state, readers: { ...state.readers, [readerSpec.id]: resetTags({ ...reader, link }) } };
  }
  const levelSpec = ctx.levelSensors?.find((l) => l.id === input.deviceId);
  if (levelSpec !== undefined) {
    const level = state.levels?.[levelSpec.id] ?? initialLevel;
    const before = linkState(level.link);
    let link = portChanged(level.link, input.state, input.mono, input.reason, { confirmByFrame: true });
    link = reportLinkChange("level_sensor", levelSpec.id, link, levelSpec.binId, effects);
    if (linkState(link) !== before) effects.push({ type: "status_changed" });
    return { ...state, levels: { ...state.levels, [levelSpec.id]: levelLinkChanged({ ...level, link }) } };
  }
  unknownDevice(input.deviceId, effects);
  return state;
}

/** An identification goes to the session rules unless storage is full (the fail-safe rule, storage.ts). */
function identifyIfRoom(
  state: StationState,
  input: { cardId: string; readerId: string; sessionId: string; mono: number; wall: number },
  ctx: StationContext,
  effects: StationEffect[],
): StationState {
  return refusedForSpace(state, input, effects) ?? identify(state, input, ctx, effects);
}

function flush(state: StationState, at: Input<"flush">, ctx: StationContext, effects: StationEffect[]): StationState {
  return shutdown(state, at, at.final === true, ctx, effects);
}

/**
 * Checks one chunk's link verdict: `input`'s bytes and time, `counts` of its frames, judged over the
 * device's "no valid frames" window; returns the link and whether its online state changed.
 */
function judgeChunk(
  kind: LinkKind,
  spec: { id: string; binId?: string | null; noValidFramesMs: number; polled?: boolean | undefined },
  link0: DeviceLink,
  input: { bytes: number; mono: number },
  counts: { valid: number; discardedBytes: number },
  effects: StationEffect[],
): { link: DeviceLink; changed: boolean } {
  const id = spec.id;
  const binId = spec.binId ?? null;
  const windowMs = spec.noValidFramesMs;
  const chunk = { bytes: input.bytes, validFrames: counts.valid, discardedBytes: counts.discardedBytes, mono: input.mono };
  const before = linkOnline(link0);
  const arrived = chunkArrived(link0, chunk, windowMs, spec.polled === true ? POLLED_NO_VALID_FRAMES_MIN_BYTES : NO_VALID_FRAMES_MIN_BYTES);
  const { wentInvalid } = arrived;
  const noise = lineNoiseJudged(arrived.link.noise, chunk);
  const judged: DeviceLink = { ...arrived.link, noise: noise.noise };
  if (noise.warn !== null) {
    const { bytes, discarded } = noise.warn;
    effects.push({
      type: "notice",
      level: "warn",
      msg: `serial line of ${id} is noisy: ${Math.round((100 * discarded) / Math.max(bytes, 1))} % of its bytes discarded over ${NOISY_WINDOW_MS / 1000} s (check the cable, its shielding and ground, and the baud rate)`,
      fields: { device: id, bytes, discarded_bytes: discarded, window_s: NOISY_WINDOW_MS / 1000 },
    });
  }
  if (noise.changed) effects.push({ type: "status_changed" });
  if (wentInvalid) {
    effects.push({
      type: "notice",
      level: "warn",
      msg: `${kind === "level_sensor" ? "level sensor" : kind} sends bytes that never form a valid frame: check its protocol and baud rate`,
      fields: { device: id, discarded_bytes: judged.discardedBytes, window_s: windowMs / 1000 },
    });
  }
  const link = reportLinkChange(kind, id, judged, binId, effects);
  const changed = linkOnline(link) !== before;
  // wentInvalid on a device already offline changes only its reason (offline_reasons).
  if (changed || wentInvalid) effects.push({ type: "status_changed" });
  return { link, changed };
}

function scaleData(state0: StationState, input: Input<"scale_data">, ctx: StationContext, effects: StationEffect[]): StationState {
  const spec: ScaleSpec | undefined = ctx.scales.find((s) => s.id === input.scaleId);
  if (spec === undefined) {
    unknownDevice(input.scaleId, effects);
    return state0;
  }
  const scale0 = state0.scales[spec.id] ?? initialScale;
  const counts = countFrames(input.frames);
  const discarded = counts.discarded;
  const { link, changed } = judgeChunk("scale", spec, scale0.link, input, counts, effects);
  let scale: ScaleState = { ...scale0, link };
  if (changed) scale = scaleLinkChanged(scale);
  let state = bumpCounters(state0, spec.id, { bytes: input.bytes, frames: input.frames.length, discarded });
  const conditionBefore = scale.condition;
  const slowBefore = framesTooSlow(scale);
  const staleBefore = scale.weightStale === true;
  for (const frame of input.frames) {
    if (frame.kind === "discarded") {
      effects.push(discardedNotice(spec.id, frame));
      continue;
    }
    const acceptedBefore = scale.acceptedG;
    const baseBefore = scale.acceptedTareChanges ?? scale.tareChanges;
    const result = applyScaleFrame(scale, frame, input.mono, spec);
    scale = result.scale;
    if (result.tareChanged === true) {
      effects.push({
        type: "notice",
        level: "warn",
        msg: "indicator switched between gross and net (tare key): a session over it makes no deposit on that bin",
        fields: { scale: spec.id, mode: scale.mode },
      });
    }
    if (result.weightChanged) {
      state = { ...state, scales: { ...state.scales, [spec.id]: scale } };
      effects.push({ type: "notice", level: "debug", msg: "weight change", fields: { scale: spec.id, accepted_g: scale.acceptedG } });
      state = weightChanged(state, spec.id, input, ctx, effects);
      // Across a gross/net switch (the tare key) the accepted weights are on different bases: not a weight change.
      const sameBase = baseBefore === scale.tareChanges;
      state = binWeightChanged(state, spec.binId, sameBase ? acceptedBefore : null, scale.acceptedG, ctx, effects);
    } else if (acceptedBefore === null && scale.acceptedG !== null) {
      state = binWeightChanged(state, spec.binId, null, scale.acceptedG, ctx, effects);
    }
  }
  if (scale.condition !== conditionBefore && !changed) {
    effects.push({ type: "status_changed" });
    const notice = conditionNotice(spec, conditionBefore, scale.condition, input.frames);
    if (notice !== null) effects.push(notice);
  }
  if (framesTooSlow(scale) !== slowBefore) effects.push(slowFramesNotice(spec, scale));
  if ((scale.weightStale === true) !== staleBefore) effects.push(staleWeightNotice(spec, scale.weightStale === true));
  return { ...state, scales: { ...state.scales, [spec.id]: scale } };
}

/**
 * The log line of a scale whose frames start or stop coming too far apart for its stability window
 * (see `framesTooSlow`): warn when they start, with the time between frames and the
 * `stable_window_ms` that would hold them, since the scale is then never stable and nothing is
 * weighed on its bin; info when frames come often enough again.
 */
function slowFramesNotice(spec: ScaleSpec, scale: ScaleState): StationEffect {
  const { windowMs, minSamples } = spec.stability;
  if (!framesTooSlow(scale)) {
    return { type: "notice", level: "info", msg: "scale frames come often enough for its stability window again", fields: { scale: spec.id, bin: spec.binId } };
  }
  const periodMs = Math.round(scale.slowFrames?.periodMs ?? 0);
  const neededMs = windowNeededMs(periodMs, minSamples);
  return {
    type: "notice",
    level: "warn",
    msg: `scale sends a weight only every ${periodMs} ms: its stable_window_ms (${windowMs}) cannot hold stable_min_samples (${minSamples}) of them, so it is never stable and nothing is weighed on its bin; set stable_window_ms to at least ${neededMs}, or make the indicator send more often`,
    fields: { scale: spec.id, bin: spec.binId, period_ms: periodMs, stable_window_ms: windowMs, stable_min_samples: minSamples, needed_window_ms: neededMs },
  };
}

/**
 * The log line of a scale that starts or stops reading no valid weight (overload, underload, above
 * `capacity_g`; contract section 2, "Weights"): the status says it, and the journal should too, since
 * no session opens on that bin meanwhile. Warn when it starts (with the last reading in grams, and the
 * capacity when above it), info when a valid weight is read again; `null` for other changes.
 */
function conditionNotice(spec: ScaleSpec, before: ScaleCondition, after: ScaleCondition, frames: readonly ScaleFrame[]): StationEffect | null {
  if (noValidWeight(after)) {
    let lastG: number | null = null;
    for (const f of frames) if (f.kind === "weight") lastG = f.grams;
    const fields = {
      scale: spec.id,
      bin: spec.binId,
      condition: after,
      ...(after === "above_capacity" ? { capacity_g: spec.capacityG } : {}),
      ...(lastG !== null && after !== "overload" ? { reading_g: lastG } : {}),
    };
    return { type: "notice", level: "warn", msg: `scale reads no valid weight (${after.replace("_", " ")}): no session opens on its bin`, fields };
  }
  if (after === "ok" && noValidWeight(before)) {
    return { type: "notice", level: "info", msg: "scale reads a valid weight again", fields: { scale: spec.id, bin: spec.binId, was: before } };
  }
  return null;
}

/**
 * The log line of a scale whose answers carry no weight for a whole `silence_timeout_s` (MT-SICS
 * `S I`, busy: `ScaleState.weightStale`), warn, and of its first weight after that, info.
 */
function staleWeightNotice(spec: ScaleSpec, stale: boolean): StationEffect {
  if (!stale) return { type: "notice", level: "info", msg: "scale reads a weight again", fields: { scale: spec.id, bin: spec.binId } };
  return {
    type: "notice",
    level: "warn",
    msg: `scale answers without a weight (busy) for ${spec.noValidFramesMs / 1000} s (silence_timeout_s): its last weight is not current, no session opens on its bin`,
    fields: { scale: spec.id, bin: spec.binId },
  };
}

/** A chunk's frames: valid ones (anything not discarded), discarded ones and their bytes. */
function countFrames(frames: readonly { kind: string; bytes?: Uint8Array }[]): { valid: number; discarded: number; discardedBytes: number } {
  let valid = 0;
  let discarded = 0;
  let discardedBytes = 0;
  for (const f of frames) {
    if (f.kind === "discarded") {
      discarded++;
      discardedBytes += f.bytes?.length ?? 0;
    } else valid++;
  }
  return { valid, discarded, discardedBytes };
}

function discardedNotice(deviceId: string, frame: Extract<ScaleFrame | ReaderFrame | LevelFrame, { kind: "discarded" }>): StationEffect {
  return { type: "notice", level: "debug", msg: "frame discarded", fields: { device: deviceId, reason: frame.reason, length: frame.bytes.length } };
}

function readerData(state0: StationState, input: Input<"reader_data">, ctx: StationContext, effects: StationEffect[]): StationState {
  const spec: ReaderSpec | undefined = ctx.readers.find((r) => r.id === input.readerId);
  if (spec === undefined) {
    unknownDevice(input.readerId, effects);
    return state0;
  }
  const reader0 = state0.readers[spec.id] ?? initialReader;
  let valid = 0;
  let discarded = 0;
  let noise = 0;
  let discardedBytes = 0;
  for (const f of input.frames) {
    if (f.kind === "id") valid++;
    else {
      discardedBytes += f.bytes.length;
      if (f.kind === "noise") noise++;
      else discarded++;
    }
  }
  const { link } = judgeChunk("reader", spec, reader0.link, input, { valid, discardedBytes }, effects);
  let reader: ReaderState = { ...reader0, link };
  let state = bumpCounters(state0, spec.id, { bytes: input.bytes, frames: input.frames.length, discarded });
  for (const frame of input.frames) {
    switch (frame.kind) {
      case "discarded":
        effects.push(discardedNotice(spec.id, frame));
        break;
      case "noise":
        reader = noteNoise(reader, 1, input.mono, spec.id, ctx, effects);
        break;
      case "id": {
        if (!linkOnline(reader.link)) break;
        const read = readTag(reader, frame.cardId, input.mono, spec);
        noise += read.noise;
        reader = noteNoise(read.reader, read.noise, input.mono, spec.id, ctx, effects);
        if (read.presented) {
          state = { ...state, readers: { ...state.readers, [spec.id]: reader } };
          effects.push({ type: "notice", level: "info", msg: "identification", fields: { card: maskCardId(frame.cardId), reader: spec.id } });
          state = identifyIfRoom(state, { cardId: frame.cardId, readerId: spec.id, sessionId: input.sessionId, mono: input.mono, wall: input.wall }, ctx, effects);
        }
        break;
      }
      default:
        unreachable(frame);
    }
  }
  state = bumpCounters(state, spec.id, { noise });
  return { ...state, readers: { ...state.readers, [spec.id]: reader } };
}

/**
 * Counts noise and writes the rate-limited log line (at most one per `noiseLogIntervalMs` per reader,
 * with the count since the last one). Noise counted within the interval is logged when it ends
 * (`tickReaders`, at {@link nextDeadline}), not only when more noise comes.
 */
function noteNoise(reader: ReaderState, n: number, mono: number, readerId: string, ctx: StationContext, effects: StationEffect[]): ReaderState {
  if (n === 0) return reader;
  const unlogged = reader.noiseUnlogged + n;
  if (reader.noiseLoggedMono !== null && mono - reader.noiseLoggedMono < ctx.noiseLogIntervalMs) {
    return { ...reader, noiseUnlogged: unlogged };
  }
  effects.push(noiseLine(readerId, unlogged));
  return { ...reader, noiseUnlogged: 0, noiseLoggedMono: mono };
}

function noiseLine(readerId: string, count: number): StationEffect {
  return { type: "notice", level: "warn", msg: "reader noise discarded (all-zero or all-F tags, or reads below min_reads)", fields: { device: readerId, count } };
}

function tickReaders(state: StationState, mono: number, ctx: StationContext, effects: StationEffect[]): StationState {
  let s = state;
  for (const spec of ctx.readers) {
    let reader = s.readers[spec.id];
    const noiseDue = unloggedNoiseDue(reader, ctx);
    if (reader !== undefined && noiseDue !== null && mono >= noiseDue) {
      effects.push(noiseLine(spec.id, reader.noiseUnlogged));
      reader = { ...reader, noiseUnlogged: 0, noiseLoggedMono: mono };
      s = { ...s, readers: { ...s.readers, [spec.id]: reader } };
    }
    if (reader === undefined || (reader.candidates.length === 0 && Object.keys(reader.presented).length === 0)) continue;
    const expired = expireTags(reader, mono, spec);
    if (expired.reader === reader) continue;
    const noted = noteNoise(expired.reader, expired.noise, mono, spec.id, ctx, effects);
    s = bumpCounters({ ...s, readers: { ...s.readers, [spec.id]: noted } }, spec.id, { noise: expired.noise });
  }
  return s;
}

/**
 * One chunk from a fill-level sensor: the link verdict as for a scale (its `silence_timeout_s` is the
 * "no valid frames" window; a `no_reading` or `ignored` frame is a valid frame: the right device,
 * speaking), each distance a reading of the median (level-state.ts), and the bin's full state judged
 * on the new median (bin-full.ts). The retained status is published again when the link changes, the
 * bin's full state changes, or the fill level moved by {@link LEVEL_STATUS_STEP_PERCENT} points.
 */
function levelData(state0: StationState, input: Input<"level_data">, ctx: StationContext, effects: StationEffect[]): StationState {
  const spec: LevelSensorSpec | undefined = ctx.levelSensors?.find((l) => l.id === input.sensorId);
  if (spec === undefined) {
    unknownDevice(input.sensorId, effects);
    return state0;
  }
  const level0 = state0.levels?.[spec.id] ?? initialLevel;
  const counts = countFrames(input.frames);
  const discarded = counts.discarded;
  const { link, changed } = judgeChunk("level_sensor", spec, level0.link, input, counts, effects);
  let level: LevelSensorState = changed ? levelLinkChanged({ ...level0, link }) : { ...level0, link };
  let state = bumpCounters(state0, spec.id, { bytes: input.bytes, frames: input.frames.length, discarded });
  for (const frame of input.frames) {
    switch (frame.kind) {
      case "discarded":
        effects.push(discardedNotice(spec.id, frame));
        break;
      case "distance":
        level = addReading(level, frame.mm, input.mono, spec);
        break;
      case "no_reading":
        if (level.noReading !== frame.reason) effects.push({ type: "notice", level: "debug", msg: "level sensor: no reading", fields: { device: spec.id, reason: frame.reason } });
        level = { ...level, noReading: frame.reason };
        break;
      case "ignored":
        break;
      default:
        unreachable(frame);
    }
  }
  state = { ...state, levels: { ...state.levels, [spec.id]: level } };
  const medianMm = level.medianMm;
  if (medianMm !== null && level.fillPercent !== null && medianMm !== level0.medianMm) {
    const fill = level.fillPercent;
    const verdict = levelSaysFull(priorVerdict(state, spec.binId, "level"), medianMm, spec);
    const fullBefore = state.full?.[spec.binId] === true;
    state = judgeBinFull(
      state,
      spec.binId,
      "level",
      verdict,
      {
        details: { device_id: spec.id, distance_mm: medianMm, fill_percent: fill, full_mm: spec.fullMm, empty_mm: spec.emptyMm },
        fullMessage: `bin ${spec.binId} is full: level sensor ${spec.id} reads ${medianMm} mm (${fill} %, full at ${spec.fullMm} mm)`,
        okMessage: `bin ${spec.binId} is no longer full: level sensor ${spec.id} reads ${medianMm} mm (${fill} %)`,
        fields: { sensor: spec.id, distance_mm: medianMm, fill_percent: fill },
      },
      ctx,
      effects,
    );
    const reported = level.statusPercent ?? null;
    const fullChanged = (state.full?.[spec.binId] === true) !== fullBefore;
    const moved = reported === null || Math.abs(fill - reported) >= LEVEL_STATUS_STEP_PERCENT;
    if (changed || fullChanged || moved) {
      // The status is published with this fill level (by the link's or the full state's own change, or now).
      if (!changed && !fullChanged) effects.push({ type: "status_changed" });
      state = { ...state, levels: { ...state.levels, [spec.id]: { ...level, statusPercent: fill } } };
    }
  }
  return state;
}
