import { afterEach } from "vitest";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";

/** A USB adapter of a fake tree. */
export interface FakeUsb {
  vendorId: string;
  productId: string;
  serial?: string;
  manufacturer?: string;
  product?: string;
  /** The device's bus position, e.g. `1-1.2` (its sysfs folder name). */
  bus: string;
  /** `bInterfaceNumber` (default 0). */
  interfaceNumber?: number;
}

/** One tty of a fake tree. */
export type FakeTty =
  | { name: string; kind: "usb-serial" | "cdc-acm"; usb: FakeUsb; driver: string; byId?: string[]; byPath?: string[] }
  /** An on-board UART: a platform device (`fe201000.serial`) with a driver and a serial_core `type`. */
  | { name: string; kind: "onboard"; platform: string; driver: string; type: number; serialBase?: boolean }
  /** An 8250 placeholder with no UART behind it (`type` 0). */
  | { name: string; kind: "placeholder" }
  /** A virtual tty (console, tty0, ptmx): no `device` link. */
  | { name: string; kind: "virtual" };

/**
 * A fake root with `sys/` and `dev/` laid out as Linux does for serial ports (see
 * src/adapters/serial/port-list.ts for the sources): `sys/class/tty/<name>` links to the class
 * device under the hardware's folder in `sys/devices/…`, whose `device` link leads to the port
 * device (usb-serial), the USB interface (CDC-ACM) or the platform device (on-board UART);
 * `dev/serial/by-id` and `by-path` links lead to `../../<name>` as udev makes them. `byIdFolder:
 * false` leaves `dev/serial` out (no udev). Returns the root; remove it with {@link removeFakeRoot}.
 */
