import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkConfigText, formatProblem, loadConfigFile, type ConfigLoadResult } from "../../src/config/load.js";
import { CERT_PEM, KEY_PEM } from "../support/tls-fixtures.js";
import { CONTRACT_EXAMPLE, MINIMAL } from "./contract-example.js";

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "smartbin-config-"));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Writes `text` to `name` in the temporary folder and returns the path. */
function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

/** The problem lines of a result, `[]` when valid. */
function lines(result: ConfigLoadResult): string[] {
  return result.ok ? [] : result.problems.map(formatProblem);
}

/** Problem lines of `text` checked as the file `c.yaml`. */
function check(text: string): string[] {
  return lines(checkConfigText(text, "c.yaml", "/etc/smartbin"));
}

const head = `station:
  id: st-001
mqtt:
  url: mqtt://127.0.0.1:1883
`;

describe("loadConfigFile", () => {
  it("loads the contract example", () => {
    const file = write("contract.yaml", CONTRACT_EXAMPLE);
    const result = loadConfigFile(file);
    expect(lines(result)).toEqual([]);
    expect(result.ok && result.file).toBe(file);
    expect(result.ok && result.config.points?.categories?.food_waste?.points_per_kg).toBe("2");
  });

  it("reports a missing file at 1:1, with the file name exactly as given", () => {
    const file = path.join(dir, "nope", "..", "missing.yaml");
    expect(lines(loadConfigFile(file))).toEqual([
      `${file}:1:1: (file): cannot read: no such file or directory (ENOENT)`,
    ]);
  });

  it("reports an unreadable file (a folder) at 1:1", () => {
    expect(lines(loadConfigFile(dir))).toEqual([`${dir}:1:1: (file): cannot read: is a directory (EISDIR)`]);
  });

  it("resolves a relative storage.path against the config file's folder", () => {
    const file = write("site/a/config.yaml", `${MINIMAL}storage:\n  path: data/smartbin.db\n`);
    const result = loadConfigFile(file);
    expect(result.ok && result.config.storage.path).toBe(path.join(dir, "site/a/data/smartbin.db"));
  });

  it("resolves against the folder also when the file is given as a relative path", () => {
    const file = write("rel/config.yaml", `${MINIMAL}storage:\n  path: ./x.db\n`);
    const result = loadConfigFile(path.relative(process.cwd(), file));
    expect(result.ok && result.config.storage.path).toBe(path.join(dir, "rel/x.db"));
  });

  it("keeps absolute paths and :memory:", () => {
    const abs = loadConfigFile(write("abs.yaml", `${MINIMAL}storage:\n  path: /srv/s.db\n`));
    expect(abs.ok && abs.config.storage.path).toBe("/srv/s.db");
    const mem = loadConfigFile(write("mem.yaml", `${MINIMAL}storage:\n  path: ":memory:"\n`));
    expect(mem.ok && mem.config.storage.path).toBe(":memory:");
  });

  it("resolves the TLS files against the config file's folder", () => {
    write("tls/certs/ca.pem", CERT_PEM);
    write("tls/c.key", KEY_PEM);
    const crt = write("pki/c.crt", CERT_PEM);
    const file = write(
      "tls/config.yaml",
      `station: { id: st-001 }\nmqtt:\n  url: mqtts://broker:8883\n  ca_file: certs/ca.pem\n  cert_file: ${crt}\n  key_file: c.key\n`,
    );
    const result = loadConfigFile(file);
    expect(lines(result)).toEqual([]);
    expect(result.ok && result.config.mqtt).toMatchObject({
      ca_file: path.join(dir, "tls/certs/ca.pem"),
      cert_file: crt,
      key_file: path.join(dir, "tls/c.key"),
    });
  });

  it("reports a TLS file that cannot be read at its key, so run exits 78 rather than restart-looping", () => {
    const file = write("tls2/config.yaml", `station: { id: st-001 }\nmqtt:\n  url: mqtts://broker:8883\n  ca_file: ca.pem\n`);
    expect(lines(loadConfigFile(file))).toEqual([
      `${file}:4:12: mqtt.ca_file: expected a readable file, found ${JSON.stringify(path.join(dir, "tls2/ca.pem"))}: no such file or directory (ENOENT)`,
    ]);
  });

  it("returns a deep-frozen config", () => {
    const result = loadConfigFile(write("frozen.yaml", CONTRACT_EXAMPLE));
    if (!result.ok) throw new Error("expected a valid config");
    const { config } = result;
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.mqtt)).toBe(true);
    expect(Object.isFrozen(config.scales)).toBe(true);
    expect(Object.isFrozen(config.scales[0])).toBe(true);
    expect(Object.isFrozen(config.points?.categories?.food_waste)).toBe(true);
    expect(() => {
      config.station.id = "other";
    }).toThrow(TypeError);
  });
});

