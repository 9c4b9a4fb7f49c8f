/**
 * Finds a serial port by the USB identity of its adapter (config `usb: {vendor_id, product_id,
 * serial, interface}` instead of `port`; issue 9, item 4), through the sysfs lister
 * (port-list.ts), so that an adapter that re-enumerates as `/dev/ttyUSB1` after a re-plug is found
 * again, with or without udev's `/dev/serial/by-id` links.
 *
 * The identity is what the adapter's USB device descriptor says (Documentation/ABI/stable/
 * sysfs-bus-usb: `idVendor`, `idProduct`, the `serial` string descriptor) and, for multi-port
 * adapters (FT2232, FT4232: one serial number, one interface per port), the interface's
 * `bInterfaceNumber`. Two adapters that match the same identity are never guessed between: cheap
 * CH340 adapters carry no serial number, so two of them are indistinguishable by identity (only the
 * USB socket, `/dev/serial/by-path/…`, tells them apart).
 */
import { join, resolve } from "node:path";
import { listSerialPorts, PortListError, type PortListOptions, type SerialPortEntry } from "./port-list.js";

/** A configured USB identity (config `usb`, with hex ids in lower case as sysfs and `smartbin ports` print them). */
export interface UsbSelector {
  /** `idVendor`, four hex digits, lower case (`0403`). */
  vendorId: string;
  /** `idProduct`, four hex digits, lower case (`6001`). */
  productId: string;
  /** The `serial` string descriptor, compared exactly; absent: any (then two matching adapters are ambiguous). */
  serial?: string;
  /** `bInterfaceNumber` of a multi-port adapter's port; absent: any. */
  interfaceNumber?: number;
}

/** What a lookup found. `path` is the device node to open. */
export type UsbPortLookup =
  | { kind: "found"; path: string; port: SerialPortEntry }
  /** No port has this identity now (unplugged, or another identity): `reason` is one line for logs and alarms. */
  | { kind: "missing"; reason: string }
  /** Several ports match: never guessed; `paths` are their kernel names. */
  | { kind: "ambiguous"; reason: string; paths: string[] }
  /** sysfs could not be read at all. */
  | { kind: "unreadable"; reason: string };

/** `usb 0403:6001 serial A50285BI interface 1`: the identity as logs, alarms and `smartbin ports -c` name it. */
export function describeUsb(usb: UsbSelector): string {
  const serial = usb.serial === undefined ? " (any serial)" : ` serial ${usb.serial}`;
  const iface = usb.interfaceNumber === undefined ? "" : ` interface ${usb.interfaceNumber}`;
  return `usb ${usb.vendorId}:${usb.productId}${serial}${iface}`;
}

/** Whether a listed port's adapter has the selector's identity. */
export function matchesUsb(port: SerialPortEntry, usb: UsbSelector): boolean {
  const id = port.usb;
  if (id === undefined) return false;
  if (id.vendorId !== usb.vendorId.toLowerCase() || id.productId !== usb.productId.toLowerCase()) return false;
  if (usb.serial !== undefined && id.serial !== usb.serial) return false;
  if (usb.interfaceNumber !== undefined && (id.interfaceNumber ?? 0) !== usb.interfaceNumber) return false;
  return true;
}

/**
 * Picks the port with this identity among `ports` (as {@link listSerialPorts} gives them). With a
 * root other than `/` (tests' fake trees), the path to open is the kernel name under that root.
 */
export function pickUsbPort(ports: readonly SerialPortEntry[], usb: UsbSelector, options: PortListOptions = {}): UsbPortLookup {
  const matches = ports.filter((p) => matchesUsb(p, usb));
  const what = describeUsb(usb);
  const only = matches[0];
  if (only === undefined) return { kind: "missing", reason: `no serial port of ${what} is plugged in` };
  if (matches.length > 1) {
    const paths = matches.map((p) => p.path);
    const hint =
      usb.serial === undefined && matches.some((p) => p.usb?.serial !== undefined)
        ? "give usb.serial"
        : new Set(matches.map((p) => p.usb?.interfaceNumber ?? 0)).size > 1 && usb.interfaceNumber === undefined
          ? "give usb.interface (a multi-port adapter)"
          : "the adapters carry no serial number to tell them apart: configure the port by its USB socket, /dev/serial/by-path/…";
    return { kind: "ambiguous", paths, reason: `ambiguous: ${matches.length} serial ports match ${what} (${paths.join(", ")}); none is chosen: ${hint}` };
  }
  const root = resolve(options.root ?? "/");
  return { kind: "found", path: root === resolve("/") ? only.path : join(root, only.path), port: only };
}

/** Lists the ports (sysfs, see port-list.ts) and picks the one with this identity. Never throws. */
export function findUsbPort(usb: UsbSelector, options: PortListOptions = {}): UsbPortLookup {
  let ports: SerialPortEntry[];
  try {
    ports = listSerialPorts(options);
  } catch (e) {
    if (e instanceof PortListError) return { kind: "unreadable", reason: e.message };
    return { kind: "unreadable", reason: e instanceof Error ? e.message : String(e) };
  }
  return pickUsbPort(ports, usb, options);
}

/** The config's `usb` object (snake_case keys) as a {@link UsbSelector}. */
export function usbSelector(usb: { vendor_id: string; product_id: string; serial?: string | undefined; interface?: number | undefined }): UsbSelector {
  return {
    vendorId: usb.vendor_id.toLowerCase(),
    productId: usb.product_id.toLowerCase(),
    ...(usb.serial !== undefined ? { serial: usb.serial } : {}),
    ...(usb.interface !== undefined ? { interfaceNumber: usb.interface } : {}),
  };
}

/** A config item's port: `port` (a path) or `usb` (an identity), exactly one (cross-field.ts). */
export interface PortConfig {
  port?: string | undefined;
  usb?: { vendor_id: string; product_id: string; serial?: string | undefined; interface?: number | undefined } | undefined;
}

/** How logs, `doctor` and `ports -c` name a device's port: its path, or its USB identity. */
export function describePortConfig(item: PortConfig): string {
  if (item.usb !== undefined) return describeUsb(usbSelector(item.usb));
  return item.port ?? "(no port)";
}

/**
 * What a serial device opens: for `port`, the path; for `usb`, a lookup to run at every open
 * (`locate`), which lists the ports under `root` (default `/`; tests give a fake tree).
 */
export function serialTarget(item: PortConfig, options: PortListOptions = {}): { path: string; locate?: () => { path: string } | { fault: string } } {
  if (item.usb === undefined) return { path: item.port ?? "" };
  const usb = usbSelector(item.usb);
  return {
    path: describeUsb(usb),
    locate: () => {
      const found = findUsbPort(usb, options);
      return found.kind === "found" ? { path: found.path } : { fault: found.reason };
    },
  };
}
