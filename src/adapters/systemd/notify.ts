/**
 * The sd_notify protocol, spoken through the `systemd-notify` tool (systemd-notify(1)).
 *
 * Why the tool: sd_notify(3) sends one datagram on the AF_UNIX socket named by `$NOTIFY_SOCKET`;
 * Node has no Unix datagram sockets, and the npm bindings of libsystemd compile against its headers,
 * which a fresh gateway lacks (they fail to install without a compiler). `systemd-notify` ships with
 * systemd itself, so it is wherever the unit runs. Each message is one short child process, spawned
 * without waiting for it: the event loop never blocks on it.
 *
 * Attribution: the child is not the unit's main process, so the unit needs `NotifyAccess=all`
 * (systemd.service(5)); and PID 1 attributes a message to a unit only while its sender is alive
 * (systemd.service(5), NotifyAccess=), which `systemd-notify` guarantees by waiting, after sending,
 * until PID 1 has read the message (sd_notify_barrier(3); the default unless `--no-block`).
 * `READY=1` goes with `--pid=<our pid>` (`MAINPID=`), which names this process as the main one.
 *
 * Without `$NOTIFY_SOCKET` (not run by systemd, or not `Type=notify`) every call is a no-op. A missing
 * tool, or one that fails, is logged once and never thrown: a station that cannot report readiness
 * still serves residents (systemd then gives up on its start timeout and restarts it, which the log
 * line explains).
 */
import { spawn } from "node:child_process";

import type { Logger } from "pino";

/**
 * Longest wait, in ms, for READY's `systemd-notify` to end before the other messages go anyway
 * (it waits at most 5 s for the manager's acknowledgement, sd_notify_barrier(3)).
 */
const READY_WAIT_CAP_MS = 10_000;

/** At most this many `systemd-notify` children at once; further watchdog pings are skipped. */
const MAX_CHILDREN = 8;
/** How much of a failing child's stderr goes into the log line. */
const STDERR_LIMIT = 400;

/** Options of {@link SystemdNotifier}. */
export interface SystemdNotifierOptions {
  /** The environment (`process.env`): `NOTIFY_SOCKET` decides whether anything is sent. */
  env: NodeJS.ProcessEnv;
  /** This process's pid, sent as `MAINPID=` with `READY=1`. */
  pid: number;
  logger: Logger;
  /** The tool; default `systemd-notify` (found on `PATH`). Tests pass a missing one. */
  tool?: string;
}

/**
 * Sends sd_notify messages (sd_notify(3)): `READY=1` once the station is up, `WATCHDOG=1` as the
 * keep-alive, `STOPPING=1` when shutdown begins. Fire-and-forget; never throws.
 */
export class SystemdNotifier {
  private readonly log: Logger;
  private readonly tool: string;
  private readonly socket: string | undefined;
  private readonly children = new Set<Promise<void>>();
  private failureLogged = false;
  private missing = false;

  constructor(private readonly opts: SystemdNotifierOptions) {
    this.log = opts.logger;
    this.tool = opts.tool ?? "systemd-notify";
    const socket = opts.env.NOTIFY_SOCKET;
    this.socket = socket === undefined || socket === "" ? undefined : socket;
  }

  /** True when `$NOTIFY_SOCKET` is set, i.e. a service manager listens (sd_notify(3)). */
  get enabled(): boolean {
    return this.socket !== undefined;
  }

  /** `READY=1` with `MAINPID=` (this process): start-up is complete (sd_notify(3)). */
  ready(): void {
    this.send(["READY=1"], [`--pid=${this.opts.pid}`]);
  }

  /** `STOPPING=1`: the service is beginning its shutdown (sd_notify(3)). */
  stopping(): void {
    this.send(["STOPPING=1"]);
  }

  /** `WATCHDOG=1`: the keep-alive ping (sd_notify(3), systemd.service(5) `WatchdogSec=`). Skipped while too many pings are still on their way. */
  watchdog(): void {
    if (this.children.size >= MAX_CHILDREN) {
      this.log.debug({ children: this.children.size }, "watchdog ping skipped: earlier systemd-notify calls still running");
      return;
    }
    this.send(["WATCHDOG=1"]);
  }

