/**
 * The shapes of the station machine (architecture.md, "The station machine"): its context (the
 * config, mapped once), its state (plain, JSON-serialisable data), its inputs and its effects.
 * Pure data: nothing here does I/O or reads a clock.
 *
 * Time: every input carries `mono` (milliseconds on a monotonic clock; every timer uses it) and
 * `wall` (milliseconds since the Unix epoch; used only to stamp events).
 */
import type { LevelFrame, ReaderFrame, ScaleFrame } from "../protocol/types.js";
import type { CommandEventData, CommandOutcome, MachineCommand, ScaleRequest, ScaleRequestOutcome } from "./commands.js";
import type { DailyPoints, DailyTallyState } from "./daily-points.js";
import type { CompiledPointsTable } from "./points.js";
import type { ResolvedStabilityOptions, WeightSample } from "./stability.js";
import type { DepositData } from "./types.js";

// ---------------------------------------------------------------------------------------------
// Context: what the machine needs from the config (built by one pure function in app/).

/** One scale (config `scales[]`). */
export interface ScaleSpec {
  readonly id: string;
  /** The bin standing on it (config `bins[].scale`), `null` when no bin uses the scale. */
  readonly binId: string | null;
  readonly stability: ResolvedStabilityOptions;
  /** `change_threshold_g`: stable values closer than this to the accepted weight are noise. */
  readonly changeThresholdG: number;
  /** `capacity_g`: a reading above it is no valid weight; `null` when not configured. */
  readonly capacityG: number | null;
  /** `silence_timeout_s` in ms: the window of the "no valid frames" rule (contract section 4). */
  readonly noValidFramesMs: number;
  /**
   * The station polls it (request/response: `mt-sics`, `modbus-rtu`): it sends only answers, a few
   * bytes per `poll_ms`, so the "no valid frames" rule needs no minimum of bytes
   * (device-link.ts `POLLED_NO_VALID_FRAMES_MIN_BYTES`).
   */
  readonly polled?: boolean;
  /**
   * The scale's protocol takes commands (`tare`, `zero`: MT-SICS `T`, `Z`); absent or false: the
   * `tare` and `zero` commands are `not_supported` for it.
   */
  readonly takesCommands?: boolean;
}

/** One reader (config `readers[]`). */
export interface ReaderSpec {
  readonly id: string;
  /** `repeat_gap_ms`: frames of one id closer than this belong to one presentation. */
  readonly repeatGapMs: number;
  /** `min_reads`: identical frames, each within the gap of the one before, before a tag counts. */
  readonly minReads: number;
  /** `no_valid_frames_s` in ms. */
  readonly noValidFramesMs: number;
}

/** One fill-level sensor (config `level_sensors[]`), distances in mm, times in ms. */
export interface LevelSensorSpec {
  readonly id: string;
  /** The bin it looks into (`bin`). */
  readonly binId: string;
  /** `empty_mm`: the distance to the bottom of the empty bin (0 %). */
  readonly emptyMm: number;
  /** `full_mm`: the distance at which the bin is full (100 %); less than `emptyMm`. */
  readonly fullMm: number;
  /** `median_window_s` in ms: the readings of this window (at least the last 5) give the median. */
  readonly medianWindowMs: number;
  /** `silence_timeout_s` in ms: the window of the "no valid frames" rule. */
  readonly noValidFramesMs: number;
  /** The station polls it (`modbus-rtu`): see {@link ScaleSpec.polled}. */
  readonly polled?: boolean;
}

/** A bin's door hardware (config `bins[].door`), timers in ms. */
export interface DoorSpec {
  /** The door has a button (`select` mode: a press unlocks it). */
  readonly hasButton: boolean;
  readonly hasLamp: boolean;
  /** `open_timeout_s`: unlocked but not opened this long, it locks again. */
  readonly openTimeoutMs: number;
  /** `left_open_s`: open longer than this, `door_left_open`. */
  readonly leftOpenMs: number;
}

