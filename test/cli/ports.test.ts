import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOnce, ROOT, SMARTBIN } from "../support/build.js";
import { fakeTtyRoot, GATEWAY_TTYS, removeFakeRoot } from "../adapters/serial/fake-tty-sysfs.js";

/**
 * `smartbin ports` as a process, reading a fake sysfs and /dev tree through its hidden `--root`
 * option (for tests only). PATH is emptied so that no udevadm could be found even if the lister
 * wanted one.
 */
beforeAll(() => buildOnce(), 120_000);

const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) removeFakeRoot(dir);
});

function smartbin(args: string[]) {
  const r = spawnSync(process.execPath, [SMARTBIN, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, PATH: "" },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function gatewayRoot(opts?: { byIdFolder?: boolean }): string {
  const root = fakeTtyRoot(GATEWAY_TTYS, opts);
  cleanup.push(root);
  return root;
}

/** A config file of these lines after the station and mqtt sections. */
function writeConfig(lines: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "smartbin-ports-config-"));
  cleanup.push(dir);
  const file = join(dir, "config.yaml");
  writeFileSync(file, ["station: { id: st-001 }", "mqtt: { url: mqtt://127.0.0.1:1883 }", ...lines, ""].join("\n"));
  return file;
}

function configFile(scalePort: string, readerPort: string): string {
  return writeConfig([
    "scales:",
    `  - { id: scale-1, port: "${scalePort}", protocol: yaohua-a9 }`,
    "readers:",
    `  - { id: reader-1, port: "${readerPort}", protocol: em4100-ascii }`,
    "  - { id: reader-2, port: /dev/ttyUSB7, protocol: em4100-ascii }",
    "bins: [{ id: kitchen, category: food_waste, scale: scale-1 }]",
    'points: { rules_version: "2026-11", categories: { food_waste: { points_per_kg: 2 } } }',
  ]);
}

const FTDI_BY_ID = "/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0";

