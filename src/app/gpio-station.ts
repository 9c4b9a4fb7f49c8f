/**
 * The station's GPIO side (contract.md section 2, "GPIO and doors"; docs/deposit-flow.md): maps the
 * config's lines onto one {@link GpioPort}, turns its debounced input changes into machine inputs
 * (door sensors, buttons, fire/tamper/power-fail contacts, failed lines) and drives the outputs the
 * machine's state calls for (locks, lamps, buzzer) with the patterns a resident sees.
 *
 * Safe state: the port sets every output to its initial level as it claims it (every lock locked,
 * lamps and buzzer off), before `open` resolves and so before the station publishes `online`; the
 * same levels are written at `close`, except that a lock stays released while the fire input holds
 * it so (`station.fire_doors: unlock`). Output levels asked for before `open` resolved are written
 * once it has.
 */
import type { Logger } from "../adapters/log/logger.js";
import type { GpioEdgeInputSpec, GpioInputSpec, GpioOutputSpec, GpioPort } from "../adapters/gpio/gpio-port.js";
import type { Config } from "../config/schema.js";
import type { Outputs } from "../domain/doors.js";
import type { Contact } from "../domain/station-types.js";
import { CONTACTS } from "../domain/station-types.js";
import { SmartbinError } from "../errors.js";
import type { Clock } from "./clock.js";
import type { OutputPort } from "./runner.js";
import type { EdgeLinesState, EdgeSource } from "./wiegand-reader.js";

/** Where a line's input goes. */
type InputRole = { kind: "door"; binId: string; part: "closed" | "button" } | { kind: "contact"; contact: Contact };

/** What the GPIO side feeds the runner. */
export interface GpioInputSink {
  doorInput(binId: string, part: "closed" | "button", active: boolean): void;
  contact(contact: Contact, active: boolean): void;
  gpioError(line: number, message: string, where: { binId?: string; contact?: Contact }): void;
}

/** Lamp blink half-periods (ms): 1 Hz "choose this bin", 4 Hz "refused". */
const BLINK_HALF_MS = 500;
const FAST_BLINK_HALF_MS = 125;
const REFUSED_BLINK_MS = 2000;

/** Buzzer patterns: on/off durations in ms, starting with on (docs/deposit-flow.md). */
export const BUZZER_PATTERNS = {
  select: [100],
  refused: [400, 200, 400],
  blocked: [100, 100, 100, 100, 100],
  deposit: [200],
} as const;

/** True when the config names any GPIO line (a door, a contact, the buzzer, a Wiegand reader's data lines). */
export function hasGpioLines(config: Readonly<Config>): boolean {
  return (
    config.bins.some((b) => b.door !== undefined) ||
    Object.keys(config.gpio.inputs).length > 0 ||
    config.gpio.buzzer !== undefined ||
    readerEdgeLines(config).length > 0
  );
}

/** The timed lines of the readers on GPIO lines (wiegand's `d0_line`, `d1_line`), named `READER.d0`/`.d1`. */
export function readerEdgeLines(config: Readonly<Config>): GpioEdgeInputSpec[] {
  return config.readers.flatMap((r) =>
    "d0_line" in r
      ? [
          { line: r.d0_line, name: `${r.id}.d0` },
          { line: r.d1_line, name: `${r.id}.d1` },
        ]
      : [],
  );
}

/** The lines of a config, as the port takes them, with where each input goes. */
export function gpioLines(config: Readonly<Config>): { inputs: GpioInputSpec[]; outputs: GpioOutputSpec[]; roles: Map<number, InputRole>; owners: Map<number, { binId?: string; contact?: Contact }> } {
  const inputs: GpioInputSpec[] = [];
  const outputs: GpioOutputSpec[] = [];
  const roles = new Map<number, InputRole>();
  const owners = new Map<number, { binId?: string; contact?: Contact }>();
  for (const bin of config.bins) {
    const door = bin.door;
    if (door === undefined) continue;
    const input = (part: "closed" | "button", l: { line: number; active_low: boolean }) => {
      inputs.push({ line: l.line, activeLow: l.active_low, name: `${bin.id}.${part}`, debounceMs: door.debounce_ms });
      roles.set(l.line, { kind: "door", binId: bin.id, part });
      owners.set(l.line, { binId: bin.id });
    };
    input("closed", door.closed);
    if (door.button) input("button", door.button);
    outputs.push({ line: door.lock.line, activeLow: door.lock.active_low, name: `${bin.id}.lock`, initial: false });
    owners.set(door.lock.line, { binId: bin.id });
    if (door.lamp) {
      outputs.push({ line: door.lamp.line, activeLow: door.lamp.active_low, name: `${bin.id}.lamp`, initial: false });
      owners.set(door.lamp.line, { binId: bin.id });
    }
  }
  for (const contact of CONTACTS) {
    const c = config.gpio.inputs[contact];
    if (c === undefined) continue;
    inputs.push({ line: c.line, activeLow: c.active_low, name: `gpio.inputs.${contact}`, debounceMs: c.debounce_ms });
    roles.set(c.line, { kind: "contact", contact });
    owners.set(c.line, { contact });
  }
  const buzzer = config.gpio.buzzer;
  if (buzzer) outputs.push({ line: buzzer.line, activeLow: buzzer.active_low, name: "gpio.buzzer", initial: false });
  return { inputs, outputs, roles, owners };
}

