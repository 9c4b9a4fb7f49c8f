/**
 * The running station: real adapters (SQLite outbox, MQTT publisher, serial ports, the process
 * clocks) wired into a {@link StationRunner}, which runs the pure station machine.
 * `start()` opens the database first (a database that cannot be opened is fatal: nothing can be
 * recorded), recovers a session left open by a crash, then starts the publisher and the devices;
 * `stop()` closes any open session (its deposits are recorded, not lost), then stops devices,
 * publisher and database in reverse order.
 *
 * Storage housekeeping (issue 7, item 4) runs here, every `checkMs` and never for long at a time: it
 * measures the database against `storage.max_size_mb` and `min_free_mb` and gives the measurement to
 * the machine (which decides the level, the alarms and whether sessions open); while the machine's
 * storage alarm stands it prunes published events oldest first, before their retention ends; every
 * hour it prunes those past `storage.retention_days`; and it keeps the reserve file while space is
 * fine. Every prune is a batch of its own transaction, with a turn of the event loop in between.
 */
import type { BindingInterface } from "@serialport/bindings-interface" with { "resolution-mode": "require" };
import { v7 as uuidv7 } from "uuid";
import { isSerialReader } from "../config/device-schema.js";
import type { Config } from "../config/schema.js";
import type { Logger } from "../adapters/log/logger.js";
import { Outbox } from "../adapters/outbox/outbox.js";
import { DEFAULT_RESERVE_BYTES } from "../adapters/outbox/space.js";
import { reconnectBackoff } from "../adapters/backoff.js";
import { SmartbinError } from "../errors.js";
import { Publisher, type PublisherConnectionSettings } from "../adapters/mqtt/publisher.js";
import { redactUrl } from "../adapters/mqtt/connect-options.js";
import { SerialDevice } from "../adapters/serial/serial-device.js";
import { serialTarget, type PortConfig } from "../adapters/serial/usb-port.js";
import { findProtocol, wiegandFrameGapMs, type PortNeeds, type ScaleCommands } from "../protocol/index.js";
import type { DepositEventData } from "../domain/station-types.js";
import type { StationState } from "../domain/station-types.js";
import { until } from "../waits.js";
import { systemClock, type Clock } from "./clock.js";
import { formatProblem, loadConfigFile } from "../config/load.js";
import { connectionSettings } from "./broker-settings.js";
import { ClockCorrection } from "./clock-correction.js";
import { createGpioPort } from "../adapters/gpio/create.js";
import { GpioStation, hasGpioLines } from "./gpio-station.js";
import { planReload, type ReloadPlan } from "./reload.js";
import { contextFromConfig, useStationTimeZone } from "./station-context.js";
import { DEFAULT_STUCK_AFTER_MS, type Liveness } from "./liveness.js";
import { StationRunner, type DeviceHandlers, type DevicePort, type RunnerDevice, type RunnerStats } from "./runner.js";
import { WiegandReaderPort } from "./wiegand-reader.js";
import { CommandService, type ReplayAnswer } from "./commands/service.js";
import { MAX_COMMAND_BYTES } from "./commands/schemas.js";
import { Telemetry } from "./telemetry.js";

/** Everything the station is built from: one named object (style.md, "Layout"). */
export interface StationDeps {
  config: Readonly<Config>;
  /** The config file `reload_config` reads again; absent (the demo): the command is refused. */
  configFile?: string;
  logger: Logger;
  /** serialport binding; omitted means the real one. The demo passes serialport's MockBinding. */
  binding?: BindingInterface;
  clock?: Clock;
  /** Called after each deposit event is committed (the demo prints a human line). */
  onDepositCommitted?: (data: DepositEventData) => void;
  /** Storage housekeeping settings (tests); the defaults are the field's. */
  storage?: StorageTuning;
  /** Where each device's read-or-reopen loop and the publisher's drain-or-reconnect loop beat, for the systemd watchdog (`smartbin run`). */
  liveness?: Liveness;
  /** Sets the level of every logger of the process (a reload's `log.level`); default: the root logger's own. */
  setLogLevel?: (level: Config["log"]["level"]) => void;
  /** The file whose presence says the clock is synchronised; default the config's `station.clock_sync_marker`. */
  clockSyncMarker?: string;
  /** Root of the sysfs and /dev trees where devices configured by `usb` are looked for (default `/`; tests give a fake tree). */
  portListRoot?: string;
}

