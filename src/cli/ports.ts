import { loadConfigFile } from "../config/load.js";
import { isSerialReader } from "../config/device-schema.js";
import type { Config } from "../config/schema.js";
import {
  findPortFor,
  hasByIdFolder,
  listSerialPorts,
  PortListError,
  type SerialPortEntry,
} from "../adapters/serial/port-list.js";
import { describePortConfig, pickUsbPort, usbSelector, type UsbSelector } from "../adapters/serial/usb-port.js";
import { EXIT } from "./exit-codes.js";

/** A configured serial device: where the config names it, its id, and the port it gives (`port`, or `usb` described: `usb 0403:6001 serial A50285BI`). */
interface ConfiguredDevice {
  /** Dotted config path, e.g. `scales.0`. */
  at: string;
  id: string;
  port: string;
  /** The USB identity when the device is configured by `usb` instead of `port`. */
  usb?: UsbSelector;
}

/** Which configured device uses a port, and by which of its names (`usb`: by its adapter's identity). */
interface UsedBy extends ConfiguredDevice {
  namedBy: "by-id" | "by-path" | "kernel name" | "other link" | "usb";
}

/** Options of `smartbin ports`. */
export interface PortsOptions {
  json: boolean;
  /** The config file given with `-c`, if any: its devices are matched to the ports. */
  configFile?: string;
  /** Root of the sysfs and /dev trees read (default `/`); only tests set it (hidden `--root`). */
  root?: string;
}

/**
 * `smartbin ports [-c FILE] [--json]` (contract.md section 1; issue 9, item 5): every serial port
 * with hardware behind it, read from sysfs (no udevadm needed: see port-list.ts), one line each on
 * `out`: kernel path, by-id name, vendor:product, serial number, manufacturer and product (driver),
 * and, with `-c FILE`, which configured device uses it and by which name. Notes follow the list:
 * identical adapters without serial numbers, devices configured by an unstable kernel name,
 * configured ports that are not there. `--json`: one object `{ports: [...], notes: [...]}`.
 *
 * Returns 0; 1 when sysfs cannot be read (one line on `err`); 78 when the given config is invalid
 * (the ports are still listed, unmatched, and the problem count is one line on `err`).
 */
export function runPortsCommand(opts: PortsOptions, out: (line: string) => void, err: (line: string) => void): number {
  const listOptions = opts.root === undefined ? {} : { root: opts.root };
  let ports: SerialPortEntry[];
  try {
    ports = listSerialPorts(listOptions);
  } catch (e) {
    if (!(e instanceof PortListError)) throw e;
    err(`smartbin ports: ${e.message}`);
    return EXIT.FAILURE;
  }

  let devices: ConfiguredDevice[] = [];
  let configInvalid = false;
  if (opts.configFile !== undefined) {
    const loaded = loadConfigFile(opts.configFile);
    if (loaded.ok) devices = configuredDevices(loaded.config);
    else {
      configInvalid = true;
      const n = loaded.problems.length;
      err(`smartbin ports: ${opts.configFile} is invalid (${n} problem${n === 1 ? "" : "s"}; see smartbin config check ${opts.configFile}): ports not matched to devices`);
    }
  }

  const usedBy = new Map<SerialPortEntry, UsedBy[]>();
  const notes: string[] = [];
  for (const device of devices) {
    if (device.usb !== undefined) {
      // Found as the station finds it at every open (usb-port.ts): never guessed among several.
      const lookup = pickUsbPort(ports, device.usb, listOptions);
      if (lookup.kind === "found") usedBy.set(lookup.port, [...(usedBy.get(lookup.port) ?? []), { ...device, namedBy: "usb" }]);
      else if (lookup.kind === "missing") notes.push(`${device.at} (${device.id}): ${device.port} is not among these ports: plug the adapter in, or correct usb`);
      else notes.push(`${device.at} (${device.id}): ${lookup.reason}`);
      continue;
    }
    const found = findPortFor(ports, device.port, listOptions);
    if (found === undefined) {
      notes.push(`${device.at} (${device.id}): port ${device.port} is not among these ports: plug the adapter in, or correct the port`);
      continue;
    }
    usedBy.set(found.port, [...(usedBy.get(found.port) ?? []), { ...device, namedBy: found.namedBy }]);
    const anonymousTwin = ports.some((p) => p !== found.port && sameAnonymousAdapter(p, found.port));
    const stable = anonymousTwin ? found.port.byPath[0] : found.port.byId[0];
    const unstable = found.namedBy === "kernel name" || found.namedBy === "other link" || (found.namedBy === "by-id" && anonymousTwin);
    if (found.port.usb !== undefined && unstable && stable !== undefined) {
      notes.push(`${device.at} (${device.id}) uses ${device.port}, a name that can lead to another adapter after a reboot or re-plug: use ${stable}`);
    }
  }
  notes.push(...identicalAdapterNotes(ports));
  if (ports.some((p) => p.usb !== undefined) && !hasByIdFolder(listOptions)) {
    notes.push("/dev/serial/by-id does not exist (udev not running?): ports can only be named by kernel name, which may change at re-plug");
  }

  if (opts.json) {
    out(JSON.stringify({ ports: ports.map((p) => portJson(p, usedBy.get(p) ?? [])), notes }));
  } else {
    if (ports.length === 0) out("no serial ports found");
    for (const port of ports) out(portLine(port, usedBy.get(port) ?? []));
    for (const note of notes) out(`note: ${note}`);
  }
  return configInvalid ? EXIT.CONFIG : EXIT.OK;
}

