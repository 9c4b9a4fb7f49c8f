/**
 * Config of the reader kinds of issue 9, item 3: card id forms, iso14443-text, and wiegand readers
 * on two GPIO lines (no port; lines checked with every other GPIO line; backend gpiod). Every
 * problem of a file is listed at once (`config check`, exit 78).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkConfigText, formatProblem } from "../../src/config/load.js";

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "smartbin-reader-config-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const HEAD = `station:
  id: st-001
mqtt:
  url: mqtt://127.0.0.1:1883
storage:
  path: ":memory:"
`;

function check(text: string): string[] {
  const r = checkConfigText(text, "c.yaml", dir);
  return r.ok ? [] : r.problems.map(formatProblem);
}

function load(text: string) {
  const r = checkConfigText(text, "c.yaml", dir);
  if (!r.ok) throw new Error(r.problems.map(formatProblem).join("\n"));
  return r.config;
}

describe("reader card id forms and iso14443-text", () => {
  it("accepts the new forms and rejects unknown ones, listing the valid ones", () => {
    const em = (format: string) => `${HEAD}readers:\n  - { id: r1, port: /dev/ttyUSB1, protocol: em4100-ascii, card_id_format: ${format} }\n`;
    expect(load(em("w26")).readers[0]).toMatchObject({ card_id_format: "w26" });
    expect(load(em("hex")).readers[0]).toMatchObject({ card_id_format: "hex" });
    expect(check(em("w34")).join("\n")).toMatch(/readers\.0\.card_id_format: .*dec10.*hex10.*wiegand26.*w26.*hex/);
  });

  it("fills the iso14443-text defaults: hex UIDs in transmission order, min_reads 1", () => {
    const config = load(`${HEAD}readers:\n  - { id: r1, port: /dev/ttyUSB1, protocol: iso14443-text, uid_text: dec, uid_byte_order: lsb_first }\n`);
    expect(config.readers[0]).toMatchObject({
      uid_text: "dec",
      uid_byte_order: "lsb_first",
      card_id_format: "hex",
      card_id_byte_order: "msb_first",
      min_reads: 1,
      baud_rate: 9600,
    });
  });
});

describe("wiegand readers", () => {
  const GPIOD = "gpio:\n  backend: gpiod\n";

  it("takes d0_line and d1_line instead of a port, with the protocol's defaults", () => {
    const config = load(`${HEAD}${GPIOD}readers:\n  - { id: door-reader, protocol: wiegand, d0_line: 24, d1_line: 25 }\n`);
    expect(config.readers[0]).toEqual({
      id: "door-reader",
      protocol: "wiegand",
      d0_line: 24,
      d1_line: 25,
      frame_gap_ms: 25,
      card_id_format: "w26",
      w34_facility_bits: 16,
      repeat_gap_ms: 500,
      min_reads: 1,
      no_valid_frames_s: 30,
    });
  });

  it("lists every problem at once: a port, a missing line, a line used twice, a backend without timestamps", () => {
    const text = `${HEAD}gpio:
  backend: onoff
  buzzer: { line: 19 }
readers:
  - id: w1
    protocol: wiegand
    port: /dev/ttyUSB3
    d0_line: 19
  - id: w2
    protocol: wiegand
    d0_line: 5
    d1_line: 5
`;
    expect(check(text)).toEqual([
      "c.yaml:11:5: readers.0.d1_line: required key missing",
      "c.yaml:12:15: readers.0.protocol: expected gpio.backend gpiod (or simulated) for a reader on GPIO lines (each Wiegand pulse needs its kernel timestamp), found gpio.backend onoff",
      "c.yaml:13:5: readers.0.port: port is an option of em4100-ascii, ascii-line and iso14443-text, not of wiegand",
      "c.yaml:14:14: readers.0.d0_line: expected a line no other part uses, found 19 again (first at gpio.buzzer)",
      "c.yaml:16:15: readers.1.protocol: expected gpio.backend gpiod (or simulated) for a reader on GPIO lines (each Wiegand pulse needs its kernel timestamp), found gpio.backend onoff",
      "c.yaml:18:14: readers.1.d1_line: expected a line no other part uses, found 5 again (first at readers.1.d0_line)",
    ]);
  });

  it("refuses serial keys and card forms a wiegand reader does not have", () => {
    const problems = check(`${HEAD}${GPIOD}readers:\n  - { id: w, protocol: wiegand, d0_line: 24, d1_line: 25, baud_rate: 9600, card_id_format: hex10 }\n`);
    expect(problems.join("\n")).toMatch(/readers\.0\.baud_rate: baud_rate is an option of/);
    expect(problems.join("\n")).toMatch(/readers\.0\.card_id_format: .*w26.*wiegand26.*dec10.*hex.*facility_card/);
  });
});
