import type { Logger } from "pino";
import { SmartbinError } from "../../errors.js";
import type { TimerPort } from "../serial/timer-port.js";
import { Debouncer } from "./debounce.js";
import { asError, openFailed, type DriverEvents, type GpioDriver } from "./driver.js";
import type { GpioLineFailure, GpioOpenSpec, GpioPort } from "./gpio-port.js";

/** Options of {@link LinePort}. */
export interface LinePortOptions {
  /** The backend's name, for logs and errors. */
  backend: string;
  driver: GpioDriver;
  timers: TimerPort;
  logger: Logger;
}

interface InputState {
  name: string;
  activeLow: boolean;
  debouncer: Debouncer;
}

interface OutputState {
  name: string;
  activeLow: boolean;
  active: boolean;
}

/**
 * The {@link GpioPort} every backend shares: it checks the spec (each line once, integer offsets),
 * applies `activeLow` both ways, debounces inputs ({@link Debouncer}), writes an output only when
 * its level changes, and isolates the station from callbacks that throw. The backend is a
 * {@link GpioDriver} speaking physical levels.
 */
export class LinePort implements GpioPort {
  private readonly inputs = new Map<number, InputState>();
  private readonly outputs = new Map<number, OutputState>();
  private readonly inputCbs: Array<(line: number, active: boolean) => void> = [];
  private readonly errorCbs: Array<(line: number, error: Error) => void> = [];
  private readonly edgeCbs: Array<(line: number, tUs: number) => void> = [];
  private readonly edgeLines = new Map<number, string>();
  private phase: "new" | "opening" | "open" | "closed" = "new";

  constructor(private readonly opts: LinePortOptions) {}

  async open(spec: GpioOpenSpec): Promise<void> {
    if (this.phase !== "new") throw new Error(`GpioPort.open called twice (${this.phase})`);
    this.phase = "opening";
    const edgeInputs = spec.edgeInputs ?? [];
    const failures = checkSpec(spec);
    if (edgeInputs.length > 0 && this.opts.driver.timesEdges !== true) {
      const why = `gpio.backend ${this.opts.backend} cannot time pulses: a Wiegand reader needs gpio.backend gpiod (or simulated)`;
      for (const e of edgeInputs) failures.push({ line: e.line, name: e.name, error: new Error(why) });
    }
    if (failures.length > 0) {
      this.phase = "closed";
      throw openFailed(this.opts.backend, failures);
    }
    const events: DriverEvents = {
      level: (line, high) => {
        if (this.phase !== "open") return;
        const input = this.inputs.get(line);
        input?.debouncer.sample(high !== input.activeLow);
      },
      error: (line, error) => {
        if (this.phase === "closed") return;
        this.reportError(line, error);
      },
      edge: (line, tUs) => {
        if (this.phase !== "open" || !this.edgeLines.has(line)) return;
        for (const cb of this.edgeCbs) this.call(() => cb(line, tUs));
      },
    };
    let initial: Map<number, boolean>;
    try {
      initial = await this.opts.driver.open(
        {
          inputs: spec.inputs.map(({ line, name, activeLow }) => ({ line, name, activeLow })),
          outputs: spec.outputs.map(({ line, name, activeLow, initial }) => ({ line, name, activeLow, high: initial !== activeLow })),
          ...(edgeInputs.length > 0 ? { edgeInputs: edgeInputs.map(({ line, name }) => ({ line, name, activeLow: false })) } : {}),
        },
        events,
      );
    } catch (err) {
      this.phase = "closed";
      throw err;
    }
    for (const o of spec.outputs) this.outputs.set(o.line, { name: o.name, activeLow: o.activeLow, active: o.initial });
    for (const e of edgeInputs) this.edgeLines.set(e.line, e.name);
    for (const i of spec.inputs) {
      const high = initial.get(i.line) ?? i.activeLow; // a driver that could not tell: inactive
      const debouncer = new Debouncer(high !== i.activeLow, i.debounceMs, this.opts.timers, (active) => {
        this.opts.logger.debug({ line: i.line, name: i.name, active }, "gpio input changed");
        for (const cb of this.inputCbs) this.call(() => cb(i.line, active));
      });
      this.inputs.set(i.line, { name: i.name, activeLow: i.activeLow, debouncer });
    }
    this.phase = "open";
    this.opts.logger.info(
      {
        backend: this.opts.backend,
        inputs: spec.inputs.map((i) => ({ line: i.line, name: i.name, active: this.read(i.line) })),
        outputs: spec.outputs.map((o) => ({ line: o.line, name: o.name, active: o.initial })),
        ...(edgeInputs.length > 0 ? { edgeInputs: edgeInputs.map((e) => ({ line: e.line, name: e.name })) } : {}),
      },
      "gpio lines claimed",
    );
  }

  read(line: number): boolean {
    const input = this.inputs.get(line);
    if (input === undefined) throw new Error(`GPIO line ${line} is not an open input`);
    return input.debouncer.level;
  }

  write(line: number, active: boolean): void {
    const output = this.outputs.get(line);
    if (output === undefined || this.phase !== "open") throw new Error(`GPIO line ${line} is not an open output`);
    if (output.active === active) return;
    output.active = active;
    try {
      this.opts.driver.write(line, active !== output.activeLow);
    } catch (err) {
      this.reportError(line, asError(err)); // drivers report through events; a throw is still no crash
    }
  }

  onInput(cb: (line: number, active: boolean) => void): void {
    this.inputCbs.push(cb);
  }

  onError(cb: (line: number, error: Error) => void): void {
    this.errorCbs.push(cb);
  }

  onEdge(cb: (line: number, tUs: number) => void): void {
    this.edgeCbs.push(cb);
  }

  async close(): Promise<void> {
    if (this.phase === "closed") return;
    const wasOpen = this.phase === "open";
    this.phase = "closed";
    for (const input of this.inputs.values()) input.debouncer.cancel();
    if (wasOpen) await this.opts.driver.close();
  }

  private reportError(line: number, error: Error): void {
    const name = this.inputs.get(line)?.name ?? this.outputs.get(line)?.name ?? this.edgeLines.get(line);
    this.opts.logger.error({ line, name, err: error.message }, "gpio line failed");
    const wrapped =
      error instanceof SmartbinError ? error : new SmartbinError("GPIO_LINE_FAILED", `gpio line ${line} (${name ?? "?"}): ${error.message}`, { line, name }, { cause: error });
    for (const cb of this.errorCbs) this.call(() => cb(line, wrapped));
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.logger.error({ err: asError(err).message }, "gpio callback threw");
    }
  }
}

/** Every line used twice (inputs, outputs and edge inputs together) or not a non-negative integer. */
export function checkSpec(spec: GpioOpenSpec): GpioLineFailure[] {
  const failures: GpioLineFailure[] = [];
  const seen = new Map<number, string>();
  for (const l of [...spec.inputs, ...spec.outputs, ...(spec.edgeInputs ?? [])]) {
    if (!Number.isInteger(l.line) || l.line < 0) {
      failures.push({ line: l.line, name: l.name, error: new Error("a line is a non-negative integer offset") });
      continue;
    }
    const other = seen.get(l.line);
    if (other !== undefined) failures.push({ line: l.line, name: l.name, error: new Error(`line ${l.line} is already used by ${other}`) });
    else seen.set(l.line, l.name);
  }
  for (const i of spec.inputs) {
    if (!(i.debounceMs >= 0)) failures.push({ line: i.line, name: i.name, error: new Error("debounceMs must be 0 or more") });
  }
  return failures;
}