describe("smartbin ports", () => {
  it("prints one line per port: path, by-id name, vendor:product, serial, manufacturer / product", () => {
    const r = smartbin(["ports", "--root", gatewayRoot()]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    const portLines = lines.filter((l) => l.startsWith("/dev/"));
    expect(portLines.map((l) => l.split("  ")[0])).toEqual(["/dev/ttyACM0", "/dev/ttyAMA0", "/dev/ttyS0", "/dev/ttyUSB0", "/dev/ttyUSB1", "/dev/ttyUSB2"]);
    expect(portLines[3]).toBe(`/dev/ttyUSB0  ${FTDI_BY_ID}  0403:6001  serial A50285BI  FTDI / FT232R USB UART (ftdi_sio)`);
    expect(portLines[1]).toBe("/dev/ttyAMA0  (no by-id name)  on-board or PCI UART (uart-pl011)");
    expect(portLines[2]).toBe("/dev/ttyS0  (no by-id name)  on-board or PCI UART (bcm2835-aux-uart)");
    expect(portLines[4]).toBe("/dev/ttyUSB1  (no by-id name)  1a86:7523  (no serial)  USB Serial (ch341)");
    expect(lines.filter((l) => l.startsWith("note: "))).toEqual([
      expect.stringMatching(/^note: \/dev\/ttyUSB1, \/dev\/ttyUSB2 are identical adapters \(1a86:7523\) without serial numbers: .*by-path/),
    ]);
  });

  it("--json gives the same ports as one object, with snake_case USB identity", () => {
    const r = smartbin(["ports", "--json", "--root", gatewayRoot()]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { ports: Array<Record<string, unknown>>; notes: string[] };
    expect(doc.ports).toHaveLength(6);
    expect(doc.ports[3]).toEqual({
      path: "/dev/ttyUSB0",
      by_id: [FTDI_BY_ID],
      by_path: ["/dev/serial/by-path/platform-fe9c0000.xhci-usb-0:1.2:1.0-port0"],
      driver: "ftdi_sio",
      usb: { vendor_id: "0403", product_id: "6001", serial: "A50285BI", manufacturer: "FTDI", product: "FT232R USB UART", interface_number: 0 },
      used_by: [],
    });
    expect(doc.notes).toHaveLength(1);
  });

  it("with -c, says which device uses which port and by which name, and what is wrong with the names", () => {
    const config = configFile("/dev/ttyUSB0", FTDI_BY_ID);
    const r = smartbin(["ports", "-c", config, "--root", gatewayRoot()]);
    expect(r.code).toBe(0);
    const usb0 = r.stdout.split("\n").find((l) => l.startsWith("/dev/ttyUSB0"));
    expect(usb0).toContain("<- scales.0 scale-1 by kernel name");
    expect(usb0).toContain(`<- readers.0 reader-1 by by-id ${FTDI_BY_ID}`);
    expect(r.stdout).toContain(`note: scales.0 (scale-1) uses /dev/ttyUSB0, a name that can lead to another adapter after a reboot or re-plug: use ${FTDI_BY_ID}`);
    expect(r.stdout).toContain("note: readers.1 (reader-2): port /dev/ttyUSB7 is not among these ports");

    const json = JSON.parse(smartbin(["ports", "--json", "-c", config, "--root", gatewayRoot()]).stdout) as { ports: Array<{ path: string; used_by: unknown[] }> };
    expect(json.ports.find((p) => p.path === "/dev/ttyUSB0")?.used_by).toEqual([
      { device: "scales.0", id: "scale-1", configured: "/dev/ttyUSB0", named_by: "kernel name" },
      { device: "readers.0", id: "reader-1", configured: FTDI_BY_ID, named_by: "by-id" },
    ]);
  });

  it("with -c, devices configured by usb are matched by their adapter's identity; ambiguous and missing ones are notes", () => {
    const config = writeConfig([
      "scales:",
      '  - { id: scale-1, usb: { vendor_id: "0403", product_id: "6001", serial: A50285BI }, protocol: yaohua-a9 }',
      "readers:",
      '  - { id: reader-1, usb: { vendor_id: "1A86", product_id: "7523" }, protocol: em4100-ascii }',
      '  - { id: reader-2, usb: { vendor_id: "2e8a", product_id: "000b" }, protocol: em4100-ascii }',
    ]);
    const r = smartbin(["ports", "-c", config, "--root", gatewayRoot()]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").find((l) => l.startsWith("/dev/ttyUSB0"))).toContain("<- scales.0 scale-1 by usb 0403:6001 serial A50285BI");
    expect(r.stdout).toContain(
      "note: readers.0 (reader-1): ambiguous: 2 serial ports match usb 1a86:7523 (any serial) (/dev/ttyUSB1, /dev/ttyUSB2); none is chosen: " +
        "the adapters carry no serial number to tell them apart: configure the port by its USB socket, /dev/serial/by-path/…",
    );
    expect(r.stdout).toContain("note: readers.1 (reader-2): usb 2e8a:000b (any serial) is not among these ports: plug the adapter in, or correct usb");
    const json = JSON.parse(smartbin(["ports", "--json", "-c", config, "--root", gatewayRoot()]).stdout) as { ports: Array<{ path: string; used_by: unknown[] }> };
    expect(json.ports.find((p) => p.path === "/dev/ttyUSB0")?.used_by).toEqual([
      { device: "scales.0", id: "scale-1", configured: "usb 0403:6001 serial A50285BI", named_by: "usb" },
    ]);
  });

  it("a device configured by the by-id name two identical adapters share is told to use by-path", () => {
    const config = configFile("/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0", FTDI_BY_ID);
    const r = smartbin(["ports", "-c", config, "--root", gatewayRoot()]);
    expect(r.stdout).toContain(
      "note: scales.0 (scale-1) uses /dev/serial/by-id/usb-1a86_USB_Serial-if00-port0, a name that can lead to another adapter after a reboot or re-plug: use /dev/serial/by-path/platform-fe9c0000.xhci-usb-0:1.4:1.0-port0",
    );
  });

  it("works without /dev/serial (no udev) and says so", () => {
    const r = smartbin(["ports", "--root", gatewayRoot({ byIdFolder: false })]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("/dev/ttyUSB0  (no by-id name)  0403:6001  serial A50285BI");
    expect(r.stdout).toContain("note: /dev/serial/by-id does not exist (udev not running?)");
  });

  it("an invalid config still lists the ports, says so in one line and exits 78; no sysfs is one line and exit 1", () => {
    const dir = mkdtempSync(join(tmpdir(), "smartbin-ports-bad-"));
    cleanup.push(dir);
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "station: {}\n");
    const r = smartbin(["ports", "-c", bad, "--root", gatewayRoot()]);
    expect(r.code).toBe(78);
    expect(r.stdout).toContain("/dev/ttyUSB0");
    expect(r.stderr.trimEnd().split("\n")).toEqual([expect.stringMatching(/^smartbin ports: .*bad\.yaml is invalid \(\d+ problems?; see smartbin config check/)]);

    const none = smartbin(["ports", "--root", join(dir, "nowhere")]);
    expect(none.code).toBe(1);
    expect(none.stdout).toBe("");
    expect(none.stderr.trimEnd().split("\n")).toEqual([expect.stringMatching(/^smartbin ports: cannot read .*sys\/class\/tty \(ENOENT\)/)]);
  });
});