/** One bin (config `bins[]`). */
export interface BinSpec {
  readonly binId: string;
  readonly category: string;
  readonly scaleId: string;
  /** The effective `max_net_g`: a heavier deposit is implausible (0 points, alarm). */
  readonly maxNetG: number;
  /** `full_g`: gross grams at which the bin is full; `null` when not configured. */
  readonly fullG?: number | null;
  /** The door hardware; `null`/absent for a bin without a door. */
  readonly door?: DoorSpec | null;
}

/** Station-wide dry contacts (config `gpio.inputs`). */
export const CONTACTS = ["fire", "tamper", "power_fail"] as const;
export type Contact = (typeof CONTACTS)[number];

/** The GPIO side of the station (config `gpio`, `station.fire_doors`, `session.door_mode`). */
export interface GpioContext {
  readonly doorMode: "select" | "all";
  readonly fireDoors: "lock" | "unlock";
  /** The contacts that are wired. */
  readonly contacts: readonly Contact[];
  readonly hasBuzzer: boolean;
}

/** Session timers (config `session`), in milliseconds. */
export interface SessionTimings {
  readonly idleCloseMs: number;
  readonly firstDepositTimeoutMs: number;
  readonly maxSessionMs: number;
  readonly recoverTimeoutMs: number;
}

/** Everything the machine reads besides its state and the input. Built once from the config. */
export interface StationContext {
  readonly stationId: string;
  /** In config order. */
  readonly scales: readonly ScaleSpec[];
  readonly readers: readonly ReaderSpec[];
  /** In config order: deposits of one session follow it. */
  readonly bins: readonly BinSpec[];
  /** Fill-level sensors (config `level_sensors`); absent: none. */
  readonly levelSensors?: readonly LevelSensorSpec[];
  readonly session: SessionTimings;
  /** `null` without `points.categories` (every deposit `no_rule`). */
  readonly points: CompiledPointsTable | null;
  /** Reader noise is logged at most once per this many ms per reader (the count in between is summed). */
  readonly noiseLogIntervalMs: number;
  /** Doors and contacts; absent: none wired. */
  readonly gpio?: GpioContext;
  /**
   * The daily cap's local day (`YYYY-MM-DD`) of an instant (epoch ms) in `station.time_zone`: a pure
   * function of its argument, given by the app layer (src/app/station-context.ts); absent: the UTC day.
   */
  readonly localDay?: (epochMs: number) => string;
}

// ---------------------------------------------------------------------------------------------
// State.

/** What the port adapter last said about a device's port. */
export type PortState = "unknown" | "open" | "closed";

/** A device as the status reports it (contract section 4: `devices` maps each id to one of these). */
export type DeviceState = "starting" | "online" | "offline";

/** Bytes that formed no valid frame, summed per second of `mono`, for the "no valid frames" rule. */
export interface InvalidBytes {
  /** `floor(mono / 1000)`. */
  readonly second: number;
  readonly bytes: number;
}

/** One device's link: port state, the "no valid frames" judgement, and what was last reported. */
export interface DeviceLink {
  readonly port: PortState;
  /** Why the port closed (adapter text), `null` otherwise. */
  readonly portReason: string | null;
  /** Offline by the "no valid frames" rule until the next valid frame. */
  readonly noValidFrames: boolean;
  /** When the port last opened (ms, mono), `null` before. */
  readonly openedMono: number | null;
  /** The latest valid frame (ms, mono), `null` before the first. */
  readonly lastValidMono: number | null;
  /** Invalid bytes since the latest valid frame, only the seconds inside the rule's window. */
  readonly invalid: readonly InvalidBytes[];
  /** Bytes discarded since the latest valid frame (for the warn line). */
  readonly discardedBytes: number;
  /** The state last reported by an alarm (`unknown` before the first report: a clean start is no alarm). */
  readonly reported: "unknown" | "online" | "offline";
  /**
   * Reopened after an outage, no valid frame yet: a device that must prove itself by its frames
   * (scales and level sensors, which stream) stays offline until its first valid frame, so a port
   * that now leads to another device is never reported back online (optional: absent is `false`).
   */
  readonly awaitingFrame?: boolean;
  /** The noisy-line judgement (device-link.ts, {@link LineNoise}); absent until the first chunk. */
  readonly noise?: LineNoise;
}

