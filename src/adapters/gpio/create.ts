import type { Logger } from "pino";
import { systemTimers, type TimerPort } from "../serial/timer-port.js";
import { openFailed, type DriverLines, type GpioDriver } from "./driver.js";
import type { GpioBackendName, GpioPort } from "./gpio-port.js";
import { GpiodDriver } from "./gpiod.js";
import { LinePort } from "./line-port.js";
import { OnoffDriver, type OnoffModule } from "./onoff.js";
import { SimulatedDriver } from "./simulated.js";

/**
 * Options of {@link createGpioPort}: plain values the app maps the config's `gpio` section onto
 * (contract.md section 2).
 */
export interface GpioPortOptions {
  /** `gpio.backend`. */
  backend: GpioBackendName;
  /** `gpio.chip`: `auto` (the Raspberry Pi header chip), a chip label, or `/dev/gpiochipN`. Not used by `simulated` and `none`. */
  chip: string;
  /** `gpio.simulated_dir`, resolved against the config file's folder; required for `simulated`. */
  simulatedDir?: string;
  /** Where sysfs is mounted (`onoff`); default `/sys`. Tests point it at fake trees. */
  sysfsRoot?: string;
  /** Timers for debounce and the simulated poll; default {@link systemTimers}. Tests pass a manual one. */
  timers?: TimerPort;
  /** A child logger (`{ module: "gpio" }`). */
  logger: Logger;
  /** `onoff` only: loads the module; default `import("onoff")`. Tests pass a fake. */
  loadOnoff?: () => Promise<OnoffModule>;
  /** `gpiod` only: the tools' environment (PATH); default `process.env`. */
  toolEnv?: NodeJS.ProcessEnv;
  /** `gpiod` only, libgpiod 1.6: how long a tool must run to count as holding its line (default 300 ms). */
  toolSettleMs?: number;
  /** `simulated` only: poll period of input files (default 10 ms; the contract asks for at most 20). */
  simulatedPollMs?: number;
}

/**
 * The station's GPIO port on the configured backend. Nothing is touched until `open`: a backend that
 * cannot work here (onoff not installed, libgpiod tools missing, no sysfs GPIO, no such chip)
 * rejects `open` with `GPIO_BACKEND_UNAVAILABLE`, naming what is missing and how to get it.
 *
 * - `none`: no lines. `open` with no lines resolves; any line is refused (`GPIO_OPEN_FAILED`).
 * - `simulated`: files, see {@link SimulatedDriver}.
 * - `onoff`: sysfs, see {@link OnoffDriver}.
 * - `gpiod`: the character device through the libgpiod tools, see {@link GpiodDriver}.
 */
export function createGpioPort(options: GpioPortOptions): GpioPort {
  const timers = options.timers ?? systemTimers;
  const logger = options.logger;
  let driver: GpioDriver;
  switch (options.backend) {
    case "none":
      driver = noneDriver;
      break;
    case "simulated":
      if (options.simulatedDir === undefined) throw new Error("createGpioPort: backend simulated needs simulatedDir");
      driver = new SimulatedDriver({ dir: options.simulatedDir, timers, logger, pollMs: options.simulatedPollMs });
      break;
    case "onoff":
      driver = new OnoffDriver({ chip: options.chip, sysfsRoot: options.sysfsRoot, load: options.loadOnoff, logger });
      break;
    case "gpiod":
      driver = new GpiodDriver({ chip: options.chip, logger, env: options.toolEnv, settleMs: options.toolSettleMs });
      break;
  }
  return new LinePort({ backend: options.backend, driver, timers, logger });
}

/** `gpio.backend: none`: there are no lines to claim. */
const noneDriver: GpioDriver = {
  open(lines: DriverLines) {
    const all = [...lines.outputs, ...lines.inputs];
    if (all.length === 0) return Promise.resolve(new Map());
    return Promise.reject(
      openFailed(
        "none",
        all.map((l) => ({ line: l.line, name: l.name, error: new Error("gpio.backend is none: this station has no GPIO lines") })),
      ),
    );
  },
  write() {},
  close: () => Promise.resolve(),
};
