/**
 * The scales[] and readers[] items built from the device registry (src/config/device-schema.ts):
 * each protocol's own options, its defaults, and the problems `config check` reports for them.
 */
import { describe, expect, it } from "vitest";
import { problemLines as check, validConfig as load } from "../support/config-text.js";

const head = `station: { id: st-1 }
mqtt:
  url: mqtt://127.0.0.1:1883
`;
/** A config with one reader: `protocol` and extra lines of its item. */
const reader = (protocol: string, extra = "") => `${head}readers:\n  - id: r1\n    port: /dev/ttyUSB1\n    protocol: ${protocol}\n${extra}`;
/** A config with one scale. */
const scale = (protocol: string, extra = "") => `${head}scales:\n  - id: s1\n    port: /dev/ttyUSB0\n    protocol: ${protocol}\n${extra}`;

describe("per-protocol options", () => {
  it("accepts each protocol's own options", () => {
    expect(check(reader("em4100-ascii", "    card_id_format: hex10\n"))).toEqual([]);
    expect(check(reader("ascii-line", "    pattern: '^QR:([0-9]+)$'\n"))).toEqual([]);
    expect(check(scale("yaohua-a9", "    unit: lb\n"))).toEqual([]);
    // contract.md section 5: ST,GS frames without a unit take the scale's unit.
    expect(check(scale("ascii-st-gs", "    unit: g\n"))).toEqual([]);
  });

  it("refuses another protocol's option at its key, naming the protocol it belongs to", () => {
    expect(check(reader("em4100-ascii", "    pattern: '^QR:([0-9]+)$'\n"))).toEqual([
      "c.yaml:8:5: readers.0.pattern: pattern is an option of ascii-line and iso14443-text, not of em4100-ascii",
    ]);
    expect(check(reader("ascii-line", "    card_id_format: hex10\n"))).toEqual([
      "c.yaml:8:5: readers.0.card_id_format: card_id_format is an option of em4100-ascii, iso14443-text and wiegand, not of ascii-line",
    ]);
  });

  it("still names the keys a protocol allows for a key no protocol has", () => {
    expect(check(reader("ascii-line", "    patern: x\n"))).toEqual([
      "c.yaml:8:5: readers.0.patern: unknown key (expected one of: id, port, usb, baud_rate, dtr, rts, hupcl, protocol, pattern, " +
        "repeat_gap_ms, min_reads, no_valid_frames_s); did you mean pattern?",
    ]);
  });

  it("checks a protocol's option values with its own schema", () => {
    expect(check(reader("em4100-ascii", "    card_id_format: octal\n"))).toEqual([
      'c.yaml:8:21: readers.0.card_id_format: expected one of dec10, hex10, wiegand26, w26, hex, found "octal"',
    ]);
    expect(check(scale("yaohua-a9", "    unit: t\n"))).toEqual(['c.yaml:8:11: scales.0.unit: expected one of g, kg, lb, found "t"']);
  });
});

describe("the options of yaohua-a12, toledo-continuous, ohaus and cas-22", () => {
  it("accepts each protocol, with its options and without", () => {
    for (const p of ["yaohua-a12", "toledo-continuous", "ohaus", "cas-22"]) expect(check(scale(p)), p).toEqual([]);
    expect(check(scale("toledo-continuous", "    checksum: false\n    character_format: 8N1\n"))).toEqual([]);
    expect(check(scale("cas-22", "    device_id: 13\n"))).toEqual([]);
  });

  it("fills their defaults: toledo-continuous checks a checksum in 7E1, cas-22 takes any device id", () => {
    const toledo = load(scale("toledo-continuous")).scales[0];
    expect(toledo).toMatchObject({ baud_rate: 9600, checksum: true, character_format: "7E1" });
    expect(load(scale("cas-22")).scales[0]).not.toHaveProperty("device_id");
  });

  it("refuses an option the protocol does not have (a checksum on a format without one, a unit on a frame that carries its own)", () => {
    expect(check(scale("ohaus", "    checksum: true\n"))).toEqual([
      "c.yaml:8:5: scales.0.checksum: checksum is an option of toledo-continuous, not of ohaus",
    ]);
    expect(check(scale("yaohua-a12", "    unit: lb\n"))).toEqual([
      "c.yaml:8:5: scales.0.unit: unit is an option of yaohua-a9, ascii-st-gs and modbus-rtu, not of yaohua-a12",
    ]);
    expect(check(scale("toledo-continuous", "    device_id: 1\n"))).toEqual([
      "c.yaml:8:5: scales.0.device_id: device_id is an option of cas-22, not of toledo-continuous",
    ]);
  });

  it("checks their values", () => {
    expect(check(scale("toledo-continuous", "    character_format: 7N1\n"))).toEqual([
      'c.yaml:8:23: scales.0.character_format: expected one of 7E1, 8N1, found "7N1"',
    ]);
    expect(check(scale("toledo-continuous", "    checksum: yes\n"))).toEqual([
      'c.yaml:8:15: scales.0.checksum: expected boolean, found "yes"',
    ]);
    expect(check(scale("cas-22", "    device_id: 79\n"))).toEqual([
      "c.yaml:8:16: scales.0.device_id: expected integer <= 78, found 79",
    ]);
  });
});

