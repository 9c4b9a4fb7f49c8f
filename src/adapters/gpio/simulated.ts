import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import type { TimerPort } from "../serial/timer-port.js";
import { asError, openFailed, type DriverEvents, type DriverLine, type DriverLines, type GpioDriver } from "./driver.js";
import type { GpioLineFailure } from "./gpio-port.js";

/** How often input files are read: the contract asks for at least every 20 ms. */
export const SIMULATED_POLL_MS = 10;

/** Options of {@link SimulatedDriver}. */
export interface SimulatedDriverOptions {
  /** `gpio.simulated_dir`, already resolved against the config file's folder. Created if missing. */
  dir: string;
  timers: TimerPort;
  logger: Logger;
  /** Poll period of the input files in milliseconds; default {@link SIMULATED_POLL_MS}. */
  pollMs?: number;
}

/** What one input file says: a level, or why it says none. */
export type SimulatedReading = { high: boolean } | { invalid: string };

/**
 * Parses an input file's content (contract.md section 2, "Simulated backend"): the first character
 * is the level the pin would read, `0` or `1`; trailing whitespace is ignored; anything else (an
 * empty file, `2`, `1x`) is no level.
 */
export function parseSimulatedLevel(content: string): SimulatedReading {
  const text = content.trimEnd();
  if (text === "0" || text === "1") return { high: text === "1" };
  const shown = text.length > 20 ? `${text.slice(0, 20)}…` : text;
  return { invalid: `content ${JSON.stringify(shown)} is not 0 or 1` };
}

/**
 * The `simulated` backend (contract.md section 2): one file per line in `dir`, named by the line
 * number (`17`), holding the physical level.
 *
 * - Inputs: every file is read every `pollMs` (10 ms). A missing or unreadable file, or other
 *   content, reads as the input's inactive level (physical 1 for an active-low input: a missing
 *   fire file is no fire), and is logged once at warn, with the reason, until the file is valid
 *   again (logged at info). That is a reading, not a line failure: no `error` event.
 * - Outputs: written at `open` and at every change, atomically: a temporary file in the same folder
 *   (`.17.tmp-PID`) renamed over `17` (rename(2) replaces the target atomically within a file
 *   system), so a reader never sees a half-written file. A write that fails is an `error` event of
 *   that line.
 * - Edge inputs (Wiegand D0/D1, an extension of the contract's files): file `<line>.edges`, to
 *   which a simulator appends one line per falling edge, its timestamp in microseconds (any
 *   monotonic origin, the same for both lines). Every poll reads what was appended since the last
 *   one (a file that shrank is read again from its start) and reports each complete line as
 *   `events.edge`; other lines are skipped. A missing file is no edges.
 * - `close` stops polling and leaves the files as they are.
 */
export class SimulatedDriver implements GpioDriver {
  private poll: unknown;
  private closed = false;
  private inputs: DriverLine[] = [];
  private readonly invalid = new Map<number, string>();
  private events: DriverEvents | undefined;
  /** Edge inputs: how far each `<line>.edges` file has been read, and its unfinished last line. */
  private readonly edgeFiles = new Map<number, { offset: number; partial: string }>();
  readonly timesEdges = true;

  constructor(private readonly opts: SimulatedDriverOptions) {}

  open(lines: DriverLines, events: DriverEvents): Promise<Map<number, boolean>> {
    this.events = events;
    const failures: GpioLineFailure[] = [];
    try {
      mkdirSync(this.opts.dir, { recursive: true });
    } catch (err) {
      this.opts.logger.warn({ dir: this.opts.dir, err: asError(err).message }, "gpio simulated_dir cannot be created");
    }
    for (const o of lines.outputs) {
      try {
        this.writeFile(o.line, o.high);
      } catch (err) {
        failures.push({ line: o.line, name: o.name, error: asError(err) });
      }
    }
    if (failures.length > 0) return Promise.reject(openFailed("simulated", failures));
    this.inputs = lines.inputs;
    const initial = new Map<number, boolean>();
    for (const i of lines.inputs) initial.set(i.line, this.readInput(i));
    for (const e of lines.edgeInputs ?? []) this.edgeFiles.set(e.line, { offset: this.edgeFileSize(e.line), partial: "" });
    if (lines.inputs.length > 0 || this.edgeFiles.size > 0) this.schedule();
    this.opts.logger.info({ dir: this.opts.dir }, "gpio simulated backend: one file per line");
    return Promise.resolve(initial);
  }