  /** Resolves once every message sent so far has been handed over (tests, and a last word before exit). */
  async settled(): Promise<void> {
    while (this.children.size > 0) await Promise.all([...this.children]);
  }

  /**
   * Runs `systemd-notify [options] VARIABLE=VALUE…` with `$NOTIFY_SOCKET` inherited. Does nothing
   * when the socket is unset or the tool was found missing.
   */
  private send(fields: string[], options: string[] = []): void {
    if (this.socket === undefined || this.missing) return;
    // READY=1 first: children racing could deliver a WATCHDOG=1 or STOPPING=1 before it, and when
    // the tool sends its datagram is not known from outside. Every other message starts once READY's
    // tool has ended: it waits for the service manager's acknowledgement (sd_notify_barrier(3)),
    // milliseconds under systemd, 5 s where no manager answers (tests), never more than
    // READY_WAIT_CAP_MS here. Watchdog pings among themselves need no order.
    const isReady = fields.includes("READY=1");
    const done = (isReady ? Promise.resolve() : this.afterReady).then(() => this.spawnTool(fields, options));
    if (isReady) {
      let timer: NodeJS.Timeout | undefined;
      const cap = new Promise<void>((resolve) => (timer = setTimeout(resolve, READY_WAIT_CAP_MS).unref()));
      this.afterReady = Promise.race([done, cap]).finally(() => clearTimeout(timer));
    }
    this.children.add(done);
    void done.finally(() => this.children.delete(done));
  }

  /** Resolves once READY=1 has been handed over (at once before it is sent): the others go after it. */
  private afterReady: Promise<void> = Promise.resolve();

  /** Runs the tool once for one message; resolves when it has ended (or failed). */
  private spawnTool(fields: string[], options: string[]): Promise<void> {
    if (this.missing) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let stderr = "";
      let child;
      try {
        child = spawn(this.tool, [...options, ...fields], {
          stdio: ["ignore", "ignore", "pipe"],
          env: this.opts.env,
        });
      } catch (err) {
        this.failed(fields, err instanceof Error ? err.message : String(err));
        resolve();
        return;
      }
      child.stderr.setEncoding("utf8");
      child.stderr.on("data", (chunk: string) => {
        if (stderr.length < STDERR_LIMIT) stderr += chunk;
      });
      child.on("error", (err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") {
          this.missing = true;
          this.log.error(
            { tool: this.tool },
            "systemd-notify not found: readiness and the watchdog keep-alive cannot be reported to systemd (install systemd, or run the unit as Type=simple without WatchdogSec=)",
          );
        } else {
          this.failed(fields, err.message);
        }
        resolve();
      });
      child.on("close", (code) => {
        if (code !== 0 && code !== null) this.failed(fields, stderr.trim().slice(0, STDERR_LIMIT) || `exit code ${code}`);
        resolve();
      });
      // Never keeps a finished station alive: the launcher exits explicitly, and the message is sent
      // before the tool waits for PID 1.
      child.unref();
    });
  }

  private failed(fields: string[], reason: string): void {
    if (this.failureLogged) {
      this.log.debug({ message: fields, reason }, "systemd-notify failed again");
      return;
    }
    this.failureLogged = true;
    this.log.warn({ message: fields, reason }, "systemd-notify failed; further failures are logged at debug");
  }
}

/**
 * The watchdog keep-alive interval the service manager asks for, in ms, or `undefined` when it asks
 * for none. As sd_watchdog_enabled(3) says: the watchdog is on when `$WATCHDOG_USEC` is set and
 * `$WATCHDOG_PID` is unset or this process's pid; pings should go every half of `WATCHDOG_USEC`.
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number): number | undefined {
  const usecText = env.WATCHDOG_USEC;
  if (usecText === undefined || !/^\d+$/.test(usecText.trim())) return undefined;
  const usec = Number(usecText.trim());
  if (!(usec > 0)) return undefined;
  const pidText = env.WATCHDOG_PID;
  if (pidText !== undefined && pidText.trim() !== "" && Number(pidText.trim()) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}
