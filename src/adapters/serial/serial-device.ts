// The ESM entry of @serialport/bindings-interface ships no types (its "exports" map has no "types";
// serialport/node-serialport#2705, fix proposed in serialport/bindings-interface#32), so the type is
// resolved through its CommonJS entry.
import type { BindingInterface } from "@serialport/bindings-interface" with { "resolution-mode": "require" };
import { SerialPortStream } from "@serialport/stream";
import type { Logger } from "pino";
import { SerialPort } from "serialport";
import { SmartbinError } from "../../errors.js";
import { DEFAULT_BACKOFF, backoffDelayMs, type BackoffSettings } from "../backoff.js";
import { systemTimers, type TimerPort } from "./timer-port.js";
import { startPollerWake } from "./poller-wake.js";
import type { LoopBeat } from "../loop-beat.js";
import { expectedFault, messageChain } from "../log/faults.js";

/**
 * What the station knows about a device. `unknown` only until the first transition: a device present
 * at start goes `unknown → online` (no alarm, contract.md section 4), one missing at start goes
 * `unknown → offline` (an alarm).
 */
export type DeviceState = "unknown" | "online" | "offline";

/** Why a device went offline. */
export type OfflineCause =
  /** The port could not be opened (missing device, permission, not a tty, locked by another process). */
  | "open_failed"
  /** An open port closed or failed (USB adapter unplugged, pty master gone). */
  | "disconnected"
  /** A streaming indicator sent nothing for `silenceTimeoutMs` (the port is closed and reopened). */
  | "silent";

/** Options of {@link SerialDevice}: one named object (style.md, "Layout"). */
export interface SerialDeviceOptions {
  /** The configured device id (`scales[].id`, `readers[].id`), used in logs and error context. */
  id: string;
  /**
   * The port path, preferably a stable one (`/dev/serial/by-id/...`). It is opened anew on every
   * (re)open, so a symlink that udev re-points after a re-plug is followed. With `locate`, a label
   * for logs and errors instead (`usb 0403:6001 serial A50285BI`).
   */
  path: string;
  /**
   * A device configured by its USB identity (config `usb`; src/adapters/serial/usb-port.ts): called
   * at every (re)open to find the path to open now, so an adapter that comes back as another
   * `/dev/ttyUSBn` is found again. `{fault}` (not plugged in, ambiguous) is reported like a failed
   * open: offline with the fault as reason, logged once, retried with backoff. The path found is
   * logged at info when it changes. Must not throw (a throw counts as a fault).
   */
  locate?: () => { path: string } | { fault: string };
  /** Line speed in baud. */
  baudRate: number;
  /**
   * Character format, as the device's protocol says (src/protocol, `port.serial`); default 8N1, no
   * flow control (serialport's defaults).
   */
  dataBits?: 7 | 8;
  parity?: "none" | "even" | "odd";
  stopBits?: 1 | 2;
  /**
   * Modem control lines set right after every open (config `dtr`, `rts`), with serialport's
   * `port.set()` (serialport docs, "SerialPort#set": it sets every flag on each call, the ones not
   * given to their defaults, DTR and RTS raised). Undefined: the line stays as the OS opened the port
   * (Linux raises both DTR and RTS on open, before any program can act: tty_port.c, `tty_port_raise_dtr_rts`).
   * When only one is given, the other is set raised, as the OS left it.
   */
  dtr?: boolean;
  rts?: boolean;
  /**
   * serialport's open option `hupcl` (termios HUPCL, termios(3): "lower modem control lines after
   * last process closes the device"): false keeps DTR up when the port closes. Undefined:
   * serialport's default, true.
   */
  hupcl?: boolean;
  /**
   * A request/response device's poll (src/protocol `port.poll`): `request` is written as soon as the
   * port opens and then every `everyMs` while it stays open. With `silenceTimeoutMs`, a device that
   * does not answer is silent and goes offline as a streaming one.
   */
  poll?: { everyMs: number; request: Uint8Array };
  /** A child logger (`{ module, device }`); the device adds `path` to its lines. */
  logger: Logger;
  /**
   * The serialport binding. Omitted: the real one (`SerialPort`, @serialport/bindings-cpp). Given:
   * a `SerialPortStream` over it, e.g. serialport's `MockBinding` for the demo and unit tests.
   */
  binding?: BindingInterface;
  /**
   * Streaming indicators only: no data for this many milliseconds means the device is offline, and
   * the port is closed and reopened. Leave undefined for card readers, which are silent whenever no
   * card is shown (a quiet reader is not offline).
   */
  silenceTimeoutMs?: number;
  /** Reopen backoff in milliseconds; default {@link DEFAULT_BACKOFF} (500 ms doubling up to 30 s). */
  backoff?: BackoffSettings;
  /** Timers and the monotonic clock; default {@link systemTimers}. Tests pass a manual fake. */
  clock?: TimerPort;
  /** Jitter source returning `[0, 1)`; default `Math.random`. Tests pass a constant. */
  random?: () => number;
  /**
   * The read-or-reopen loop's beat for the systemd watchdog (src/app/liveness.ts): `busy` while a
   * port opens (or closes before a reopen), `idle` while it reads or waits out the reopen backoff.
   */
  liveness?: LoopBeat;
  /**
   * Bytes as they arrive, in order, split anywhere (framers reassemble). `mono` is `clock.now()` at
   * arrival. The chunk is a view of serialport's read pool: read it or copy it, do not keep
   * mutating it.
   */
  onData(chunk: Uint8Array, mono: number): void;
  /** The device became online (see {@link SerialDevice} for when); `previous` tells a first start from a return. */
  onOnline?(info: { previous: "unknown" | "offline" }): void;
  /**
   * The device became offline. `reason` is a human-readable line for alarms and logs
   * (e.g. `"open failed: No such file or directory, cannot open /dev/ttyUSB0"`).
   */
  onOffline?(reason: string, info: { cause: OfflineCause; previous: "unknown" | "online" }): void;
}

