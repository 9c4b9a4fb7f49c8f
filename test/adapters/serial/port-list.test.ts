import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findPortFor, listSerialPorts, PortListError } from "../../../src/adapters/serial/port-list.js";
import { fakeRootsPerTest, GATEWAY_TTYS } from "./fake-tty-sysfs.js";

const tree = fakeRootsPerTest();

describe("listSerialPorts on fake sysfs trees", () => {
  it("lists the ports with hardware behind them, by kernel name, with their USB identity and udev names", () => {
    const root = tree(GATEWAY_TTYS);
    const ports = listSerialPorts({ root });
    expect(ports.map((p) => p.path)).toEqual(["/dev/ttyACM0", "/dev/ttyAMA0", "/dev/ttyS0", "/dev/ttyUSB0", "/dev/ttyUSB1", "/dev/ttyUSB2"]);
    expect(ports[3]).toEqual({
      path: "/dev/ttyUSB0",
      byId: ["/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"],
      byPath: ["/dev/serial/by-path/platform-fe9c0000.xhci-usb-0:1.2:1.0-port0"],
      driver: "ftdi_sio",
      usb: { vendorId: "0403", productId: "6001", serial: "A50285BI", manufacturer: "FTDI", product: "FT232R USB UART", interfaceNumber: 0 },
    });
    // CDC-ACM: the device link leads to the interface, whose parent is the USB device
    expect(ports[0]).toMatchObject({
      driver: "cdc_acm",
      byId: ["/dev/serial/by-id/usb-Raspberry_Pi_Pico_E6614C311B7C5A2D-if00"],
      usb: { vendorId: "2e8a", productId: "000a", serial: "E6614C311B7C5A2D", product: "Pico" },
    });
  });

  it("lists on-board UARTs without USB identity and leaves out 8250 placeholders and virtual ttys", () => {
    const ports = listSerialPorts({ root: tree(GATEWAY_TTYS) });
    expect(ports.find((p) => p.path === "/dev/ttyAMA0")).toEqual({ path: "/dev/ttyAMA0", byId: [], byPath: [], driver: "uart-pl011" });
    expect(ports.find((p) => p.path === "/dev/ttyS0")).toEqual({ path: "/dev/ttyS0", byId: [], byPath: [], driver: "bcm2835-aux-uart" });
    for (const gone of ["/dev/ttyS1", "/dev/console", "/dev/tty0"]) expect(ports.map((p) => p.path)).not.toContain(gone);
  });

  it("tells two identical adapters without serial numbers apart only by by-path (udev kept one by-id link)", () => {
    const ports = listSerialPorts({ root: tree(GATEWAY_TTYS) });
    const [one, two] = [ports.find((p) => p.path === "/dev/ttyUSB1")!, ports.find((p) => p.path === "/dev/ttyUSB2")!];
    expect(one.usb).toEqual({ vendorId: "1a86", productId: "7523", product: "USB Serial", interfaceNumber: 0 });
    expect(two.usb).toEqual(one.usb);
    expect(one.byId).toEqual([]);
    expect(two.byId).toEqual(["/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0"]);
    expect(one.byPath).not.toEqual(two.byPath);
  });

  it("works without the /dev/serial folders (no udev): no udev names, identities from sysfs", () => {
    const ports = listSerialPorts({ root: tree(GATEWAY_TTYS, { byIdFolder: false }) });
    expect(ports).toHaveLength(6);
    for (const p of ports) {
      expect(p.byId).toEqual([]);
      expect(p.byPath).toEqual([]);
    }
    expect(ports.find((p) => p.path === "/dev/ttyUSB0")?.usb?.serial).toBe("A50285BI");
  });

  it("numbers the ports of a multi-port adapter by interface, and sorts ttyUSB10 after ttyUSB2", () => {
    const ft4232 = { vendorId: "0403", productId: "6011", serial: "FT4XYZ", bus: "1-1.2" };
    const root = tree([
      { name: "ttyUSB10", kind: "usb-serial", driver: "ftdi_sio", usb: { ...ft4232, interfaceNumber: 3 } },
      { name: "ttyUSB2", kind: "usb-serial", driver: "ftdi_sio", usb: { ...ft4232, interfaceNumber: 1 } },
    ]);
    const ports = listSerialPorts({ root });
    expect(ports.map((p) => [p.path, p.usb?.interfaceNumber])).toEqual([
      ["/dev/ttyUSB2", 1],
      ["/dev/ttyUSB10", 3],
    ]);
  });

  it("an empty system lists nothing; a root without sysfs is a PortListError naming the folder", () => {
    expect(listSerialPorts({ root: tree([{ name: "console", kind: "virtual" }]) })).toEqual([]);
    const root = tree([]);
    expect(() => listSerialPorts({ root: join(root, "nowhere") })).toThrow(PortListError);
    expect(() => listSerialPorts({ root: join(root, "nowhere") })).toThrow(/sys\/class\/tty \(ENOENT\)/);
  });
});

describe("findPortFor", () => {
  it("finds a configured path by by-id, by-path, kernel name or another link, and says which", () => {
    const root = tree(GATEWAY_TTYS);
    symlinkSync("ttyUSB0", join(root, "dev", "scale0"));
    const ports = listSerialPorts({ root });
    const find = (p: string) => {
      const f = findPortFor(ports, p, { root });
      return f && [f.port.path, f.namedBy];
    };
    expect(find("/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0")).toEqual(["/dev/ttyUSB0", "by-id"]);
    expect(find("/dev/serial/by-path/platform-fe9c0000.xhci-usb-0:1.3:1.0-port0")).toEqual(["/dev/ttyUSB1", "by-path"]);
    expect(find("/dev/ttyAMA0")).toEqual(["/dev/ttyAMA0", "kernel name"]);
    expect(find("/dev/scale0")).toEqual(["/dev/ttyUSB0", "other link"]);
    expect(find("/dev/ttyUSB7")).toBeUndefined();
    expect(find("/dev/../../etc/passwd")).toBeUndefined();
  });
});
