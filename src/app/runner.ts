/**
 * The station runner (architecture.md, "The runner"): wires ports to the station machine and runs
 * its effects. It decides nothing: bytes go through each device's framer into a `scale_data` or
 * `reader_data` input, port changes, the outbox's commit state (ok, busy, fault) and storage
 * measurements become inputs, time becomes `tick` inputs;
 * the machine's effects are executed in order (record: one outbox transaction per effect; notice:
 * a log line; status_changed: the retained status is published again; scale_request: a `tare` or
 * `zero` through the scale port, its outcome fed back as an input; command_reply: the reply a
 * {@link StationRunner.command} caller awaits).
 *
 * Inputs are queued: an input that arrives while another one's effects run (a storage fault
 * reported by a commit, say) is stepped after them, never inside them.
 *
 * Every adapter comes in one object ({@link RunnerAdapters}) and time in one port ({@link Clock}),
 * so a unit test drives the whole station with fakes and a manual clock.
 */
import type { Logger } from "../adapters/log/logger.js";
import { initialState, nextDeadline, outputsOf, statusOf, step, type StationStatus } from "../domain/station-machine.js";
import type { Outputs } from "../domain/doors.js";
import { DAILY_DAY_KEY, DAILY_POINTS_PREFIX, gatherStored } from "../domain/daily-points.js";
import type { CommandOutcome, MachineCommand, ScaleRequest, ScaleRequestOutcome } from "../domain/commands.js";
import { maskCardId } from "../domain/privacy.js";
import { META_KEYS } from "../domain/station-types.js";
import type {
  CardListsState,
  Contact,
  DailyPoints,
  DepositEventData,
  DurableEvent,
  PersistedSession,
  SpaceAlarm,
  SpaceMeasure,
  StationContext,
  StationEffect,
  StationInput,
  StationState,
  StorageState,
} from "../domain/station-types.js";
import type { BufferedFramer, LevelFrame, ReaderFrame, ScaleFrame } from "../protocol/types.js";
import type { Clock } from "./clock.js";
import { EventRecorder, STORAGE_ALARM_KEY, type CommitPort, type SpillOf } from "./event-recorder.js";
import { parsePersistedSession } from "./persisted-session.js";

/** What the runner needs of the outbox. */
export interface OutboxPort extends CommitPort {
  /** The open sessions stored in the database (restart recovery). */
  openSessions(): Array<{ id: string; state: unknown }>;
  /** The spill file left by the last shutdown and not yet committed, `null` when none. */
  spilled?(): SpillOf | null;
  /** A `meta` value of the database (the last storage alarm's level), `null` when unset. */
  meta?(key: string): string | null;
  /** The `meta` rows whose key starts with `prefix` (the daily cap's card rows). */
  metaEntries?(prefix: string): Array<{ key: string; value: string }>;
}

/** What the runner needs of the publisher. */
export interface PublisherPort {
  /** New events were committed: publish them. */
  notify(): void;
  /** Publish the retained status again (its fields come from {@link StationRunner.statusFields}). */
  publishStatus(): void;
}

/** The callbacks a device port calls. */
export interface DeviceHandlers {
  /** Bytes as they arrive, split anywhere. The chunk may be reused after the call returns. */
  onData(chunk: Uint8Array): void;
  /** The port opened. */
  onOpen(): void;
  /** The port closed, failed to open, or a streaming device went silent. */
  onClose(reason: string): void;
}

/** One device port: started once, stopped once. */
export interface DevicePort {
  start(): void;
  stop(): Promise<void>;
}

/** A device as the runner drives it: its kind, id, framer, and how to open its port. */
export type RunnerDevice =
  | { kind: "scale"; id: string; framer: BufferedFramer<ScaleFrame>; newFramer?: () => BufferedFramer<ScaleFrame>; open(handlers: DeviceHandlers): DevicePort }
  | { kind: "reader"; id: string; framer: BufferedFramer<ReaderFrame>; newFramer?: () => BufferedFramer<ReaderFrame>; open(handlers: DeviceHandlers): DevicePort }
  | { kind: "level"; id: string; framer: BufferedFramer<LevelFrame>; newFramer?: () => BufferedFramer<LevelFrame>; open(handlers: DeviceHandlers): DevicePort };

/**
 * What the runner needs of the station's GPIO outputs (app/gpio-station.ts): the levels the machine's
 * state calls for ({@link outputsOf}; the port writes only what changed), and signals for the
 * resident (lamp and buzzer patterns: docs/deposit-flow.md).
 */