/** Settings of the storage housekeeping that the config does not hold (tests change them). */
export interface StorageTuning {
  /** How often storage space is measured, in ms (default 10 000). */
  checkMs?: number;
  /** Size of the reserve file next to the database, in bytes (default 4 MiB; 0: none). */
  reserveBytes?: number;
  /** At stop, how long waiting events are retried before they are spilled, in ms (default 2000). */
  stopCommitMs?: number;
}

/** Counters a technician (and the tests) can read. */
export type StationStats = RunnerStats;

/** What a reload did: applied now or once the open session closes, or refused (an invalid file, a key that needs a restart). */
export type ReloadResult =
  | { ok: true; changed: string[]; applied: "now" | "after_session" }
  | { ok: false; code: "invalid" | "refused"; reasons: string[] };

/** How long a reload that changes `mqtt` waits for the broker with the new settings before it is rolled back. */
export const RELOAD_BROKER_WAIT_MS = 15_000;

/** While a session is open, a reload checks this often whether it has closed. */
const RELOAD_POLL_MS = 500;

/** Events past their retention are pruned this often. */
const PRUNE_EVERY_MS = 3_600_000;
/** Storage space is measured this often. */
const SPACE_CHECK_MS = 10_000;
/** Under space pressure, the WAL is truncated after this many prune batches (its length counts). */
const PRUNE_BATCHES_PER_CHECKPOINT = 8;
const MIB = 1_048_576;

/** The station process's core. */
export class Station {
  private config: Readonly<Config>;
  /** A reload waiting for the open session to close, and how to stop waiting. */
  private pendingReload: { config: Readonly<Config>; cancel: () => void } | null = null;
  private readonly log: Logger;
  private readonly clock: Clock;
  private outbox: Outbox | undefined;
  private publisher: Publisher | undefined;
  private runner: StationRunner | undefined;
  /** The MQTT commands (contract section 4), from the moment the runner exists. */
  private commands: CommandService | undefined;
  private telemetry: Telemetry | undefined;
  /** Reloads run one after the other: a reload that reconnects to the broker takes seconds. */
  private reloading: Promise<unknown> = Promise.resolve();
  private gpio: GpioStation | undefined;
  private cancelHousekeeping: (() => void) | undefined;
  private clockCorrection: ClockCorrection | undefined;
  private housekeeping = false;
  /** When events past retention were last pruned (mono ms), `null` before the first time. */
  private retentionPrunedAt: number | null = null;
  private stopped = false;
  /** Each scale's open serial device and its protocol's commands, for {@link Station.scaleCommand}. */
  private readonly scalePorts = new Map<string, { device: SerialDevice; commands: ScaleCommands | undefined }>();

  constructor(private readonly deps: StationDeps) {
    this.config = deps.config;
    this.log = deps.logger.child({ module: "station" });
    this.clock = deps.clock ?? systemClock;
  }

