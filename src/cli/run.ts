import type * as Inspector from "node:inspector";
import type { LevelWithSilent } from "pino";
import { SmartbinError } from "../errors.js";
import { createLogging, prettyStream, type Logger } from "../adapters/log/logger.js";
import { formatProblem, formatWarning, loadConfigFile } from "../config/load.js";
import { compactHeap, favourMemory } from "../adapters/heap.js";
import { claimDaemonSignals } from "./daemon-signals.js";
import { EXIT } from "./exit-codes.js";
import type { Signals } from "./signals.js";

/** How long after READY the station compacts its heap once (src/adapters/heap.ts says why). */
const SETTLE_BEFORE_COMPACTION_MS = 2_000;

/** Bytes as MiB with one decimal, for a log field. */
const mib = (bytes: number): number => Math.round(bytes / 104_857.6) / 10;

/**
 * `smartbin run`: validates the config (every problem on stderr, exit 78, before touching any device,
 * database or broker), starts the station, and on SIGTERM or SIGINT stops it cleanly and exits 0,
 * during start-up too. Logs are JSON lines on stdout for journald.
 *
 * The config's warnings are logged at warn, one line each, in the `config check` form. SIGUSR2
 * toggles debug logging (see {@link debugToggle}).
 *
 * @param signals the launcher's caught signals (see `claimDaemonSignals` for what each one does).
 * @param opts.pretty readable log lines (pino-pretty) instead of JSON, for a terminal.
 * @returns 0 after a clean stop; 1 when the station cannot start or stop; 78 for an invalid config.
 */
export async function runDaemon(configFile: string, signals: Signals, opts: { pretty?: boolean; sysfsRoot?: string } = {}): Promise<number> {
  // Synchronous up to the claim, so no signal is dispatched in between: until the claim, the
  // launcher ends the process on SIGTERM and SIGINT itself, which is clean while nothing is open.
  favourMemory();
  const loaded = loadConfigFile(configFile);
  if (!loaded.ok) {
    for (const p of loaded.problems) process.stderr.write(formatProblem(p) + "\n");
    return EXIT.CONFIG;
  }
  const config = loaded.config;
  const logging = createLogging({ level: config.log.level, fd: 1, ...(opts.pretty === true ? { stream: prettyStream(1) } : {}) });
  const logger = logging.logger;
  const log = logger.child({ module: "run" });
  exitOnFatalErrors(log);
  /** The running station, once it has started: what SIGHUP reloads. */
  let running: { reload(file: string): Promise<unknown> } | undefined;
  const stop = claimDaemonSignals({
    signals,
    logger: log,
    // Asynchronous since a reload may reconnect to the broker: a failure is logged here, never an
    // unhandled rejection (which would end the process).
    reload: () =>
      void running?.reload(configFile).catch((err: unknown) => log.error({ err }, "configuration reload failed; the running configuration stays")),
    toggleDebug: debugToggle(logging, config.log.level, log),
  });
  const configLog = logger.child({ module: "config" });
  for (const w of loaded.warnings) configLog.warn({ path: w.path, line: w.line, col: w.col }, formatWarning(w));
  await closeInspector(log);

  const { Station } = await import("../app/station.js");
  const { Liveness } = await import("../app/liveness.js");
  const { superviseBySystemd } = await import("../app/supervision.js");
  if (stop.signal !== undefined) {
    log.info({ signal: stop.signal }, "stopped during start-up, before the station opened anything");
    return EXIT.OK;
  }
  const liveness = new Liveness(() => performance.now());
  const station = new Station({
    config,
    configFile,
    logger,
    liveness,
    setLogLevel: (level) => logging.setLevel(level),
    ...(opts.sysfsRoot !== undefined ? { portListRoot: opts.sysfsRoot } : {}),
  });
  try {
    station.start();
  } catch (error) {
    log.fatal({ err: error, config: configFile }, "station cannot start");
    // Said plainly too, for the technician who started a second station by hand (the log is JSON).
    if (error instanceof SmartbinError && error.code === "OUTBOX_LOCKED") process.stderr.write(`smartbin run: ${error.message}\n`);
    return EXIT.FAILURE;
  }
  running = station;
  // systemd (Type=notify): READY=1 now, the watchdog fed while every loop turns, STOPPING=1 below.
  const supervision = superviseBySystemd({ liveness, logger: logger.child({ module: "systemd" }) });
  // Settled (ports opened, the broker tried): give back the young generation start-up filled.
  const settled = setTimeout(() => {
    if (stop.signal !== undefined) return;
    const before = process.memoryUsage.rss();
    const compacted = compactHeap();
    log.debug({ compacted, rss_mib_before: mib(before), rss_mib_after: mib(process.memoryUsage.rss()) }, "heap compacted after start-up");
  }, SETTLE_BEFORE_COMPACTION_MS);
  settled.unref();

  const signal = await stop.requested;
  clearTimeout(settled);
  running = undefined;
  supervision.stopping();
  log.info({ signal }, "shutting down");
  try {
    await station.stop();
  } catch (error) {
    log.error({ err: error, signal }, "shutdown failed");
    return EXIT.FAILURE;
  }
  log.info({ signal }, "stopped");
  return EXIT.OK;
}

/**
 * SIGUSR2: debug logging on, and at the next SIGUSR2 off again (back to `log.level`); where
 * `log.level` is debug or trace already, it toggles between that and info. Every module's logger
 * follows (createLogging). The change is logged at warn, so it shows whatever the level.
 */
export function debugToggle(
  logging: { setLevel(level: LevelWithSilent): void; level(): LevelWithSilent },
  configured: LevelWithSilent,
  log: Logger,
): () => void {
  const other: LevelWithSilent = configured === "debug" || configured === "trace" ? "info" : "debug";
  return () => {
    const next = logging.level() === configured ? other : configured;
    logging.setLevel(next);
    log.warn({ log_level: next, configured }, `log level now ${next} (SIGUSR2 toggles between ${configured} and ${other})`);
  };
}

/**
 * An uncaught exception or unhandled rejection is logged at fatal, with the error, and the process
 * exits 1 for systemd to restart it. The root logger writes synchronously (createRootLogger), so the
 * line is out before the exit.
 */
function exitOnFatalErrors(logger: Logger): void {
  const fatal = (what: string) => (error: unknown) => {
    logger.fatal({ err: error }, `${what}; exiting for systemd to restart`);
    process.exit(EXIT.FAILURE);
  };
  process.on("uncaughtException", fatal("uncaught exception"));
  process.on("unhandledRejection", fatal("unhandled rejection"));
}

/**
 * Closes a Node inspector opened by `--inspect` (in NODE_OPTIONS or node's own options): anyone on the
 * host could run code in the station through it. It has been listening since Node started, so this
 * narrows the exposure rather than removing it; `--inspect-brk` and `--inspect-wait` hold the process
 * before this code runs at all. SIGUSR1 cannot open it (the launcher catches that signal).
 */
async function closeInspector(logger: Logger): Promise<void> {
  let inspector: typeof Inspector;
  try {
    inspector = await import("node:inspector");
  } catch {
    return; // a Node built without the inspector
  }
  const url = inspector.url();
  if (url === undefined) return;
  // Closed before the line is written: whoever reads the line finds the port closed.
  inspector.close();
  logger.warn(
    { inspector: new URL(url).host },
    "the Node inspector was opened by --inspect (NODE_OPTIONS or node's options): closed it; smartbin run accepts no debugger",
  );
}