describe("checkConfigText problems", () => {
  it("reports a wrong type at the value, with what was expected and found", () => {
    expect(
      check(`${head}scales:\n  - id: s\n    port: /dev/ttyUSB0\n    protocol: yaohua-a9\n    baud_rate: fast\n`),
    ).toEqual(['c.yaml:9:16: scales.0.baud_rate: expected integer, found "fast"']);
  });

  it("reports a non-integer and a non-number as written", () => {
    expect(check(`${head}session:\n  idle_close_s: yes\nscales: []\nbins: 0x10\n`)).toEqual([
      'c.yaml:6:17: session.idle_close_s: expected number, found "yes"',
      "c.yaml:8:7: bins: expected list, found 0x10",
    ]);
  });

  it("reports an unknown key at the key, with the keys expected", () => {
    expect(check(`${head}  topic_prefx: sb\n`)).toEqual([
      "c.yaml:5:3: mqtt.topic_prefx: unknown key (expected one of: url, topic_prefix, protocol_version, " +
        "client_id, username, password, password_file, ca_file, cert_file, key_file, tls_insecure, session_expiry_s, " +
        "reconnect_max_s, keepalive_s, inflight); did you mean topic_prefix?",
    ]);
  });

  it("reports an unknown top-level key", () => {
    expect(check(`${head}colour: blue\n`)).toEqual([
      "c.yaml:5:1: colour: unknown key (expected one of: station, storage, mqtt, telemetry, scales, readers, level_sensors, bins, points, session, gpio, cards, log)",
    ]);
  });

  it("reports a missing required key at its parent mapping's start", () => {
    expect(check(`${head}readers:\n  - id: r\n    protocol: ascii-line\n`)).toEqual([
      "c.yaml:6:5: readers.0.port: required key missing (or usb: the USB adapter's identity instead of a path)",
    ]);
  });

  it("reports a missing top-level key at the top mapping's start", () => {
    expect(check(`# station config\n\nstation:\n  id: st-001\n`)).toEqual(["c.yaml:3:1: mqtt: required key missing"]);
  });

  it("reports a bad enum value with the allowed values", () => {
    expect(check(`${head}scales:\n  - { id: s, port: p, protocol: foo }\n`)).toEqual([
      'c.yaml:6:33: scales.0.protocol: expected one of yaohua-a9, ascii-st-gs, yaohua-a12, toledo-continuous, mt-sics, ohaus, cas-22, modbus-rtu, found "foo"',
    ]);
  });

  it("reports a regular expression that does not compile", () => {
    expect(check(`${head}readers:\n  - id: r\n    port: p\n    protocol: ascii-line\n    pattern: "([0-9]+"\n`)).toEqual([
      'c.yaml:9:14: readers.0.pattern: expected a regular expression, found "([0-9]+" (missing closing ): "([0-9]+")',
    ]);
  });

  it("reports a duplicate id at the duplicate", () => {
    expect(check(`${head}scales:\n  - { id: s1, port: a, protocol: yaohua-a9 }\n  - { id: s1, port: b, protocol: yaohua-a9 }\n`)).toEqual([
      'c.yaml:7:11: scales.1.id: expected an id unique within scales, found "s1" again (first at scales.0.id)',
    ]);
  });

  it("reports a bin on an unknown scale and two bins on one scale", () => {
    const text = `${head}scales:\n  - { id: s1, port: a, protocol: yaohua-a9 }\nbins:\n  - { id: b1, category: food_waste, scale: s1 }\n  - { id: b2, category: recyclable, scale: s1 }\n  - { id: b3, category: residual, scale: s9 }\n`;
    expect(check(text)).toEqual([
      'c.yaml:9:44: bins.1.scale: expected a scale no other bin uses, found "s1" (already under bins.0; a scale serves one bin)',
      'c.yaml:10:42: bins.2.scale: expected the id of a scale (one of: s1), found "s9"',
    ]);
  });

  it("requires rules_version when categories are given, at the points mapping", () => {
    expect(check(`${head}points:\n  categories:\n    food_waste: { points_per_kg: 1.16 }\n`)).toEqual([
      "c.yaml:6:3: points.rules_version: required key missing (required when points.categories is given)",
    ]);
  });

  it("reports an invalid category slug at the key", () => {
    expect(check(`${head}points:\n  rules_version: v1\n  categories:\n    Food Waste: { points_per_kg: 1 }\n`)).toEqual([
      'c.yaml:8:5: points.categories.Food Waste: expected a slug of lowercase letters, digits, "_" or "-", ' +
        'starting with a letter or digit, found "Food Waste"',
    ]);
  });

  it("reports a YAML syntax error at its position", () => {
    expect(check(`${head}scales: [ { id: s1 }\nbins: []\n`)).toEqual([
      "c.yaml:6:1: (yaml): Flow sequence in block collection must be sufficiently indented and end with a ]",
    ]);
  });

  it("reports every YAML error, in order", () => {
    expect(check(`station:\n  id: a\n  id: b\nmqtt: 'x\n`)).toEqual([
      "c.yaml:3:3: (yaml): Map keys must be unique",
      "c.yaml:5:1: (yaml): Missing closing 'quote",
    ]);
  });

  it("reports a second YAML document in words, not the parser's advice to its programmers", () => {
    expect(check(`${head}---\nfoo: 1\n`)).toEqual([
      'c.yaml:5:1: (yaml): the file holds more than one YAML document (a line "---" starts another one); a config is one document',
    ]);
  });

  it("reports an unresolved alias at the alias", () => {
    expect(check(`${head}session: *defaults\n`)).toEqual([
      "c.yaml:5:10: (yaml): unresolved alias *defaults (the anchor &defaults must come before it)",
    ]);
  });

  it("reports an empty file, a comment-only file and a top level that is not a mapping", () => {
    const expected = (at: string, found: string) =>
      `c.yaml:${at}: (root): expected a mapping of settings (at least station and mqtt), found ${found}`;
    expect(check("")).toEqual([expected("1:1", "nothing (an empty file)")]);
    expect(check("# nothing yet\n")).toEqual([expected("1:1", "nothing (an empty file)")]);
    expect(check("\n- a\n")).toEqual([expected("2:1", "a list")]);
    expect(check("hello\n")).toEqual([expected("1:1", '"hello"')]);
  });

  it("reports an empty section at its key", () => {
    expect(check(`${head}session:\n`)).toEqual(["c.yaml:5:1: session: expected mapping, found nothing (an empty value)"]);
  });

  it("reports TLS files that a plain url would ignore, and a certificate without its key", () => {
    expect(check(`station: { id: st-001 }\nmqtt:\n  url: mqtt://h\n  cert_file: c.pem\n`)).toEqual([
      "c.yaml:3:3: mqtt.key_file: required key missing (required when mqtt.cert_file is given)",
      'c.yaml:4:14: mqtt.cert_file: only used with an mqtts:// or wss:// url, found mqtt.url "mqtt://h"',
      'c.yaml:4:14: mqtt.cert_file: expected a readable file, found "/etc/smartbin/c.pem": no such file or directory (ENOENT)',
    ]);
  });

  it("reports every problem of a file at once, sorted by line and column", () => {
    const text = `station:
  id: St-001
mqtt:
  url: http://broker
  protocol_version: 3
scales:
  - id: scale-1
    port: /dev/ttyUSB0
    protocol: yaohua-a9
    change_threshold_g: 12.5
  - id: scale-1
    protocol: ascii-st-gs
    stable_window_ms: -1
readers:
  - id: reader-1
    port: /dev/ttyUSB1
    protocol: em4100-ascii
    card_id_format: wiegand34
    repat_gap_ms: 100
bins:
  - id: kitchen
    category: food_waste
    scale: scale-2
points:
  rules_version: "2026-11"
  categories:
    food_waste: { points_per_kg: "1,16" }
session:
  idle_close_s: 0
log:
  level: verbose
`;
    expect(check(text)).toEqual([
      'c.yaml:2:7: station.id: expected 1 to 64 lowercase letters, digits, "_" or "-", starting with a letter or digit, found "St-001"',
      'c.yaml:4:8: mqtt.url: expected a URL mqtt://, mqtts://, ws:// or wss:// with a host, found "http://broker"',
      "c.yaml:5:21: mqtt.protocol_version: expected one of 5, 4, found 3",
      "c.yaml:10:25: scales.0.change_threshold_g: expected integer, found 12.5",
      "c.yaml:11:5: scales.1.port: required key missing (or usb: the USB adapter's identity instead of a path)",
      'c.yaml:11:9: scales.1.id: expected an id unique within scales, found "scale-1" again (first at scales.0.id)',
      "c.yaml:13:23: scales.1.stable_window_ms: expected number > 0, found -1",
      'c.yaml:18:21: readers.0.card_id_format: expected one of dec10, hex10, wiegand26, w26, hex, found "wiegand34"',
      "c.yaml:19:5: readers.0.repat_gap_ms: unknown key (expected one of: id, port, usb, baud_rate, dtr, rts, hupcl, protocol, " +
        "card_id_format, repeat_gap_ms, min_reads, no_valid_frames_s); did you mean repeat_gap_ms?",
      'c.yaml:23:12: bins.0.scale: expected the id of a scale (one of: scale-1), found "scale-2"',
      'c.yaml:27:34: points.categories.food_waste.points_per_kg: expected a non-negative decimal number such as 2 or 1.16, found "1,16"',
      "c.yaml:29:17: session.idle_close_s: expected number > 0, found 0",
      'c.yaml:31:10: log.level: expected one of fatal, error, warn, info, debug, trace, found "verbose"',
    ]);
  });

  it("keeps points_per_kg exactly as written, number or string", () => {
    const text = `${head}points:\n  rules_version: v2\n  categories:\n    a: { points_per_kg: 1.16 }\n    b: { points_per_kg: "1.16" }\n    c: { points_per_kg: 0.100000000000000000001 }\n`;
    const result = checkConfigText(text, "c.yaml", "/etc/smartbin");
    expect(lines(result)).toEqual([]);
    const categories = result.ok ? result.config.points?.categories : undefined;
    expect(categories?.a?.points_per_kg).toBe("1.16");
    expect(categories?.b?.points_per_kg).toBe("1.16");
    expect(categories?.c?.points_per_kg).toBe("0.100000000000000000001");
  });

  it("never throws, whatever the text", () => {
    for (const text of ["\u0000", "{", "[[[[", "a: &a [*a]\n", ": :", "? [a]\n: b\n", "station: !!binary xx\n"]) {
      expect(() => checkConfigText(text, "c.yaml", "/")).not.toThrow();
      expect(checkConfigText(text, "c.yaml", "/").ok).toBe(false);
    }
  });
});