  /** Opens the database, recovers a stored session, connects the publisher and opens every device. Throws only if the database cannot be opened. */
  start(): void {
    const cfg = this.config;
    // Before the database opens: a password file removed since the config check stops start-up here.
    const connection = connectionSettings(cfg);
    const outbox = Outbox.open({
      path: cfg.storage.path,
      stationId: cfg.station.id,
      logger: this.deps.logger.child({ module: "outbox" }),
      reserveBytes: this.deps.storage?.reserveBytes ?? DEFAULT_RESERVE_BYTES,
      clockSyncMarker: this.deps.clockSyncMarker ?? cfg.station.clock_sync_marker,
    });
    this.outbox = outbox;
    const publisher = new Publisher({
      outbox,
      stationId: cfg.station.id,
      ...connection,
      inflight: cfg.mqtt.inflight,
      reconnect: reconnectBackoff(cfg.mqtt.reconnect_max_s),
      // contract.md section 4: larger commands never reach the station (the broker drops them).
      maximumPacketSize: MAX_COMMAND_BYTES,
      // Not taken (no PUBACK, delivered again at the next start) once the shutdown has begun.
      onCommand: (cmd) => this.commands?.take(cmd) ?? false,
      onClientIdConflict: (active) => this.runner?.brokerConflict(active),
      logger: this.deps.logger.child({ module: "mqtt" }),
      statusFields: () => ({ station_id: cfg.station.id, ...(this.runner?.statusFields() ?? {}) }),
      // A dead connection is closed by MQTT.js 1.5 keepalives after its last packet (KeepaliveManager):
      // a PUBACK may be awaited that long before the drain is stuck.
      ...(this.deps.liveness
        ? { liveness: this.deps.liveness.register("publisher", Math.max(DEFAULT_STUCK_AFTER_MS, 3_000 * cfg.mqtt.keepalive_s)) }
        : {}),
    });
    this.publisher = publisher;
    if (hasGpioLines(cfg)) {
      const port = createGpioPort({
        backend: cfg.gpio.backend,
        chip: cfg.gpio.chip,
        simulatedDir: cfg.gpio.simulated_dir,
        logger: this.deps.logger.child({ module: "gpio" }),
      });
      this.gpio = new GpioStation(cfg, port, this.clock, this.deps.logger.child({ module: "gpio" }));
    }
    useStationTimeZone(cfg.station.time_zone);
    this.runner = new StationRunner({
      context: contextFromConfig(cfg),
      devices: this.devices(),
      adapters: {
        outbox,
        publisher,
        logger: this.log,
        newId: () => uuidv7(),
        scales: { request: (scaleId, request) => this.scaleCommand(scaleId, request) },
        ...(this.gpio ? { outputs: this.gpio } : {}),
      },
      cards: cfg.cards,
      clock: this.clock,
      ...(this.deps.storage?.stopCommitMs !== undefined ? { stopCommitMs: this.deps.storage.stopCommitMs } : {}),
      ...(this.deps.onDepositCommitted ? { onDepositCommitted: this.deps.onDepositCommitted } : {}),
    });
    const runner = this.runner;
    this.commands = new CommandService({
      runner,
      outbox,
      reply: publisher,
      replay: { replay: (fromSeq, toSeq) => replayHeld(outbox, publisher, fromSeq, toSeq) },
      reload: { reload: () => this.reloadCommand() },
      clock: this.clock,
      logger: this.deps.logger.child({ module: "commands" }),
      statusFields: () => ({ station_id: cfg.station.id, ...runner.statusFields() }),
    });
    const gpio = this.gpio;
    if (gpio === undefined) {
      publisher.start();
      runner.start();
    } else {
      // The outputs' safe state first: the port sets every lock locked as it claims it, and the
      // status says online only once it has (contract section 2, "Safe state").
      runner.start();
      void gpio
        .open(runner)
        .catch((err: unknown) => this.log.error({ err }, "GPIO could not be set up: doors and contacts are out of service"))
        .then(() => {
          if (!this.stopped) publisher.start();
        });
    }
    // After the runner's start, which commits a spill file before anything else.
    this.commands.start();
    this.startTelemetry(cfg);
    this.clockCorrection = new ClockCorrection({ outbox, clock: this.clock, logger: this.deps.logger.child({ module: "clock" }) });
    this.clockCorrection.start();
    // Before any card can be read: the machine knows at once whether storage is full.
    this.measureSpace();
    this.cancelHousekeeping = this.clock.every(this.deps.storage?.checkMs ?? SPACE_CHECK_MS, () => void this.housekeep());
    void this.housekeep();
    this.log.info(
      { station: cfg.station.id, scales: cfg.scales.length, readers: cfg.readers.length, level_sensors: cfg.level_sensors.length, bins: cfg.bins.length },
      "station started",
    );
  }

  /**
   * Reloads the configuration (SIGHUP and the MQTT `reload_config` command): one routine, one reload
   * at a time. An invalid file is refused with its problems, and the running config stays; a change
   * of a key that needs a restart is refused with that reason (see reload.ts); otherwise the change
   * is applied at once when no session is open, else as soon as the open session has closed (a newer
   * reload replaces a waiting one). Devices whose settings did not change are not reopened. A change
   * of `mqtt` is tried first: the station connects with the new settings, and when the broker cannot
   * be reached with them within {@link RELOAD_BROKER_WAIT_MS} it goes back to the old ones and the
   * whole reload is rolled back (refused, with that reason).
   */
  reload(file: string): Promise<ReloadResult> {
    const next = this.reloading.then(() => this.reloadNow(file));
    this.reloading = next.catch(() => undefined);
    return next;
  }

  /** The `reload_config` command: {@link reload} of the file the station was started with. */
  private async reloadCommand(): Promise<ReloadResult> {
    const file = this.deps.configFile;
    if (file === undefined) return { ok: false, code: "refused", reasons: ["this station was not started from a config file (the demo): nothing to reload"] };
    return this.reload(file);
  }

