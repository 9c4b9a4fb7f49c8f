/** Problem texts for files the config names that cannot be read, shared by the config's checks. */

/** `ENOENT: no such file or directory, open 'x'` -> `no such file or directory (ENOENT)`. */
export function readFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = {
    ENOENT: "no such file or directory",
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    EISDIR: "is a directory",
    ENOTDIR: "a part of the path is not a directory",
    ELOOP: "too many symbolic links",
  };
  const reason = code !== undefined ? reasons[code] : undefined;
  return reason ? `${reason} (${code})` : oneLine(err.message);
}

/** A message on one line (a problem is one line of `config check`'s output). */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, " ");
}
