/**
 * A serial device named by its USB adapter's identity (`usb: {vendor_id, product_id, serial,
 * interface}`) instead of `port` (issue 9, item 4): exactly one of the two, hex ids, one identity
 * per device.
 */
import { describe, expect, it } from "vitest";
import { problemLines as check, validConfig as load } from "../support/config-text.js";

const head = `station: { id: st-1 }
mqtt:
  url: mqtt://127.0.0.1:1883
`;
const scale = (lines: string) => `${head}scales:\n  - id: s1\n${lines}    protocol: yaohua-a9\n`;
const usb = (vendor: string, product: string, more = "") => `    usb:\n      vendor_id: "${vendor}"\n      product_id: "${product}"\n${more}`;

describe("usb instead of port", () => {
  it("accepts usb alone, with or without serial and interface; the contract's port works unchanged", () => {
    expect(load(scale(usb("0403", "6001", "      serial: A50285BI\n"))).scales[0]).toMatchObject({
      usb: { vendor_id: "0403", product_id: "6001", serial: "A50285BI" },
    });
    expect(load(scale(usb("1A86", "7523"))).scales[0]?.port).toBeUndefined();
    expect(check(scale(usb("0403", "6010", "      serial: FT4ABC\n      interface: 1\n")))).toEqual([]);
    expect(load(scale("    port: /dev/serial/by-id/usb-FTDI-if00\n")).scales[0]).toMatchObject({ port: "/dev/serial/by-id/usb-FTDI-if00" });
    expect(check(`${head}readers:\n  - id: r1\n${usb("2e8a", "000a")}    protocol: em4100-ascii\n`)).toEqual([]);
  });

  it("refuses both port and usb, and neither, naming both", () => {
    expect(check(scale(`    port: /dev/ttyUSB0\n${usb("0403", "6001")}`))).toEqual([
      "c.yaml:8:7: scales.0.usb: expected one of port and usb, found both (usb finds the port by its adapter's identity instead of a path)",
    ]);
    expect(check(scale(""))).toEqual([
      "c.yaml:5:5: scales.0.port: required key missing (or usb: the USB adapter's identity instead of a path)",
    ]);
  });

  it("says to quote ids that YAML read as numbers (0403 unquoted, the technician's first mistake)", () => {
    expect(check(scale("    usb: { vendor_id: 0403, product_id: 6001, serial: 12345 }\n"))).toEqual([
      'c.yaml:6:23: scales.0.usb.vendor_id: expected string, found 0403 (write it in quotes, "0403": unquoted, YAML reads it as a number)',
      'c.yaml:6:41: scales.0.usb.product_id: expected string, found 6001 (write it in quotes, "6001": unquoted, YAML reads it as a number)',
      'c.yaml:6:55: scales.0.usb.serial: expected string, found 12345 (write it in quotes, "12345": unquoted, YAML reads it as a number)',
    ]);
  });

  it("says so of a card id with its leading zeros read away, and not of a text key that is no identifier (a URL given 42)", () => {
    expect(check(`${head}cards:\n  collectors: [0008844356]\n`)).toEqual([
      'c.yaml:5:16: cards.collectors.0: expected string, found 0008844356 (write it in quotes, "0008844356": unquoted, YAML reads it as a number)',
    ]);
    expect(check("station: { id: st-1 }\nmqtt:\n  url: 42\n")).toEqual(["c.yaml:3:8: mqtt.url: expected string, found 42"]);
  });

  it("reports an item that is no mapping once, not also as missing its port", () => {
    expect(check(`${head}scales: [null]\nreaders: [7]\nlevel_sensors: ["dyp"]\n`)).toEqual([
      "c.yaml:4:10: scales.0: expected mapping, found null",
      "c.yaml:5:11: readers.0: expected mapping, found 7",
      'c.yaml:6:17: level_sensors.0: expected mapping, found "dyp"',
    ]);
  });

  it("checks the ids as 4 hex digits, the keys of usb, and the interface number", () => {
    expect(check(scale(usb("403", "60x1")))).toEqual([
      'c.yaml:7:18: scales.0.usb.vendor_id: expected 4 hex digits as smartbin ports prints them (e.g. 0403), found "403"',
      'c.yaml:8:19: scales.0.usb.product_id: expected 4 hex digits as smartbin ports prints them (e.g. 6001), found "60x1"',
    ]);
    expect(check(scale(usb("0403", "6001", "      serial_number: X\n      interface: 256\n")))).toEqual([
      "c.yaml:9:7: scales.0.usb.serial_number: unknown key (expected one of: vendor_id, product_id, serial, interface)",
      "c.yaml:10:18: scales.0.usb.interface: expected integer <= 255, found 256",
    ]);
  });

  it("refuses one USB identity for two devices (ids in any case), across scales and readers", () => {
    const text = `${head}scales:
  - id: s1
${usb("0403", "6001", "      serial: A50285BI\n")}    protocol: yaohua-a9
  - id: s2
${usb("0403", "6001", "      serial: OTHER\n")}    protocol: yaohua-a9
readers:
  - id: r1
${usb("0403", "6001", "      serial: A50285BI\n")}    protocol: em4100-ascii
  - id: r2
${usb("1a86", "7523")}    protocol: em4100-ascii
  - id: r3
${usb("1A86", "7523")}    protocol: em4100-ascii
`;
    expect(check(text)).toEqual([
      "c.yaml:20:7: readers.0.usb: expected a USB identity no other device uses, found 0403:6001 serial A50285BI again (already the usb of scales.0 (s1); one adapter serves one device)",
      "c.yaml:31:7: readers.2.usb: expected a USB identity no other device uses, found 1a86:7523 again (already the usb of readers.1 (r2); one adapter serves one device)",
    ]);
  });
});