export interface OutputPort {
  apply(outputs: Outputs): void;
  /** `deposit`: a deposit was committed (never before); the others come from the machine's `indicate` effects. */
  indicate(signal: "refused" | "select" | "blocked" | "deposit", binId?: string): void;
}

/** The role lists a config names (`cards`, with its file merged), compared with the stored ones at start. */
export interface ConfigCards {
  collectors: readonly string[];
  maintenance: readonly string[];
  blocked: readonly string[];
}

/** Sends `tare` / `zero` to a scale's indicator through its open port (src/app/station.ts `scaleCommand`). */
export interface ScaleRequestPort {
  request(scaleId: string, request: ScaleRequest): ScaleRequestOutcome;
}

/** Frames of one device since start, as telemetry reports them. */
export interface DeviceFrameCounts {
  /** Frames that carried a reading (weights, tags, distances, "no reading" replies). */
  valid: number;
  /** Frames the framer discarded, and reader noise frames (all-zero or all-F tags). */
  discarded: number;
}

/** Every adapter of the station, in one object. */
export interface RunnerAdapters {
  outbox: OutboxPort;
  publisher: PublisherPort;
  logger: Logger;
  /** Door locks, lamps, buzzer; absent: no GPIO outputs. */
  outputs?: OutputPort;
  /** A fresh UUID (session ids). */
  newId(): string;
  /** Scale requests of the `tare` and `zero` commands; absent: every request is `unsupported`. */
  scales?: ScaleRequestPort;
}

/** Options of a {@link StationRunner}. */
export interface RunnerOptions {
  context: StationContext;
  devices: readonly RunnerDevice[];
  adapters: RunnerAdapters;
  clock: Clock;
  /** How often a storage fault is retried, in ms (default 5000). */
  storageRetryMs?: number;
  /**
   * At stop, how long events that wait for a commit (storage busy or at fault) are retried before
   * they go to the spill file, in ms (default 2000: the shutdown limit is 8 s, the publisher takes
   * up to 2.5 s after this).
   */
  stopCommitMs?: number;
  /**
   * At stop (and at the end of the demo), how long an open session whose scales are still settling
   * (a bag just dropped) may take to settle before it is left stored for the next start, in ms
   * (default 2500; with `stopCommitMs` and the publisher's 2.5 s this stays within the 8 s limit).
   */
  settleWaitMs?: number;
  /** Called after each deposit event is committed (the demo prints a human line). */
  onDepositCommitted?: (data: DepositEventData, seq: number) => void;
  /** Called after every durable event is committed, in order (the demo's story). */
  onCommitted?: (event: DurableEvent, seq: number) => void;
  /** The config's role lists (default: none). */
  cards?: ConfigCards;
}

/** Counters a technician (and the tests) can read. */
export interface RunnerStats {
  scaleFrames: number;
  readerFrames: number;
  /** Frames from fill-level sensors. */
  levelFrames: number;
  discardedFrames: number;
  noiseFrames: number;
  sessionsOpened: number;
  refusedSessions: number;
  deposits: number;
  alarms: number;
}

const DEFAULT_STORAGE_RETRY_MS = 5_000;
const DEFAULT_STOP_COMMIT_MS = 2_000;
const DEFAULT_SETTLE_WAIT_MS = 2_500;

/** Runs the station machine against its ports. */
export class StationRunner {
  private state: StationState;
  private readonly queue: StationInput[] = [];
  private stepping = false;
  private readonly recorder: EventRecorder;
  private readonly ports = new Map<string, DevicePort>();
  /** The context and devices in force (a reload replaces them: {@link reconfigure}). */
  private context: StationContext;
  private devices: readonly RunnerDevice[];
  private readonly cancels: Array<() => void> = [];
  private deposits = 0;
  private alarms = 0;
  private running = false;
  private stopping = false;
  /** Resolved when the open session has closed (or was left stored): waits of {@link closeSession}. */
  private readonly sessionWaiters: Array<() => void> = [];
  private readonly log: Logger;
  /** The one timer armed for the machine's next deadline, and that deadline (mono ms). */
  private deadline: { at: number; cancel: () => void } | null = null;
  /** The storage alarm level stored in the database, read once, for the first measurement. */
  private storedAlarm: SpaceAlarm | null | undefined;
  /** Callers waiting for a command's reply effect, by command id, oldest first. */
  private readonly replyWaiters = new Map<string, Array<(outcome: CommandOutcome) => void>>();
  /** Valid and discarded frames per device id since start (telemetry). */
  private readonly frameCounts = new Map<string, DeviceFrameCounts>();

