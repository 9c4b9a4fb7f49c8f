/**
 * `smartbin config check` on readers of issue 9, item 3 (the built binary): a Wiegand reader written
 * with a port, a line missing, lines used twice and a backend that cannot time pulses: every problem
 * listed, exit 78; the same reader written right: ok.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOnce, ROOT, SMARTBIN } from "../support/build.js";
import { removeTempDirs, tempDir } from "../integration/harness.js";

beforeAll(() => buildOnce(), 120_000);
afterAll(() => removeTempDirs());

function check(file: string) {
  const r = spawnSync(process.execPath, [SMARTBIN, "config", "check", "-c", file], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, lines: r.stdout.split("\n").filter((l) => l !== "") };
}

const HEAD = "station:\n  id: st-001\nmqtt:\n  url: mqtt://127.0.0.1:1883\n";

describe("config check of Wiegand readers", () => {
  it("lists every problem and exits 78; a right one is ok", () => {
    const file = join(tempDir("smartbin-cli-"), "wiegand.yaml");
    writeFileSync(
      file,
      `${HEAD}gpio:\n  backend: onoff\n  buzzer: { line: 19 }\nreaders:\n  - id: w1\n    protocol: wiegand\n    port: /dev/ttyUSB3\n    d0_line: 19\n  - id: w2\n    protocol: wiegand\n    d0_line: 5\n    d1_line: 5\n`,
    );
    const bad = check(file);
    expect(bad.code).toBe(78);
    expect(bad.lines.map((l) => l.slice(file.length + 1))).toEqual([
      "9:5: readers.0.d1_line: required key missing",
      "10:15: readers.0.protocol: expected gpio.backend gpiod (or simulated) for a reader on GPIO lines (each Wiegand pulse needs its kernel timestamp), found gpio.backend onoff",
      "11:5: readers.0.port: port is an option of em4100-ascii, ascii-line and iso14443-text, not of wiegand",
      "12:14: readers.0.d0_line: expected a line no other part uses, found 19 again (first at gpio.buzzer)",
      "14:15: readers.1.protocol: expected gpio.backend gpiod (or simulated) for a reader on GPIO lines (each Wiegand pulse needs its kernel timestamp), found gpio.backend onoff",
      "16:14: readers.1.d1_line: expected a line no other part uses, found 5 again (first at readers.1.d0_line)",
    ]);
    writeFileSync(file, `${HEAD}gpio:\n  backend: gpiod\nreaders:\n  - { id: w1, protocol: wiegand, d0_line: 24, d1_line: 25, card_id_format: w26 }\n`);
    expect(check(file)).toEqual({ code: 0, lines: [`${file}: ok`] });
  });
});
