import type { Logger } from "../adapters/log/logger.js";
import { EXIT } from "./exit-codes.js";
import type { CaughtSignal, Signals } from "./signals.js";

/**
 * How long a shutdown may take, from the first SIGTERM or SIGINT (during start-up too), before the
 * daemon exits anyway: below the contract's 10 s, with room for a slow board.
 */
export const SHUTDOWN_LIMIT_MS = 8_000;

/** What {@link claimDaemonSignals} reports: whether, and by which signal, a stop was asked for. */
export interface StopRequest {
  /** The first SIGTERM or SIGINT, once one has come. */
  readonly signal: CaughtSignal | undefined;
  /** Resolves with that signal. */
  readonly requested: Promise<CaughtSignal>;
}

/**
 * The daemon's signal handling (contract.md section 1): the first SIGTERM or SIGINT asks for a clean
 * stop and arms a hard limit of `limitMs` (exit 1 with an error line if the stop hangs); a later one
 * is logged and changes nothing; SIGHUP calls `reload` (the config is read again: issue 10 item 3;
 * never ends the process); SIGUSR1 is logged and ignored, never opening the inspector; SIGUSR2 calls
 * `toggleDebug` (debug logging on and off at run time).
 *
 * @param deps.exit ends the process when the limit passes; `process.exit` unless a test passes one.
 */
export function claimDaemonSignals(deps: {
  signals: Signals;
  logger: Logger;
  limitMs?: number;
  exit?: (code: number) => void;
  /** SIGHUP: reload the configuration (absent: the request is only logged). */
  reload?: () => void;
  toggleDebug?: () => void;
}): StopRequest {
  const { logger } = deps;
  const limitMs = deps.limitMs ?? SHUTDOWN_LIMIT_MS;
  const exit = deps.exit ?? ((code: number) => process.exit(code));
  let signal: CaughtSignal | undefined;
  let resolve!: (s: CaughtSignal) => void;
  const requested = new Promise<CaughtSignal>((r) => (resolve = r));

  deps.signals.claim((caught) => {
    switch (caught) {
      case "SIGTERM":
      case "SIGINT":
        if (signal !== undefined) {
          logger.warn({ signal: caught, first: signal, limit_ms: limitMs }, "already shutting down; the stop limit still applies");
          return;
        }
        signal = caught;
        // Unref'd: a stop that finishes in time ends the process before it fires.
        setTimeout(() => {
          logger.error({ signal: caught, limit_ms: limitMs }, "shutdown did not finish within the limit; exiting anyway");
          exit(EXIT.FAILURE);
        }, limitMs).unref();
        resolve(caught);
        return;
      case "SIGHUP":
        if (signal !== undefined || deps.reload === undefined) {
          logger.info({ signal: caught }, "configuration reload asked for, but the station is not running (starting or stopping): ignored");
          return;
        }
        logger.info({ signal: caught }, "configuration reload asked for");
        try {
          deps.reload();
        } catch (err) {
          logger.error({ err, signal: caught }, "configuration reload failed; the running configuration stays");
        }
        return;
      case "SIGUSR1":
        logger.info({ signal: caught }, "SIGUSR1 ignored: smartbin run never opens the Node inspector");
        return;
      case "SIGUSR2":
        deps.toggleDebug?.();
        return;
    }
  });
  return {
    get signal() {
      return signal;
    },
    requested,
  };
}