  constructor(private opts: RunnerOptions) {
    this.context = opts.context;
    this.devices = opts.devices;
    this.state = initialState(opts.context);
    this.log = opts.adapters.logger;
    this.recorder = new EventRecorder({
      outbox: opts.adapters.outbox,
      logger: this.log,
      onCommitted: (event, seq) => this.afterCommit(event, seq),
      onStateChanged: (state, message) =>
        this.feed({ type: "storage", state, ...(message === null ? {} : { message }), ...this.now() }),
      after: (ms, fn) => opts.clock.after(ms, fn),
      wall: () => opts.clock.wall(),
    });
  }

  /**
   * Commits a spill file left by the last shutdown (before anything else), recovers stored sessions,
   * starts the timers, then opens every device.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    const spill = this.spilled();
    if (spill !== null) this.recorder.seedSpill(spill);
    // The outputs' safe state first (every lock locked, lamps off), before anything can report online.
    this.applyOutputs();
    this.restoreStored(spill);
    this.feed({ type: "recover", sessions: this.storedSessions(spill), ...this.now() });
    const { clock } = this.opts;
    this.cancels.push(clock.every(this.opts.storageRetryMs ?? DEFAULT_STORAGE_RETRY_MS, () => this.recorder.commitWaiting()));
    for (const device of this.devices) this.startDevice(device);
  }

  /**
   * Closes any open session (reason `shutdown`, its deposits recorded; see {@link closeSession}), then stops the devices.
   * Events still waiting for a commit (storage busy or at fault) are retried for `stopCommitMs`,
   * then written to the spill file, which the next start commits first: nothing accepted is only in
   * memory when the process ends. If even that fails, the events are written to the log in full.
   */
  async stop(): Promise<void> {
    if (!this.running || this.stopping) return;
    this.stopping = true;
    // The devices keep reading meanwhile: a settling scale must be heard to settle.
    await this.closeSession();
    this.running = false;
    for (const cancel of this.cancels.splice(0)) cancel();
    this.deadline?.cancel();
    this.deadline = null;
    await Promise.all([...this.ports.values()].map((p) => p.stop()));
    if (this.recorder.waitingBatches() > 0) await this.recorder.drain(this.opts.stopCommitMs ?? DEFAULT_STOP_COMMIT_MS);
    const waiting = this.recorder.waitingCount();
    try {
      const spilled = this.recorder.spillWaiting();
      if (spilled !== null) {
        this.log.error(
          { count: spilled.events, batches: spilled.batches, file: spilled.file },
          "events could not be committed before shutdown: written to the spill file, committed first at the next start",
        );
      }
    } catch (err) {
      // The last resort: journald keeps what the disk could not.
      this.log.fatal({ err, count: waiting, batches: this.recorder.waitingJson() }, "events could not be committed nor written to the spill file: they are only in this log line");
    }
  }

  /**
   * A measurement of storage space against its limits: the machine decides the level, the alarms
   * and whether sessions may open. The first one after start carries the alarm level stored in the
   * database, so that a restart neither repeats an alarm nor misses a crossing.
   */
  storageSpace(space: SpaceMeasure): void {
    if (this.storedAlarm === undefined) {
      let stored: string | null = null;
      try {
        stored = this.opts.adapters.outbox.meta?.(STORAGE_ALARM_KEY) ?? null;
      } catch (err) {
        this.log.warn({ err }, "the last storage alarm level could not be read");
      }
      this.storedAlarm = stored === "ok" || stored === "nearly_full" ? stored : null;
      this.feed({ type: "storage_space", space, ...(this.storedAlarm === null ? {} : { alarm: this.storedAlarm }), ...this.now() });
      return;
    }
    this.feed({ type: "storage_space", space, ...this.now() });
  }

  /** The machine's storage state (commit state, space level, standing alarm). */
  storage(): StorageState {
    return this.state.storage;
  }

  /** Closes the open session as a shutdown does (once its scales settle), recording its deposits (end of the demo). */
  flushSession(): Promise<void> {
    return this.closeSession();
  }

