import { SmartbinError } from "../../errors.js";
import type { GpioLineFailure } from "./gpio-port.js";

/**
 * What a GPIO backend implements under the port (./line-port.ts): physical levels only (`high`:
 * the pin is at 1), no debounce, no active-low, no validation of the spec. One driver instance
 * serves one `open` … `close`.
 */
export interface GpioDriver {
  /**
   * Claims the lines: outputs as outputs at their physical level `high`, inputs as inputs. Resolves
   * with each input's physical level. Rejects with {@link openFailed} listing every line that
   * failed, after releasing what it had claimed; or with a `GPIO_BACKEND_UNAVAILABLE` error.
   */
  open(lines: DriverLines, events: DriverEvents): Promise<Map<number, boolean>>;
  /** Sets an open output's physical level; failures go to `events.error`, never thrown. */
  write(line: number, high: boolean): void;
  /** Releases every line; reports nothing afterwards. */
  close(): Promise<void>;
  /**
   * True for a driver that takes `edgeInputs` and reports their falling edges with kernel
   * timestamps (`events.edge`); others get no edge inputs (the port refuses them first).
   */
  readonly timesEdges?: boolean;
}

/** A line as a driver sees it; `activeLow` lets a driver name the inactive level (simulated files). */
export interface DriverLine {
  line: number;
  name: string;
  activeLow: boolean;
}

export interface DriverLines {
  inputs: DriverLine[];
  outputs: Array<DriverLine & { high: boolean }>;
  /** Lines whose falling edges are timed (only for drivers with `timesEdges`); absent: none. */
  edgeInputs?: DriverLine[];
}

export interface DriverEvents {
  /** A raw reading of an input (an edge or a poll), physical level. Repeats are allowed. */
  level(line: number, high: boolean): void;
  /** A line failed while running. */
  error(line: number, error: Error): void;
  /** A falling edge of an edge input, at the kernel's timestamp in microseconds. */
  edge?(line: number, tUs: number): void;
}

/** The `GPIO_OPEN_FAILED` error for `failures` (one line each: `17 (kitchen.lock): EBUSY …`). */
export function openFailed(backend: string, failures: GpioLineFailure[]): SmartbinError {
  const list = failures.map((f) => `${f.line} (${f.name}): ${f.error.message}`).join("; ");
  return new SmartbinError("GPIO_OPEN_FAILED", `gpio (${backend}): cannot claim line ${list}`, { backend, failures });
}

/** `err` as an Error (tools and callbacks may throw anything). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
