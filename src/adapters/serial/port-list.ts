/**
 * Lists the serial ports of a Linux system from sysfs and the udev symlink folders, without
 * udevadm (issue 9, item 5).
 *
 * Why not serialport's `SerialPort.list()`: on Linux, @serialport/bindings-cpp's `linuxList`
 * (dist/linux-list.js, 13.0.0) spawns `udevadm info -e` and parses its output; where udevadm is
 * missing (minimal images, containers, OpenWrt) the spawn fails with `ENOENT` and the list call
 * rejects with it (node-serialport issues #650, #678, #2185: "udevadm needs to be installed").
 *
 * Sources of the facts read here:
 * - `/sys/class/tty/<name>`: one class device per tty; real hardware has a `device` link to the
 *   device behind it, virtual ttys (console, tty0…, ptmx) have none (Documentation/ABI/stable/
 *   sysfs-devices, "device" link). For a usb-serial adapter (ftdi_sio, cp210x, ch341, pl2303) the
 *   link leads to the port device (`…/1-1.2:1.0/ttyUSB0`), for a CDC-ACM device to the USB
 *   interface (`…/1-1.2:1.0`); either way an ancestor is the USB device (`…/1-1.2`), the first
 *   one with `idVendor` (Documentation/ABI/stable/sysfs-bus-usb: `idVendor`, `idProduct`, and the
 *   string descriptors `manufacturer`, `product`, `serial`, each absent when the device has none).
 *   The interface has `bInterfaceNumber` (two hex digits), which tells apart the ports of a
 *   multi-port adapter (FT2232, FT4232: one serial number, one interface per port).
 * - `/sys/class/tty/ttyS<n>/type`: serial_core's UART type; 0 (PORT_UNKNOWN) means no UART answers
 *   behind the name (the 8250 driver registers ttyS0…ttyS31 whether or not the chips exist;
 *   Documentation/ABI/testing/sysfs-tty, "type"). Such ports are not listed.
 * - `/dev/serial/by-id/*` and `/dev/serial/by-path/*`: symlinks made by udev's
 *   60-serial.rules (`usb-<vendor>_<product>_<serial>-if<NN>[-port<N>]` and the USB socket path).
 *   Without udev, or with no USB serial device plugged in, the folders do not exist. Two identical
 *   adapters without a serial number get the same by-id name: udev keeps one link for the two, so
 *   only by-path (the USB socket) tells them apart.
 *
 * Everything is read under a root folder (default `/`) so that tests can point the lister at a
 * fake tree.
 */
