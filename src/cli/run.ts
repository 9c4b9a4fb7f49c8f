import { createRootLogger } from "../adapters/log/logger.js";
import { Station } from "../app/station.js";
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

  const station = new Station({ config, logger });
  try {
    station.start();
  } catch (error) {
    logger.fatal({ err: error, config: configFile }, "station cannot start");
    return EXIT.FAILURE;
  }

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
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