/** Counters for diagnostics (status topic, `smartbin status`, tests). */
export interface SerialDeviceStats {
  state: DeviceState;
  /** Every `open()` tried, the first included. */
  openAttempts: number;
  /** Opens tried after the first one (retries after a failure, a disconnect or a silence). */
  reopenAttempts: number;
  openFailures: number;
  /** Open ports that closed or failed without us asking. */
  disconnects: number;
  silenceTimeouts: number;
  bytesReceived: number;
  /** Writes handed to the port (polls and commands). */
  writes: number;
  /** Writes the port failed (logged at debug; the port's loss is reported by its own events). */
  writeFailures: number;
}

type Phase = "idle" | "running" | "stopped";

/**
 * One configured serial device (a scale's indicator or an identification reader) that keeps its
 * port open for as long as it runs (architecture.md, "Devices come and go").
 *
 * - `start()` opens the port. When opening fails, or an open port closes or errors (USB unplugged:
 *   serialport emits `close` with a `DisconnectedError`), or a streaming device stays silent, the
 *   device reports offline and reopens the same path after a capped exponential backoff with full
 *   jitter ({@link backoffDelayMs}), forever, until `stop()`.
 * - **Online** means: the port is open, and for a streaming device (`silenceTimeoutMs` set) data
 *   has arrived since it was opened. An open but silent indicator stays in its previous state until
 *   the silence timeout makes it offline.
 * - `onOnline`/`onOffline` fire once per transition only. A device missing at start is a transition
 *   from `unknown`, so it is reported; repeated failed retries are not.
 * - An open failure (or, with `locate`, a port not found) is logged at error level once; identical
 *   failures after it at debug level, until the port opens again. A disconnect or a silence is
 *   logged at warn level once per fault: a port lost again, or an indicator still silent, before the
 *   device came back online is logged at debug, as are the reopens in between, so a failing port
 *   never floods the log.
 * - With `locate` (config `usb`), the path is looked up at every (re)open, so an adapter that
 *   re-enumerates under another name is found again.
 * - Nothing is thrown to the caller and nothing is emitted after `stop()`. Exceptions thrown by the
 *   callbacks are logged and swallowed, so a bug in a consumer cannot kill the reopen loop.
 */
