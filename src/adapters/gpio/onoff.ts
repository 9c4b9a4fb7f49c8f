import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { SmartbinError } from "../../errors.js";
import { asError, openFailed, type DriverEvents, type DriverLines, type GpioDriver } from "./driver.js";
import type { GpioLineFailure } from "./gpio-port.js";
import { findSysfsChip, type SysfsChip } from "./sysfs-chips.js";

/**
 * The part of onoff's `Gpio` class the adapter uses (onoff 6, README "API"): `new Gpio(gpio,
 * direction, edge, options)` exports the line through `/sys/class/gpio/export` unless
 * `/sys/class/gpio/gpio<N>` already exists (a line left exported is reused), writes `active_low`
 * and `direction` (`in`, or `high`/`low`: output with that initial level, glitch-free per the
 * sysfs ABI) and `edge`; `readSync`/`writeSync` read and write `value` (0 or 1); `watch` calls back
 * on each edge, through the `epoll` addon; `unexport` stops watching and writes
 * `/sys/class/gpio/unexport`. Errors are Node's fs errors (`EBUSY` on export of a line another
 * driver holds, `EIO`).
 */
export interface OnoffGpio {
  readSync(): 0 | 1;
  writeSync(value: 0 | 1): void;
  watch(callback: (err: Error | null | undefined, value: 0 | 1) => void): void;
  unexport(): void;
}

/** The onoff module as loaded: its `Gpio` constructor. */
export interface OnoffModule {
  Gpio: new (
    gpio: number,
    direction: "in" | "out" | "high" | "low",
    edge?: "none" | "rising" | "falling" | "both",
    options?: { activeLow?: boolean; reconfigureDirection?: boolean },
  ) => OnoffGpio;
}

/**
 * Loads the optional `onoff` dependency. It is an optionalDependency because its `epoll` addon is
 * compiled at install (node-gyp, a C++ compiler and python3): an install without a compiler drops
 * it and still succeeds, and choosing `gpio.backend: onoff` then fails here with
 * `GPIO_BACKEND_UNAVAILABLE`, naming what is missing and how to get it. epoll is built for one Node
 * ABI (it uses NAN, not N-API), so after a Node upgrade it must be rebuilt; that is said too.
 */
export async function loadOnoff(): Promise<OnoffModule> {
  try {
    // A specifier TypeScript does not resolve: where onoff is not installed the build must still pass.
    const specifier: string = "onoff";
    const mod = (await import(specifier)) as OnoffModule & { default?: OnoffModule };
    return mod.default ?? mod;
  } catch (err) {
    throw onoffLoadError(err);
  }
}

/** The `GPIO_BACKEND_UNAVAILABLE` error for a failed `import("onoff")`. */
export function onoffLoadError(err: unknown): SmartbinError {
  const e = asError(err) as NodeJS.ErrnoException;
  let message: string;
  if ((e.code === "ERR_MODULE_NOT_FOUND" || e.code === "MODULE_NOT_FOUND") && /onoff|epoll|bindings/.test(e.message)) {
    message =
      "gpio.backend onoff needs the npm package onoff, which is not installed: it is optional because its epoll addon is compiled at install. " +
      "Install a compiler (Debian/Raspberry Pi OS: apt-get install g++ make python3), then run npm ci (or npm install onoff) again; or use gpio.backend gpiod, which needs no compiler";
  } else if (e.code === "ERR_DLOPEN_FAILED" || /epoll\.node|NODE_MODULE_VERSION|Could not locate the bindings file/.test(e.message)) {
    message =
      `gpio.backend onoff: the epoll addon of onoff does not load (${e.message.split("\n").join(" ").slice(0, 300)}). ` +
      "It is built for one Node version: after a Node upgrade, or if it was never built, run npm rebuild epoll (needs g++, make and python3); or use gpio.backend gpiod";
  } else {
    message = `gpio.backend onoff: the onoff module does not load: ${e.message}`;
  }
  return new SmartbinError("GPIO_BACKEND_UNAVAILABLE", message, { module: "onoff" }, { cause: err });
}

/** Options of {@link OnoffDriver}. */
export interface OnoffDriverOptions {
  /** `gpio.chip`: `auto`, a label or `/dev/gpiochipN`. */
  chip: string;
  /** Where sysfs is mounted; default `/sys`. onoff itself always uses `/sys/class/gpio`. */
  sysfsRoot?: string;
  /** Loads onoff; default {@link loadOnoff}. Tests pass a fake module. */
  load?: () => Promise<OnoffModule>;
  logger: Logger;
}