  /**
   * Closes the open session for a shutdown: at once when its scales are settled; when one is still
   * settling (a bag just dropped), as soon as it settles, waiting at most `settleWaitMs`; after that
   * a final flush leaves a still-unsettled session stored, so the next start recovers and measures
   * it (`restart`) instead of closing it on the weight from before the bag. The machine decides; this
   * only waits.
   */
  private async closeSession(): Promise<void> {
    this.feed({ type: "flush", ...this.now() });
    if (this.state.session.phase === "open") {
      await new Promise<void>((resolve) => {
        let cancel = (): void => undefined;
        const done = (): void => {
          cancel();
          resolve();
        };
        cancel = this.opts.clock.after(this.opts.settleWaitMs ?? DEFAULT_SETTLE_WAIT_MS, done);
        this.sessionWaiters.push(done);
      });
    }
    this.feed({ type: "flush", final: true, ...this.now() });
  }

  /** The machine's state (plain data; for tests and diagnostics). */
  snapshot(): StationState {
    return this.state;
  }

  /** The machine's status fields for the retained status. */
  statusFields(): StationStatus {
    return statusOf(this.state, this.context);
  }

  /** Counters since start. */
  stats(): RunnerStats {
    const c = this.state.counters;
    let scaleFrames = 0;
    let readerFrames = 0;
    let levelFrames = 0;
    let discardedFrames = 0;
    let noiseFrames = 0;
    for (const d of this.devices) {
      const dc = c.devices[d.id];
      if (dc === undefined) continue;
      // The machine's `frames` counts every frame; the `…_frames` counters are the valid ones, as
      // telemetry's `valid_frames` (discarded and noise frames have their own counters).
      const valid = dc.frames - dc.discarded - dc.noise;
      if (d.kind === "scale") scaleFrames += valid;
      else if (d.kind === "level") levelFrames += valid;
      else readerFrames += valid;
      discardedFrames += dc.discarded;
      noiseFrames += dc.noise;
    }
    return {
      scaleFrames,
      readerFrames,
      levelFrames,
      discardedFrames,
      noiseFrames,
      sessionsOpened: c.sessionsOpened,
      refusedSessions: c.sessionsRefused + c.identificationsRefused,
      deposits: this.deposits,
      alarms: this.alarms,
    };
  }

  /** Events or session changes waiting for a commit. */
  waitingBatches(): number {
    return this.recorder.waitingBatches();
  }

  /**
   * Gives the machine what the database kept for it: today's points per card, the bins and contacts
   * whose last alarm said full/active, and the role lists. The lists: those stored (possibly set by a
   * `set_cards` command) win while the config's lists are the ones stored with them; a config whose
   * lists changed since wins over earlier commands (contract section 2 "Roles"). The daily count
   * reads the rows of the spill file (`spill`) too, committed or not yet.
   */
  private restoreStored(spill: SpillOf | null): void {
    const read = <T>(key: string, check: (v: unknown) => v is T): T | undefined => {
      try {
        const text = this.opts.adapters.outbox.meta?.(key) ?? null;
        if (text === null) return undefined;
        const value: unknown = JSON.parse(text);
        if (check(value)) return value;
        this.log.warn({ key }, "a stored value is not in the expected form: ignored");
      } catch (err) {
        this.log.warn({ err, key }, "a stored value could not be read: ignored");
      }
      return undefined;
    };
    const daily = this.restoreDaily(read(META_KEYS.daily, isDailyPoints), spill);
    const full = read(META_KEYS.full, isBoolRecord);
    const fullBy = read(META_KEYS.fullBy, isFullSources);
    const contacts = read(META_KEYS.contacts, isBoolRecord) as Partial<Record<Contact, boolean>> | undefined;
    const stored = read(META_KEYS.cards, isCardLists);
    const configCards: ConfigCards = this.opts.cards ?? { collectors: [], maintenance: [], blocked: [] };
    const listsText = (c: ConfigCards) => JSON.stringify([c.collectors, c.maintenance, c.blocked]);
    // No stored config lists: the config had none when the stored lists were set.
    const storedConfig = read(CARDS_CONFIG_KEY, isCardLists) ?? { collectors: [], maintenance: [], blocked: [], version: null };
    const configChanged = listsText(storedConfig) !== listsText(configCards);
    const now = this.now();
    this.feed({
      type: "restore",
      ...(daily !== undefined ? { daily } : {}),
      ...(full !== undefined ? { full } : {}),
      ...(fullBy !== undefined ? { fullBy } : {}),
      ...(contacts !== undefined ? { contacts } : {}),
      cards: stored !== undefined && !configChanged ? stored : { ...configCards, version: null },
      ...now,
    });
    if (configChanged) {
      if (stored !== undefined) this.log.info("the config's card lists changed since they were last applied: they replace the stored lists");
      const cards = JSON.stringify({ ...configCards, version: null });
      this.recorder.record({ events: [], meta: { [META_KEYS.cards]: cards, [CARDS_CONFIG_KEY]: cards } });
    }
  }

