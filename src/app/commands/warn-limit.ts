/**
 * Warnings about bad input, at most one line per kind per interval (issue 11, "Bad input": the log
 * not flooded). The rest are counted, and the next line written says how many were suppressed.
 */
import type { Logger } from "../../adapters/log/logger.js";

/** Writes at most one warn line per kind per `intervalMs` of `mono` time. */
export class WarnLimiter {
  private readonly kinds = new Map<string, { lastMono: number; suppressed: number }>();

  constructor(
    private readonly deps: { logger: Logger; mono: () => number; intervalMs: number },
  ) {}

  /** A warn line of `kind` with `fields` and `msg`, or a count when one was written less than the interval ago. */
  warn(kind: string, fields: Record<string, unknown>, msg: string): void {
    const now = this.deps.mono();
    const seen = this.kinds.get(kind);
    if (seen !== undefined && now - seen.lastMono < this.deps.intervalMs) {
      seen.suppressed++;
      return;
    }
    const suppressed = seen?.suppressed ?? 0;
    this.kinds.set(kind, { lastMono: now, suppressed: 0 });
    this.deps.logger.warn({ kind, ...fields, ...(suppressed > 0 ? { suppressed, suppressed_window_s: this.deps.intervalMs / 1000 } : {}) }, msg);
  }

  /** Lines not written since the last one of `kind`. */
  suppressed(kind: string): number {
    return this.kinds.get(kind)?.suppressed ?? 0;
  }
}
