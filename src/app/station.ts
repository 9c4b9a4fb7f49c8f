import { readFileSync } from "node:fs";
import type { BindingInterface } from "@serialport/bindings-interface" with { "resolution-mode": "require" };
import type { Config } from "../config/schema.js";
import type { Logger } from "../adapters/log/logger.js";
import { Outbox } from "../adapters/outbox/outbox.js";
import { Publisher } from "../adapters/mqtt/publisher.js";
import { SerialDevice } from "../adapters/serial/serial-device.js";
import { createReaderFramer, createScaleFramer } from "../protocol/index.js";
import type { ReaderFrame, ScaleFrame } from "../protocol/types.js";
import { ScaleTracker } from "../domain/weighing.js";
import { PresentationFilter } from "../domain/presentation.js";
import { compilePointsTable } from "../domain/points.js";
import { initialSessionState, step, type SessionContext, type SessionState } from "../domain/session.js";
import type { DepositData, ScaleView, SessionEffect, SessionInput } from "../domain/types.js";
import { maskCardId } from "../domain/privacy.js";
import { EventRecorder, type Recordable } from "./event-recorder.js";
import { until } from "../waits.js";
import { systemClock, type Clock } from "./clock.js";

/** Everything the station is built from: one named object (style.md, "Layout"). */
export interface StationDeps {
  config: Readonly<Config>;
  logger: Logger;
  /** serialport binding; omitted means the real one. The demo passes serialport's MockBinding. */
  binding?: BindingInterface;
  clock?: Clock;
  /** How often timers are checked, in ms (the session machine's tick input). */
  tickMs?: number;
  /** Called after each deposit event is committed (the demo prints a human line). */
  onDepositCommitted?: (data: DepositData) => void;
}

/** Counters a technician (and the tests) can read. */
export interface StationStats {
  scaleFrames: number;
  readerFrames: number;
  discardedFrames: number;
  sessionsOpened: number;
  deposits: number;
  alarms: number;
  refusedSessions: number;
}

type DeviceKind = "scale" | "reader";



interface DeviceEntry {
  kind: DeviceKind;
  id: string;
  binId?: string;
  device: SerialDevice;
  /** Last state that was reported as an alarm, so only changes are alarms (contract section 4). */
  reported: "unknown" | "online" | "offline";
}

const STORAGE_RETRY_MS = 5_000;
const PRUNE_EVERY_MS = 3_600_000;

/**
 * The running station: devices → framers → stability → session machine → outbox → publisher.
 * `start()` opens the database first (a database that cannot be opened is fatal: nothing can be
 * recorded), then the publisher, then the devices; `stop()` closes any open session (its deposits are
 * recorded, not lost), then stops devices, publisher and database in reverse order.
 */
export class Station {
  private readonly config: Readonly<Config>;
  private readonly log: Logger;
  private readonly clock: Clock;
  private outbox: Outbox | undefined;
  private publisher: Publisher | undefined;
  private readonly devices: DeviceEntry[] = [];
  private readonly trackers = new Map<string, ScaleTracker>();
  private session: SessionState;
  private readonly ctx: SessionContext;
  private timers: NodeJS.Timeout[] = [];
  private recorder: EventRecorder | undefined;
  private readonly stats: StationStats = {
    scaleFrames: 0,
    readerFrames: 0,
    discardedFrames: 0,
    sessionsOpened: 0,
    deposits: 0,
    alarms: 0,
    refusedSessions: 0,
  };
  private stopped = false;

  constructor(private readonly deps: StationDeps) {
    this.config = deps.config;
    this.log = deps.logger.child({ module: "station" });
    this.clock = deps.clock ?? systemClock;
    const bins = this.config.bins.map((b) => ({ binId: b.id, category: b.category, scaleId: b.scale }));
    const points = this.config.points;
    this.ctx = {
      bins,
      settings: {
        idleCloseS: this.config.session.idle_close_s,
        firstDepositTimeoutS: this.config.session.first_deposit_timeout_s,
        maxSessionS: this.config.session.max_session_s,
      },
      points: points?.categories
        ? compilePointsTable({
            rulesVersion: points.rules_version ?? "",
            categories: Object.fromEntries(
              Object.entries(points.categories).map(([c, r]) => [
                c,
                { pointsPerKg: r.points_per_kg, minNetG: r.min_net_g },
              ]),
            ),
          })
        : null,
      changeThresholdG: (scaleId: string) =>
        this.config.scales.find((s) => s.id === scaleId)?.change_threshold_g ?? 40,
    };
    this.session = initialSessionState(bins);
  }