export function fakeTtyRoot(ttys: readonly FakeTty[], opts: { byIdFolder?: boolean } = {}): string {
  const root = mkdtempSync(join(tmpdir(), "smartbin-ports-"));
  const sys = join(root, "sys");
  const classDir = join(sys, "class", "tty");
  mkdirSync(classDir, { recursive: true });
  const dev = join(root, "dev");
  mkdirSync(dev, { recursive: true });
  const usbRoot = join(sys, "devices", "platform", "soc", "fe9c0000.xhci", "usb1");
  const write = (dir: string, name: string, value: string | number | undefined): void => {
    mkdirSync(dir, { recursive: true });
    if (value !== undefined) writeFileSync(join(dir, name), `${value}\n`);
  };
  const link = (from: string, to: string): void => {
    mkdirSync(dirname(from), { recursive: true });
    symlinkSync(relative(dirname(from), to), from);
  };
  const driverDir = (bus: string, driver: string): string => {
    const dir = join(sys, "bus", bus, "drivers", driver);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const classDevice = (deviceDir: string, name: string): void => {
    const classDev = join(deviceDir, "tty", name);
    mkdirSync(classDev, { recursive: true });
    write(classDev, "dev", "188:0");
    link(join(classDev, "device"), deviceDir);
    link(join(classDir, name), classDev);
  };

  for (const tty of ttys) {
    writeFileSync(join(dev, tty.name), "");
    switch (tty.kind) {
      case "usb-serial":
      case "cdc-acm": {
        const usbDir = join(usbRoot, tty.usb.bus);
        write(usbDir, "idVendor", tty.usb.vendorId);
        write(usbDir, "idProduct", tty.usb.productId);
        write(usbDir, "serial", tty.usb.serial);
        write(usbDir, "manufacturer", tty.usb.manufacturer);
        write(usbDir, "product", tty.usb.product);
        const ifNum = tty.usb.interfaceNumber ?? 0;
        const ifDir = join(usbDir, `${tty.usb.bus}:1.${ifNum}`);
        write(ifDir, "bInterfaceNumber", ifNum.toString(16).padStart(2, "0"));
        if (tty.kind === "usb-serial") {
          const portDir = join(ifDir, tty.name);
          mkdirSync(portDir, { recursive: true });
          link(join(portDir, "driver"), driverDir("usb-serial", tty.driver));
          classDevice(portDir, tty.name);
        } else {
          link(join(ifDir, "driver"), driverDir("usb", tty.driver));
          classDevice(ifDir, tty.name);
        }
        if (opts.byIdFolder !== false) {
          for (const name of tty.byId ?? []) link(join(dev, "serial", "by-id", name), join(dev, tty.name));
          for (const name of tty.byPath ?? []) link(join(dev, "serial", "by-path", name), join(dev, tty.name));
        }
        break;
      }
      case "onboard": {
        const platformDir = join(sys, "devices", "platform", "soc", tty.platform);
        mkdirSync(platformDir, { recursive: true });
        link(join(platformDir, "driver"), driverDir("platform", tty.driver));
        // Linux 6.5+: the tty's device is a serial-base port device below a controller device.
        let portDir = platformDir;
        if (tty.serialBase === true) {
          portDir = join(platformDir, `${tty.platform}:0`, `${tty.platform}:0.0`);
          mkdirSync(portDir, { recursive: true });
          const bus = join(sys, "bus", "serial-base");
          link(join(portDir, "subsystem"), bus);
          link(join(dirname(portDir), "subsystem"), bus);
          link(join(portDir, "driver"), driverDir("serial-base", "port"));
        }
        classDevice(portDir, tty.name);
        write(join(portDir, "tty", tty.name), "type", tty.type);
        break;
      }
      case "placeholder": {
        const platformDir = join(sys, "devices", "platform", "serial8250");
        mkdirSync(platformDir, { recursive: true });
        link(join(platformDir, "driver"), driverDir("platform", "serial8250"));
        classDevice(platformDir, tty.name);
        write(join(platformDir, "tty", tty.name), "type", 0);
        break;
      }
      case "virtual": {
        const virtualDir = join(sys, "devices", "virtual", "tty", tty.name);
        mkdirSync(virtualDir, { recursive: true });
        link(join(classDir, tty.name), virtualDir);
        break;
      }
    }
  }
  return root;
}

/** Removes a fake root. */
export function removeFakeRoot(root: string): void {
  rmSync(root, { recursive: true, force: true });
}

/** For a test file: a {@link fakeTtyRoot} maker whose trees are removed after each test. */
export function fakeRootsPerTest(): (...args: Parameters<typeof fakeTtyRoot>) => string {
  const roots: string[] = [];
  afterEach(() => {
    for (const r of roots.splice(0)) removeFakeRoot(r);
  });
  return (...args) => {
    const root = fakeTtyRoot(...args);
    roots.push(root);
    return root;
  };
}

/** A gateway's ports: an FTDI with serial, a CDC-ACM reader, two identical CH340s without serial (udev kept one by-id link for them), ttyAMA0, ttyS0, an 8250 placeholder and virtual ttys. */
export const GATEWAY_TTYS: readonly FakeTty[] = [
  {
    name: "ttyUSB0",
    kind: "usb-serial",
    driver: "ftdi_sio",
    usb: { vendorId: "0403", productId: "6001", serial: "A50285BI", manufacturer: "FTDI", product: "FT232R USB UART", bus: "1-1.2" },
    byId: ["usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"],
    byPath: ["platform-fe9c0000.xhci-usb-0:1.2:1.0-port0"],
  },
  {
    name: "ttyUSB1",
    kind: "usb-serial",
    driver: "ch341",
    usb: { vendorId: "1a86", productId: "7523", product: "USB Serial", bus: "1-1.3" },
    byPath: ["platform-fe9c0000.xhci-usb-0:1.3:1.0-port0"],
  },
  {
    name: "ttyUSB2",
    kind: "usb-serial",
    driver: "ch341",
    usb: { vendorId: "1a86", productId: "7523", product: "USB Serial", bus: "1-1.4" },
    byId: ["usb-1a86_USB_Serial-if00-port0"],
    byPath: ["platform-fe9c0000.xhci-usb-0:1.4:1.0-port0"],
  },
  {
    name: "ttyACM0",
    kind: "cdc-acm",
    driver: "cdc_acm",
    usb: { vendorId: "2e8a", productId: "000a", serial: "E6614C311B7C5A2D", manufacturer: "Raspberry Pi", product: "Pico", bus: "1-1.1" },
    byId: ["usb-Raspberry_Pi_Pico_E6614C311B7C5A2D-if00"],
    byPath: ["platform-fe9c0000.xhci-usb-0:1.1:1.0"],
  },
  { name: "ttyAMA0", kind: "onboard", platform: "fe201000.serial", driver: "uart-pl011", type: 32 },
  { name: "ttyS0", kind: "onboard", platform: "fe215040.serial", driver: "bcm2835-aux-uart", type: 4, serialBase: true },
  { name: "ttyS1", kind: "placeholder" },
  { name: "console", kind: "virtual" },
  { name: "tty0", kind: "virtual" },
];
