import type * as Inspector from "node:inspector";
import { SmartbinError } from "../errors.js";
import { createRootLogger, type Logger } from "../adapters/log/logger.js";
import { claimDaemonSignals } from "./daemon-signals.js";
import { loadConfigOrReport } from "./load.js";
import { EXIT } from "./exit-codes.js";
import type { Signals } from "./signals.js";

/**
 * `smartbin run`: validates the config (every problem on stderr, exit 78, before touching any device,
 * database or broker), starts the station, and on SIGTERM or SIGINT stops it cleanly and exits 0,
 * during start-up too. Logs are JSON lines on stdout for journald.
 *
 * @param signals the launcher's caught signals (see `claimDaemonSignals` for what each one does).
 * @returns 0 after a clean stop; 1 when the station cannot start or stop; 78 for an invalid config.
 */
export async function runDaemon(configFile: string, signals: Signals): Promise<number> {
  // Synchronous up to the claim, so no signal is dispatched in between: until the claim, the
  // launcher ends the process on SIGTERM and SIGINT itself, which is clean while nothing is open.
  const config = loadConfigOrReport(configFile, (line) => void process.stderr.write(line + "\n"));
  if (config === null) return EXIT.CONFIG;
  const logger = createRootLogger({ level: config.log.level, fd: 1 });
  const log = logger.child({ module: "run" });
  exitOnFatalErrors(log);
  /** The running station, once it has started: what SIGHUP reloads. */
  let running: { reload(file: string): unknown } | undefined;
  const stop = claimDaemonSignals({ signals, logger: log, reload: () => void running?.reload(configFile) });
  await closeInspector(log);

  const { Station } = await import("../app/station.js");
  const { Liveness } = await import("../app/liveness.js");
  const { superviseBySystemd } = await import("../app/supervision.js");
  if (stop.signal !== undefined) {
    log.info({ signal: stop.signal }, "stopped during start-up, before the station opened anything");
    return EXIT.OK;
  }
  const liveness = new Liveness(() => performance.now());
  const station = new Station({ config, logger, liveness });
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

  const signal = await stop.requested;
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
  logger.warn(
    { inspector: new URL(url).host },
    "the Node inspector was opened by --inspect (NODE_OPTIONS or node's options): closing it; smartbin run accepts no debugger",
  );
  inspector.close();
}