  /** Opens the database, connects the publisher and opens every device. Throws only if the database cannot be opened. */
  start(): void {
    const cfg = this.config;
    this.outbox = Outbox.open({
      path: cfg.storage.path,
      stationId: cfg.station.id,
      logger: this.deps.logger.child({ module: "outbox" }),
    });
    const tlsFile = (p: string | undefined) => (p ? readFileSync(p) : undefined);
    this.publisher = new Publisher({
      outbox: this.outbox,
      url: cfg.mqtt.url,
      stationId: cfg.station.id,
      topicPrefix: cfg.mqtt.topic_prefix,
      protocolVersion: cfg.mqtt.protocol_version,
      inflight: cfg.mqtt.inflight,
      keepaliveS: cfg.mqtt.keepalive_s,
      clientId: cfg.mqtt.client_id,
      username: cfg.mqtt.username,
      password: cfg.mqtt.password,
      ca: tlsFile(cfg.mqtt.ca_file),
      cert: tlsFile(cfg.mqtt.cert_file),
      key: tlsFile(cfg.mqtt.key_file),
      logger: this.deps.logger.child({ module: "mqtt" }),
      statusFields: () => this.statusFields(),
    });
    this.publisher.start();
    this.recorder = new EventRecorder({
      outbox: this.outbox,
      logger: this.log,
      onCommitted: (item, seq) => this.afterCommit(item, seq),
      onFaultChanged: () => this.publisher?.publishStatus(),
    });

    for (const scale of cfg.scales) this.addScale(scale);
    for (const reader of cfg.readers) this.addReader(reader);
    for (const d of this.devices) d.device.start();

    const tickMs = this.deps.tickMs ?? 100;
    this.timers.push(setInterval(() => this.feed({ type: "tick", ...this.now() }), tickMs));
    this.timers.push(setInterval(() => this.recorder?.commitWaiting(), STORAGE_RETRY_MS));
    this.timers.push(setInterval(() => this.prune(), PRUNE_EVERY_MS));
    this.prune();
    this.log.info(
      { station: cfg.station.id, scales: cfg.scales.length, readers: cfg.readers.length, bins: cfg.bins.length },
      "station started",
    );
  }

