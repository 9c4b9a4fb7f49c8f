/**
 * The `level_sensors:` section (contract.md section 2): items built from the device registry's
 * `level` kind (src/config/device-schema.ts), their defaults per protocol, and the checks between
 * keys (src/config/cross-field.ts): an existing bin, one sensor per bin, full_mm < empty_mm, unique
 * ids, a port no other device uses. A bad file lists every problem at once.
 */
import { describe, expect, it } from "vitest";
import { problemLines as check, validConfig as load } from "../support/config-text.js";

const head = `station: { id: st-1 }
mqtt:
  url: mqtt://127.0.0.1:1883
scales:
  - { id: s1, port: /dev/ttyUSB0, protocol: yaohua-a9 }
  - { id: s2, port: /dev/ttyUSB1, protocol: yaohua-a9 }
bins:
  - { id: kitchen, category: food_waste, scale: s1 }
  - { id: paper, category: recyclable, scale: s2 }
`;
/** A config with the bins above and these level sensor lines (flow mappings, one per line). */
const sensors = (...items: string[]) => `${head}level_sensors:\n${items.map((i) => `  - ${i}\n`).join("")}`;

describe("level_sensors items", () => {
  it("fill the contract's defaults, per protocol", () => {
    const config = load(sensors("{ id: l1, port: /dev/ttyUSB2, protocol: dyp-a02, bin: kitchen }", "{ id: l2, port: /dev/ttyUSB3, protocol: tf-luna, bin: paper }"));
    expect(config.level_sensors[0]).toEqual({
      id: "l1",
      port: "/dev/ttyUSB2",
      protocol: "dyp-a02",
      baud_rate: 9600,
      min_mm: 30,
      max_mm: 4500,
      silence_timeout_s: 5,
      bin: "kitchen",
      empty_mm: 1200,
      full_mm: 250,
      median_window_s: 3,
    });
    expect(config.level_sensors[1]).toMatchObject({ protocol: "tf-luna", baud_rate: 115200, min_strength: 100, silence_timeout_s: 5 });
  });

  it("default to none", () => {
    expect(load(head).level_sensors).toEqual([]);
  });

  it("refuses min_strength on a dyp-a02 and an unknown protocol, naming what is expected", () => {
    const lines = check(sensors("{ id: l1, port: /dev/ttyUSB2, protocol: dyp-a02, bin: kitchen, min_strength: 100 }", "{ id: l2, port: /dev/ttyUSB3, protocol: hc-sr04, bin: paper }"));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/level_sensors\.0\.min_strength: min_strength is an option of tf-luna, not of dyp-a02/);
    expect(lines[1]).toMatch(/level_sensors\.1\.protocol: .*dyp-a02.*tf-luna/);
  });

  it("lists every cross-field problem at once: unknown bin, a second sensor on one bin, full_mm not below empty_mm, a repeated id, a shared port", () => {
    const lines = check(
      sensors(
        "{ id: l1, port: /dev/ttyUSB2, protocol: dyp-a02, bin: cellar }",
        "{ id: l2, port: /dev/ttyUSB3, protocol: tf-luna, bin: kitchen, empty_mm: 800, full_mm: 800 }",
        "{ id: l2, port: /dev/ttyUSB4, protocol: tf-luna, bin: kitchen }",
        "{ id: l4, port: /dev/ttyUSB0, protocol: dyp-a02, bin: paper, full_mm: 20 }",
      ),
    );
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/level_sensors\.0\.bin: expected the id of a bin \(one of: kitchen, paper\), found "cellar"/),
        expect.stringMatching(/level_sensors\.1\.full_mm: expected a distance less than empty_mm \(800/),
        expect.stringMatching(/level_sensors\.2\.id: expected an id unique within level_sensors, found "l2" again/),
        expect.stringMatching(/level_sensors\.2\.bin: expected a bin no other level sensor looks into, found "kitchen" \(already under level_sensors\.1/),
        expect.stringMatching(/level_sensors\.3\.full_mm: expected at least min_mm \(30/),
        expect.stringMatching(/level_sensors\.3\.port: expected a port no other device uses, found "\/dev\/ttyUSB0" \(already the port of scales\.0 \(s1\)/),
      ]),
    );
    expect(lines).toHaveLength(6);
  });

  it("refuses a dyp-a02 empty_mm beyond its max_mm: the empty bin would read as no reading and a full bin would never be ok again", () => {
    const lines = check(
      sensors(
        "{ id: l1, port: /dev/ttyUSB2, protocol: dyp-a02, bin: kitchen, max_mm: 1000 }",
        "{ id: l2, port: /dev/ttyUSB3, protocol: dyp-a02, bin: paper, empty_mm: 5000 }",
      ),
    );
    expect(lines).toEqual([
      expect.stringMatching(/level_sensors\.0\.empty_mm: expected at most max_mm \(1000: longer readings are beyond the sensor's range, never read\), found 1200/),
      expect.stringMatching(/level_sensors\.1\.empty_mm: expected at most max_mm \(4500: .*\), found 5000/),
    ]);
    expect(load(sensors("{ id: l1, port: /dev/ttyUSB2, protocol: dyp-a02, bin: kitchen, max_mm: 1200 }")).level_sensors).toHaveLength(1);
  });

  it("refuses a device id another device list already uses: the status and the port events know a device by its id alone", () => {
    const lines = check(
      `${head}readers:\n  - { id: s1, port: /dev/ttyUSB5, protocol: em4100-ascii }\nlevel_sensors:\n  - { id: s2, port: /dev/ttyUSB2, protocol: dyp-a02, bin: kitchen }\n  - { id: s1, port: /dev/ttyUSB3, protocol: dyp-a02, bin: paper }\n`,
    );
    expect(lines).toEqual([
      expect.stringMatching(/readers\.0\.id: expected an id no other device uses, found "s1" \(already scales\.0\.id; the status and alarms know a device by its id alone\)/),
      expect.stringMatching(/level_sensors\.0\.id: expected an id no other device uses, found "s2" \(already scales\.1\.id;/),
      expect.stringMatching(/level_sensors\.1\.id: expected an id no other device uses, found "s1" \(already scales\.0\.id;/),
    ]);
  });
});