/** A subscriber to a reader's timed edges, and the state last told it. */
interface EdgeSub {
  lines: readonly number[];
  edge: (line: number, tUs: number) => void;
  state: (s: EdgeLinesState) => void;
  told: string | null;
}

/** Drives the station's GPIO through one port; also the runner's {@link OutputPort}. */
export class GpioStation implements OutputPort, EdgeSource {
  private opened = false;
  private closed = false;
  private readonly lines: ReturnType<typeof gpioLines>;
  private readonly lockLine = new Map<string, number>();
  private readonly lampLine = new Map<string, number>();
  private readonly buzzerLine: number | null;
  /** Logical levels last written (or to write once open). */
  private readonly levels = new Map<number, boolean>();
  /** Lamp patterns the state asks for, and lamps blinking "refused" until a time. */
  private lamps: Outputs["lamps"] = {};
  private readonly refusedUntil = new Map<string, number>();
  private cancelBlink: (() => void) | null = null;
  private buzzerTimers: Array<() => void> = [];
  private blinkPhase = false;
  private fastPhase = false;
  private sink: GpioInputSink | null = null;
  private failed = new Map<number, string>();
  private readonly edgeInputs: GpioEdgeInputSpec[];
  private readonly edgeSubs = new Set<EdgeSub>();

  constructor(
    private readonly config: Readonly<Config>,
    private readonly port: GpioPort,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.lines = gpioLines(config);
    this.edgeInputs = readerEdgeLines(config);
    for (const bin of config.bins) {
      if (!bin.door) continue;
      this.lockLine.set(bin.id, bin.door.lock.line);
      if (bin.door.lamp) this.lampLine.set(bin.id, bin.door.lamp.line);
    }
    this.buzzerLine = config.gpio.buzzer?.line ?? null;
    for (const o of this.lines.outputs) this.levels.set(o.line, o.initial);
  }

  /**
   * Claims every line (outputs at their safe levels), then feeds the runner each input's level and
   * every later change. A line that cannot be claimed becomes a `gpio_error` of its bin or contact
   * (the station runs on without it); a backend that cannot work at all is logged with what is missing.
   */
  async open(sink: GpioInputSink): Promise<void> {
    this.sink = sink;
    this.port.onInput((line, active) => this.input(line, active));
    this.port.onError((line, error) => this.lineFailed(line, error.message));
    this.port.onEdge?.((line, tUs) => {
      for (const sub of this.edgeSubs) if (sub.lines.includes(line)) sub.edge(line, tUs);
    });
    try {
      await this.port.open({
        inputs: this.lines.inputs,
        outputs: this.lines.outputs,
        ...(this.edgeInputs.length > 0 ? { edgeInputs: this.edgeInputs } : {}),
      });
    } catch (err) {
      this.openFailed(err);
      return;
    }
    if (this.closed) return;
    this.opened = true;
    for (const sub of this.edgeSubs) this.tellEdgeState(sub);
    for (const input of this.lines.inputs) this.input(input.line, this.port.read(input.line));
    for (const [line, active] of this.levels) this.write(line, active);
    this.refreshLamps();
  }

  /**
   * A Wiegand reader's edges ({@link EdgeSource}): its state is told once the lines are claimed (at
   * once if they already are) and when one of them fails.
   */
  subscribeEdges(lines: readonly number[], edge: (line: number, tUs: number) => void, state: (s: EdgeLinesState) => void): () => void {
    const sub: EdgeSub = { lines, edge, state, told: null };
    this.edgeSubs.add(sub);
    if (this.opened || lines.some((l) => this.failed.has(l))) this.tellEdgeState(sub);
    return () => this.edgeSubs.delete(sub);
  }

  /** Tells a subscriber its lines' state, once per change (a failed backend fails both lines). */
  private tellEdgeState(sub: EdgeSub): void {
    const failure = sub.lines.map((l) => this.failed.get(l)).find((m) => m !== undefined);
    const state: EdgeLinesState = failure === undefined ? { open: true } : { open: false, reason: `GPIO line failed: ${failure}` };
    const told = JSON.stringify(state);
    if (sub.told === told) return;
    sub.told = told;
    sub.state(state);
  }

  /** The machine's output levels (locks, lamp patterns). */
  apply(outputs: Outputs): void {
    for (const [binId, released] of Object.entries(outputs.locks)) {
      const line = this.lockLine.get(binId);
      if (line !== undefined) this.set(line, released);
    }
    this.lamps = outputs.lamps;
    this.refreshLamps();
  }