export class SerialDevice {
  private readonly opts: SerialDeviceOptions;
  private readonly log: Logger;
  private readonly clock: TimerPort;
  private readonly backoff: BackoffSettings;
  private readonly random: () => number;

  private phase: Phase = "idle";
  private current: DeviceState = "unknown";
  /** The port we own (opening or open); any other port's events are stale and ignored. */
  private port: SerialPortStream | undefined;
  /** When the current port opened (clock ms), undefined while it is not open. */
  private openedAt: number | undefined;
  private lastDataAt = 0;
  /** Exponent of the next backoff delay. */
  private attempt = 0;
  private lastOpenError: string | undefined;
  /** The path `locate` found last (undefined before the first find, and without `locate`). */
  private locatedPath: string | undefined;
  /**
   * A streaming device went silent and has not been online since: its further silences and reopens
   * are logged at debug, so an indicator that stays off logs once, not once per retry.
   */
  private silentSinceOnline = false;
  private retryTimer: { handle: unknown } | undefined;
  private silenceTimer: { handle: unknown } | undefined;
  private pollTimer: { handle: unknown } | undefined;
  /** Stops the event-loop wake that serialport's reads need on Node 26.4+ (poller-wake.ts). */
  private stopWake: () => void = () => undefined;
  /** Open and close operations in flight; `stop()` waits for all of them. */
  private readonly pending = new Set<Promise<void>>();
  private readonly counters = {
    openAttempts: 0,
    reopenAttempts: 0,
    openFailures: 0,
    disconnects: 0,
    silenceTimeouts: 0,
    bytesReceived: 0,
    writes: 0,
    writeFailures: 0,
  };

  constructor(options: SerialDeviceOptions) {
    this.opts = options;
    this.log = options.logger.child({ path: options.path });
    this.clock = options.clock ?? systemTimers;
    const b = options.backoff ?? DEFAULT_BACKOFF;
    const startMs = Math.max(1, b.startMs);
    this.backoff = { startMs, maxMs: Math.max(startMs, b.maxMs) };
    this.random = options.random ?? Math.random;
  }

  /** Opens the port and keeps it open until `stop()`. Returns at once; a second call does nothing. */
  start(): void {
    if (this.phase !== "idle") {
      this.log.debug({ phase: this.phase }, "serial device start ignored");
      return;
    }
    this.phase = "running";
    // Only the real binding reads through the native poller; the mock binding (demo, tests) does not.
    if (this.opts.binding === undefined) this.stopWake = startPollerWake();
    this.connect();
  }