  private async reloadNow(file: string): Promise<ReloadResult> {
    const loaded = loadConfigFile(file);
    if (!loaded.ok) {
      const reasons = loaded.problems.map(formatProblem);
      this.log.error({ problems: reasons }, "configuration reload refused: the file is invalid; the running configuration stays");
      return { ok: false, code: "invalid", reasons };
    }
    const plan = planReload(this.config, loaded.config);
    if (!plan.ok) {
      this.log.error({ reasons: plan.refused }, "configuration reload refused; the running configuration stays");
      return { ok: false, code: "refused", reasons: plan.refused };
    }
    this.pendingReload?.cancel();
    this.pendingReload = null;
    if (plan.unchanged) {
      this.log.info("configuration reloaded: nothing changed");
      return { ok: true, changed: [], applied: "now" };
    }
    const runner = this.runner;
    if (runner === undefined || this.stopped) return { ok: false, code: "refused", reasons: ["the station is not running"] };
    if (runner.snapshot().session.phase === "idle") {
      const refused = await this.applyReload(loaded.config, plan);
      return refused === null ? { ok: true, changed: plan.changed, applied: "now" } : { ok: false, code: "refused", reasons: [refused] };
    }
    this.log.info({ changed: plan.changed }, "configuration reload waits for the open session to close");
    const cancel = this.clock.every(RELOAD_POLL_MS, () => {
      if (this.stopped || runner.snapshot().session.phase !== "idle") return;
      this.pendingReload?.cancel();
      this.pendingReload = null;
      const replan = planReload(this.config, loaded.config);
      if (replan.ok) this.reloading = this.reloading.then(() => this.applyReload(loaded.config, replan)).catch(() => undefined);
    });
    this.pendingReload = { config: loaded.config, cancel };
    return { ok: true, changed: plan.changed, applied: "after_session" };
  }

  /** Applies a planned reload; returns `null` when applied, else why it was rolled back or failed. */
  private async applyReload(next: Readonly<Config>, plan: Extract<ReloadPlan, { ok: true }>): Promise<string | null> {
    const runner = this.runner;
    const publisher = this.publisher;
    if (runner === undefined || publisher === undefined || this.stopped) return "the station is not running";
    const previous = this.config;
    if (plan.mqttChanged) {
      let settings: PublisherConnectionSettings;
      try {
        settings = connectionSettings(next);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        this.log.error({ err }, "configuration reload refused; the running configuration stays");
        return why;
      }
      this.log.info({ changed: plan.changed }, "configuration reload: connecting to the broker with the new mqtt settings");
      if (!(await publisher.reconfigure(settings, RELOAD_BROKER_WAIT_MS))) {
        const why = `the broker could not be reached with the new mqtt settings within ${RELOAD_BROKER_WAIT_MS / 1000} s: the reload was rolled back, the running configuration stays`;
        this.log.error({ url: redactUrl(next.mqtt.url) }, why);
        return why;
      }
    }
    this.config = next;
    if (next.log.level !== previous.log.level) {
      if (this.deps.setLogLevel) this.deps.setLogLevel(next.log.level);
      else this.deps.logger.level = next.log.level;
    }
    try {
      useStationTimeZone(next.station.time_zone);
      await runner.reconfigure(contextFromConfig(next), this.devices(), plan.reopen);
      if (plan.cardsChanged) runner.configCardsChanged(next.cards);
      if (next.telemetry.interval_s !== previous.telemetry.interval_s) this.startTelemetry(next);
      const removed = removedByReload(previous, next);
      const gone = new Set(removed.devices);
      this.log.info({ changed: plan.changed, reopened: [...plan.reopen].filter((id) => !gone.has(id)), removed }, "configuration reloaded");
      const what = [...removed.devices, ...removed.bins.map((b) => `bin ${b}`), ...removed.categories.map((c) => `the points rule of ${c}`)];
      if (what.length > 0) {
        // A file cut short (saved half-written, a failed copy) can be valid and much smaller.
        this.log.warn({ removed }, `configuration reloaded without ${what.join(", ")}: if that was not meant, correct the file and reload`);
      }
    } catch (err) {
      this.log.error({ err }, "configuration reload failed while applying it");
      return `the reload failed while applying it (${err instanceof Error ? err.message : String(err)}): part of it may be in force; check the log, or restart the station`;
    }
    return null;
  }