describe("mt-sics", () => {
  it("polls every 200 ms by default, within 50 ms to 10 s", () => {
    expect(load(scale("mt-sics")).scales[0]).toMatchObject({ baud_rate: 9600, poll_ms: 200 });
    expect(load(scale("mt-sics", "    poll_ms: 500\n")).scales[0]).toMatchObject({ poll_ms: 500 });
    expect(check(scale("mt-sics", "    poll_ms: 10\n"))).toEqual(["c.yaml:8:14: scales.0.poll_ms: expected integer >= 50, found 10"]);
    expect(check(scale("mt-sics", "    poll_ms: 20000\n"))).toEqual([
      "c.yaml:8:14: scales.0.poll_ms: expected integer <= 10000, found 20000",
    ]);
    expect(check(scale("ohaus", "    poll_ms: 200\n"))).toEqual([
      "c.yaml:8:5: scales.0.poll_ms: poll_ms is an option of mt-sics and modbus-rtu, not of ohaus",
    ]);
  });
});

describe("modbus-rtu", () => {
  it("names the read functions it takes when given another (a technician's 5 or \"03\")", () => {
    expect(check(scale("modbus-rtu", "    function: 5\n"))).toEqual(["c.yaml:8:15: scales.0.function: expected one of 3, 4, found 5"]);
    expect(check(scale("modbus-rtu", '    function: "03"\n'))).toEqual(['c.yaml:8:15: scales.0.function: expected one of 3, 4, found "03"']);
    expect(load(scale("modbus-rtu", "    function: 4\n")).scales[0]).toMatchObject({ function: 4 });
  });
});

describe("the serial control lines (dtr, rts, hupcl)", () => {
  it("are unset by default, on scales and readers", () => {
    const config = load(`${scale("ascii-st-gs")}readers:\n  - id: r1\n    port: /dev/ttyUSB1\n    protocol: em4100-ascii\n`);
    for (const item of [config.scales[0], config.readers[0]]) {
      expect(item).not.toHaveProperty("dtr");
      expect(item).not.toHaveProperty("rts");
      expect(item).not.toHaveProperty("hupcl");
    }
  });

  it("take booleans on any protocol", () => {
    const options = "    dtr: false\n    rts: true\n    hupcl: false\n";
    expect(load(scale("mt-sics", options)).scales[0]).toMatchObject({ dtr: false, rts: true, hupcl: false });
    expect(load(reader("ascii-line", options)).readers[0]).toMatchObject({ dtr: false, rts: true, hupcl: false });
    expect(check(scale("ohaus", "    dtr: low\n"))).toEqual(['c.yaml:8:10: scales.0.dtr: expected boolean, found "low"']);
  });
});

describe("the protocol key", () => {
  it("refuses an unknown protocol, listing the known ones, and still checks the keys every protocol has", () => {
    expect(check(reader("wiegand-37", "    baud_rate: fast\n    pattern: x\n"))).toEqual([
      'c.yaml:7:15: readers.0.protocol: expected one of em4100-ascii, ascii-line, iso14443-text, wiegand, found "wiegand-37"',
      'c.yaml:8:16: readers.0.baud_rate: expected integer, found "fast"',
    ]);
    expect(check(scale("toledo"))).toEqual([
      'c.yaml:7:15: scales.0.protocol: expected one of yaohua-a9, ascii-st-gs, yaohua-a12, toledo-continuous, mt-sics, ohaus, cas-22, modbus-rtu, found "toledo"',
    ]);
    // A reader protocol on a scale is no scale protocol.
    expect(check(scale("em4100-ascii"))).toEqual([
      'c.yaml:7:15: scales.0.protocol: expected one of yaohua-a9, ascii-st-gs, yaohua-a12, toledo-continuous, mt-sics, ohaus, cas-22, modbus-rtu, found "em4100-ascii"',
    ]);
  });

  it("reports a missing protocol as a required key, at the item", () => {
    expect(check(`${head}readers:\n  - id: r1\n    port: /dev/ttyUSB1\n    repeat_gap_ms: -1\n`)).toEqual([
      "c.yaml:5:5: readers.0.protocol: required key missing",
      "c.yaml:7:20: readers.0.repeat_gap_ms: expected number >= 0, found -1",
    ]);
  });
});