  /**
   * Cancels timers and closes the port; resolves once no open or close is in flight. No callback
   * fires after this is called. Never rejects; a stopped device cannot be started again.
   */
  async stop(): Promise<void> {
    this.phase = "stopped";
    this.stopWake();
    this.clearRetry();
    this.clearSilence();
    this.clearPoll();
    const port = this.port;
    this.port = undefined;
    // A port still opening is closed by its open callback, which sees it is no longer ours.
    if (port) this.track(closeQuietly(port));
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** The last reported state. */
  state(): DeviceState {
    return this.current;
  }

  /** A snapshot of the counters. */
  stats(): SerialDeviceStats {
    return { state: this.current, ...this.counters };
  }

  /**
   * Writes `bytes` to the open port (a request/response device's commands: MT-SICS `Z`, `T`).
   *
   * @returns false, writing nothing, when the port is not open (opening, closed, reopening, stopped);
   *   true when the bytes were handed to the port. A write that fails later is counted and logged, and
   *   never thrown.
   */
  write(bytes: Uint8Array): boolean {
    const port = this.port;
    if (port === undefined || this.phase !== "running" || this.openedAt === undefined || !port.isOpen) return false;
    this.counters.writes++;
    port.write(Buffer.from(bytes), (err: Error | null | undefined) => {
      if (!err) return;
      this.counters.writeFailures++;
      this.log.debug({ err: describe(err) }, "serial write failed");
    });
    return true;
  }

  private get streaming(): boolean {
    return this.opts.silenceTimeoutMs !== undefined;
  }

  private connect(): void {
    this.opts.liveness?.beat("busy");
    this.counters.openAttempts++;
    if (this.counters.openAttempts > 1) this.counters.reopenAttempts++;
    let path = this.opts.path;
    if (this.opts.locate !== undefined) {
      const found = this.locate(this.opts.locate);
      if ("fault" in found) {
        this.onLocateFailed(found.fault);
        return;
      }
      path = found.path;
    }
    let port: SerialPortStream;
    try {
      const { baudRate, binding, dataBits = 8, parity = "none", stopBits = 1, hupcl } = this.opts;
      const settings = { path, baudRate, dataBits, parity, stopBits, autoOpen: false, ...(hupcl !== undefined ? { hupcl } : {}) };
      port = binding ? new SerialPortStream({ binding, ...settings }) : new SerialPort(settings);
    } catch (err) {
      // Invalid options (e.g. a baud rate that is not a number); retrying is harmless and keeps the
      // device reported offline instead of crashing the station.
      this.onOpenFailed(err);
      return;
    }
    this.port = port;
    this.openedAt = undefined;
    port.on("data", (chunk: Buffer) => this.onPortData(port, chunk));
    port.on("close", (err: Error | null) => this.onPortLost(port, err ?? new Error("port closed")));
    // A read of 0 bytes (a tty's read(2) after a hangup can give EOF instead of EIO) ends the stream
    // (@serialport/stream `_read`: push(null)) and emits no `close`: without this, the port stayed
    // open, read nothing more, and the device was never reported offline or reopened.
    port.on("end", () => this.onPortLost(port, new Error("the line hung up (end of data)")));
    // Always listened to: an EventEmitter 'error' without a listener would throw and crash the process.
    port.on("error", (err: Error) => this.onPortError(port, err));
    this.track(
      new Promise<void>((resolve) => {
        port.open((err) => {
          this.onOpenResult(port, err);
          resolve();
        });
      }),
    );
  }

  private onOpenResult(port: SerialPortStream, err: Error | null): void {
    if (port !== this.port) {
      // stop() (or a newer port) took over while this one was opening.
      if (!err) this.track(closeQuietly(port));
      return;
    }
    if (err) {
      this.port = undefined;
      this.onOpenFailed(err);
      return;
    }
    const now = this.clock.now();
    this.openedAt = now;
    this.lastDataAt = now;
    this.lastOpenError = undefined;
    // `lock: true` (serialport's default) holds flock(2) on the descriptor: released when it closes, and
    // by the kernel when a holder crashes, so no lock file outlives a process (bindings-cpp
    // serialport_unix.cpp; flock(2)). A reopen comes only after the previous port has closed.
    const located = this.locatedPath === undefined ? {} : { port: this.locatedPath };
    if (this.silentSinceOnline) this.log.debug({ baudRate: this.opts.baudRate, ...located }, "serial port open");
    else this.log.info({ baudRate: this.opts.baudRate, ...located }, "serial port open");
    this.setControlLines(port);
    this.opts.liveness?.beat("idle");
    this.startPoll();
    if (this.streaming) this.armSilence();
    else this.goOnline();
  }

  /** Sets DTR and RTS as configured, right after the open (see `SerialDeviceOptions.dtr`). */
  private setControlLines(port: SerialPortStream): void {
    const { dtr, rts } = this.opts;
    if (dtr === undefined && rts === undefined) return;
    const flags = { dtr: dtr ?? true, rts: rts ?? true };
    port.set(flags, (err: Error | null | undefined) => {
      if (err) this.log.warn({ err: describe(err), ...flags }, "cannot set the serial port's DTR/RTS lines");
    });
  }

  /** Writes the poll request now and every `poll.everyMs` while this port stays open. */
  private startPoll(): void {
    const poll = this.opts.poll;
    if (poll === undefined) return;
    this.clearPoll();
    const tick = () => {
      this.pollTimer = undefined;
      if (this.phase !== "running" || this.openedAt === undefined) return;
      this.write(poll.request);
      this.pollTimer = { handle: this.clock.setTimeout(tick, Math.max(1, poll.everyMs)) };
    };
    tick();
  }

  /** The port as logs name it: the path, or for a located device the path found and its label. */
  private where(): string {
    return this.locatedPath === undefined ? this.opts.path : `${this.locatedPath} (${this.opts.path})`;
  }

  /** Runs `locate`, logging the path found when it changes; a throw is a fault. */
  private locate(locate: () => { path: string } | { fault: string }): { path: string } | { fault: string } {
    let found: { path: string } | { fault: string };
    try {
      found = locate();
    } catch (err) {
      found = { fault: `cannot look for the port: ${describe(err)}` };
    }
    if ("path" in found && found.path !== this.locatedPath) {
      this.log.info({ port: found.path, previous: this.locatedPath ?? null }, `${this.opts.path} found at ${found.path}`);
      this.locatedPath = found.path;
    }
    return found;
  }

  /** `locate` found no port to open (not plugged in, or ambiguous): offline with the fault, logged once per fault. */
  private onLocateFailed(fault: string): void {
    this.counters.openFailures++;
    if (fault !== this.lastOpenError) {
      this.lastOpenError = fault;
      this.log.error({ reason: fault, code: "SERIAL_OPEN_FAILED" }, `cannot find serial port ${this.opts.path}: ${fault}; retrying with backoff`);
    } else {
      this.log.debug({ reason: fault, attempt: this.attempt }, "cannot find serial port (again)");
    }
    this.goOffline(fault, "open_failed");
    this.scheduleReopen();
  }

  private onOpenFailed(err: unknown): void {
    this.counters.openFailures++;
    const message = describe(err);
    const error = new SmartbinError(
      "SERIAL_OPEN_FAILED",
      // pino prints the cause's message after this one (messageWithCauses): do not repeat it here.
      `cannot open serial port ${this.where()}`,
      { deviceId: this.opts.id, path: this.locatedPath ?? this.opts.path },
      { cause: err },
    );
    // An expected fault (missing, not ours, busy, not a tty: faults.ts) is one line with the reason,
    // no stack, and the alarm's reason says the same (not serialport's "setting custom baud rate").
    const fault = expectedFault(err);
    if (message !== this.lastOpenError) {
      this.lastOpenError = message;
      if (fault !== undefined) this.log.error({ reason: fault.reason, code: error.code }, `cannot open serial port ${this.where()}: ${fault.reason}; retrying with backoff`);
      else this.log.error({ err: error }, "cannot open serial port; retrying with backoff");
    } else {
      this.log.debug({ err: error, attempt: this.attempt }, "cannot open serial port (again)");
    }
    this.goOffline(`open failed: ${fault?.reason ?? message}`, "open_failed");
    this.scheduleReopen();
  }

  private onPortData(port: SerialPortStream, chunk: Buffer): void {
    if (port !== this.port || this.phase !== "running") return;
    const mono = this.clock.now();
    this.counters.bytesReceived += chunk.length;
    this.lastDataAt = mono;
    if (this.current !== "online") this.goOnline();
    this.safely("onData", () => this.opts.onData(chunk, mono));
  }

  /** The port closed (or failed) without us asking: unplugged, or the pty master went away. */
  private onPortLost(port: SerialPortStream, err: Error): void {
    if (port !== this.port || this.phase !== "running") return;
    this.port = undefined;
    this.clearSilence();
    this.clearPoll();
    this.counters.disconnects++;
    const message = describe(err);
    const error = new SmartbinError(
      "SERIAL_DISCONNECTED",
      `serial port ${this.where()} disconnected: ${message}`,
      { deviceId: this.opts.id, path: this.opts.path },
      { cause: err },
    );
    // Lost again before it came back online (a flapping adapter): the first loss was logged.
    if (this.current === "offline") this.log.debug({ err: error }, "serial port lost (again); reopening with backoff");
    // An unplugged adapter is an expected fault: one line with the reason, no stack.
    else this.log.warn({ reason: message, code: error.code }, `serial port ${this.where()} disconnected: ${message}; reopening with backoff`);
    this.resetBackoffIfHealthy();
    this.goOffline(`disconnected: ${message}`, "disconnected");
    this.track(closeQuietly(port));
    this.scheduleReopen();
  }

  private onPortError(port: SerialPortStream, err: Error): void {
    if (port === this.port && this.phase === "running" && !port.isOpen && !port.opening) {
      this.onPortLost(port, err);
      return;
    }
    this.log.debug({ err: describe(err) }, "serial port error event");
  }

  private armSilence(): void {
    const timeout = this.opts.silenceTimeoutMs;
    if (timeout === undefined) return;
    this.clearSilence();
    const due = Math.max(0, this.lastDataAt + timeout - this.clock.now());
    this.silenceTimer = { handle: this.clock.setTimeout(() => this.onSilenceTimer(), due) };
  }

  private onSilenceTimer(): void {
    this.silenceTimer = undefined;
    const port = this.port;
    const timeout = this.opts.silenceTimeoutMs;
    if (!port || this.phase !== "running" || timeout === undefined) return;
    // One timer per silence period, not one per chunk: re-arm for the rest of the period.
    if (this.clock.now() - this.lastDataAt < timeout) {
      this.armSilence();
      return;
    }
    this.counters.silenceTimeouts++;
    if (this.silentSinceOnline) this.log.debug({ silenceTimeoutMs: timeout }, "streaming device still silent; closing and reopening the port");
    else this.log.warn({ silenceTimeoutMs: timeout }, "streaming device silent; closing and reopening the port");
    this.silentSinceOnline = true;
    this.port = undefined;
    this.clearPoll();
    this.resetBackoffIfHealthy();
    this.goOffline(`silent: no data for ${timeout} ms`, "silent");
    this.opts.liveness?.beat("busy");
    // Reopen only once the old port is closed: the real binding opens ports exclusively.
    this.track(
      closeQuietly(port).then(() => {
        this.scheduleReopen();
      }),
    );
  }

  /** A connection that stayed online for at least `maxMs` was healthy: the next outage starts the backoff over. */
  private resetBackoffIfHealthy(): void {
    if (
      this.current === "online" &&
      this.openedAt !== undefined &&
      this.clock.now() - this.openedAt >= this.backoff.maxMs
    ) {
      this.attempt = 0;
    }
    this.openedAt = undefined;
  }

  private scheduleReopen(): void {
    if (this.phase !== "running" || this.retryTimer) return;
    this.opts.liveness?.beat("idle");
    const delayMs = backoffDelayMs(this.attempt, this.backoff, this.random);
    this.attempt++;
    this.log.debug({ delayMs, attempt: this.attempt }, "serial port reopen scheduled");
    this.retryTimer = {
      handle: this.clock.setTimeout(() => {
        this.retryTimer = undefined;
        if (this.phase === "running") this.connect();
      }, delayMs),
    };
  }

  private goOnline(): void {
    const previous = this.current;
    if (previous === "online" || this.phase !== "running") return;
    this.current = "online";
    this.silentSinceOnline = false;
    this.log.info({ previous }, "serial device online");
    this.safely("onOnline", () => this.opts.onOnline?.({ previous }));
  }

  private goOffline(reason: string, cause: OfflineCause): void {
    const previous = this.current;
    if (previous === "offline" || this.phase !== "running") return;
    this.current = "offline";
    this.log.warn({ previous, cause, reason }, "serial device offline");
    this.safely("onOffline", () => this.opts.onOffline?.(reason, { cause, previous }));
  }

  private safely(callback: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err, callback }, "serial device callback threw; ignored");
    }
  }

  private clearRetry(): void {
    if (this.retryTimer) this.clock.clearTimeout(this.retryTimer.handle);
    this.retryTimer = undefined;
  }

  private clearPoll(): void {
    if (this.pollTimer) this.clock.clearTimeout(this.pollTimer.handle);
    this.pollTimer = undefined;
  }

  private clearSilence(): void {
    if (this.silenceTimer) this.clock.clearTimeout(this.silenceTimer.handle);
    this.silenceTimer = undefined;
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }
}

/** Closes a port if it is open; resolves when done, never rejects. */
function closeQuietly(port: SerialPortStream): Promise<void> {
  return new Promise((resolve) => {
    if (!port.isOpen) {
      resolve();
      return;
    }
    port.close(() => resolve());
  });
}

/** The error's message without serialport's leading "Error: " (faults.ts), so reasons never read "Error: Error:". */
function describe(err: unknown): string {
  return messageChain(err instanceof Error ? new Error(err.message) : err);
}