import { existsSync, readFileSync, readdirSync, readlinkSync, realpathSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";

/** The USB identity of a port's adapter, as its descriptors give it (Documentation/ABI/stable/sysfs-bus-usb). */
export interface UsbIdentity {
  /** `idVendor`: four lowercase hex digits, e.g. `0403` (FTDI). */
  vendorId: string;
  /** `idProduct`: four lowercase hex digits, e.g. `6001` (FT232R). */
  productId: string;
  /** The `serial` string descriptor, absent when the adapter has none (most CH340 adapters). */
  serial?: string;
  manufacturer?: string;
  product?: string;
  /** `bInterfaceNumber` of the USB interface the port belongs to, as a number (0 for single-port adapters). */
  interfaceNumber?: number;
}

/** One serial port of the system. */
export interface SerialPortEntry {
  /** The kernel's device name, e.g. `/dev/ttyUSB0` (always under `/dev`, whatever the lister's root). */
  path: string;
  /** The `/dev/serial/by-id/…` links that lead to it (normally one; none without udev or for on-board UARTs). */
  byId: string[];
  /** The `/dev/serial/by-path/…` links that lead to it (the USB socket or bus position). */
  byPath: string[];
  /** The kernel driver of the port's device (`ftdi_sio`, `cp210x`, `ch341`, `cdc_acm`, `uart-pl011`…), when sysfs names one. */
  driver?: string;
  /** The USB adapter, absent for on-board and PCI UARTs. */
  usb?: UsbIdentity;
}

/** Where the lister reads: `<root>/sys/class/tty`, `<root>/dev/serial/by-id`, `<root>/dev/serial/by-path`. */
export interface PortListOptions {
  /** Default `/`; tests give a fake tree. */
  root?: string;
}

/** sysfs itself is missing or unreadable: not a Linux system, or /sys not mounted. */
export class PortListError extends Error {
  override readonly name = "PortListError";
}

/**
 * Every serial port with hardware behind it, sorted by kernel name (`ttyACM0`, `ttyAMA0`,
 * `ttyS0`, `ttyUSB0`, `ttyUSB1`, `ttyUSB10`: numbers in numeric order). A port whose attributes
 * cannot be read is listed with what could be read; it never makes the whole list fail.
 *
 * @throws PortListError when `<root>/sys/class/tty` cannot be read
 */
export function listSerialPorts(options: PortListOptions = {}): SerialPortEntry[] {
  const root = resolve(options.root ?? "/");
  const classDir = join(root, "sys", "class", "tty");
  let names: string[];
  try {
    names = readdirSync(classDir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new PortListError(`cannot read ${classDir} (${code}): serial ports are listed from Linux sysfs`);
  }
  const links = {
    byId: symlinksByTarget(root, "by-id"),
    byPath: symlinksByTarget(root, "by-path"),
  };
  const ports: SerialPortEntry[] = [];
  for (const name of names.sort(byKernelName)) {
    const entry = describePort(root, classDir, name, links);
    if (entry !== null) ports.push(entry);
  }
  return ports;
}

/** One tty class device, or `null` when it has no hardware (virtual ttys, 8250 placeholders). */
function describePort(
  root: string,
  classDir: string,
  name: string,
  links: { byId: Map<string, string[]>; byPath: Map<string, string[]> },
): SerialPortEntry | null {
  const ttyDir = join(classDir, name);
  const device = realpathOrNull(join(ttyDir, "device"));
  if (device === null || !insideRoot(root, device)) return null;
  if (readAttribute(ttyDir, "type") === "0") return null;
  const entry: SerialPortEntry = {
    path: `/dev/${name}`,
    byId: links.byId.get(name) ?? [],
    byPath: links.byPath.get(name) ?? [],
  };
  const driver = driverOf(root, device);
  if (driver !== undefined) entry.driver = driver;
  const usb = usbIdentity(root, device);
  if (usb !== undefined) entry.usb = usb;
  return entry;
}

/**
 * The driver of the hardware behind a port. Since Linux 6.5 the `device` link of a serial_core
 * port (ttyS, ttyAMA) leads to a "serial-base" bus port device (`00:00:0.0`, driver `port`) whose
 * ancestors are the controller (`00:00:0`) and then the real device (drivers/tty/serial/
 * serial_base_bus.c); those are skipped to name the UART's own driver (`serial`, `uart-pl011`).
 */
function driverOf(root: string, device: string): string | undefined {
  let dir = device;
  while (insideRoot(join(root, "sys", "devices"), dir) && basename(realpathOrNull(join(dir, "subsystem")) ?? "") === "serial-base") {
    dir = dirname(dir);
  }
  const driver = realpathOrNull(join(dir, "driver"));
  return driver === null ? undefined : basename(driver);
}

/**
 * The USB device among `device` and its ancestors (the first folder with `idVendor` and
 * `idProduct`), stopping at `<root>/sys/devices`; the interface is the folder just below it.
 */
function usbIdentity(root: string, device: string): UsbIdentity | undefined {
  const stop = join(root, "sys", "devices");
  let below: string | undefined;
  for (let dir = device; insideRoot(stop, dir) && dir !== stop; below = dir, dir = dirname(dir)) {
    const vendorId = readAttribute(dir, "idVendor");
    const productId = readAttribute(dir, "idProduct");
    if (vendorId === undefined || productId === undefined) continue;
    const usb: UsbIdentity = { vendorId: vendorId.toLowerCase(), productId: productId.toLowerCase() };
    for (const key of ["serial", "manufacturer", "product"] as const) {
      const value = readAttribute(dir, key);
      if (value !== undefined && value !== "") usb[key] = value;
    }
    const interfaceNumber = below === undefined ? undefined : readAttribute(below, "bInterfaceNumber");
    if (interfaceNumber !== undefined && /^[0-9a-fA-F]{1,2}$/.test(interfaceNumber)) usb.interfaceNumber = parseInt(interfaceNumber, 16);
    return usb;
  }
  return undefined;
}

/** For each kernel name (`ttyUSB0`), the links of `/dev/serial/<kind>` that lead to `/dev/<name>`, sorted. */
function symlinksByTarget(root: string, kind: "by-id" | "by-path"): Map<string, string[]> {
  const folder = join(root, "dev", "serial", kind);
  const found = new Map<string, string[]>();
  let entries: string[];
  try {
    entries = readdirSync(folder).sort();
  } catch {
    return found; // no udev, or no USB serial device: the folder does not exist
  }
  for (const link of entries) {
    let target: string;
    try {
      target = readlinkSync(join(folder, link));
    } catch {
      continue; // not a symlink
    }
    const name = basename(resolve(folder, target));
    const list = found.get(name) ?? [];
    list.push(`/dev/serial/${kind}/${link}`);
    found.set(name, list);
  }
  return found;
}

/** An attribute file's first line, trimmed; `undefined` when it is missing or unreadable. */
function readAttribute(dir: string, name: string): string | undefined {
  try {
    return (readFileSync(join(dir, name), "utf8").split("\n")[0] ?? "").trim();
  } catch {
    return undefined;
  }
}

function realpathOrNull(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

/** Whether `path` is `root` or below it (both absolute and resolved). */
function insideRoot(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** Orders `ttyUSB2` before `ttyUSB10`: the name's letters, then its number. */
function byKernelName(a: string, b: string): number {
  const split = (s: string): [string, number] => {
    const m = /^(.*?)(\d*)$/.exec(s);
    return [m?.[1] ?? s, m?.[2] ? Number(m[2]) : -1];
  };
  const [pa, na] = split(a);
  const [pb, nb] = split(b);
  return pa < pb ? -1 : pa > pb ? 1 : na - nb;
}

/**
 * The port a configured path names, if any: the path itself, one of its by-id/by-path names, or
 * any other link (a udev rule's `/dev/scale0`) that resolves, under the lister's root, to the
 * port's device node. Returns the port and how it is named.
 */
export function findPortFor(
  ports: readonly SerialPortEntry[],
  configured: string,
  options: PortListOptions = {},
): { port: SerialPortEntry; namedBy: "by-id" | "by-path" | "kernel name" | "other link" } | undefined {
  for (const port of ports) {
    if (port.byId.includes(configured)) return { port, namedBy: "by-id" };
    if (port.byPath.includes(configured)) return { port, namedBy: "by-path" };
    if (port.path === configured) return { port, namedBy: "kernel name" };
  }
  if (!configured.startsWith("/dev/")) return undefined;
  const root = resolve(options.root ?? "/");
  const resolved = realpathOrNull(join(root, configured));
  if (resolved === null || !insideRoot(join(root, "dev"), resolved)) return undefined;
  const port = ports.find((p) => p.path === `/dev/${basename(resolved)}`);
  return port === undefined ? undefined : { port, namedBy: "other link" };
}

/** Whether a fake or real root has the udev link folder `dev/serial/by-id` (for hints). */
export function hasByIdFolder(options: PortListOptions = {}): boolean {
  return existsSync(join(resolve(options.root ?? "/"), "dev", "serial", "by-id"));
}
