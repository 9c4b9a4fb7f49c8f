import { createRootLogger } from "../adapters/log/logger.js";
import { loadConfigOrReport } from "./load.js";
import { EXIT } from "./exit-codes.js";

/** How long a clean shutdown may take before the process gives up (contract: exit within 10 s). */
const SHUTDOWN_LIMIT_MS = 8_000;

/**
 * `smartbin run`: validates the config (every problem on stderr, exit 78, before touching any device,
 * database or broker), starts the station, and on SIGTERM or SIGINT stops it cleanly and exits 0.
 * Logs are JSON lines on stdout for journald.
 */
export async function runDaemon(configFile: string): Promise<number> {
  // Signals are caught from the first moment: a stop during start-up is still a clean exit 0, and a
  // second signal while shutting down does not cut the shutdown short.
  let signalled: NodeJS.Signals | undefined;
  let onSignal: ((signal: NodeJS.Signals) => void) | undefined;
  const stopRequested = new Promise<NodeJS.Signals>((resolve) => {
    onSignal = (signal) => {
      if (signalled !== undefined) return;
      signalled = signal;
      resolve(signal);
    };
  });
  process.on("SIGTERM", onSignal!);
  process.on("SIGINT", onSignal!);

  const config = loadConfigOrReport(configFile, (line) => void process.stderr.write(line + "\n"));
  if (config === null) return EXIT.CONFIG;

  const logger = createRootLogger({ level: config.log.level, fd: 1 });
  process.on("uncaughtException", (error) => {
    logger.fatal({ err: error }, "uncaught exception; exiting for systemd to restart");
    process.exit(EXIT.FAILURE);
  });
  process.on("unhandledRejection", (reason) => {
    logger.fatal({ err: reason }, "unhandled rejection; exiting for systemd to restart");
    process.exit(EXIT.FAILURE);
  });
  if (signalled !== undefined) {
    logger.info({ signal: signalled }, "stopped before start");
    return EXIT.OK;
  }

  const { Station } = await import("../app/station.js");
  const station = new Station({ config, logger });
  try {
    station.start();
  } catch (error) {
    logger.fatal({ err: error, config: configFile }, "station cannot start");
    return EXIT.FAILURE;
  }

  const signal = await stopRequested;
  logger.info({ signal }, "shutting down");
  const limit = setTimeout(() => {
    logger.error({ limit_ms: SHUTDOWN_LIMIT_MS }, "clean shutdown took too long; exiting anyway");
    process.exit(EXIT.OK);
  }, SHUTDOWN_LIMIT_MS);
  limit.unref();
  await station.stop();
  clearTimeout(limit);
  return EXIT.OK;
}
