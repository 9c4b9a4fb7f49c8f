import { lockHolderPid } from "../adapters/outbox/lock.js";
import { createRootLogger } from "../adapters/log/logger.js";
import { SerialDevice } from "../adapters/serial/serial-device.js";
import { serialTarget } from "../adapters/serial/usb-port.js";
import { DeviceMonitor } from "../app/monitor/device-monitor.js";
import { changeKey, fitWidth, monitorLine, selectDevices } from "../app/monitor/monitor-line.js";
import { formatProblem, loadConfigFile } from "../config/load.js";
import { findProtocol, wiegandFrameGapMs } from "../protocol/index.js";
import { createGpioPort } from "../adapters/gpio/create.js";
import type { Logger } from "../adapters/log/logger.js";
import { systemClock } from "../app/clock.js";
import { GpioStation, type GpioInputSink } from "../app/gpio-station.js";
import type { DevicePort } from "../app/runner.js";
import { WiegandReaderPort } from "../app/wiegand-reader.js";
import { isSerialReader } from "../config/device-schema.js";
import type { Config } from "../config/schema.js";
import { EXIT } from "./exit-codes.js";
import type { Signals } from "./signals.js";

/** The display is redrawn (terminal) or checked for changes (piped) this often. */
export const REFRESH_MS = 250;

/** Where the monitor writes; the process's streams unless a test says otherwise. */
export interface MonitorOutput {
  stdout: NodeJS.WriteStream;
  err: (line: string) => void;
}

/** ANSI control sequences (ECMA-48): cursor up N lines, erase the whole line, hide and show the cursor. */
const CSI = "\x1b[";
const up = (n: number): string => `${CSI}${n}A`;
const ERASE_LINE = `${CSI}2K`;
const HIDE_CURSOR = `${CSI}?25l`;
const SHOW_CURSOR = `${CSI}?25h`;

/**
 * `smartbin monitor [-c FILE] [DEVICE…]` (contract.md section 1; issue 9, item 5): opens each
 * configured serial device (or those named) and shows, live, what it decodes: a scale's weight,
 * stability by the station's own window rule, condition and frame rate; a reader's presentations
 * (card ids in full) and noise; a level sensor's distance, median, fill level and full verdict; for all the valid and discarded frames, the last discarded bytes,
 * and, when every frame is discarded, which registered protocol the bytes decode as.
 *
 * In a terminal, one line per device redrawn in place every {@link REFRESH_MS} ms, cut to the
 * terminal's width; piped, one timestamped line whenever a device's reading changes. Runs until
 * SIGINT / SIGTERM / SIGHUP (exit 0).
 *
 * Exit codes: 78 for an invalid config (its problems on stderr in the `config check` form); 2 for a
 * DEVICE that is no device of the config (the known ids listed); 1 when a running station
 * holds the database lock (it holds the serial ports, which are exclusive: `systemctl stop
 * smartbin` first), or when the config has no device to monitor.
 */
