import { createRequire } from "node:module";
import type PinoPretty from "pino-pretty";
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from "pino";
import { expectedFault, messageChain } from "./faults.js";

export type { Logger };

/** How often the same warning or error of the same module may be written (see {@link RateLimit}). */
export const RATE_LIMIT_WINDOW_MS = 30_000;
/** Distinct messages remembered by the rate limit; the longest unused is forgotten first. */
const RATE_LIMIT_KEYS = 1_000;

/**
 * The rate limit of repeating warnings and errors (issue 10, item 6): the same message at the same
 * level from the same logger (same bindings: module, device, path) is written at most once per
 * `windowMs`; the next one written after that carries `suppressed`, the count dropped in between.
 * Lines below warn are never dropped (debug is for looking at everything).
 */
export interface RateLimit {
  windowMs: number;
  /** A monotonic clock in ms; default `performance.now()`. Tests pass a manual one. */
  now?: () => number;
}

/** Options of {@link createLogging}. */
export interface LoggingOptions {
  level: LevelWithSilent;
  /** 1 (stdout, for `smartbin run`) or 2 (stderr, for commands whose stdout is data); ignored with `stream`. */
  fd: 1 | 2;
  name?: string;
  /** Where lines go instead of `fd`: a pretty-printer ({@link prettyStream}), or a test's sink. */
  stream?: DestinationStream;
  /** Default {@link RATE_LIMIT_WINDOW_MS} on the system clock; `false`: every line is written. */
  rateLimit?: RateLimit | false;
}

/** The root logger and its run-time level control. */
export interface Logging {
  logger: Logger;
  /** Sets the level of the root and of every child made from it so far or later. */
  setLevel(level: LevelWithSilent): void;
  /** The current level. */
  level(): LevelWithSilent;
}

/**
 * The one root logger, made in the composition root; modules get `root.child({ module })`.
 * JSON lines (journald keeps them) on `fd` 1 (stdout, for `smartbin run`) or 2 (stderr, for commands
 * whose stdout is data). Secrets are redacted wherever they appear in logged objects; card ids are
 * never passed to the logger in full (see `maskCardId`). Errors that are expected faults
 * (faults.ts: a missing port, a refused connection) are written without their stack.
 */
export function createRootLogger(opts: LoggingOptions): Logger {
  return createLogging(opts).logger;
}

/**
 * {@link createRootLogger}, with the level changeable at run time (SIGUSR2 in `smartbin run`).
 * pino gives a child the level its parent had when the child was made, so every child is kept
 * (weakly: a dropped child is not kept alive) and set too.
 */
export function createLogging(opts: LoggingOptions): Logging {
  const children = new Set<WeakRef<Logger>>();
  const limit = opts.rateLimit === false ? undefined : rateLimiter(opts.rateLimit ?? { windowMs: RATE_LIMIT_WINDOW_MS });
  const logger = pino(
    {
      name: opts.name ?? "smartbin",
      level: opts.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ["password", "*.password", "*.*.password", "key", "*.key", "*.*.key"],
        censor: "[redacted]",
      },
      serializers: { err: serializeError },
      onChild: (child) => void children.add(new WeakRef(child)),
      ...(limit ? { hooks: { logMethod: limit } } : {}),
    },
    // Synchronous writes: a fatal error's last line is flushed before the process exits.
    opts.stream ?? pino.destination({ dest: opts.fd, sync: true }),
  );
  return {
    logger,
    setLevel(level) {
      logger.level = level;
      for (const ref of children) {
        const child = ref.deref();
        if (child === undefined) children.delete(ref);
        else child.level = level;
      }
    },
    level: () => logger.level as LevelWithSilent,
  };
}

/**
 * A readable log stream for `smartbin run --pretty` (colours only on a terminal), through
 * pino-pretty (the pino project's own formatter), written synchronously to `fd`. Loaded only when
 * asked for, and synchronously (pino-pretty is CommonJS), so the daemon can make it before it
 * claims its signals; under systemd the daemon writes JSON and does not pay for it.
 */
export function prettyStream(fd: 1 | 2): DestinationStream {
  const pretty = createRequire(import.meta.url)("pino-pretty") as typeof PinoPretty;
  return pretty({
    destination: fd,
    sync: true,
    colorize: (fd === 1 ? process.stdout : process.stderr).isTTY === true,
    translateTime: "SYS:yyyy-mm-dd HH:MM:ss.l",
    ignore: "pid,hostname,name",
    messageKey: "msg",
    singleLine: true,
  });
}

/**
 * pino's error serializer, except for expected faults (faults.ts): those become `{type, message,
 * code, fault}` with the messages of the cause chain in one line and no stack.
 */
function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const fault = expectedFault(err);
  if (fault === undefined) return pino.stdSerializers.err(err);
  const own = err as Error & { code?: unknown; context?: unknown };
  return {
    type: err.name,
    message: messageChain(err),
    ...(own.code !== undefined ? { code: own.code } : {}),
    fault: fault.code,
    ...(own.context !== undefined ? { context: own.context } : {}),
  };
}

/** pino's `hooks.logMethod` for a {@link RateLimit}. */
function rateLimiter(limit: RateLimit) {
  const now = limit.now ?? (() => performance.now());
  /** key -> when last written and how many were dropped since. */
  const seen = new Map<string, { writtenAt: number; dropped: number }>();
  return function (this: Logger, args: unknown[], method: (...a: unknown[]) => void, level: number): void {
    if (level < 40) {
      method.apply(this, args);
      return;
    }
    const [first, second] = args;
    const msg = typeof first === "string" ? first : typeof second === "string" ? second : first instanceof Error ? first.message : "";
    // The same message with a different error is not the same line: a second invalid config after a
    // first one must say its own problems (README, "Logs").
    const err = first instanceof Error ? first : typeof first === "object" && first !== null ? (first as { err?: unknown }).err : undefined;
    const cause = err instanceof Error ? err.message : "";
    const key = `${level}\u0000${JSON.stringify(this.bindings())}\u0000${msg}\u0000${cause}`;
    const t = now();
    const entry = seen.get(key);
    if (entry !== undefined && t - entry.writtenAt < limit.windowMs) {
      entry.dropped++;
      return;
    }
    seen.delete(key);
    seen.set(key, { writtenAt: t, dropped: 0 });
    if (seen.size > RATE_LIMIT_KEYS) seen.delete(seen.keys().next().value as string);
    if (entry === undefined || entry.dropped === 0) {
      method.apply(this, args);
      return;
    }
    const suppressed = entry.dropped;
    if (typeof first === "object" && first !== null && !(first instanceof Error)) method.apply(this, [{ ...first, suppressed }, ...args.slice(1)]);
    else if (first instanceof Error) method.apply(this, [{ err: first, suppressed }, ...args.slice(1)]);
    else method.apply(this, [{ suppressed }, ...args]);
  };
}