  /** (Re)starts telemetry every `telemetry.interval_s` (contract section 4). */
  private startTelemetry(cfg: Readonly<Config>): void {
    const { runner, outbox, publisher } = this;
    if (runner === undefined || outbox === undefined || publisher === undefined) return;
    this.telemetry?.stop();
    this.telemetry = new Telemetry({
      runner,
      outbox,
      publisher,
      clock: this.clock,
      intervalS: cfg.telemetry.interval_s,
      logger: this.deps.logger.child({ module: "telemetry" }),
    });
    this.telemetry.start();
  }

/** Closes any open session (recording its deposits), then stops devices, publisher and database. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // First: from here on a command is not taken (nor acknowledged), and those taken are answered
    // while the runner can still commit their audit.
    const commandsDone = this.commands?.stop();
    this.cancelHousekeeping?.();
    this.pendingReload?.cancel();
    this.telemetry?.stop();
    this.clockCorrection?.stop();
    await commandsDone;
    await this.runner?.stop();
    // Safe outputs: locks locked, lamps and buzzer off, unless a fire holds the doors open.
    const state = this.runner?.snapshot();
    await this.gpio?.close(state?.contacts?.fire === true && this.config.station.fire_doors === "unlock");
    await this.publisher?.stop();
    this.outbox?.close();
    this.log.info({ stats: this.getStats() }, "station stopped");
  }

  /** Closes the open session as a shutdown does (once its scales settle), recording its deposits (end of the demo). */
  flushSession(): Promise<void> {
    return this.runner?.flushSession() ?? Promise.resolve();
  }

  /** The last `seq` assigned (0 when none). */
  lastSeq(): number {
    return this.outbox?.status().last_seq ?? 0;
  }

  /** Resolves when no event is waiting for a PUBACK, or after `limitMs`; true when all were published. */
  async waitForPublished(limitMs: number): Promise<boolean> {
    const published = () => (this.outbox?.status().pending ?? 0) === 0;
    await until(published, limitMs);
    return published();
  }

  /** The station machine's state (plain data). */
  snapshot(): StationState | undefined {
    return this.runner?.snapshot();
  }

  /** Counters since start (frames, discarded frames, sessions, deposits, alarms). */
  getStats(): Readonly<StationStats> {
    return (
      this.runner?.stats() ?? {
        scaleFrames: 0,
        readerFrames: 0,
        levelFrames: 0,
        discardedFrames: 0,
        noiseFrames: 0,
        sessionsOpened: 0,
        refusedSessions: 0,
        deposits: 0,
        alarms: 0,
      }
    );
  }

  /**
   * Sends a scale's protocol command (`zero`, `tare`) through its open port: what the MQTT `zero`
   * and `tare` commands call.
   *
   * @returns `sent` when the request was handed to the port; `unsupported` when the scale's protocol
   *   takes no commands (the streaming ones); `not_open` when its port is not open now;
   *   `unknown_scale` for an id that is not a configured scale
   */
  scaleCommand(scaleId: string, command: keyof ScaleCommands): "sent" | "unsupported" | "not_open" | "unknown_scale" {
    const scale = this.config.scales.find((s) => s.id === scaleId);
    if (scale === undefined) return "unknown_scale";
    const entry = this.scalePorts.get(scaleId);
    const commands = entry?.commands ?? findProtocol("scale", scale.protocol).configure(scale).commands;
    if (commands === undefined) return "unsupported";
    if (entry === undefined || !entry.device.write(commands[command]())) return "not_open";
    this.log.info({ scale: scaleId, command }, "scale command sent");
    return "sent";
  }