export async function runMonitorCommand(
  configFile: string,
  names: readonly string[],
  signals: Signals,
  output: MonitorOutput = { stdout: process.stdout, err: (line) => void process.stderr.write(line + "\n") },
): Promise<number> {
  const { stdout, err } = output;
  // A config file given where device ids go (`smartbin monitor config.yaml`): said as such, before the
  // default config is read (which may not exist on a laptop, and its error would hide this one).
  const fileLike = names.find((n) => /\.ya?ml$/i.test(n) || n.includes("/"));
  if (fileLike !== undefined) {
    err(`smartbin monitor: ${JSON.stringify(fileLike)} is not a device id but looks like a file: give a config file with -c ${fileLike}`);
    return EXIT.USAGE;
  }
  const loaded = loadConfigFile(configFile);
  if (!loaded.ok) {
    for (const p of loaded.problems) err(formatProblem(p));
    return EXIT.CONFIG;
  }
  const config = loaded.config;
  const selected = selectDevices(config, names);
  if (!selected.ok) {
    const known = selected.known.length === 0 ? "none" : selected.known.join(", ");
    err(`smartbin monitor: unknown device ${selected.unknown.map((n) => JSON.stringify(n)).join(", ")} in ${configFile} (known: ${known})`);
    return EXIT.USAGE;
  }
  if (selected.devices.length === 0) {
    err(`smartbin monitor: ${configFile} configures no scales, readers or level sensors: nothing to monitor`);
    return EXIT.FAILURE;
  }
  const dbPath = config.storage.path;
  const holder = dbPath === ":memory:" ? null : lockHolderPid(`${dbPath}.lock`);
  if (holder !== null) {
    err(
      `smartbin monitor: a running station (pid ${holder}) holds the serial ports, which are exclusive: ` +
        "stop it first (systemctl stop smartbin), then run smartbin monitor again",
    );
    return EXIT.FAILURE;
  }

  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  signals.claim((signal) => {
    if (signal === "SIGTERM" || signal === "SIGINT" || signal === "SIGHUP") stop();
  });
  // A reader that goes away (`| head`) ends the monitor as it would `cat`.
  stdout.on("error", () => stop());

  const now = (): number => performance.now();
  // Faults are shown in each device's line; the adapter's own log lines would only break the display.
  const logger = createRootLogger({ level: "silent", fd: 2, rateLimit: false });
  const monitors = selected.devices.map((device) => new DeviceMonitor(device));
  // Readers on GPIO lines (wiegand): their two lines only, claimed through the config's backend.
  const wiegandReaders = config.readers.filter((r) => !isSerialReader(r) && monitors.some((m) => m.device.item.id === r.id));
  const gpio = wiegandReaders.length > 0 ? gpioForReaders(config, wiegandReaders, logger) : undefined;
  const ports = monitors.map((monitor): DevicePort => {
    const device = monitor.device;
    const handlers = {
      onData: (chunk: Uint8Array) => monitor.bytes(chunk, now()),
      onOpen: () => monitor.portChanged({ state: "open" }, now()),
      onClose: (reason: string) => monitor.portChanged({ state: "offline", reason }, now()),
    };
    const item = device.item;
    if (!isSerialReader(item)) {
      if (!("d0_line" in item)) throw new Error(`monitor: ${item.id} has neither a port nor GPIO lines`); // the config schema rules it out
      return new WiegandReaderPort({
        id: item.id,
        d0Line: item.d0_line,
        d1Line: item.d1_line,
        frameGapMs: wiegandFrameGapMs(item),
        edges: gpio!,
        clock: systemClock,
        handlers,
        logger,
      });
    }
    const needs = findProtocol(device.kind, item.protocol).configure(item).port;
    const serial = needs.serial;
    return new SerialDevice({
      id: item.id,
      ...serialTarget(item),
      baudRate: item.baud_rate,
      dataBits: serial.dataBits,
      parity: serial.parity,
      stopBits: serial.stopBits,
      // A polled device (mt-sics, modbus-rtu) answers only when asked, as under the station.
      ...(needs.poll !== undefined ? { poll: needs.poll } : {}),
      logger,
      ...(device.kind === "scale" || device.kind === "level" ? { silenceTimeoutMs: device.item.silence_timeout_s * 1000 } : {}),
      onData: handlers.onData,
      onOnline: handlers.onOpen,
      onOffline: handlers.onClose,
    });
  });

  const tty = stdout.isTTY === true;
  const lastKeys: string[] = [];
  let drawn = 0;
  const render = (): void => {
    if (stdout.destroyed || stdout.writableEnded) return;
    const views = monitors.map((m) => m.view(now()));
    if (tty) {
      const width = Math.max(20, (stdout.columns ?? 80) - 1);
      let text = drawn > 0 ? up(drawn) : "";
      for (const v of views) text += `\r${ERASE_LINE}${fitWidth(monitorLine(v), width)}\n`;
      drawn = views.length;
      stdout.write(text);
      return;
    }
    let text = "";
    views.forEach((v, i) => {
      const key = changeKey(v);
      if (key === lastKeys[i]) return;
      lastKeys[i] = key;
      text += `${clockTime(new Date())} ${monitorLine(v)}\n`;
    });
    if (text !== "") stdout.write(text);
  };

  const devicesText = `${monitors.length} device${monitors.length === 1 ? "" : "s"}`;
  if (tty) stdout.write(`${HIDE_CURSOR}smartbin monitor: ${configFile}, ${devicesText}; card ids are shown in full; Ctrl-C to stop\n`);
  else err(`smartbin monitor: ${configFile}, ${devicesText}; card ids are shown in full; one line per change; stop with SIGINT or SIGTERM`);
  for (const p of ports) p.start();
  void gpio?.open(IGNORE_GPIO_INPUTS);
  render();
  const timer = setInterval(render, REFRESH_MS);
  await stopped;
  clearInterval(timer);
  render();
  if (tty && !stdout.destroyed) stdout.write(SHOW_CURSOR);
  await Promise.all(ports.map((p) => p.stop()));
  await gpio?.close();
  return EXIT.OK;
}

/** The monitor claims no door or contact line: nothing comes through these. */
const IGNORE_GPIO_INPUTS: GpioInputSink = { doorInput: () => undefined, contact: () => undefined, gpioError: () => undefined };

/**
 * The GPIO side of the monitored readers on GPIO lines: the config's backend with only those
 * readers' D0/D1 lines (no door, lamp, lock, buzzer or contact line is touched, so a lock is never
 * moved by the monitor).
 */
function gpioForReaders(config: Readonly<Config>, readers: Config["readers"], logger: Logger): GpioStation {
  const only: Config = {
    ...config,
    bins: config.bins.map(({ door: _door, ...bin }) => bin),
    gpio: { ...config.gpio, inputs: {}, buzzer: undefined },
    readers,
  };
  const port = createGpioPort({ backend: config.gpio.backend, chip: config.gpio.chip, simulatedDir: config.gpio.simulated_dir, logger });
  return new GpioStation(only, port, systemClock, logger);
}

/** Local wall-clock time `HH:MM:SS` of a piped line. */
function clockTime(d: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}