/**
 * A serial line's share of discarded bytes, judged over tumbling windows (device-link.ts,
 * `lineNoiseJudged`): a line flooded with garbage is reported even while valid frames still come.
 */
export interface LineNoise {
  /** Start of the current window (ms, mono). */
  readonly windowStart: number;
  /** Bytes and discarded bytes of the current window so far. */
  readonly bytes: number;
  readonly discarded: number;
  /** The last whole window's figures while it was judged noisy, `null` while the line is clean. */
  readonly noisy: { readonly bytes: number; readonly discarded: number } | null;
  /** When the last warning was given (ms, mono), `null` before. */
  readonly warnedMono: number | null;
}

/**
 * A scale's condition (the status reports it): `ok` (valid readings), `overload` / `underload`
 * (the indicator says so), `above_capacity` (a reading above `capacity_g`), `no_reading` (open but
 * nothing valid yet), `offline`. Overload, underload and above capacity are "no valid weight".
 */
export type ScaleCondition = "ok" | "overload" | "underload" | "above_capacity" | "no_reading" | "offline";

/** One scale's weighing state. */
export interface ScaleState {
  readonly link: DeviceLink;
  readonly condition: ScaleCondition;
  /** The stability window (samples of the last `stable_window_ms`). */
  readonly samples: readonly WeightSample[];
  /** The last window was stable (never while offline or without a valid weight). */
  readonly stable: boolean;
  /** The accepted weight in integer grams, `null` until the first stable value (kept while offline). */
  readonly acceptedG: number | null;
  /** Whether the indicator's latest weight was its gross or its net (tared) display; `null` before one. */
  readonly mode: "gross" | "net" | null;
  /**
   * How often the display switched between gross and net since start (a tare set or cleared with
   * the indicator's keys): weights on either side of a switch are on different bases, never
   * subtracted (see deposits.ts).
   */
  readonly tareChanges: number;
  /** `tareChanges` when the accepted weight last changed (a change across a tare switch is no weight change). */
  readonly acceptedTareChanges?: number;
  /**
   * Weight frames in a row that came longer after the one before than the stability window allows
   * (see `slowestFramePeriodMs`), and the last such time between frames in ms; absent or `count` 0
   * once one comes in time. See `framesTooSlow` (scale-state.ts).
   */
  readonly slowFrames?: { readonly count: number; readonly periodMs: number };
  /** When the last weight frame was read (monotonic ms); absent before one. */
  readonly lastWeightMono?: number;
  /**
   * Only frames without a weight (busy) came for a whole `silence_timeout_s` after the last weight:
   * the condition is `no_reading` until the next weight (scale-state.ts, the `ignored` frames).
   */
  readonly weightStale?: boolean;
}

/** One distance reading kept for a level sensor's median. */
export interface LevelReading {
  readonly mono: number;
  readonly mm: number;
}

/** One fill-level sensor's state (src/domain/level-state.ts). Its full/ok verdict is the bin's: {@link StationState.fullBy}. */
export interface LevelSensorState {
  readonly link: DeviceLink;
  /** Readings of the median's window (at least the last 5), oldest first, bounded. */
  readonly readings: readonly LevelReading[];
  /** The median of `readings` in mm, `null` until there are 5 (kept while offline). */
  readonly medianMm: number | null;
  /** The fill level of that median, 0..100 %, one decimal; `null` with it. */
  readonly fillPercent: number | null;
  /** Why the latest frame was no reading (no echo, weak signal), `null` after a reading. */
  readonly noReading: string | null;
  /** The fill level when the retained status was last asked to be published for this sensor; absent: never. */
  readonly statusPercent?: number | null;
}

