/**
 * Expected faults: conditions of the field, not bugs (issue 10, item 6): a serial port that is
 * missing, not ours or busy, a broker that refuses or cannot be found. They are logged as one line
 * with the reason (`no such file or directory (ENOENT)`), never with a stack trace.
 *
 * Node's errors carry the errno name in `code` (`ECONNREFUSED`, from libuv). serialport's native
 * binding does not: its messages are `"Error: " + strerror(errno) + ", cannot open PATH"`
 * (@serialport/bindings-cpp src/serialport_unix.cpp), so the errno is recovered from glibc's
 * strerror text (strerror(3); the texts are glibc's and musl's, which agree on these).
 */

/**
 * The errno names that are expected faults, with their text as this product writes it, and the
 * product's own error codes for conditions of the field (a second station started on a database
 * that one already uses).
 */
const EXPECTED: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EBUSY: "device or resource busy",
  EAGAIN: "locked by another process",
  ENXIO: "no such device or address",
  ENODEV: "no such device",
  ENOTTY: "not a serial device",
  EISDIR: "a directory, not a serial device",
  EIO: "input/output error",
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed (temporary)",
  ETIMEDOUT: "timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  OUTBOX_LOCKED: "the outbox database is in use by another station",
  /** `newerSchemaError` (outbox/schema.ts): a rollback past what the database allows. */
  NEWER_SCHEMA: "the outbox database was written by a newer smartbin-edge",
};

/** strerror(3) texts (glibc and musl) of the errno values serialport reports only as text. */
const STRERROR: readonly (readonly [RegExp, string])[] = [
  [/No such file or directory/i, "ENOENT"],
  [/Permission denied/i, "EACCES"],
  [/Operation not permitted/i, "EPERM"],
  [/Device or resource busy/i, "EBUSY"],
  // serialport's flock(LOCK_EX | LOCK_NB) failure: "Error Resource temporarily unavailable Cannot lock port".
  [/Resource temporarily unavailable|Cannot lock port/i, "EAGAIN"],
  [/No such device or address/i, "ENXIO"],
  [/No such device\b/i, "ENODEV"],
  [/Inappropriate ioctl for device|Not a typewriter/i, "ENOTTY"],
  [/Is a directory/i, "EISDIR"],
  [/Input\/output error|I\/O error/i, "EIO"],
];

/** An expected fault found in an error: its errno name and the reason in words. */
export interface ExpectedFault {
  /** The errno name (`ENOENT`, `ECONNREFUSED`). */
  code: string;
  /** `no such file or directory (ENOENT)`. */
  reason: string;
}

/**
 * The expected fault in `err` or its `cause` chain (at most 8 deep), from a `code` property or a
 * strerror text in the message; `undefined` for anything else (a bug: log it with its stack).
 */
export function expectedFault(err: unknown): ExpectedFault | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === "string" && Object.hasOwn(EXPECTED, code)) return fault(code);
    if ((current as { context?: { reason?: unknown } }).context?.reason === "newer_schema") return fault("NEWER_SCHEMA");
    for (const [pattern, errno] of STRERROR) if (pattern.test(current.message)) return fault(errno);
    current = current.cause;
  }
  return undefined;
}

function fault(code: string): ExpectedFault {
  return { code, reason: `${EXPECTED[code] ?? code} (${code})` };
}

/**
 * The messages of `err` and its causes as one line, `a: b: c`, without the `Error: ` that
 * serialport's native messages start with (so never "Error: Error:") and without a cause's message
 * that the message before it already contains.
 */
export function messageChain(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    const text = (current instanceof Error ? current.message : typeof current === "string" ? current : JSON.stringify(current)).replace(/^(?:Error:?\s+)+/, "").trim();
    if (text !== "" && !parts.some((p) => p.includes(text))) parts.push(text);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ");
}
