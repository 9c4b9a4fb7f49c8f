/**
 * The GPIO port: what the station uses to read door sensors, buttons and station contacts (fire,
 * tamper, power fail) and to drive locks, lamps and the buzzer (contract.md section 2, "GPIO and
 * doors"). Four backends sit behind it (`createGpioPort` in ./create.ts): `simulated` (files),
 * `onoff` (the kernel's sysfs GPIO interface), `gpiod` (the GPIO character device, through the
 * libgpiod command-line tools) and `none`.
 *
 * The port speaks **logical levels**: `active: true` means the line is at its active level, with
 * `activeLow` applied by the port (an `activeLow` line is active when the pin reads 0). The backends
 * below it speak physical levels only.
 */

/** One GPIO line as the config names it. */
export interface GpioLineSpec {
  /**
   * The line's offset on its GPIO chip. On a Raspberry Pi header chip that is the BCM number
   * (`GPIO17` is 17), the number config files use. The sysfs backend adds the chip's base itself.
   */
  line: number;
  /** True: the line is active when the pin is low (0). */
  activeLow: boolean;
  /** A name for logs and errors, e.g. `kitchen.lock`, `gpio.inputs.fire`. */
  name: string;
}

/** An input line (door sensor, button, dry contact). */
export interface GpioInputSpec extends GpioLineSpec {
  /** A new level counts once it has held this many milliseconds (0: at once). */
  debounceMs: number;
}

/** An output line (lock, lamp, buzzer). */
export interface GpioOutputSpec extends GpioLineSpec {
  /** The logical level the output is set to while it is claimed, before `open` resolves. */
  initial: boolean;
}

/**
 * An input whose falling edges are delivered one by one with their kernel timestamps, undebounced
 * (a Wiegand reader's D0 or D1: pulses of tens of microseconds, 1-2 ms apart; readers.md "wiegand").
 * Only a backend that can time edges in the kernel takes them (`gpiod`); the others refuse them at
 * `open` (`GPIO_OPEN_FAILED`).
 */
export interface GpioEdgeInputSpec {
  line: number;
  /** A name for logs and errors, e.g. `door-reader.d0`. */
  name: string;
}

/** Every line the station claims, in one call. */
export interface GpioOpenSpec {
  inputs: GpioInputSpec[];
  outputs: GpioOutputSpec[];
  /** Lines whose falling edges are timed (Wiegand data lines); none when absent. */
  edgeInputs?: GpioEdgeInputSpec[];
}

/** One line that could not be claimed, in `SmartbinError.context.failures` of `GPIO_OPEN_FAILED`. */
export interface GpioLineFailure {
  line: number;
  name: string;
  error: Error;
}

/**
 * The station's GPIO lines.
 *
 * - `open` claims every line (inputs as inputs, outputs as outputs at their `initial` logical
 *   level) and resolves once each output is at that level and each input's level is known. It
 *   rejects with a `SmartbinError` coded `GPIO_OPEN_FAILED` whose `context.failures`
 *   ({@link GpioLineFailure}[]) lists every line that failed (a line used twice, a busy line, a line
 *   beyond the chip), after releasing what it had claimed; or `GPIO_BACKEND_UNAVAILABLE` when the
 *   backend cannot work at all (the `onoff` module is not installed, the libgpiod tools are
 *   missing, no such chip). `open` is called once.
 * - `read` returns an input's debounced logical level: its level at `open`, then the last level
 *   reported by `onInput`.
 * - `write` sets an output's logical level. It never throws for an I/O failure: a line that fails is
 *   reported through `onError` (the station raises `gpio_error` and takes the bin out of service).
 *   It throws only for a programming error (a line that is not an open output).
 * - `onInput` callbacks get each debounced change: the new level has held `debounceMs`. A bouncing
 *   contact yields one change; a pulse shorter than `debounceMs` yields none.
 * - `onError` callbacks get a line that failed while running (an output that cannot be written, a
 *   monitor that died). Callbacks that throw are logged, never propagated.
 * - `close` releases every line (unexport, end the tools' processes); it does not move outputs: the
 *   caller writes the safe levels first. Nothing is reported after `close`.
 */
export interface GpioPort {
  open(spec: GpioOpenSpec): Promise<void>;
  read(line: number): boolean;
  write(line: number, active: boolean): void;
  onInput(cb: (line: number, active: boolean) => void): void;
  onError(cb: (line: number, error: Error) => void): void;
  /**
   * Callbacks get each falling edge of an edge input: its line and the kernel's timestamp in
   * microseconds (one clock for every line, monotonic on current kernels), in the order the kernel
   * reported them. Absent on ports that take no edge inputs.
   */
  onEdge?(cb: (line: number, tUs: number) => void): void;
  close(): Promise<void>;
}

/** The `gpio.backend` values of the config (contract.md section 2). */
export type GpioBackendName = "none" | "onoff" | "gpiod" | "simulated";
