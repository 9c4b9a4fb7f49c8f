import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

/**
 * The one root logger, made in the composition root; modules get `root.child({ module })`.
 * JSON lines (journald keeps them) on `fd` 1 (stdout, for `smartbin run`) or 2 (stderr, for commands
 * whose stdout is data). Secrets are redacted wherever they appear in logged objects; card ids are
 * never passed to the logger in full (see `maskCardId`).
 */
export function createRootLogger(opts: { level: LevelWithSilent; fd: 1 | 2; name?: string }): Logger {
  return pino(
    {
      name: opts.name ?? "smartbin",
      level: opts.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ["password", "*.password", "*.*.password", "key", "*.key", "*.*.key"],
        censor: "[redacted]",
      },
    },
    // Synchronous writes: a fatal error's last line is flushed before the process exits.
    pino.destination({ dest: opts.fd, sync: true }),
  );
}
