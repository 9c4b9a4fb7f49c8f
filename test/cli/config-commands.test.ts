import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  DEFAULT_CONFIG_PATH,
  resolveConfigPath,
  runConfigCheck,
  runConfigSchema,
} from "../../src/cli/config-commands.js";
import { EXIT } from "../../src/cli/exit-codes.js";
import { MINIMAL } from "../config/contract-example.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "smartbin-config-cmd-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function run(file: string): { code: number; out: string[] } {
  const out: string[] = [];
  const code = runConfigCheck(file, (line) => out.push(line));
  return { code, out };
}

describe("runConfigCheck", () => {
  it("prints FILE: ok and returns 0 for a valid file", () => {
    const file = path.join(dir, "good.yaml");
    fs.writeFileSync(file, MINIMAL);
    expect(run(file)).toEqual({ code: 0, out: [`${file}: ok`] });
  });

  it("prints every problem, one per line, and returns 78", () => {
    const file = path.join(dir, "bad.yaml");
    fs.writeFileSync(file, "station:\n  id: x\n  name: y\nmqtt:\n  url: 1\n");
    expect(run(file)).toEqual({
      code: EXIT.CONFIG,
      out: [
        `${file}:3:3: station.name: unknown key (expected one of: id, time_zone, fire_doors, clock_sync_marker)`,
        `${file}:5:8: mqtt.url: expected string, found 1`,
      ],
    });
    expect(EXIT.CONFIG).toBe(78);
  });

  it.each([
    ["^(?=SB:)SB:([0-9]+)$", 'look-ahead "(?="'],
    ["^(?!X)([0-9]+)$", 'negative look-ahead "(?!"'],
    ["(?<=SB:)([0-9]+)", 'look-behind "(?<="'],
    ["(?<!X)([0-9]+)", 'negative look-behind "(?<!"'],
    ["^([0-9])\\1+$", 'back-reference "\\1"'],
    ["^(?<d>[0-9])\\k<d>$", 'back-reference "\\k"'],
  ])("refuses the reader pattern %s with 78, naming the feature (%s)", (pattern, feature) => {
    const file = path.join(dir, "pattern.yaml");
    fs.writeFileSync(file, `${MINIMAL}readers:\n  - id: qr\n    port: /dev/ttyUSB1\n    protocol: ascii-line\n    pattern: '${pattern}'\n`);
    const { code, out } = run(file);
    expect(code).toBe(78);
    expect(out).toHaveLength(1);
    expect(out[0]).toContain(`${file}:9:14: readers.0.pattern: expected a regular expression without look-around or back-references`);
    expect(out[0]).toContain(`(${feature} cannot be matched in linear time)`);
  });

  it("accepts reader patterns that backtracking engines take exponential time on", () => {
    const file = path.join(dir, "redos.yaml");
    for (const pattern of ["^(a+)+$", "^(a|a)*$", "(x+x+)+y"]) {
      fs.writeFileSync(file, `${MINIMAL}readers:\n  - id: qr\n    port: /dev/ttyUSB1\n    protocol: ascii-line\n    pattern: '${pattern}'\n`);
      expect(run(file)).toEqual({ code: 0, out: [`${file}: ok`] });
    }
  });

  it("refuses another protocol's option with 78, naming the protocol it belongs to", () => {
    const file = path.join(dir, "foreign.yaml");
    fs.writeFileSync(file, `${MINIMAL}readers:\n  - id: card\n    port: /dev/ttyUSB1\n    protocol: em4100-ascii\n    pattern: '^x$'\n`);
    expect(run(file)).toEqual({
      code: 78,
      out: [`${file}:9:5: readers.0.pattern: pattern is an option of ascii-line and iso14443-text, not of em4100-ascii`],
    });
  });

  it("prints a missing file as given, at 1:1, and returns 78", () => {
    expect(run("./no/such.yaml")).toEqual({
      code: 78,
      out: ["./no/such.yaml:1:1: (file): cannot read: no such file or directory (ENOENT)"],
    });
  });
});

describe("runConfigSchema", () => {
  it("prints the JSON Schema as one JSON document and returns 0", () => {
    const out: string[] = [];
    expect(runConfigSchema((line) => out.push(line))).toBe(0);
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0] ?? "")).toMatchObject({ $schema: "https://json-schema.org/draft/2020-12/schema" });
  });
});

describe("resolveConfigPath", () => {
  it("takes -c/--config first, then $SMARTBIN_CONFIG, then the default", () => {
    expect(resolveConfigPath("a.yaml", { SMARTBIN_CONFIG: "b.yaml" })).toBe("a.yaml");
    expect(resolveConfigPath(undefined, { SMARTBIN_CONFIG: "b.yaml" })).toBe("b.yaml");
    expect(resolveConfigPath(undefined, {})).toBe(DEFAULT_CONFIG_PATH);
    expect(DEFAULT_CONFIG_PATH).toBe("/etc/smartbin/config.yaml");
  });

  it("treats empty values, and false or 0 in the variable, as not given", () => {
    expect(resolveConfigPath("", { SMARTBIN_CONFIG: "b.yaml" })).toBe("b.yaml");
    for (const value of ["", "false", "0"]) {
      expect(resolveConfigPath(undefined, { SMARTBIN_CONFIG: value })).toBe(DEFAULT_CONFIG_PATH);
    }
  });
});