/** Which source says a bin is full: its weight (`full_g`) and its fill-level sensor; absent: not judged yet. */
export interface FullSources {
  readonly weight?: boolean;
  readonly level?: boolean;
}

/** A tag seen fewer than `min_reads` times so far. */
export interface Candidate {
  readonly cardId: string;
  readonly reads: number;
  readonly lastMono: number;
}

/** One reader's state. */
export interface ReaderState {
  readonly link: DeviceLink;
  /** Presented tags by id -> mono of their latest frame (pruned after `repeat_gap_ms`). */
  readonly presented: Readonly<Record<string, number>>;
  /** Tags not yet presented (fewer than `min_reads` frames). */
  readonly candidates: readonly Candidate[];
  /** Noise since the last noise log line, and when that line was written (`null`: never). */
  readonly noiseUnlogged: number;
  readonly noiseLoggedMono: number | null;
}

/**
 * How full storage is, by the latest measurement (config `storage.max_size_mb`, `min_free_mb`):
 * `nearly_full` at 90 % of the budget or below twice the free-space floor, `full` at the budget or
 * below the floor (no new session: the fail-safe rule), `ok` otherwise.
 */
export type SpaceLevel = "ok" | "nearly_full" | "full";

/** What the last `storage_nearly_full` / `storage_ok` alarm said; alarms mark crossings of it. */
export type SpaceAlarm = "ok" | "nearly_full";

/** One measurement of storage against its limits, in bytes. */
export interface SpaceMeasure {
  /** The database's pages in use plus its WAL file. */
  readonly usedBytes: number;
  /** `storage.max_size_mb` in bytes. */
  readonly budgetBytes: number;
  /** Free space of the database's file system (for this user). */
  readonly freeBytes: number;
  /** `storage.min_free_mb` in bytes. */
  readonly floorBytes: number;
}

/** Storage as the outbox reports it (contract section 4, status `storage`). */
export interface StorageState {
  /** `busy`: commits wait for another process's lock; `fault`: commits fail (no new sessions). */
  readonly state: "ok" | "busy" | "fault";
  readonly message: string | null;
  /** The latest measurement's level (`ok` before the first). */
  readonly space: SpaceLevel;
  /** What the last storage alarm said (from the database at start, see the `storage_space` input). */
  readonly spaceAlarm: SpaceAlarm;
}

/** A role of a card (contract section 2 "Roles"). */
export type Role = "resident" | "collector" | "maintenance" | "blocked";

/** The role lists in force (config or the last `set_cards`), and where they came from. */
export interface CardListsState {
  readonly collectors: readonly string[];
  readonly maintenance: readonly string[];
  readonly blocked: readonly string[];
  /** The `version` of the last `set_cards`, `null` for the config's lists. */
  readonly version: string | null;
}

export type { DailyPoints, DailyTallyState } from "./daily-points.js";

/** One door's state (a bin with door hardware). */
export interface DoorState {
  /** The debounced closed input; `null` until the GPIO port read it. */
  readonly closed: boolean | null;
  /** The lock as the machine commands it (the fire rule may override the output: {@link outputsOf}). */
  readonly locked: boolean;
  /** When it was last unlocked (the `open_timeout_s` timer), `null` while locked or after it opened. */
  readonly unlockedMono: number | null;
  /** Since when it is open, `null` while closed. */
  readonly openMono: number | null;
  /** `door_forced` / `door_left_open` raised for the current opening (again only after it closed). */
  readonly forced: boolean;
  readonly leftOpen: boolean;
  /** A line of this door failed (`gpio_error`): the bin is not ready. */
  readonly lineError: string | null;
}

/** A bin of a session with its baseline (accepted grams at identification). */
export interface CoveredBin {
  readonly binId: string;
  readonly baselineG: number;
  /** The display the baseline was read on (gross, or net after a tare); absent when not known. */
  readonly baselineMode?: "gross" | "net";
  /** The scale's `tareChanges` at the baseline; absent for a session recovered after a restart. */
  readonly tareChanges?: number;
}

