/**
 * The shapes of `smartbin doctor` (contract.md section 1; issue 10, item 4): one result per check,
 * and the probes through which the checks see the machine, so that the checks are pure functions
 * of what the probes report and unit tests fake the file system, the ports and the network.
 */
import type { UsbPortLookup, UsbSelector } from "../../adapters/serial/usb-port.js";
import type { PollRequest, SerialSettings } from "../../protocol/index.js";

/** `ok`, `warn` (works, but look at it) or `fail` (something does not work). */
export type CheckLevel = "ok" | "warn" | "fail";

/**
 * One line of the report: `LEVEL NAME: message`. `name` is short, without spaces or colons
 * (`scale.scale-1`, `broker`, `tls.ca_file`); `message` says what was found and, unless ok, what
 * to do about it; `details` carries the figures for `--json`.
 */
export interface CheckResult {
  name: string;
  level: CheckLevel;
  message: string;
  details?: Record<string, unknown>;
}

/** What `stat` says of a path: its kind, or the errno name when it cannot be looked at. */
export type PathFacts = { kind: "char" | "file" | "dir" | "other" } | { error: string };

/** What a short listen on a serial port received, or why it could not open. */
export type ListenResult = { ok: true; chunks: Uint8Array[] } | { ok: false; error: unknown };

/** The last report a running station recorded about one device (its newest `…_offline`/`…_online` alarm). */
export interface DeviceReport {
  code: string;
  time: string;
  reason?: string;
}

/** The outcome of an MQTT CONNECT tried by the doctor. */
export type BrokerResult = { ok: true; ms: number } | { ok: false; error: unknown; stage: "connect" | "timeout" | "closed" };

/** A GPIO character device (`/dev/gpiochipN`) and whether this user may open it read-write. */
export interface GpioChip {
  path: string;
  /** `null` when read-write access is granted, else the errno name. */
  denied: string | null;
}

/** How the checks see the machine. The real ones are in system-probes.ts. */
export interface DoctorProbes {
  now(): Date;
  stat(path: string): PathFacts;
  /** `null` when `path` may be opened for reading and writing by this user, else the errno name. */
  readWriteDenied(path: string): string | null;
  /** The serial port of a device configured by `usb` (its adapter's identity), as the station finds it: sysfs (usb-port.ts). */
  findUsbPort(usb: UsbSelector): UsbPortLookup;
  /** realpath(3), `null` when the path does not resolve. */
  realpath(path: string): string | null;
  /** The bytes of a file; throws (an errno error) when it cannot be read. */
  readFile(path: string): Uint8Array;
  /**
   * Opens the port with these settings, collects what arrives for `ms`, closes it. Never rejects.
   * With `poll` (a request/response protocol: mt-sics, modbus-rtu), writes its request as the port
   * opens and every `poll.everyMs` after, as the station does, so that a polled indicator answers.
   */
  listen(path: string, serial: SerialSettings, ms: number, poll?: PollRequest): Promise<ListenResult>;
  /** The process holding the station lock of the database at `dbPath` (a running `smartbin run`), or `null`. */
  stationHolder(dbPath: string): { pid: number | null } | null;
  /** Per device id, the newest device alarm in the database at `dbPath` (read-only; empty when none or no db). */
  deviceReports(dbPath: string): Map<string, DeviceReport>;
  /** MQTT CONNECT with the config's settings and another client id; never rejects. */
  connectBroker(timeoutMs: number): Promise<BrokerResult>;
  /** Whether the clock is synchronised (`null`: cannot tell), and how that was learnt. */
  clockSynced(marker: string): { synced: boolean | null; source: string };
  /** Bytes free for this user on the file system holding `path` (or its nearest existing ancestor). */
  freeBytes(path: string): number;
  /** `quick_check` on the database, read-only, no lock taken; `missing` when there is none. */
  quickCheck(dbPath: string): { kind: "missing" } | { kind: "ok" } | { kind: "damaged"; problems: string[] } | { kind: "failed"; error: string };
  /** Pending events and the age of the oldest, read-only (`null` when none pending). */
  backlog(dbPath: string): { pending: number; oldestPendingAgeS: number | null; exists: boolean };
  /** The GPIO character devices present. */
  gpioChips(): GpioChip[];
  /** The user this runs as and its groups, for permission advice. */
  identity(): { user: string; groups: string[] };
}