  /** Closes any open session (recording its deposits), then stops devices, publisher and database. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.flushSession();
    await Promise.all(this.devices.map((d) => d.device.stop()));
    await this.publisher?.stop();
    const waiting = this.recorder?.waitingCount() ?? 0;
    if (waiting > 0) this.log.error({ count: waiting }, "events could not be committed before shutdown");
    this.outbox?.close();
    this.log.info({ stats: this.stats }, "station stopped");
  }

  /** Closes the open session now, recording its deposits (end of the demo, shutdown). */
  flushSession(): void {
    this.feed({ type: "flush", ...this.now() });
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

  /** Each scale as the session machine sees it: online, stable, accepted weight in grams. */
  scaleViews(): ScaleView[] {
    return [...this.trackers.values()].map((t) => t.view());
  }

  /** Counters since start (frames, discarded frames, sessions, deposits, alarms). */
  getStats(): Readonly<StationStats> {
    return { ...this.stats };
  }

  private now(): { mono: number; wall: number } {
    return { mono: this.clock.mono(), wall: this.clock.wall() };
  }

  private addScale(scale: Config["scales"][number]): void {
    const log = this.deps.logger.child({ module: "scale", device: scale.id });
    const framer = createScaleFramer(scale.protocol, { unit: scale.unit });
    const tracker = new ScaleTracker({
      scaleId: scale.id,
      windowMs: scale.stable_window_ms,
      minSamples: scale.stable_min_samples,
      changeThresholdG: scale.change_threshold_g,
      ...(scale.stable_tolerance_divisions !== undefined && scale.division_g !== undefined
        ? { toleranceDivisions: scale.stable_tolerance_divisions, divisionG: scale.division_g }
        : { toleranceG: scale.stable_tolerance_g }),
    });
    this.trackers.set(scale.id, tracker);
    const binId = this.config.bins.find((b) => b.scale === scale.id)?.id;
    const entry: DeviceEntry = {
      kind: "scale",
      id: scale.id,
      ...(binId ? { binId } : {}),
      reported: "unknown",
      device: new SerialDevice({
        id: scale.id,
        path: scale.port,
        baudRate: scale.baud_rate,
        logger: log,
        silenceTimeoutMs: scale.silence_timeout_s * 1000,
        ...(this.deps.binding ? { binding: this.deps.binding } : {}),
        onData: (chunk: Uint8Array, mono: number) => {
          for (const frame of framer.push(chunk)) this.onScaleFrame(scale.id, tracker, frame, mono, log);
        },
        onOnline: () => this.onDeviceState(entry, "online"),
        onOffline: (reason: string) => this.onDeviceState(entry, "offline", reason),
      }),
    };
    this.devices.push(entry);
  }

  private addReader(reader: Config["readers"][number]): void {
    const log = this.deps.logger.child({ module: "reader", device: reader.id });
    const framer = createReaderFramer(reader.protocol, {
      ...(reader.pattern !== undefined ? { pattern: reader.pattern } : {}),
      format: reader.card_id_format,
    });
    const filter = new PresentationFilter({ repeatGapMs: reader.repeat_gap_ms });
    const entry: DeviceEntry = {
      kind: "reader",
      id: reader.id,
      reported: "unknown",
      device: new SerialDevice({
        id: reader.id,
        path: reader.port,
        baudRate: reader.baud_rate,
        logger: log,
        ...(this.deps.binding ? { binding: this.deps.binding } : {}),
        onData: (chunk: Uint8Array, mono: number) => {
          for (const frame of framer.push(chunk)) this.onReaderFrame(reader.id, filter, frame, mono, log);
        },
        onOnline: () => this.onDeviceState(entry, "online"),
        onOffline: (reason: string) => this.onDeviceState(entry, "offline", reason),
      }),
    };
    this.devices.push(entry);
  }

  private onScaleFrame(scaleId: string, tracker: ScaleTracker, frame: ScaleFrame, mono: number, log: Logger): void {
    this.stats.scaleFrames++;
    let update;
    switch (frame.kind) {
      case "weight":
        update = tracker.push({ grams: frame.grams, indicatorStable: frame.stable, mono });
        break;
      case "no_weight":
        update = tracker.noWeight();
        log.debug({ reason: frame.reason }, "indicator reports no valid weight");
        break;
      case "ignored":
        return;
      case "discarded":
        this.stats.discardedFrames++;
        log.debug({ reason: frame.reason, bytes: Buffer.from(frame.bytes).toString("hex") }, "frame discarded");
        return;
      default: {
        const never: never = frame;
        return never;
      }
    }
    if (update.changed) log.debug({ scale: scaleId, accepted_g: update.view.acceptedG }, "weight change");
    if (update.viewChanged) this.feed({ type: "scale", view: update.view, mono, wall: this.clock.wall() });
  }

  private onReaderFrame(readerId: string, filter: PresentationFilter, frame: ReaderFrame, mono: number, log: Logger): void {
    this.stats.readerFrames++;
    switch (frame.kind) {
      case "id":
        if (!filter.accept(frame.cardId, mono)) return;
        log.info({ card: maskCardId(frame.cardId) }, "identification");
        this.feed({ type: "identified", cardId: frame.cardId, readerId, mono, wall: this.clock.wall() });
        return;
      case "discarded":
        this.stats.discardedFrames++;
        log.debug({ reason: frame.reason, length: frame.bytes.length }, "frame discarded");
        return;
      default: {
        const never: never = frame;
        return never;
      }
    }
  }

  /** Feeds one input to the session machine and runs its effects. */
  private feed(input: SessionInput): void {
    const fault = this.recorder?.fault() ?? null;
    if (input.type === "identified" && fault !== null) {
      // Fail safe at the bin: a deposit that cannot be recorded must not be taken.
      this.stats.refusedSessions++;
      this.log.warn({ card: maskCardId(input.cardId), fault }, "session refused: storage fault");
      return;
    }
    const result = step(this.session, input, this.ctx);
    this.session = result.state;
    for (const effect of result.effects) this.run(effect);
  }

  private run(effect: SessionEffect): void {
    switch (effect.type) {
      case "session_opened":
        this.stats.sessionsOpened++;
        this.log.info({ card: maskCardId(effect.cardId), reader: effect.readerId, bins: effect.binIds }, "session opened");
        return;
      case "session_refused":
        this.stats.refusedSessions++;
        this.log.warn({ card: maskCardId(effect.cardId), reason: effect.reason }, "session refused: no bin ready");
        return;
      case "session_closed":
        this.log.info({ card: maskCardId(effect.cardId), reason: effect.reason, deposits: effect.deposits }, "session closed");
        return;
      case "record_deposit":
        this.recorder?.record({ kind: "deposit", data: effect.data });
        return;
      default: {
        const never: never = effect;
        return never;
      }
    }
  }

  private afterCommit(item: Recordable, seq: number): void {
    switch (item.kind) {
      case "deposit": {
        const d = item.data;
        this.stats.deposits++;
        this.log.info(
          { seq, bin: d.bin_id, net_g: d.net_g, points: d.points, reason: d.points_reason, card: maskCardId(d.card_id) },
          "deposit recorded",
        );
        this.deps.onDepositCommitted?.(d);
        break;
      }
      case "alarm":
        this.stats.alarms++;
        this.log.info({ seq, code: item.data.code, device: item.subject }, "alarm recorded");
        break;
      default: {
        const never: never = item;
        return never;
      }
    }
    this.publisher?.notify();
  }

  private recordAlarm(entry: DeviceEntry, code: string, message: string): void {
    this.recorder?.record({
      kind: "alarm",
      subject: entry.id,
      data: { code, device_id: entry.id, ...(entry.binId ? { bin_id: entry.binId } : {}), message },
    });
  }

  private onDeviceState(entry: DeviceEntry, state: "online" | "offline", reason?: string): void {
    const was = entry.reported;
    entry.reported = state;
    if (entry.kind === "scale") {
      const update = this.trackers.get(entry.id)!.setOnline(state === "online");
      if (update.viewChanged) this.feed({ type: "scale", view: update.view, ...this.now() });
    }
    if (was === state) return;
    // A clean start (unknown → online) is not an alarm; a device missing at start is.
    if (state === "offline") {
      this.log.warn({ device: entry.id, reason }, `${entry.kind} offline`);
      this.recordAlarm(entry, `${entry.kind}_offline`, `${entry.kind} ${entry.id} offline: ${reason ?? "unknown reason"}`);
    } else if (was === "offline") {
      this.log.info({ device: entry.id }, `${entry.kind} back online`);
      this.recordAlarm(entry, `${entry.kind}_online`, `${entry.kind} ${entry.id} back online`);
    }
    this.publisher?.publishStatus();
  }

  private prune(): void {
    try {
      const n = this.outbox?.prune(this.config.storage.retention_days) ?? 0;
      if (n > 0) this.log.info({ pruned: n }, "published events past retention pruned");
    } catch (err) {
      this.log.warn({ err }, "pruning failed");
    }
  }

  /** Extra fields of the retained status message (contract section 4). */
  private statusFields(): Record<string, unknown> {
    const fault = this.recorder?.fault() ?? null;
    return {
      station_id: this.config.station.id,
      devices: Object.fromEntries(this.devices.map((d) => [d.id, d.reported === "unknown" ? "starting" : d.reported])),
      storage: fault === null ? { state: "ok" } : { state: "fault", message: fault },
    };
  }
}
