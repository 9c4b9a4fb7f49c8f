/** Why a commit failed, in the `reason` of its error's context. */
export type CommitFailure =
  /** Another connection holds the write lock (SQLITE_BUSY): the same commit will succeed later. */
  | "busy"
  /** No space left (SQLITE_FULL), even after the reserve file was released. */
  | "full"
  /** Anything else (I/O error, closed outbox, invalid event). */
  | "failed";

/** The {@link CommitFailure} of a SQLite (or other) error. */
export function failureOf(err: unknown): CommitFailure {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return "failed";
  if (code.startsWith("SQLITE_BUSY")) return "busy";
  if (code === "SQLITE_FULL") return "full";
  return "failed";
}