/** The session, tagged by phase. */
export type SessionPhase =
  | { readonly phase: "idle" }
  | {
      readonly phase: "open";
      /** A UUID, minted by the runner and passed in with the identification. */
      readonly id: string;
      readonly cardId: string;
      readonly readerId: string;
      readonly startedMono: number;
      readonly startedWall: number;
      /** Bins in config order whose scale was online with an accepted weight at identification. */
      readonly bins: readonly CoveredBin[];
      /** Start of the `first_deposit_timeout_s` timer: identification, or the same card again. */
      readonly firstDepositFromMono: number;
      /** The latest weight change on one of its scales, `null` while none happened. */
      readonly lastChangeMono: number | null;
      readonly lastChangeWall: number | null;
      /**
       * Set by a shutdown (`flush`) that found a scale of the session still settling: the session
       * then closes (`shutdown`) the moment its scales settle, and takes no other card meanwhile.
       * Absent otherwise. Never stored: after a crash the stored session is recovered anyway.
       */
      readonly closingFromMono?: number;
      /** The card's role; absent: resident. */
      readonly role?: Role;
      /** Ready door bins of the session not yet unlocked (select mode: waiting for their button). */
      readonly doorBins?: readonly string[];
      /**
       * Door bins the session unlocked whose door has not yet opened while unlocked, with the baseline
       * of their first unlock. A door bin's deposit starts when its door opens (contract section 2,
       * "Sessions with doors"), so these are neither measured at close nor stored, and a weight change
       * on them is not the session's: a door that relocked unopened and was then forced, or an
       * indicator drifting, earns nothing. The opening moves the bin to `bins`.
       */
      readonly armedBins?: readonly CoveredBin[];
      /** A door of the session has opened (a door session's "deposit started"). */
      readonly doorOpened?: boolean;
      /** When the last door of the session closed, `null`/absent while none did. */
      readonly lastDoorClosedMono?: number | null;
      /** `max_session_s` passed while a door was open: the session closes as that door closes. */
      readonly maxReached?: boolean;
    }
  | RecoveringSession;

/** A session recovered after a restart: closes once with `close_reason: "restart"` (contract section 2). */
export interface RecoveringSession {
  readonly phase: "recovering";
  readonly id: string;
  readonly cardId: string;
  readonly readerId: string;
  readonly startedWall: number;
  readonly bins: readonly CoveredBin[];
  /** `session.recover_timeout_s` after the start. */
  readonly deadlineMono: number;
  /** The card's role when the session was stored; absent: resident. */
  readonly role?: Role;
}

/** The open session of a resident. */
export type OpenSession = Extract<SessionPhase, { phase: "open" }>;

/** Counters per device (the station's counters; publishing them is a later issue). */
export interface DeviceCounters {
  readonly bytes: number;
  readonly frames: number;
  readonly discarded: number;
  readonly noise: number;
}

/** The station's counters. */
export interface StationCounters {
  readonly sessionsOpened: number;
  readonly sessionsRefused: number;
  readonly identificationsRefused: number;
  readonly devices: Readonly<Record<string, DeviceCounters>>;
}