  /**
   * The daily cap's count the database kept (src/domain/daily-points.ts), with the rows of a spill
   * file on top: the card rows of the count's day, with the whole-day row of earlier versions
   * (`legacy`). Rows of other days, and rows not in the expected form (logged), are deleted.
   */
  private restoreDaily(legacy: DailyPoints | undefined, spill: SpillOf | null): DailyPoints | undefined {
    const outbox = this.opts.adapters.outbox;
    const rows = new Map((outbox.metaEntries?.(DAILY_POINTS_PREFIX) ?? []).map((r) => [r.key, r.value] as const));
    let day = outbox.meta?.(DAILY_DAY_KEY) ?? null;
    // A spill file's rows apply on top (it may not be committed yet: storage failing at start).
    for (const [key, value] of (spill?.batches ?? []).flatMap((b) => Object.entries(b.meta ?? {}))) {
      if (key === DAILY_DAY_KEY) day = value;
      else if (key.startsWith(DAILY_POINTS_PREFIX)) {
        if (value === null) rows.delete(key);
        else rows.set(key, value);
      }
    }
    const gathered = gatherStored(legacy, [...rows].map(([key, value]) => ({ key, value })), day);
    if (gathered.malformed.length > 0) this.log.warn({ keys: gathered.malformed.length }, "stored daily points not in the expected form: ignored");
    const gone = [...gathered.stale, ...gathered.malformed];
    if (legacy !== undefined && legacy.day !== gathered.daily?.day) gone.push(META_KEYS.daily);
    if (gone.length > 0) this.recorder.record({ events: [], meta: Object.fromEntries(gone.map((key) => [key, null])) });
    return gathered.daily;
  }

  /** A door's debounced input (the GPIO port, app/gpio-station.ts). */
  doorInput(binId: string, part: "closed" | "button", active: boolean): void {
    this.feed({ type: "door_input", binId, part, active, ...this.now() });
  }

  /** A contact's debounced level. */
  contact(contact: Contact, active: boolean): void {
    this.feed({ type: "contact", contact, active, ...this.now() });
  }

  /** A GPIO line failed. */
  gpioError(line: number, message: string, where: { binId?: string; contact?: Contact }): void {
    this.feed({ type: "gpio_error", line, message, ...where, ...this.now() });
  }

  /** New role lists (the `set_cards` command). */
  setCards(lists: Partial<ConfigCards>, version: string | null): void {
    this.feed({ type: "set_cards", ...lists, version, ...this.now() });
  }

  /**
   * Runs a command that is an input of the machine (`tare`, `zero`, `set_cards`): the machine judges
   * it, audits it and keeps its reply (src/domain/commands.ts). Resolves with the outcome once the
   * machine replied: at once, or (`tare`, `zero`) once the scale's port took the request.
   */
  command(command: MachineCommand): Promise<CommandOutcome> {
    return this.awaitReply(command.id, () => this.feed({ type: "command", command, ...this.now() }));
  }

  /**
   * A valid command executed outside the machine (`status`, `replay`, `reload_config`) or failed in
   * its handler: the machine audits it (not `status`) and keeps its reply for the 24 hours of
   * deduplication, in one transaction. Resolves with the outcome once that was handed to the outbox.
   */
  commandDone(done: { commandId: string; name: string; args: Readonly<Record<string, unknown>>; outcome: CommandOutcome }): Promise<CommandOutcome> {
    return this.awaitReply(done.commandId, () => this.feed({ type: "command_done", ...done, ...this.now() }));
  }

  private awaitReply(commandId: string, feed: () => void): Promise<CommandOutcome> {
    if (this.stopping && !this.running) {
      // Past closeSession the recorder may be closed: a command run now would have no durable audit
      // and no kept reply (contract section 4). The command service stops taking commands before
      // the runner stops; this only guards a command that outlived its wait.
      this.log.error({ command_id: commandId }, "a command reached the runner after it stopped: not executed, not audited");
      return Promise.resolve({ ok: false, code: "internal", message: "the station is shutting down: send the command again" });
    }
    return new Promise<CommandOutcome>((resolve) => {
      const waiters = this.replyWaiters.get(commandId) ?? [];
      waiters.push(resolve);
      this.replyWaiters.set(commandId, waiters);
      feed();
      // Stepped now, with no reply effect (a machine bug): the caller gets `internal`, never a hang.
      if (!this.stepping && waiters.includes(resolve)) {
        this.log.error({ command_id: commandId }, "the machine gave no reply to a command");
        this.resolveReply(commandId, { ok: false, code: "internal", message: "the station gave no reply" });
      }
    });
  }

