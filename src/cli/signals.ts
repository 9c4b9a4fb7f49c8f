/**
 * The signals the launcher (`bin/smartbin.js`) catches from its first line and never lets go of.
 * SIGTERM and SIGINT stop; SIGHUP would end the process by default (a closed terminal) and SIGUSR1
 * would open the Node inspector on 127.0.0.1:9229 (a JS listener replaces Node's own handler; checked
 * on Node 22, 24 and 26 by test/cli/signals.test.ts), so both are caught too; SIGUSR2, whose default
 * action ends the process (signal(7)), toggles the daemon's debug logging.
 */
export const CAUGHT_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2"] as const;

/** One of {@link CAUGHT_SIGNALS}. */
export type CaughtSignal = (typeof CAUGHT_SIGNALS)[number];

/**
 * The launcher's hand-over of the signals it caught. Listeners are never removed: removing the last
 * listener of a signal restores its default action and drops a signal that is already pending, which
 * is how a SIGTERM in the daemon's first half second used to be lost (issue 6).
 *
 * Until a command claims them, SIGTERM and SIGINT end the process at once with exit 0 (nothing has
 * been opened yet) and SIGHUP, SIGUSR1 and SIGUSR2 are kept for the command. So a command that opens
 * anything, or runs for more than a moment, claims the signals before it opens anything.
 */
export interface Signals {
  /**
   * From now on, every caught signal goes to `handler` (replacing an earlier one); the kept SIGHUP,
   * SIGUSR1 and SIGUSR2 are delivered to it at once, in the order they came.
   */
  claim(handler: (signal: CaughtSignal) => void): void;
}
