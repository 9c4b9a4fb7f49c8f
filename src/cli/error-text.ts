import { SmartbinError } from "../errors.js";

/**
 * A failure as the rest of a command's one stderr line: the error's message, followed by its
 * cause's message for a {@link SmartbinError} that has one (the SQLite or file-system reason).
 */
export function errorText(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const reason = e instanceof SmartbinError && e.cause instanceof Error ? `: ${e.cause.message}` : "";
  return e.message + reason;
}