  private resolveReply(commandId: string, outcome: CommandOutcome): void {
    const waiters = this.replyWaiters.get(commandId);
    const resolve = waiters?.shift();
    if (waiters !== undefined && waiters.length === 0) this.replyWaiters.delete(commandId);
    resolve?.(outcome);
  }

  /** Deletes `meta` rows (kept command replies past their 24 hours), in one transaction, in order with every other commit. */
  deleteMeta(keys: readonly string[]): void {
    if (keys.length === 0) return;
    this.recorder.record({ events: [], meta: Object.fromEntries(keys.map((k) => [k, null])) });
  }

  /** The broker takes our connection over for another client with our client id (`active`), or no longer does. */
  brokerConflict(active: boolean): void {
    this.feed({ type: "broker_conflict", active, ...this.now() });
  }

  /** Each configured device's frames since start (telemetry), in device order. */
  deviceFrames(): Record<string, DeviceFrameCounts> {
    return Object.fromEntries(this.devices.map((d) => [d.id, { ...(this.frameCounts.get(d.id) ?? { valid: 0, discarded: 0 }) }]));
  }

  /** Counts a chunk's frames for telemetry: discarded and noise frames, and the rest (valid). */
  private countFrames<F extends { kind: string }>(id: string, frames: readonly F[]): readonly F[] {
    if (frames.length === 0) return frames;
    const c = this.frameCounts.get(id) ?? { valid: 0, discarded: 0 };
    for (const f of frames) {
      if (f.kind === "discarded" || f.kind === "noise") c.discarded++;
      else c.valid++;
    }
    this.frameCounts.set(id, c);
    return frames;
  }

  /** The config's role lists changed (a reload): they replace the lists in force, and are stored as the config's. */
  configCardsChanged(cards: ConfigCards): void {
    this.opts = { ...this.opts, cards };
    this.feed({ type: "set_cards", ...cards, version: null, ...this.now() });
    this.recorder.record({ events: [], meta: { [CARDS_CONFIG_KEY]: JSON.stringify({ ...cards, version: null }) } });
  }

  /** Puts the outputs where the machine's state says (the port writes what changed). */
  private applyOutputs(): void {
    const port = this.opts.adapters.outputs;
    if (port === undefined) return;
    try {
      port.apply(outputsOf(this.state, this.context));
    } catch (err) {
      this.log.error({ err }, "GPIO outputs could not be written");
    }
  }

