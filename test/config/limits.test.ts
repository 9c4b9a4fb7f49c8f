import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { checkConfigText, formatProblem, loadConfigFile, type ConfigLoadResult } from "../../src/config/load.js";

/** Inputs that once passed `config check` and then froze or looped the daemon: each is now a problem. */
const lines = (r: ConfigLoadResult) => (r.ok ? [] : r.problems.map(formatProblem));
const check = (text: string) => lines(checkConfigText(text, "c.yaml", "/etc/smartbin"));

const head = `station: { id: st-1 }
mqtt:
  url: mqtt://127.0.0.1:1883
`;

describe("limits that keep a valid config safe to run", () => {
  it("accepts reader patterns with nested repetition: they run on a linear-time engine (re2js)", () => {
    const text = `${head}readers:\n  - id: qr\n    port: /dev/ttyUSB1\n    protocol: ascii-line\n    pattern: '^(a+)+$'\n`;
    expect(check(text)).toEqual([]);
    expect(check(text.replace("^(a+)+$", "^(a|a)*$"))).toEqual([]);
    expect(check(text.replace("^(a+)+$", "(x+x+)+y"))).toEqual([]);
  });

  it("rejects reader patterns a linear-time engine cannot run, naming the feature", () => {
    const text = `${head}readers:\n  - id: qr\n    port: /dev/ttyUSB1\n    protocol: ascii-line\n    pattern: '^(?=QR)(.+)$'\n`;
    expect(check(text)).toEqual([
      'c.yaml:8:14: readers.0.pattern: expected a regular expression without look-around or back-references, ' +
        'found "^(?=QR)(.+)$" (look-ahead "(?=" cannot be matched in linear time)',
    ]);
    expect(check(text.replace("^(?=QR)(.+)$", "^(.)\\1$"))).toEqual([
      'c.yaml:8:14: readers.0.pattern: expected a regular expression without look-around or back-references, ' +
        'found "^(.)\\\\1$" (back-reference "\\1" cannot be matched in linear time)',
    ]);
  });

  it("bounds durations far below Node's timer limit", () => {
    const problems = check(
      `${head}scales:\n  - { id: s1, port: /dev/x, protocol: yaohua-a9, silence_timeout_s: 3000000 }\n` +
        `session:\n  max_session_s: 100000\n`,
    );
    expect(problems).toEqual([
      "c.yaml:5:69: scales.0.silence_timeout_s: expected number <= 3600, found 3000000",
      "c.yaml:7:18: session.max_session_s: expected number <= 86400, found 100000",
    ]);
  });

  it("rejects a topic prefix the broker reserves ($SYS) and MQTT strings over 65535 bytes", () => {
    expect(check(head.replace("url: mqtt://127.0.0.1:1883", "url: mqtt://h\n  topic_prefix: $SYS"))).toEqual([
      'c.yaml:4:17: mqtt.topic_prefix: expected one or more MQTT topic levels separated by "/", none empty, ' +
        'without "+" or "#", not starting with "$", found "$SYS"',
    ]);
    const long = check(`${head}  username: ${"u".repeat(65_536)}\n`);
    expect(long).toHaveLength(1);
    expect(long[0]).toMatch(/^c\.yaml:4:13: mqtt\.username: expected at most 65535 bytes/);
  });

  it("reports a missing enum key as a required key at its parent, and only the bound that matters", () => {
    expect(check(`${head}scales:\n  - id: s1\n    port: /dev/x\n    baud_rate: 1e20\n`)).toEqual([
      "c.yaml:5:5: scales.0.protocol: required key missing",
      "c.yaml:7:16: scales.0.baud_rate: expected integer <= 4000000, found 1e20",
    ]);
  });

  it("does not read a FIFO or a device: one problem at 1:1 instead of hanging", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "smartbin-limits-"));
    onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
    const fifo = path.join(dir, "config.yaml");
    execFileSync("mkfifo", [fifo]);
    expect(lines(loadConfigFile(fifo))).toEqual([`${fifo}:1:1: (file): cannot read: not a regular file`]);
    expect(lines(loadConfigFile("/dev/zero"))).toEqual(["/dev/zero:1:1: (file): cannot read: not a regular file"]);
  });
});

describe("stability tolerance in divisions", () => {
  it("needs division_g, and is reported at the scale when it is missing", () => {
    const scale = (extra: string) =>
      `${head}scales:\n  - id: s1\n    port: /dev/x\n    protocol: yaohua-a9\n${extra}`;
    expect(check(scale("    stable_tolerance_divisions: 2\n"))).toEqual([
      "c.yaml:5:5: scales.0.division_g: required key missing (required when stable_tolerance_divisions is given)",
    ]);
    const ok = checkConfigText(scale("    stable_tolerance_divisions: 2\n    division_g: 10\n"), "c.yaml", "/etc");
    expect(ok.ok && ok.config.scales[0]).toMatchObject({ stable_tolerance_divisions: 2, division_g: 10 });
  });
});