/** The machine's whole state: plain data (`JSON.stringify` round-trips it). Treat as immutable. */
export interface StationState {
  readonly scales: Readonly<Record<string, ScaleState>>;
  readonly readers: Readonly<Record<string, ReaderState>>;
  readonly storage: StorageState;
  readonly session: SessionPhase;
  /** Sessions recovered at start that wait behind the current one (normally none). */
  readonly recoveredQueue: readonly RecoveringSession[];
  readonly counters: StationCounters;
  /** Doors by bin id (bins with door hardware only). */
  readonly doors?: Readonly<Record<string, DoorState>>;
  /** Active contacts (fire, tamper, power_fail), as last debounced; absent: inactive. */
  readonly contacts?: Readonly<Partial<Record<Contact, boolean>>>;
  /** Contacts whose line failed. */
  readonly contactErrors?: Readonly<Partial<Record<Contact, string>>>;
  /** Bins whose last bin_full/bin_ok alarm said full. */
  readonly full?: Readonly<Record<string, boolean>>;
  /** Per bin, what each of its sources said last (src/domain/bin-full.ts); `full` is their combination. */
  readonly fullBy?: Readonly<Record<string, FullSources>>;
  /** Fill-level sensors by id. */
  readonly levels?: Readonly<Record<string, LevelSensorState>>;
  readonly cards?: CardListsState;
  /** The daily cap's count (src/domain/daily-points.ts). */
  readonly daily?: DailyTallyState;
  /** Another client takes over our MQTT connection (same client id): the status says so while true. */
  readonly clientIdConflict?: boolean;
}

// ---------------------------------------------------------------------------------------------
// The persisted open session (stored by the outbox as JSON, read back at start).

/** An open session as stored in the database (contract section 2 "Restart mid-session"). */
export interface PersistedSession {
  readonly version: 1;
  readonly session_id: string;
  readonly card_id: string;
  readonly reader_id: string;
  /** Epoch ms of the identification. */
  readonly started_wall: number;
  readonly bins: readonly { readonly bin_id: string; readonly baseline_g: number; readonly baseline_mode?: "gross" | "net" }[];
  /** Epoch ms of the latest weight change, `null` while none. */
  readonly last_change_wall: number | null;
  /** The card's role (absent in rows of earlier versions: resident). */
  readonly role?: Role;
}

// ---------------------------------------------------------------------------------------------
// Inputs.

interface At {
  mono: number;
  wall: number;
}

