/**
 * Finding a serial port by its adapter's USB identity (usb-port.ts) on fake sysfs trees: present,
 * gone, back under another kernel name, two matches (with and without serial numbers), a
 * multi-port adapter's interfaces, and no udev at all.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeUsb, findUsbPort, serialTarget } from "../../../src/adapters/serial/usb-port.js";
import { fakeRootsPerTest, GATEWAY_TTYS, type FakeTty } from "./fake-tty-sysfs.js";

const tree = fakeRootsPerTest();

const FTDI = { vendorId: "0403", productId: "6001", serial: "A50285BI" };
/** The FTDI adapter of GATEWAY_TTYS, enumerated as `name` on bus position `bus`. */
const ftdiAs = (name: string, bus = "1-1.2"): FakeTty => ({
  name,
  kind: "usb-serial",
  driver: "ftdi_sio",
  usb: { ...FTDI, manufacturer: "FTDI", product: "FT232R USB UART", bus },
  byId: ["usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"],
});

describe("findUsbPort on fake sysfs trees", () => {
  it("finds the adapter by vendor, product and serial, and opens its kernel name under the tree's root", () => {
    const root = tree(GATEWAY_TTYS);
    const found = findUsbPort(FTDI, { root });
    expect(found).toMatchObject({ kind: "found", path: join(root, "dev", "ttyUSB0"), port: { path: "/dev/ttyUSB0" } });
    // Case-insensitive ids; a CDC-ACM device (the interface is the tty's device) too.
    expect(findUsbPort({ vendorId: "2E8A", productId: "000A", serial: "E6614C311B7C5A2D" }, { root })).toMatchObject({ kind: "found", port: { path: "/dev/ttyACM0" } });
  });

  it("gone: missing, with a reason naming the identity; another adapter of the same model with another serial is not it", () => {
    const other = ftdiAs("ttyUSB0");
    const root = tree([{ ...other, usb: { ...(other as { usb: object }).usb, serial: "B99999ZZ" } } as FakeTty]);
    expect(findUsbPort(FTDI, { root })).toEqual({ kind: "missing", reason: "no serial port of usb 0403:6001 serial A50285BI is plugged in" });
    expect(findUsbPort(FTDI, { root: tree([]) })).toMatchObject({ kind: "missing" });
  });

  it("back under another kernel name (ttyUSB1 after a re-plug): found there", () => {
    const before = tree([ftdiAs("ttyUSB0")]);
    const after = tree([ftdiAs("ttyUSB1", "1-1.3")]);
    expect(findUsbPort(FTDI, { root: before })).toMatchObject({ kind: "found", port: { path: "/dev/ttyUSB0" } });
    expect(findUsbPort(FTDI, { root: after })).toMatchObject({ kind: "found", path: join(after, "dev", "ttyUSB1"), port: { path: "/dev/ttyUSB1" } });
  });

  it("without udev (no /dev/serial folders) the identity still comes from sysfs", () => {
    const root = tree(GATEWAY_TTYS, { byIdFolder: false });
    expect(findUsbPort(FTDI, { root })).toMatchObject({ kind: "found", port: { path: "/dev/ttyUSB0", byId: [] } });
  });

  it("two identical adapters without serial numbers: ambiguous, none chosen, the reason says how to tell them apart", () => {
    const root = tree(GATEWAY_TTYS);
    const found = findUsbPort({ vendorId: "1a86", productId: "7523" }, { root });
    expect(found).toEqual({
      kind: "ambiguous",
      paths: ["/dev/ttyUSB1", "/dev/ttyUSB2"],
      reason:
        "ambiguous: 2 serial ports match usb 1a86:7523 (any serial) (/dev/ttyUSB1, /dev/ttyUSB2); none is chosen: " +
        "the adapters carry no serial number to tell them apart: configure the port by its USB socket, /dev/serial/by-path/…",
    });
  });

  it("no serial configured, and two adapters of that model that have serial numbers: ambiguous, asks for usb.serial", () => {
    const root = tree([ftdiAs("ttyUSB0"), { ...ftdiAs("ttyUSB1", "1-1.3"), usb: { ...FTDI, serial: "B99999ZZ", bus: "1-1.3" }, byId: [] } as FakeTty]);
    const found = findUsbPort({ vendorId: "0403", productId: "6001" }, { root });
    expect(found.kind).toBe("ambiguous");
    expect(found.kind === "ambiguous" && found.reason).toMatch(/; none is chosen: give usb\.serial$/);
    // Without serial, one adapter of that model plugged in is found.
    expect(findUsbPort({ vendorId: "0403", productId: "6001" }, { root: tree([ftdiAs("ttyUSB3")]) })).toMatchObject({ kind: "found", port: { path: "/dev/ttyUSB3" } });
  });

  it("a multi-port adapter (one serial, one interface per port): ambiguous without interface, each port by its interface", () => {
    const quad = [0, 1, 2, 3].map(
      (i): FakeTty => ({ name: `ttyUSB${i}`, kind: "usb-serial", driver: "ftdi_sio", usb: { vendorId: "0403", productId: "6011", serial: "FT4X", bus: "1-1.4", interfaceNumber: i } }),
    );
    const root = tree(quad);
    const found = findUsbPort({ vendorId: "0403", productId: "6011", serial: "FT4X" }, { root });
    expect(found.kind === "ambiguous" && found.reason).toMatch(/give usb\.interface \(a multi-port adapter\)$/);
    expect(findUsbPort({ vendorId: "0403", productId: "6011", serial: "FT4X", interfaceNumber: 2 }, { root })).toMatchObject({ kind: "found", port: { path: "/dev/ttyUSB2" } });
  });

  it("sysfs unreadable: a reason, never a throw", () => {
    expect(findUsbPort(FTDI, { root: "/nonexistent-smartbin-root" })).toMatchObject({ kind: "unreadable", reason: expect.stringContaining("cannot read") });
  });
});

describe("serialTarget: what a device opens", () => {
  it("port: the path itself; usb: a label and a lookup run at every open", () => {
    expect(serialTarget({ port: "/dev/serial/by-id/x" })).toEqual({ path: "/dev/serial/by-id/x" });
    const root = tree([ftdiAs("ttyUSB0")]);
    const target = serialTarget({ usb: { vendor_id: "0403", product_id: "6001", serial: "A50285BI" } }, { root });
    expect(target.path).toBe(describeUsb(FTDI));
    expect(target.path).toBe("usb 0403:6001 serial A50285BI");
    expect(target.locate?.()).toEqual({ path: join(root, "dev", "ttyUSB0") });
    const empty = tree([]);
    expect(serialTarget({ usb: { vendor_id: "0403", product_id: "6001", serial: "A50285BI" } }, { root: empty }).locate?.()).toEqual({
      fault: "no serial port of usb 0403:6001 serial A50285BI is plugged in",
    });
  });
});