  /** Steps one input (queued behind any input being stepped) and runs its effects. */
  feed(input: StationInput): void {
    this.queue.push(input);
    if (this.stepping) return;
    this.stepping = true;
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
        const result = step(this.state, next, this.context);
        this.state = result.state;
        for (const effect of result.effects) this.run(effect);
        this.applyOutputs();
      }
    } finally {
      this.stepping = false;
    }
    if (this.sessionWaiters.length > 0 && this.state.session.phase !== "open") {
      for (const resolve of this.sessionWaiters.splice(0)) resolve();
    }
    this.armDeadline();
  }

  private now(): { mono: number; wall: number } {
    return { mono: this.opts.clock.mono(), wall: this.opts.clock.wall() };
  }

  /**
   * Time is an input only when something is due (a session timer, a recovered session's deadline, a
   * reader's gap): one timeout is armed for the machine's next deadline, none while nothing waits, so
   * an idle station wakes only for its devices.
   */
  private armDeadline(): void {
    if (!this.running) return;
    const at = nextDeadline(this.state, this.context);
    if (this.deadline !== null && this.deadline.at === at) return;
    this.deadline?.cancel();
    this.deadline = null;
    if (at === null) return;
    const delay = Math.max(0, at - this.opts.clock.mono());
    this.deadline = {
      at,
      cancel: this.opts.clock.after(delay, () => {
        this.deadline = null;
        this.feed({ type: "tick", ...this.now() });
      }),
    };
  }

  /**
   * A reload (issue 10 item 3): the new context and devices take over. Devices that were removed, or
   * whose settings changed (`reopen`), are stopped (their ports closed); new and changed ones are
   * opened; devices whose settings did not change keep their open ports and their state. The machine
   * gets the change as its `reconfigured` input, between two other inputs.
   */
  async reconfigure(context: StationContext, devices: readonly RunnerDevice[], reopen: ReadonlySet<string>): Promise<void> {
    const keep = new Set(devices.map((d) => d.id).filter((id) => !reopen.has(id)));
    const stopping: Array<Promise<void>> = [];
    for (const [id, port] of this.ports) {
      if (keep.has(id)) continue;
      this.ports.delete(id);
      stopping.push(port.stop());
    }
    await Promise.all(stopping);
    this.feed({ type: "reconfigured", context, reset: [...reopen], ...this.now() });
    this.context = context;
    this.devices = devices;
    if (this.running) for (const device of devices) if (!this.ports.has(device.id)) this.startDevice(device);
    this.opts.adapters.publisher.publishStatus();
    this.armDeadline();
  }

  /** The context in force. */
  currentContext(): StationContext {
    return this.context;
  }

  private startDevice(device: RunnerDevice): void {
    const port = this.openDevice(device);
    this.ports.set(device.id, port);
    port.start();
  }

  private openDevice(device: RunnerDevice): DevicePort {
    const id = device.id;
    const opened = () => this.feed({ type: "port", deviceId: id, state: "open", ...this.now() });
    const onClose = (reason: string) => this.feed({ type: "port", deviceId: id, state: "closed", reason, ...this.now() });
    if (device.kind === "scale") {
      const framer = renewedAtOpen(device.framer, device.newFramer);
      const onOpen = () => framer.renew(opened);
      return device.open({
        onData: (chunk) =>
          this.feed({ type: "scale_data", scaleId: id, bytes: chunk.length, frames: this.countFrames(id, framer.push(chunk)), ...this.now() }),
        onOpen,
        onClose,
      });
    }
    if (device.kind === "level") {
      const framer = renewedAtOpen(device.framer, device.newFramer);
      const onOpen = () => framer.renew(opened);
      return device.open({
        onData: (chunk) => this.feed({ type: "level_data", sensorId: id, bytes: chunk.length, frames: this.countFrames(id, framer.push(chunk)), ...this.now() }),
        onOpen,
        onClose,
      });
    }
    const framer = renewedAtOpen(device.framer, device.newFramer);
    const onOpen = () => framer.renew(opened);
    return device.open({
      onData: (chunk) =>
        this.feed({
          type: "reader_data",
          readerId: id,
          bytes: chunk.length,
          frames: this.countFrames(id, framer.push(chunk)),
          sessionId: this.opts.adapters.newId(),
          ...this.now(),
        }),
      onOpen,
      onClose,
    });
  }

  private spilled(): SpillOf | null {
    try {
      return this.opts.adapters.outbox.spilled?.() ?? null;
    } catch (err) {
      this.log.error({ err }, "the spill file could not be read");
      return null;
    }
  }

  /**
   * The stored open sessions as they will be once the spill (committed first) is: its session
   * writes apply on top of the database's rows, so a session whose close was spilled is not
   * recovered a second time, and one opened just before a spilled shutdown is.
   */
  private storedSessions(spill: SpillOf | null): PersistedSession[] {
    let rows: Array<{ id: string; state: unknown }>;
    try {
      rows = this.opts.adapters.outbox.openSessions();
    } catch (err) {
      this.log.error({ err }, "stored open sessions could not be read; none recovered");
      return [];
    }
    if (spill !== null) {
      const byId = new Map(rows.map((r) => [r.id, r.state]));
      for (const write of spill.batches.map((b) => b.session)) {
        if (write?.op === "put") byId.set(write.id, write.state);
        else if (write?.op === "delete") byId.delete(write.id);
      }
      rows = [...byId].map(([id, state]) => ({ id, state }));
    }
    const sessions: PersistedSession[] = [];
    for (const row of rows) {
      const session = parsePersistedSession(row.state);
      if (session === null || session.session_id !== row.id) {
        // Never dropped silently: the row stays in the database for a technician to read.
        this.log.error({ session: row.id }, "a stored open session is unreadable; it is left in the database, not recovered");
        continue;
      }
      sessions.push(session);
    }
    return sessions;
  }

  private run(effect: StationEffect): void {
    switch (effect.type) {
      case "record":
        this.recorder.record({
          events: effect.events,
          ...(effect.session ? { session: effect.session } : {}),
          ...(effect.storageAlarm ? { storageAlarm: effect.storageAlarm } : {}),
          ...(effect.meta ? { meta: effect.meta } : {}),
        });
        return;
      case "indicate":
        this.opts.adapters.outputs?.indicate(effect.signal, effect.binId);
        return;
      case "status_changed":
        this.opts.adapters.publisher.publishStatus();
        return;
      case "notice":
        this.log[effect.level](effect.fields, effect.msg);
        return;
      case "scale_request": {
        let outcome: ScaleRequestOutcome = "unsupported";
        try {
          outcome = this.opts.adapters.scales?.request(effect.scaleId, effect.request) ?? "unsupported";
        } catch (err) {
          this.log.error({ err, scale: effect.scaleId, request: effect.request }, "a scale request failed");
          outcome = "not_open";
        }
        // Queued: stepped right after the input that asked for it.
        this.feed({ type: "scale_request_done", commandId: effect.commandId, scaleId: effect.scaleId, request: effect.request, args: effect.args, outcome, ...this.now() });
        return;
      }
      case "command_reply":
        this.resolveReply(effect.commandId, effect.outcome);
        return;
      default: {
        const never: never = effect;
        return never;
      }
    }
  }

  private afterCommit(event: DurableEvent, seq: number): void {
    switch (event.kind) {
      case "deposit": {
        const d = event.data;
        this.deposits++;
        this.log.info(
          {
            seq,
            bin: d.bin_id,
            net_g: d.net_g,
            points: d.points,
            reason: d.points_reason,
            card: maskCardId(d.card_id),
            session: d.session_id,
            close_reason: d.close_reason,
          },
          "deposit recorded",
        );
        this.opts.onDepositCommitted?.(d, seq);
        // Acknowledged to the resident only now that it is committed (contract section 4).
        this.opts.adapters.outputs?.indicate("deposit", d.bin_id);
        break;
      }
      case "alarm":
        this.alarms++;
        this.log.info({ seq, code: event.data.code, subject: event.subject }, "alarm recorded");
        break;
      case "collection":
        this.log.info({ seq, bin: event.data.bin_id, removed_g: event.data.removed_g, card: maskCardId(event.data.card_id) }, "collection recorded");
        break;
      case "maintenance":
        this.log.info({ seq, card: maskCardId(event.data.card_id), session: event.data.session_id }, "maintenance session recorded");
        break;
      case "command":
        this.log.debug({ seq, command: event.data.name, command_id: event.data.command_id, ok: event.data.ok }, "command audited");
        break;
      default: {
        const never: never = event;
        return never;
      }
    }
    this.opts.onCommitted?.(event, seq);
    this.opts.adapters.publisher.notify();
  }
}