/**
 * The `onoff` backend: the kernel's sysfs GPIO interface (Documentation/ABI/obsolete/sysfs-gpio)
 * through onoff.
 *
 * onoff takes global sysfs numbers and always works under `/sys/class/gpio/`, so the chip's base is
 * found here ({@link findSysfsChip}, reading `sysfsRoot`), and onoff gets `base + line`. A line
 * already exported (left by a crash) is reused (onoff skips the export when `gpio<N>` exists; the
 * adapter logs it). A line another driver holds fails its export with `EBUSY`, reported with the
 * line. Inputs are watched on both edges (`edge` = `both`); debounce is the port's, not onoff's.
 * `active_low` is written 0: the port applies active-low itself, the same way for every backend.
 * `close` unexports every line.
 *
 * onoff reads the value inside its epoll callback without a try (onoff.js,
 * configureInterruptHandler), so an `EIO` there would be an uncaught exception; the adapter wraps
 * each instance's `readSync` to report the failure as a line error instead.
 */
export class OnoffDriver implements GpioDriver {
  private readonly gpios = new Map<number, OnoffGpio>();
  private events: DriverEvents | undefined;
  private closed = false;

  constructor(private readonly opts: OnoffDriverOptions) {}

  async open(lines: DriverLines, events: DriverEvents): Promise<Map<number, boolean>> {
    this.events = events;
    const onoff = await (this.opts.load ?? loadOnoff)();
    const sysfsRoot = this.opts.sysfsRoot ?? "/sys";
    const chip = findSysfsChip(sysfsRoot, this.opts.chip);
    this.opts.logger.info({ chip: chip.id, label: chip.label, base: chip.base, ngpio: chip.ngpio }, "gpio sysfs chip found");
    const failures: GpioLineFailure[] = [];
    const initial = new Map<number, boolean>();
    const claim = (line: number, name: string, make: (global: number) => OnoffGpio): OnoffGpio | undefined => {
      const global = globalNumber(chip, line);
      if (typeof global === "string") {
        failures.push({ line, name, error: new Error(global) });
        return undefined;
      }
      if (existsSync(join(sysfsRoot, "class", "gpio", `gpio${global}`))) {
        this.opts.logger.warn({ line, name, global }, "gpio line was left exported (an earlier crash?): reusing it");
      }
      try {
        const gpio = make(global);
        this.gpios.set(line, gpio);
        return gpio;
      } catch (err) {
        const e = asError(err) as NodeJS.ErrnoException;
        const why = e.code === "EBUSY" ? `busy (another driver or process holds sysfs GPIO ${global}): ${e.message}` : `sysfs GPIO ${global}: ${e.message}`;
        failures.push({ line, name, error: Object.assign(new Error(why), { code: e.code }) });
        return undefined;
      }
    };
    for (const o of lines.outputs) {
      claim(o.line, o.name, (global) => new onoff.Gpio(global, o.high ? "high" : "low", "none", { activeLow: false }));
    }
    for (const i of lines.inputs) {
      const gpio = claim(i.line, i.name, (global) => new onoff.Gpio(global, "in", "both", { activeLow: false }));
      if (gpio === undefined) continue;
      try {
        initial.set(i.line, gpio.readSync() === 1);
      } catch (err) {
        failures.push({ line: i.line, name: i.name, error: asError(err) });
        continue;
      }
      this.guardReads(i.line, gpio, initial.get(i.line) ? 1 : 0);
      gpio.watch((err, value) => {
        if (this.closed) return;
        if (err) this.events?.error(i.line, asError(err));
        else this.events?.level(i.line, value === 1);
      });
    }
    if (failures.length > 0) {
      this.release();
      throw openFailed("onoff", failures);
    }
    return initial;
  }

  write(line: number, high: boolean): void {
    const gpio = this.gpios.get(line);
    if (gpio === undefined || this.closed) return;
    try {
      gpio.writeSync(high ? 1 : 0);
    } catch (err) {
      this.events?.error(line, asError(err));
    }
  }

  close(): Promise<void> {
    this.closed = true;
    this.release();
    return Promise.resolve();
  }

  private release(): void {
    for (const [line, gpio] of this.gpios) {
      try {
        gpio.unexport();
      } catch (err) {
        this.opts.logger.warn({ line, err: asError(err).message }, "gpio line could not be unexported");
      }
    }
    this.gpios.clear();
  }

  private guardReads(line: number, gpio: OnoffGpio, first: 0 | 1): void {
    const original = gpio.readSync.bind(gpio);
    let last = first;
    let failing = false;
    gpio.readSync = () => {
      try {
        last = original();
        failing = false;
      } catch (err) {
        if (!failing && !this.closed) this.events?.error(line, asError(err));
        failing = true;
      }
      return last;
    };
  }
}

/** `base + line`, or why the line is not on the chip. */
function globalNumber(chip: SysfsChip, line: number): number | string {
  if (line >= chip.ngpio) return `line ${line} is beyond ${chip.label}, which has ${chip.ngpio} lines (0 to ${chip.ngpio - 1})`;
  return chip.base + line;
}