  /** Every configured device, its framer made by its protocol module (the device registry). */
  private devices(): RunnerDevice[] {
    const serial = (
      device: PortConfig & { id: string; baud_rate: number; dtr?: boolean | undefined; rts?: boolean | undefined; hupcl?: boolean | undefined },
      needs: PortNeeds,
      module: string,
      silenceTimeoutMs?: number,
      onCreated?: (device: SerialDevice) => void,
    ) =>
      (handlers: DeviceHandlers) => {
        const settings = needs.serial;
        // `port`, or `usb`: looked for at every open (usb-port.ts).
        const target = serialTarget(device, this.deps.portListRoot === undefined ? {} : { root: this.deps.portListRoot });
        const created = new SerialDevice({
          id: device.id,
          ...target,
          baudRate: device.baud_rate,
          dataBits: settings.dataBits,
          parity: settings.parity,
          stopBits: settings.stopBits,
          ...(device.dtr !== undefined ? { dtr: device.dtr } : {}),
          ...(device.rts !== undefined ? { rts: device.rts } : {}),
          ...(device.hupcl !== undefined ? { hupcl: device.hupcl } : {}),
          ...(needs.poll !== undefined ? { poll: needs.poll } : {}),
          logger: this.deps.logger.child({ module, device: device.id }),
          ...(silenceTimeoutMs !== undefined ? { silenceTimeoutMs } : {}),
          ...(this.deps.binding ? { binding: this.deps.binding } : {}),
          ...(this.deps.liveness ? { liveness: this.deps.liveness.register(`${module} ${device.id}`) } : {}),
          onData: (chunk: Uint8Array) => handlers.onData(chunk),
          onOnline: () => handlers.onOpen(),
          onOffline: (reason: string) => handlers.onClose(reason),
        });
        onCreated?.(created);
        return created;
      };
    const devices: RunnerDevice[] = [];
    for (const s of this.config.scales) {
      // The device's options may set its port (toledo-continuous's character_format).
      const codec = findProtocol("scale", s.protocol).configure(s);
      devices.push({
        kind: "scale",
        id: s.id,
        framer: codec.createFramer(),
        newFramer: () => codec.createFramer(),
        open: serial(s, codec.port, "scale", s.silence_timeout_s * 1000, (device) =>
          this.scalePorts.set(s.id, { device, commands: codec.commands }),
        ),
      });
    }
    for (const r of this.config.readers) {
      if ("d0_line" in r) {
        devices.push({ kind: "reader", id: r.id, framer: findProtocol("reader", r.protocol).configure(r).createFramer(), open: this.wiegandPort(r) });
        continue;
      }
      if (!isSerialReader(r)) continue; // every reader has a port or GPIO lines (config/device-schema.ts)
      const codec = findProtocol("reader", r.protocol).configure(r);
      devices.push({
        kind: "reader",
        id: r.id,
        framer: codec.createFramer(),
        newFramer: () => codec.createFramer(),
        open: serial(r, codec.port, "reader"),
      });
    }
    for (const l of this.config.level_sensors) {
      // A level sensor streams like an indicator: silent for silence_timeout_s, it is offline and reopened.
      const codec = findProtocol("level", l.protocol).configure(l);
      devices.push({
        kind: "level",
        id: l.id,
        framer: codec.createFramer(),
        newFramer: () => codec.createFramer(),
        open: serial(l, codec.port, "level", l.silence_timeout_s * 1000),
      });
    }
    return devices;
  }

  /**
   * How a reader on GPIO lines (wiegand) is opened: its edges come from the station's GPIO port
   * (app/wiegand-reader.ts); without one (no GPIO configured, which the config refuses) it is
   * offline with that reason.
   */
  private wiegandPort(reader: { id: string; d0_line: number; d1_line: number }): (handlers: DeviceHandlers) => DevicePort {
    return (handlers) => {
      const gpio = this.gpio;
      if (gpio === undefined) {
        return { start: () => handlers.onClose("no GPIO backend: a Wiegand reader needs gpio.backend gpiod"), stop: () => Promise.resolve() };
      }
      return new WiegandReaderPort({
        id: reader.id,
        d0Line: reader.d0_line,
        d1Line: reader.d1_line,
        frameGapMs: wiegandFrameGapMs(reader),
        edges: gpio,
        clock: this.clock,
        handlers,
        logger: this.deps.logger.child({ module: "reader", device: reader.id }),
      });
    };
  }