/** The `meta` key of the config's card lists as last applied (contract section 2 "Roles": which lists win). */
const CARDS_CONFIG_KEY = "cards_config";

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

function isCardLists(v: unknown): v is CardListsState {
  return isRecord(v) && isStringList(v.collectors) && isStringList(v.maintenance) && isStringList(v.blocked) && (v.version === null || typeof v.version === "string" || v.version === undefined);
}

function isDailyPoints(v: unknown): v is DailyPoints {
  return isRecord(v) && typeof v.day === "string" && isRecord(v.points) && Object.values(v.points).every((n) => Number.isSafeInteger(n) && (n as number) >= 0);
}

/** The stored sources of bins' full states: `{bin: {weight?: boolean, level?: boolean}}`. */
function isFullSources(v: unknown): v is Record<string, { weight?: boolean; level?: boolean }> {
  return (
    isRecord(v) &&
    Object.values(v).every((s) => isRecord(s) && Object.entries(s).every(([k, b]) => (k === "weight" || k === "level") && typeof b === "boolean"))
  );
}

function isBoolRecord(v: unknown): v is Record<string, boolean> {
  return isRecord(v) && Object.values(v).every((b) => typeof b === "boolean");
}

/**
 * A device's framer, made afresh at every open of its port when the device can make one
 * (`RunnerDevice.newFramer`): bytes held from before an unplug or a silence reopen never join the
 * first bytes after it into one frame, and a protocol's rule for the first line after an open (Ohaus:
 * it may be cut) applies at every open.
 */
function renewedAtOpen<F>(first: BufferedFramer<F>, fresh: (() => BufferedFramer<F>) | undefined): { push(chunk: Uint8Array): F[]; renew(then: () => void): void } {
  let current = first;
  let opens = 0;
  return {
    push: (chunk) => current.push(chunk),
    renew: (then) => {
      // The first open uses the framer the device came with (nothing has been pushed into it yet).
      if (opens++ > 0 && fresh !== undefined) current = fresh();
      then();
    },
  };
}
