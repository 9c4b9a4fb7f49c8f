/**
 * The daemon's side of systemd supervision (systemd/smartbin.service: `Type=notify`, `WatchdogSec=`):
 * `READY=1` once the station has started, the watchdog keep-alive fed by the station's liveness
 * (src/app/watchdog.ts), and `STOPPING=1` when shutdown begins (sd_notify(3)). Outside systemd
 * (`$NOTIFY_SOCKET` unset) it does nothing at all.
 */
import type { Logger } from "../adapters/log/logger.js";
import { SystemdNotifier, watchdogIntervalMs } from "../adapters/systemd/notify.js";
import { systemClock, type Clock } from "./clock.js";
import type { Liveness } from "./liveness.js";
import { startWatchdog } from "./watchdog.js";

/** What {@link superviseBySystemd} returns: the shutdown half. */
export interface Supervision {
  /** Sends `STOPPING=1` and stops the keep-alive. Idempotent. */
  stopping(): void;
}

/**
 * Call once the station has started (database open, every device being opened or read, publisher
 * running; neither a device nor the broker need be there): sends `READY=1` and, when the manager
 * asks for a watchdog (`$WATCHDOG_USEC`, sd_watchdog_enabled(3)), starts feeding it.
 */
export function superviseBySystemd(deps: {
  liveness: Liveness;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  pid?: number;
  clock?: Clock;
}): Supervision {
  const env = deps.env ?? process.env;
  const pid = deps.pid ?? process.pid;
  const notifier = new SystemdNotifier({ env, pid, logger: deps.logger });
  if (!notifier.enabled) return { stopping: () => undefined };
  notifier.ready();
  const intervalMs = watchdogIntervalMs(env, pid);
  let stopWatchdog: () => void = () => undefined;
  if (intervalMs !== undefined) {
    deps.logger.info({ interval_ms: intervalMs }, "ready; feeding the systemd watchdog while every loop turns");
    stopWatchdog = startWatchdog({
      clock: deps.clock ?? systemClock,
      liveness: deps.liveness,
      ping: () => notifier.watchdog(),
      intervalMs,
      logger: deps.logger,
    });
  } else {
    deps.logger.info("ready (reported to systemd); no watchdog asked for");
  }
  let stopped = false;
  return {
    stopping: () => {
      if (stopped) return;
      stopped = true;
      stopWatchdog();
      notifier.stopping();
    },
  };
}