/** Inputs of the machine. Doors, buttons and commands join this union later. */
export type StationInput =
  /** One chunk from a scale's port: its size and the frames the protocol's framer completed. */
  | ({ type: "scale_data"; scaleId: string; bytes: number; frames: readonly ScaleFrame[] } & At)
  /**
   * One chunk from a reader's port. `sessionId` is a fresh UUID the runner mints for the session
   * this chunk may open (the machine cannot mint ids).
   */
  | ({ type: "reader_data"; readerId: string; bytes: number; frames: readonly ReaderFrame[]; sessionId: string } & At)
  /** One chunk from a fill-level sensor's port: its size and the frames the protocol's framer completed. */
  | ({ type: "level_data"; sensorId: string; bytes: number; frames: readonly LevelFrame[] } & At)
  /** A presentation decided outside the readers (tests; later, commands). */
  | ({ type: "identified"; cardId: string; readerId: string; sessionId: string } & At)
  /** The port adapter opened or lost a device's port (`reason`: why it closed). */
  | ({ type: "port"; deviceId: string; state: "open" | "closed"; reason?: string } & At)
  /** The outbox's state: ok, busy (another process holds the lock), fault (commits fail). */
  | ({ type: "storage"; state: StorageState["state"]; message?: string } & At)
  /**
   * A measurement of the database's size and free space (the runner measures every few seconds).
   * `alarm`, given with the first measurement after a start, is what the last storage alarm recorded
   * in the database said, so a restart neither repeats an alarm nor misses a crossing.
   */
  | ({ type: "storage_space"; space: SpaceMeasure; alarm?: SpaceAlarm } & At)
  /** At start: the open sessions found in the database. */
  | ({ type: "recover"; sessions: readonly PersistedSession[] } & At)
  /** Time passes; the runner ticks often (every 100 ms or so). */
  | ({ type: "tick" } & At)
  /** Shutdown (SIGTERM/SIGINT, end of the demo): close an open session now. */
  /**
   * Shutdown (SIGTERM/SIGINT, end of the demo): close an open session. When a scale of the session
   * is still settling (a bag just dropped), the session closes as soon as it settles; a `final`
   * flush (the runner's wait is over) that still finds it settling leaves it stored, so the next
   * start recovers and measures it (`restart`) instead of closing it on a stale weight.
   */
  | ({ type: "flush"; final?: boolean } & At)
  /** A door's debounced input: `closed` (the door sensor) or `button` (a press is `active: true`). */
  | ({ type: "door_input"; binId: string; part: "closed" | "button"; active: boolean } & At)
  /** A station-wide contact's debounced level. */
  | ({ type: "contact"; contact: Contact; active: boolean } & At)
  /** A GPIO line failed at run time (or at open): `binId` for a door's line, `contact` for a contact's. */
  | ({ type: "gpio_error"; line: number; message: string; binId?: string; contact?: Contact } & At)
  /**
   * What the database kept for the machine, at start: the role lists in force, today's points per
   * card, and the bins and contacts whose last alarm said full/active (so a restart repeats no alarm).
   */
  | ({
      type: "restore";
      cards?: CardListsState;
      daily?: DailyPoints;
      full?: Readonly<Record<string, boolean>>;
      /** What each source of a bin's full state said last (stored since level sensors). */
      fullBy?: Readonly<Record<string, FullSources>>;
      contacts?: Readonly<Partial<Record<Contact, boolean>>>;
    } & At)
  /**
   * A configuration reload took effect (issue 10 item 3): `context` is the new context (the input
   * is stepped with the old one). Devices, bins and doors keep their state when they remain; those
   * in `reset` (reopened devices) and new ones start afresh; removed ones are forgotten.
   */
  | ({ type: "reconfigured"; context: StationContext; reset: readonly string[] } & At)
  /** New role lists (a `set_cards` command, or a changed config at start); each given list replaces the current one. */
  | ({ type: "set_cards"; collectors?: readonly string[]; maintenance?: readonly string[]; blocked?: readonly string[]; version: string | null } & At)
  /** A valid MQTT command the machine executes (`tare`, `zero`, `set_cards`: src/domain/commands.ts). */
  | ({ type: "command"; command: MachineCommand } & At)
  /** What the scale's port did with a `scale_request` effect: the command ends (audit, reply). */
  | ({
      type: "scale_request_done";
      commandId: string;
      scaleId: string;
      request: ScaleRequest;
      args: Readonly<Record<string, unknown>>;
      outcome: ScaleRequestOutcome;
    } & At)
  /**
   * A valid command executed outside the machine (`status`, `replay`, `reload_config`), or one that
   * failed inside its handler (`internal`): the machine audits it (not `status`), keeps its reply,
   * and replies.
   */
  | ({ type: "command_done"; commandId: string; name: string; args: Readonly<Record<string, unknown>>; outcome: CommandOutcome } & At)
  /** The broker takes our connection over for another client with our client id (`active`), or stopped doing so. */
  | ({ type: "broker_conflict"; active: boolean } & At);

// ---------------------------------------------------------------------------------------------
// Effects.

/** Alarm codes this machine raises (contract section 4; later issues add theirs). */
export const ALARM_CODES = [
  "scale_offline",
  "scale_online",
  "reader_offline",
  "reader_online",
  "implausible_weight",
  "negative_net",
  "session_interrupted",
  "tare_changed",
  "storage_nearly_full",
  "storage_ok",
  "door_forced",
  "door_left_open",
  "bin_full",
  "bin_ok",
  "unattributed_weight_change",
  "fire",
  "fire_cleared",
  "tamper",
  "tamper_cleared",
  "power_fail",
  "power_ok",
  "gpio_error",
  "level_sensor_offline",
  "level_sensor_online",
  "client_id_conflict",
] as const;
export type AlarmCode = (typeof ALARM_CODES)[number];

