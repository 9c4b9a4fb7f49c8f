/**
 * Feeds the systemd watchdog (systemd.service(5), `WatchdogSec=`) only while the station turns:
 * every `intervalMs` (half of `WATCHDOG_USEC`, sd_watchdog_enabled(3)) it sends `WATCHDOG=1` if no
 * registered loop is stuck ({@link Liveness.stuck}). The ping runs on the event loop's own timer, so
 * a blocked or busy event loop sends nothing either; systemd then aborts and restarts the station
 * (`Restart=always`). A loop that is merely waiting (an unplugged scale, an absent broker) is not
 * stuck, so such a station keeps being fed.
 */
import type { Logger } from "../adapters/log/logger.js";
import type { Clock } from "./clock.js";
import type { Liveness } from "./liveness.js";

/** What {@link startWatchdog} needs. */
export interface WatchdogDeps {
  clock: Clock;
  liveness: Liveness;
  /** Sends one keep-alive (`WATCHDOG=1`). */
  ping(): void;
  /** The ping period in ms: half of the manager's `WATCHDOG_USEC` (sd_watchdog_enabled(3)). */
  intervalMs: number;
  logger: Logger;
}

/**
 * Pings once at once (the manager's timer starts at `READY=1`), then every `intervalMs` while
 * nothing is stuck. A stuck loop is logged once per episode, at error, by name; feeding resumes
 * (and is logged) if it turns again before systemd acts.
 *
 * @returns a function that stops the pings (at shutdown, after `STOPPING=1`).
 */
export function startWatchdog(deps: WatchdogDeps): () => void {
  const log = deps.logger;
  let stuckLogged = false;
  const tick = () => {
    const stuck = deps.liveness.stuck();
    if (stuck.length === 0) {
      if (stuckLogged) log.warn("every loop turns again; feeding the systemd watchdog again");
      stuckLogged = false;
      deps.ping();
      return;
    }
    if (!stuckLogged) {
      stuckLogged = true;
      log.error(
        { stuck: stuck.map((s) => ({ loop: s.name, busy_for_ms: Math.round(s.busyForMs), limit_ms: s.limitMs })) },
        "a loop is stuck: the systemd watchdog is no longer fed, and systemd will restart the station",
      );
    }
  };
  tick();
  return deps.clock.every(deps.intervalMs, tick);
}