/** The serial devices of a config: `scales[i]`, `readers[i]` and `level_sensors[i]` with their ports. */
function configuredDevices(config: Readonly<Config>): ConfiguredDevice[] {
  const devices: ConfiguredDevice[] = [];
  for (const [list, items] of [["scales", config.scales], ["readers", config.readers], ["level_sensors", config.level_sensors]] as const) {
    items.forEach((item: (typeof items)[number], i) => {
      // Readers on GPIO lines (wiegand) use no serial port.
      if (!isSerialReader(item)) return;
      devices.push({ at: `${list}.${i}`, id: item.id, port: describePortConfig(item), ...(item.usb !== undefined ? { usb: usbSelector(item.usb) } : {}) });
    });
  }
  return devices;
}

/** One line: path, by-id name, vendor:product, serial, manufacturer/product (driver), users. */
function portLine(port: SerialPortEntry, users: readonly UsedBy[]): string {
  const fields = [port.path, port.byId[0] ?? "(no by-id name)"];
  if (port.usb === undefined) {
    fields.push(`on-board or PCI UART${port.driver === undefined ? "" : ` (${port.driver})`}`);
  } else {
    const { vendorId, productId, serial, manufacturer, product } = port.usb;
    fields.push(`${vendorId}:${productId}`, serial === undefined ? "(no serial)" : `serial ${serial}`);
    const description = [manufacturer, product].filter((s) => s !== undefined).join(" / ");
    fields.push(`${description === "" ? "(no description)" : description}${port.driver === undefined ? "" : ` (${port.driver})`}`);
  }
  for (const u of users) fields.push(`<- ${u.at} ${u.id} by ${u.namedBy === "usb" ? u.port : `${u.namedBy}${u.namedBy === "kernel name" ? "" : ` ${u.port}`}`}`);
  return fields.join("  ");
}

/** The `--json` form of a port (snake_case keys, like the config's `usb: {vendor_id, product_id, serial}`). */
function portJson(port: SerialPortEntry, users: readonly UsedBy[]): Record<string, unknown> {
  return {
    path: port.path,
    by_id: port.byId,
    by_path: port.byPath,
    driver: port.driver ?? null,
    usb:
      port.usb === undefined
        ? null
        : {
            vendor_id: port.usb.vendorId,
            product_id: port.usb.productId,
            serial: port.usb.serial ?? null,
            manufacturer: port.usb.manufacturer ?? null,
            product: port.usb.product ?? null,
            interface_number: port.usb.interfaceNumber ?? null,
          },
    used_by: users.map((u) => ({ device: u.at, id: u.id, configured: u.port, named_by: u.namedBy })),
  };
}

/** Whether two ports are the same kind of adapter without serial numbers (so a by-id name cannot tell them apart). */
function sameAnonymousAdapter(a: SerialPortEntry, b: SerialPortEntry): boolean {
  return (
    a.usb !== undefined &&
    b.usb !== undefined &&
    a.usb.serial === undefined &&
    b.usb.serial === undefined &&
    a.usb.vendorId === b.usb.vendorId &&
    a.usb.productId === b.usb.productId &&
    a.usb.interfaceNumber === b.usb.interfaceNumber
  );
}

/** One note per group of identical adapters without serial numbers: by-id cannot tell them apart. */
function identicalAdapterNotes(ports: readonly SerialPortEntry[]): string[] {
  const notes: string[] = [];
  const seen = new Set<SerialPortEntry>();
  for (const port of ports) {
    if (seen.has(port) || port.usb === undefined) continue;
    const group = ports.filter((p) => p === port || sameAnonymousAdapter(p, port));
    if (group.length < 2) continue;
    for (const p of group) seen.add(p);
    const paths = group.map((p) => p.path).join(", ");
    notes.push(
      `${paths} are identical adapters (${port.usb.vendorId}:${port.usb.productId}) without serial numbers: their by-id name cannot tell them apart; ` +
        `name each by its USB socket (/dev/serial/by-path/…) and keep it in that socket`,
    );
  }
  return notes;
}