  write(line: number, high: boolean): void {
    if (this.closed) return;
    try {
      this.writeFile(line, high);
    } catch (err) {
      this.events?.error(line, asError(err));
    }
  }

  close(): Promise<void> {
    this.closed = true;
    if (this.poll !== undefined) this.opts.timers.clearTimeout(this.poll);
    this.poll = undefined;
    return Promise.resolve();
  }

  private schedule(): void {
    this.poll = this.opts.timers.setTimeout(() => {
      if (this.closed) return;
      for (const i of this.inputs) this.events?.level(i.line, this.readInput(i));
      for (const line of this.edgeFiles.keys()) this.readEdges(line);
      this.schedule();
    }, this.opts.pollMs ?? SIMULATED_POLL_MS);
  }

  /** The input's physical level; the inactive level (logged once) when the file says none. */
  private readInput(input: DriverLine): boolean {
    const path = join(this.opts.dir, String(input.line));
    let reading: SimulatedReading;
    try {
      reading = parseSimulatedLevel(readFileSync(path, "utf8"));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      reading = { invalid: e.code === "ENOENT" ? "no such file" : `cannot read: ${e.code ?? e.message}` };
    }
    if ("high" in reading) {
      if (this.invalid.delete(input.line)) {
        this.opts.logger.info({ line: input.line, name: input.name, path }, "gpio simulated input file is valid again");
      }
      return reading.high;
    }
    if (this.invalid.get(input.line) !== reading.invalid) {
      if (!this.invalid.has(input.line)) {
        this.opts.logger.warn(
          { line: input.line, name: input.name, path, reason: reading.invalid },
          "gpio simulated input file has no level: reads as inactive",
        );
      }
      this.invalid.set(input.line, reading.invalid);
    }
    return input.activeLow; // the inactive physical level
  }

  private edgeFileSize(line: number): number {
    try {
      const fd = openSync(join(this.opts.dir, `${line}.edges`), "r");
      try {
        return fstatSync(fd).size;
      } finally {
        closeSync(fd);
      }
    } catch {
      return 0;
    }
  }

  /** Reports the edges appended to `<line>.edges` since the last read (edges written before `open` are not replayed). */
  private readEdges(line: number): void {
    const state = this.edgeFiles.get(line)!;
    let text = "";
    try {
      const fd = openSync(join(this.opts.dir, `${line}.edges`), "r");
      try {
        const size = fstatSync(fd).size;
        if (size < state.offset) state.offset = 0;
        const buf = Buffer.alloc(Math.min(size - state.offset, 64 * 1024));
        const n = buf.length > 0 ? readSync(fd, buf, 0, buf.length, state.offset) : 0;
        state.offset += n;
        text = buf.subarray(0, n).toString("latin1");
      } finally {
        closeSync(fd);
      }
    } catch {
      return; // no file yet: no edges
    }
    const parts = (state.partial + text).split("\n");
    state.partial = parts.pop() ?? "";
    for (const part of parts) {
      const t = part.trim();
      if (/^\d+$/.test(t)) this.events?.edge?.(line, Number(t));
    }
  }

  private writeFile(line: number, high: boolean): void {
    const target = join(this.opts.dir, String(line));
    const temp = join(this.opts.dir, `.${line}.tmp-${process.pid}`);
    try {
      writeFileSync(temp, high ? "1\n" : "0\n");
      renameSync(temp, target);
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
  }
}