  /** One round of storage housekeeping (see the file's comment); one at a time, never throws. */
  private async housekeep(): Promise<void> {
    const outbox = this.outbox;
    const runner = this.runner;
    if (this.housekeeping || this.stopped || outbox === undefined || runner === undefined) return;
    this.housekeeping = true;
    try {
      this.measureSpace();
      if (runner.storage().spaceAlarm === "nearly_full") {
        const n = await this.pruneBatches(() => outbox.pruneBatch({}), () => runner.storage().spaceAlarm === "nearly_full", true);
        if (n > 0) this.log.warn({ pruned: n }, "storage nearly full: published events pruned before their retention ended");
      }
      const mono = this.clock.mono();
      if (this.retentionPrunedAt === null || mono - this.retentionPrunedAt >= PRUNE_EVERY_MS) {
        this.retentionPrunedAt = mono;
        const retentionDays = this.config.storage.retention_days;
        const n = await this.pruneBatches(() => outbox.pruneBatch({ retentionDays }), () => true, false);
        if (n > 0) this.log.info({ pruned: n, retention_days: retentionDays }, "published events past retention pruned");
      }
      if (!this.stopped && runner.storage().space === "ok") await outbox.ensureReserve(2 * this.config.storage.min_free_mb * MIB);
    } catch (err) {
      this.log.warn({ err }, "storage housekeeping failed; retrying at the next check");
    } finally {
      this.housekeeping = false;
    }
  }

  /**
   * Runs `batch` (one short transaction) while it deletes something and `more()` holds, with a turn
   * of the event loop between batches, and measures after each batch. Under space pressure
   * (`truncate`) it also truncates the WAL now and then and at the end: its length counts in the
   * budget; routine pruning leaves that to SQLite's own checkpoints. Stops quietly at a busy database.
   *
   * @returns the number of events deleted.
   */
  private async pruneBatches(batch: () => number, more: () => boolean, truncate: boolean): Promise<number> {
    let total = 0;
    for (let i = 1; !this.stopped && more(); i++) {
      let n: number;
      try {
        n = batch();
      } catch (err) {
        if (err instanceof SmartbinError && err.context.reason === "busy") break;
        throw err;
      }
      total += n;
      if (n === 0) break;
      if (truncate && i % PRUNE_BATCHES_PER_CHECKPOINT === 0) this.outbox?.truncateWal();
      this.measureSpace();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (truncate && total > 0 && !this.stopped) {
      this.outbox?.truncateWal();
      this.measureSpace();
    }
    return total;
  }

  /** Measures the database and its file system and gives the figures to the machine. */
  private measureSpace(): void {
    if (this.stopped || this.outbox === undefined || this.runner === undefined) return;
    try {
      const { usedBytes, freeBytes } = this.outbox.measureSpace();
      const { max_size_mb, min_free_mb } = this.config.storage;
      this.runner.storageSpace({ usedBytes, freeBytes, budgetBytes: max_size_mb * MIB, floorBytes: min_free_mb * MIB });
    } catch (err) {
      this.log.warn({ err }, "storage space could not be measured");
    }
  }
}

/**
 * The `replay` command's port (contract section 4): counts the held events of the range and has
 * the publisher send them again. Without `to_seq` the range ends at the newest event held now, so
 * the count is what will be sent. A replay the publisher cannot take now is refused (`busy` when
 * too many wait, `refused` when not connected): nothing is sent, and the sender asks again.
 */
function replayHeld(outbox: Outbox, publisher: Publisher, fromSeq: number, toSeq: number | undefined): ReplayAnswer {
  const held = outbox.heldRange(fromSeq, toSeq);
  const answer = { count: held.count, firstHeldSeq: held.firstHeldSeq };
  if (held.count === 0) return answer;
  const taken = publisher.replay(fromSeq, toSeq ?? held.lastHeldSeq ?? fromSeq);
  switch (taken) {
    case "started":
    case "queued":
    case "duplicate":
      return answer;
    case "full":
      return { refused: "too many replays are waiting: ask again once they are done", code: "busy" };
    case "disconnected":
      return { refused: "the station is not connected to the broker: ask again once it is", code: "refused" };
    case "unsupported":
      return { refused: "this station cannot replay events", code: "refused" };
  }
}

/** What a reload took away: device ids (scales, readers, level sensors), bin ids and points categories. */
export function removedByReload(previous: Readonly<Config>, next: Readonly<Config>): { devices: string[]; bins: string[]; categories: string[] } {
  const devices = (c: Readonly<Config>) => [...c.scales, ...c.readers, ...c.level_sensors].map((d) => d.id);
  const minus = (a: string[], b: string[]) => a.filter((x) => !b.includes(x));
  return {
    devices: minus(devices(previous), devices(next)),
    bins: minus(
      previous.bins.map((b) => b.id),
      next.bins.map((b) => b.id),
    ),
    categories: minus(Object.keys(previous.points?.categories ?? {}), Object.keys(next.points?.categories ?? {})),
  };
}
