import { createRootLogger } from "../adapters/log/logger.js";
import { EXIT } from "./exit-codes.js";
import type { Signals } from "./signals.js";

const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
type Level = (typeof LEVELS)[number];

/**
 * `smartbin demo [--seconds N]`: stdout carries only the events a central subscriber receives, one
 * CloudEvents JSON document per line; logs, progress and the closing summary go to stderr. Exits 0 at
 * the end of its time, on SIGINT and on SIGTERM, and on SIGHUP (its terminal closed); SIGUSR1 is ignored.
 */
export async function runDemoCommand(opts: { seconds: number; logLevel: string; signals: Signals }): Promise<number> {
  const err = (line: string): void => void process.stderr.write(line + "\n");
  if (!(LEVELS as readonly string[]).includes(opts.logLevel)) {
    err(`smartbin demo: --log-level expects one of ${LEVELS.join(", ")}, found "${opts.logLevel}"`);
    return EXIT.USAGE;
  }
  const logger = createRootLogger({ level: opts.logLevel as Level, fd: 2, name: "smartbin-demo" });
  // The handler stays for the whole run: a second Ctrl-C must not cut the closing summary short.
  let stop!: () => void;
  const interrupted = new Promise<void>((resolve) => (stop = resolve));
  opts.signals.claim((signal) => {
    if (signal !== "SIGUSR1") stop();
  });
  try {
    const { formatSummary, runDemo } = await import("../app/demo/demo.js");
    const summary = await runDemo({
      seconds: opts.seconds,
      logger,
      interrupted,
      onEvent: (payload) => void process.stdout.write(payload + "\n"),
      note: err,
    });
    for (const line of formatSummary(summary)) err(line);
    return EXIT.OK;
  } catch (error) {
    logger.fatal({ err: error }, "demo failed");
    return EXIT.FAILURE;
  }
}
