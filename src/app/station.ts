/**
 * The running station: real adapters (SQLite outbox, MQTT publisher, serial ports, the process
 * clocks) wired into a {@link StationRunner}, which runs the pure station machine.
 * `start()` opens the database first (a database that cannot be opened is fatal: nothing can be
 * recorded), recovers a session left open by a crash, then starts the publisher and the devices;
 * `stop()` closes any open session (its deposits are recorded, not lost), then stops devices,
 * publisher and database in reverse order.
 */
import { readFileSync } from "node:fs";
import type { BindingInterface } from "@serialport/bindings-interface" with { "resolution-mode": "require" };
import { v7 as uuidv7 } from "uuid";
import type { Config } from "../config/schema.js";
import type { Logger } from "../adapters/log/logger.js";
import { Outbox } from "../adapters/outbox/outbox.js";
import { Publisher } from "../adapters/mqtt/publisher.js";
import { SerialDevice } from "../adapters/serial/serial-device.js";
import { findProtocol, type SerialSettings } from "../protocol/index.js";
import type { DepositEventData } from "../domain/station-types.js";
import type { StationState } from "../domain/station-types.js";
import { until } from "../waits.js";
import { systemClock, type Clock } from "./clock.js";
import { contextFromConfig } from "./station-context.js";
import { StationRunner, type DeviceHandlers, type RunnerDevice, type RunnerStats } from "./runner.js";

/** Everything the station is built from: one named object (style.md, "Layout"). */
export interface StationDeps {
  config: Readonly<Config>;
  logger: Logger;
  /** serialport binding; omitted means the real one. The demo passes serialport's MockBinding. */
  binding?: BindingInterface;
  clock?: Clock;
  /** Called after each deposit event is committed (the demo prints a human line). */
  onDepositCommitted?: (data: DepositEventData) => void;
}

/** Counters a technician (and the tests) can read. */
export type StationStats = RunnerStats;

const PRUNE_EVERY_MS = 3_600_000;

/** The station process's core. */
export class Station {
  private readonly config: Readonly<Config>;
  private readonly log: Logger;
  private readonly clock: Clock;
  private outbox: Outbox | undefined;
  private publisher: Publisher | undefined;
  private runner: StationRunner | undefined;
  private cancelPrune: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly deps: StationDeps) {
    this.config = deps.config;
    this.log = deps.logger.child({ module: "station" });
    this.clock = deps.clock ?? systemClock;
  }

  /** Opens the database, recovers a stored session, connects the publisher and opens every device. Throws only if the database cannot be opened. */
  start(): void {
    const cfg = this.config;
    const outbox = Outbox.open({
      path: cfg.storage.path,
      stationId: cfg.station.id,
      logger: this.deps.logger.child({ module: "outbox" }),
    });
    this.outbox = outbox;
    const tlsFile = (p: string | undefined) => (p ? readFileSync(p) : undefined);
    const publisher = new Publisher({
      outbox,
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
      statusFields: () => ({ station_id: cfg.station.id, ...(this.runner?.statusFields() ?? {}) }),
    });
    this.publisher = publisher;
    this.runner = new StationRunner({
      context: contextFromConfig(cfg),
      devices: this.devices(),
      adapters: { outbox, publisher, logger: this.log, newId: () => uuidv7() },
      clock: this.clock,
      ...(this.deps.onDepositCommitted ? { onDepositCommitted: this.deps.onDepositCommitted } : {}),
    });
    publisher.start();
    this.runner.start();
    this.cancelPrune = this.clock.every(PRUNE_EVERY_MS, () => this.prune());
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
    this.cancelPrune?.();
    await this.runner?.stop();
    await this.publisher?.stop();
    this.outbox?.close();
    this.log.info({ stats: this.getStats() }, "station stopped");
  }

  /** Closes the open session now, recording its deposits (end of the demo). */
  flushSession(): void {
    this.runner?.flushSession();
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
        discardedFrames: 0,
        noiseFrames: 0,
        sessionsOpened: 0,
        refusedSessions: 0,
        deposits: 0,
        alarms: 0,
      }
    );
  }

  /** Every configured device, its framer made by its protocol module (the device registry). */
  private devices(): RunnerDevice[] {
    const serial = (
      device: { id: string; port: string; baud_rate: number },
      settings: SerialSettings,
      module: string,
      silenceTimeoutMs?: number,
    ) =>
      (handlers: DeviceHandlers) =>
        new SerialDevice({
          id: device.id,
          path: device.port,
          baudRate: device.baud_rate,
          dataBits: settings.dataBits,
          parity: settings.parity,
          stopBits: settings.stopBits,
          logger: this.deps.logger.child({ module, device: device.id }),
          ...(silenceTimeoutMs !== undefined ? { silenceTimeoutMs } : {}),
          ...(this.deps.binding ? { binding: this.deps.binding } : {}),
          onData: (chunk: Uint8Array) => handlers.onData(chunk),
          onOnline: () => handlers.onOpen(),
          onOffline: (reason: string) => handlers.onClose(reason),
        });
    const devices: RunnerDevice[] = [];
    for (const s of this.config.scales) {
      const protocol = findProtocol("scale", s.protocol);
      devices.push({
        kind: "scale",
        id: s.id,
        framer: protocol.configure(s).createFramer(),
        open: serial(s, protocol.port.serial, "scale", s.silence_timeout_s * 1000),
      });
    }
    for (const r of this.config.readers) {
      const protocol = findProtocol("reader", r.protocol);
      devices.push({
        kind: "reader",
        id: r.id,
        framer: protocol.configure(r).createFramer(),
        open: serial(r, protocol.port.serial, "reader"),
      });
    }
    return devices;
  }

  private prune(): void {
    try {
      const n = this.outbox?.prune(this.config.storage.retention_days) ?? 0;
      if (n > 0) this.log.info({ pruned: n }, "published events past retention pruned");
    } catch (err) {
      this.log.warn({ err }, "pruning failed");
    }
  }
}