  /** A signal for the resident: a lamp pattern and/or a buzzer pattern (docs/deposit-flow.md). */
  indicate(signal: "refused" | "select" | "blocked" | "deposit", binId?: string): void {
    if (signal === "refused" && binId !== undefined && this.lampLine.has(binId)) {
      this.refusedUntil.set(binId, this.clock.mono() + REFUSED_BLINK_MS);
      this.refreshLamps();
    }
    this.buzz(BUZZER_PATTERNS[signal]);
  }

  /**
   * Writes the safe levels (locks locked unless a fire holds them released, lamps and buzzer off)
   * and releases every line.
   */
  async close(fireHoldsOpen = false): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancelBlink?.();
    for (const cancel of this.buzzerTimers.splice(0)) cancel();
    if (this.opened) {
      for (const line of this.lockLine.values()) this.write(line, fireHoldsOpen);
      for (const line of this.lampLine.values()) this.write(line, false);
      if (this.buzzerLine !== null) this.write(this.buzzerLine, false);
    }
    try {
      await this.port.close();
    } catch (err) {
      this.log.warn({ err }, "GPIO lines could not all be released");
    }
  }

  private input(line: number, active: boolean): void {
    const role = this.lines.roles.get(line);
    if (role === undefined || this.sink === null || this.closed) return;
    if (role.kind === "contact") this.sink.contact(role.contact, active);
    else this.sink.doorInput(role.binId, role.part, active);
  }

  private lineFailed(line: number, message: string): void {
    if (this.failed.has(line)) return;
    this.failed.set(line, message);
    this.sink?.gpioError(line, message, this.lines.owners.get(line) ?? {});
    for (const sub of this.edgeSubs) if (sub.lines.includes(line)) this.tellEdgeState(sub);
  }

  private openFailed(err: unknown): void {
    const failures = err instanceof SmartbinError && Array.isArray(err.context?.failures) ? (err.context.failures as Array<{ line: number; name: string; error: Error }>) : null;
    if (failures === null) {
      // The backend cannot work here at all (a module or tool missing, no such chip): every line fails.
      const message = err instanceof Error ? err.message : String(err);
      this.log.error({ backend: this.config.gpio.backend, reason: message }, "GPIO unavailable: doors and contacts are out of service");
      for (const spec of [...this.lines.inputs, ...this.lines.outputs, ...this.edgeInputs]) this.lineFailed(spec.line, message);
      return;
    }
    for (const f of failures) {
      this.log.error({ line: f.line, name: f.name, reason: f.error.message }, "GPIO line could not be claimed");
      this.lineFailed(f.line, f.error.message);
    }
    // The port released what it had claimed: every other line is out of service too.
    for (const spec of [...this.lines.inputs, ...this.lines.outputs, ...this.edgeInputs]) this.lineFailed(spec.line, "not claimed: another line of the station failed to open");
  }

  private set(line: number, active: boolean): void {
    if (this.levels.get(line) === active) return;
    this.levels.set(line, active);
    if (this.opened && !this.closed) this.write(line, active);
  }

  private write(line: number, active: boolean): void {
    if (this.failed.has(line)) return;
    try {
      this.port.write(line, active);
    } catch (err) {
      this.lineFailed(line, err instanceof Error ? err.message : String(err));
    }
  }

  /** Sets every lamp by its pattern; the blink timer runs only while a lamp blinks (an idle station never wakes for it). */
  private refreshLamps(): void {
    const now = this.clock.mono();
    let blinking = false;
    for (const [binId, line] of this.lampLine) {
      const until = this.refusedUntil.get(binId);
      if (until !== undefined && now >= until) this.refusedUntil.delete(binId);
      const pattern = this.refusedUntil.has(binId) ? "fast" : (this.lamps[binId] ?? "off");
      if (pattern === "blink" || pattern === "fast") blinking = true;
      this.set(line, pattern === "on" || (pattern === "blink" && this.blinkPhase) || (pattern === "fast" && this.fastPhase));
    }
    if (blinking && this.cancelBlink === null && this.opened && !this.closed) {
      this.cancelBlink = this.clock.every(FAST_BLINK_HALF_MS, () => this.blink());
    } else if (!blinking && this.cancelBlink !== null) {
      this.cancelBlink();
      this.cancelBlink = null;
    }
  }

  private blinkTicks = 0;
  private blink(): void {
    this.fastPhase = !this.fastPhase;
    this.blinkTicks = (this.blinkTicks + 1) % (BLINK_HALF_MS / FAST_BLINK_HALF_MS);
    if (this.blinkTicks === 0) this.blinkPhase = !this.blinkPhase;
    this.refreshLamps();
  }

  private buzz(pattern: readonly number[]): void {
    const line = this.buzzerLine;
    if (line === null || !this.opened || this.closed) return;
    for (const cancel of this.buzzerTimers.splice(0)) cancel();
    let at = 0;
    pattern.forEach((ms, i) => {
      const on = i % 2 === 0;
      this.buzzerTimers.push(this.clock.after(at, () => this.set(line, on)));
      at += ms;
    });
    this.buzzerTimers.push(this.clock.after(at, () => this.set(line, false)));
  }
}