describe("per-protocol defaults", () => {
  it("fills min_reads from the protocol's module: 2 for em4100-ascii, 1 for ascii-line; a written one wins", () => {
    expect(load(reader("em4100-ascii")).readers[0]?.min_reads).toBe(2);
    expect(load(reader("ascii-line")).readers[0]?.min_reads).toBe(1);
    expect(load(reader("em4100-ascii", "    min_reads: 3\n")).readers[0]?.min_reads).toBe(3);
    expect(check(reader("ascii-line", "    min_reads: 0\n"))).toEqual([
      "c.yaml:8:16: readers.0.min_reads: expected integer >= 1, found 0",
    ]);
  });

  it("fills baud_rate from the protocol's serial settings", () => {
    expect(load(scale("ascii-st-gs")).scales[0]?.baud_rate).toBe(9600);
    expect(load(reader("ascii-line", "    baud_rate: 115200\n")).readers[0]).toMatchObject({ baud_rate: 115200 });
  });
});

describe("max_net_g and capacity_g (contract.md section 2)", () => {
  const bins = (scaleExtra: string, binExtra: string) =>
    `${scale("yaohua-a9", scaleExtra)}bins:\n  - id: kitchen\n    category: food_waste\n    scale: s1\n${binExtra}`;

  it("refuses a written max_net_g above its scale's capacity_g, at bins.N.max_net_g", () => {
    expect(check(bins("    capacity_g: 30000\n", "    max_net_g: 40000\n"))).toEqual([
      'c.yaml:13:16: bins.0.max_net_g: expected at most the capacity_g of scale "s1" (30000), found 40000',
    ]);
  });

  it("accepts max_net_g up to the capacity, and either one alone", () => {
    expect(check(bins("    capacity_g: 30000\n", "    max_net_g: 30000\n"))).toEqual([]);
    expect(check(bins("", "    max_net_g: 80000\n"))).toEqual([]);
    expect(check(bins("    capacity_g: 30000\n", ""))).toEqual([]);
  });
});

describe("repeat_gap_ms against min_reads", () => {
  it("refuses an em4100-ascii gap in which two reads of a held tag (about 50 ms apart) can never arrive", () => {
    expect(check(reader("em4100-ascii", "    repeat_gap_ms: 30\n"))).toEqual([
      "c.yaml:8:20: readers.0.repeat_gap_ms: expected a gap in which 2 reads can arrive (em4100-ascii readers repeat " +
        "a held tag about every 50 ms, so with min_reads 2 the gap must be at least 100), found 30",
    ]);
    expect(check(reader("em4100-ascii", "    repeat_gap_ms: 100\n"))).toEqual([]);
    // One read is enough: any gap will do.
    expect(check(reader("em4100-ascii", "    repeat_gap_ms: 30\n    min_reads: 1\n"))).toEqual([]);
  });

  it("refuses a gap of 0 with min_reads above 1 on any reader; ascii-line's default of one read takes any gap", () => {
    expect(check(reader("ascii-line", "    repeat_gap_ms: 0\n    min_reads: 2\n"))).toEqual([
      "c.yaml:8:20: readers.0.repeat_gap_ms: expected a gap in which 2 reads can arrive (with min_reads 2, frames of one " +
        "tag must be allowed some time apart), found 0",
    ]);
    expect(check(reader("ascii-line", "    repeat_gap_ms: 0\n"))).toEqual([]);
  });
});

describe("a polled scale's stable_window_ms against its poll_ms", () => {
  it("refuses a window that cannot hold stable_min_samples answers: the scale would never be stable", () => {
    expect(check(scale("mt-sics", "    poll_ms: 1000\n"))).toEqual([
      "c.yaml:5:5: scales.0.stable_window_ms: expected a window that holds stable_min_samples (3) answers polled every " +
        "poll_ms (1000 ms), at least 3000, found 1000: the scale would never be stable",
    ]);
    expect(check(scale("modbus-rtu", "    poll_ms: 600\n    stable_window_ms: 1500\n    stable_min_samples: 4\n"))).toEqual([
      "c.yaml:9:23: scales.0.stable_window_ms: expected a window that holds stable_min_samples (4) answers polled every " +
        "poll_ms (600 ms), at least 2400, found 1500: the scale would never be stable",
    ]);
    // Exactly (min - 1) polls in the window, the defaults, a longer window, and a streaming indicator: accepted.
    expect(check(scale("mt-sics", "    poll_ms: 500\n"))).toEqual([]);
    expect(check(scale("mt-sics"))).toEqual([]);
    expect(check(scale("mt-sics", "    poll_ms: 1000\n    stable_window_ms: 3000\n"))).toEqual([]);
    expect(check(scale("yaohua-a9", "    stable_window_ms: 100\n"))).toEqual([]);
  });
});