/** Why a session closed (contract section 2). */
export const CLOSE_REASONS = [
  "idle",
  "first_deposit_timeout",
  "max_session",
  "other_identification",
  "shutdown",
  "restart",
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/** The data of a deposit event as the machine makes it (the outbox adds station_id, seq, clock_synced). */
export interface DepositEventData extends DepositData {
  session_id: string;
  close_reason: CloseReason;
}

/** The data of an alarm event. */
export interface AlarmEventData {
  code: AlarmCode;
  device_id?: string;
  bin_id?: string;
  message: string;
  [detail: string]: unknown;
}

/** A durable event to record. `subject` is the CloudEvents subject. */
/** The data of a `collection` event (contract section 2 "Roles"). */
export interface CollectionEventData {
  bin_id: string;
  card_id: string;
  removed_g: number;
  gross_before_g: number;
  gross_after_g: number;
  rules_version: string | null;
  session_id: string;
  started_at: string;
  ended_at: string;
  close_reason: CloseReason;
}

/** The data of a `maintenance` event. */
export interface MaintenanceEventData {
  card_id: string;
  session_id: string;
  started_at: string;
  ended_at: string;
  close_reason: CloseReason;
}

export type DurableEvent =
  | { kind: "deposit"; subject: string; data: DepositEventData }
  | { kind: "alarm"; subject: string; data: AlarmEventData }
  | { kind: "collection"; subject: string; data: CollectionEventData }
  | { kind: "maintenance"; subject: string; data: MaintenanceEventData }
  | { kind: "command"; subject: string; data: CommandEventData };

/** A change of the stored open session, committed in the same transaction as the batch's events. */
export type SessionWrite =
  | { op: "put"; id: string; state: PersistedSession }
  | { op: "delete"; id: string };

/** Log levels of notices. */
export type NoticeLevel = "debug" | "info" | "warn" | "error";

/** Effects, in the order the runner must execute them. */
export type StationEffect =
  /**
   * Commit these events (in order) and the session write, all in one transaction. `storageAlarm`:
   * the batch holds a storage alarm, and the level it reports is stored in the same transaction
   * (read back at start as the `storage_space` input's `alarm`).
   */
  | {
      type: "record";
      events: readonly DurableEvent[];
      session?: SessionWrite;
      storageAlarm?: SpaceAlarm;
      /**
       * Values the machine keeps in the database's `meta` table, in the same transaction
       * ({@link META_KEYS}, and a row per card of the daily cap's count); `null` deletes the row.
       */
      meta?: Readonly<Record<string, string | null>>;
    }
  /**
   * Tell the resident something at a bin (lamp) or the station (buzzer): `refused` (the card opens
   * nothing, or the bin is not ready), `select` (choose a bin), `blocked` (a blocked card).
   * Deposits are acknowledged by the runner after their commit, never by the machine.
   */
  | { type: "indicate"; signal: "refused" | "select" | "blocked"; binId?: string }
  /** The retained status changed (see `statusOf`). */
  | { type: "status_changed" }
  /**
   * Send a request to a scale's indicator (the `tare` and `zero` commands); the runner feeds back
   * what the port did as a `scale_request_done` input with the same command id and arguments.
   */
  | { type: "scale_request"; scaleId: string; request: ScaleRequest; commandId: string; args: Readonly<Record<string, unknown>> }
  /** The reply to a command (after the record effect of its audit and kept reply). */
  | { type: "command_reply"; commandId: string; outcome: CommandOutcome }
  /** A line for the log. Card ids in `fields.card` are already masked. */
  | { type: "notice"; level: NoticeLevel; msg: string; fields: Readonly<Record<string, unknown>> };

/** The result of one transition. */
export interface StepResult {
  state: StationState;
  effects: StationEffect[];
}

/** Keys of the database's `meta` table that the machine writes (JSON values) and reads back at start. */
export const META_KEYS = {
  cards: "cards",
  /** The whole day's count in one row, as version 0.2.0 and earlier wrote it (read at start, never written now). */
  daily: "daily_points",
  full: "bins_full",
  fullBy: "bins_full_by",
  contacts: "contacts",
} as const;
