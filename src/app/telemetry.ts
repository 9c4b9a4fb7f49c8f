/**
 * Telemetry (contract.md section 4, "Commands and telemetry"): every `telemetry.interval_s`, one
 * JSON object on `P/S/telemetry` (QoS 0, not retained, MQTT 5 message expiry twice the interval;
 * the MQTT side sets those):
 *
 * ```json
 * {"backlog": 0, "oldest_pending_age_s": null,
 *  "devices": {"scale-1": {"state": "online", "valid_frames": 5230, "discarded_frames": 2}},
 *  "uptime_s": 3600, "rss_bytes": 61865984, "disk_free_bytes": 2147483648, "db_bytes": 1228800}
 * ```
 *
 * - `backlog`: events not yet acknowledged by the broker; `oldest_pending_age_s`: seconds since the
 *   oldest of them was recorded, `null` when none (the outbox's status query).
 * - `devices`: per configured device id, its state (`starting`, `online`, `offline`, as in the
 *   retained status) and its valid and discarded frames since start (noise frames count as
 *   discarded).
 * - `uptime_s`: whole seconds since the process started; `rss_bytes`: its resident set.
 * - `disk_free_bytes`: free space of the database's file system for this user; `db_bytes`: the
 *   database's pages in use plus its WAL (the outbox's space measurement). A figure that cannot be
 *   read now is `null` (logged once until it can again).
 *
 * Not durable: nothing is queued while the broker is away; the publisher drops what it cannot send.
 */
import type { Logger } from "../adapters/log/logger.js";
import type { DeviceState } from "../domain/station-types.js";
import type { Clock } from "./clock.js";
import type { DeviceFrameCounts } from "./runner.js";

/** Publishes one telemetry message (MQTT side): `body` is the JSON text; message expiry is twice `intervalS`. */
export interface TelemetryPort {
  publishTelemetry(body: string, intervalS: number): void;
}

/** What telemetry reads of the runner (src/app/runner.ts `StationRunner` fits). */
export interface TelemetryRunnerPort {
  statusFields(): { devices: Readonly<Record<string, DeviceState>> };
  deviceFrames(): Readonly<Record<string, DeviceFrameCounts>>;
}

/** What telemetry reads of the outbox (src/adapters/outbox/outbox.ts `Outbox` fits). */
export interface TelemetryStorePort {
  status(): { pending: number; oldest_pending_age_s: number | null };
  measureSpace(): { usedBytes: number; freeBytes: number };
}

/** The process's own figures; default `process.uptime()` and `process.memoryUsage.rss()`. */
export interface ProcessFigures {
  uptimeS(): number;
  rssBytes(): number;
}

/** One device in a telemetry message. */
export interface DeviceTelemetry {
  state: DeviceState;
  valid_frames: number;
  discarded_frames: number;
}

/** The telemetry payload (contract section 4). */
export interface TelemetryPayload {
  backlog: number | null;
  oldest_pending_age_s: number | null;
  devices: Record<string, DeviceTelemetry>;
  uptime_s: number;
  rss_bytes: number;
  disk_free_bytes: number | null;
  db_bytes: number | null;
}

/** Options of {@link Telemetry}: every dependency in one object. */
export interface TelemetryOptions {
  runner: TelemetryRunnerPort;
  outbox: TelemetryStorePort;
  publisher: TelemetryPort;
  clock: Clock;
  /** `telemetry.interval_s`: seconds between two messages (> 0). */
  intervalS: number;
  logger: Logger;
  process?: ProcessFigures;
}

const nodeProcess: ProcessFigures = {
  uptimeS: () => process.uptime(),
  rssBytes: () => process.memoryUsage.rss(),
};

/** Publishes telemetry every `intervalS` seconds between {@link start} and {@link stop}. */
export class Telemetry {
  private cancel: (() => void) | null = null;
  /** Sources that failed at the last read (logged once until they work again). */
  private readonly failing = new Set<string>();

  constructor(private readonly opts: TelemetryOptions) {
    if (!(opts.intervalS > 0)) throw new RangeError(`telemetry interval must be above 0 s, got ${opts.intervalS}`);
  }

  /** The first message goes one interval after the start. */
  start(): void {
    if (this.cancel !== null) return;
    this.cancel = this.opts.clock.every(this.opts.intervalS * 1000, () => this.publishNow());
  }

  stop(): void {
    this.cancel?.();
    this.cancel = null;
  }

  /** Builds and publishes one message now; never throws. */
  publishNow(): void {
    try {
      this.opts.publisher.publishTelemetry(JSON.stringify(this.payload()), this.opts.intervalS);
    } catch (err) {
      this.opts.logger.warn({ err }, "telemetry could not be published");
    }
  }

  /** The payload as of now. */
  payload(): TelemetryPayload {
    const status = this.read("outbox status", () => this.opts.outbox.status());
    const space = this.read("storage space", () => this.opts.outbox.measureSpace());
    const proc = this.opts.process ?? nodeProcess;
    const states = this.read("device states", () => this.opts.runner.statusFields().devices) ?? {};
    const frames = this.read("device frames", () => this.opts.runner.deviceFrames()) ?? {};
    const devices: Record<string, DeviceTelemetry> = {};
    for (const id of new Set([...Object.keys(states), ...Object.keys(frames)])) {
      devices[id] = { state: states[id] ?? "starting", valid_frames: frames[id]?.valid ?? 0, discarded_frames: frames[id]?.discarded ?? 0 };
    }
    return {
      backlog: status?.pending ?? null,
      oldest_pending_age_s: status?.oldest_pending_age_s ?? null,
      devices,
      uptime_s: Math.floor(proc.uptimeS()),
      rss_bytes: proc.rssBytes(),
      // A database without a file system to measure (in memory) reports no free space.
      disk_free_bytes: space === null || space.freeBytes >= Number.MAX_SAFE_INTEGER ? null : space.freeBytes,
      db_bytes: space?.usedBytes ?? null,
    };
  }

  private read<T>(what: string, fn: () => T): T | null {
    try {
      const value = fn();
      if (this.failing.delete(what)) this.opts.logger.info({ source: what }, "telemetry figure readable again");
      return value;
    } catch (err) {
      if (!this.failing.has(what)) this.opts.logger.warn({ err, source: what }, "a telemetry figure could not be read: reported as null");
      this.failing.add(what);
      return null;
    }
  }
}
