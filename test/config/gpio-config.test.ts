/**
 * Config of doors, GPIO, roles and points options (contract section 2 "GPIO and doors", "Roles";
 * section 3): defaults, and the mistakes a technician makes, each reported at its place (exit 78 in
 * `config check`).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkConfigText, formatProblem, loadConfigFile } from "../../src/config/load.js";

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "smartbin-gpio-config-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const HEAD = `station:
  id: st-001
mqtt:
  url: mqtt://127.0.0.1:1883
scales:
  - { id: scale-1, port: /dev/ttyUSB0, protocol: yaohua-a9 }
  - { id: scale-2, port: /dev/ttyUSB1, protocol: yaohua-a9 }
storage:
  path: ":memory:"
`;

const DOOR_BINS = `bins:
  - id: kitchen
    category: food_waste
    scale: scale-1
    full_g: 80000
    door:
      lock: { line: 17 }
      closed: { line: 27, active_low: true }
      button: { line: 22, active_low: true }
      lamp: { line: 23 }
`;

function check(text: string): string[] {
  const r = checkConfigText(text, "c.yaml", dir);
  return r.ok ? [] : r.problems.map(formatProblem);
}

describe("doors and GPIO in the config", () => {
  it("a door bin with a simulated backend is valid, with the contract's defaults", () => {
    const r = checkConfigText(`${HEAD}gpio:\n  backend: simulated\n${DOOR_BINS}`, "c.yaml", dir);
    if (!r.ok) throw new Error(r.problems.map(formatProblem).join("\n"));
    expect(r.config.bins[0]?.door).toEqual({
      lock: { line: 17, active_low: false },
      closed: { line: 27, active_low: true },
      button: { line: 22, active_low: true },
      lamp: { line: 23, active_low: false },
      debounce_ms: 30,
      open_timeout_s: 15,
      left_open_s: 60,
    });
    expect(r.config.session.door_mode).toBe("select");
    expect(r.config.station.fire_doors).toBe("unlock");
    // Relative to the config file's folder.
    expect(r.config.gpio.simulated_dir).toBe(path.join(dir, "gpio"));
  });

  it("a door with gpio.backend none (the default) is an error at the door", () => {
    expect(check(`${HEAD}${DOOR_BINS}`)).toEqual([
      "c.yaml:16:7: bins.0.door: expected gpio.backend onoff, gpiod or simulated for a bin with a door, found gpio.backend none (the default)",
    ]);
  });

  it("a line used twice is an error at the second use, naming the first", () => {
    const text = `${HEAD}gpio:\n  backend: simulated\n  buzzer: { line: 23 }\n${DOOR_BINS}`;
    expect(check(text)).toEqual([
      "c.yaml:22:21: bins.0.door.lamp.line: expected a line no other part uses, found 23 again (first at gpio.buzzer)",
    ]);
  });

  it("an unknown time zone, a bad door_mode and a line number off the chip are errors", () => {
    const text = `${HEAD}gpio:\n  backend: simulated\n  inputs:\n    fire: { line: 99 }\nsession:\n  door_mode: some\n`.replace(
      "  id: st-001\n",
      "  id: st-001\n  time_zone: Mars/Olympus\n",
    );
    const problems = check(text);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/station\.time_zone: expected an IANA time zone name/);
    expect(problems.some((p) => p.includes("gpio.inputs.fire.line"))).toBe(true);
    expect(problems.some((p) => p.includes("session.door_mode"))).toBe(true);
  });
});

describe("role lists", () => {
  it("a card in two lists is an error at the second place", () => {
    expect(check(`${HEAD}cards:\n  collectors: ["111"]\n  blocked: ["222", "111"]\n`)).toEqual([
      'c.yaml:12:20: cards.blocked.1: expected a card in one list only, found "111" again (first at cards.collectors.0)',
    ]);
  });

  it("cards.file is merged with the inline lists; a card in two lists across them, or a missing file, is an error", () => {
    fs.writeFileSync(path.join(dir, "cards.yaml"), "collectors: ['333']\nblocked: ['444']\n");
    const file = path.join(dir, "ok.yaml");
    fs.writeFileSync(file, `${HEAD}cards:\n  file: cards.yaml\n  collectors: ["111"]\n`);
    const r = loadConfigFile(file);
    if (!r.ok) throw new Error(r.problems.map(formatProblem).join("\n"));
    expect(r.config.cards).toMatchObject({ collectors: ["111", "333"], maintenance: [], blocked: ["444"] });

    fs.writeFileSync(file, `${HEAD}cards:\n  file: cards.yaml\n  collectors: ["444"]\n`);
    const twice = loadConfigFile(file);
    expect(twice.ok ? [] : twice.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      `cards.file: with ${JSON.stringify(path.join(dir, "cards.yaml"))} merged: blocked expected a card in one list only, found "444" again (first at collectors.0)`,
    ]);

    fs.writeFileSync(file, `${HEAD}cards:\n  file: missing.yaml\n`);
    const missing = loadConfigFile(file);
    expect(missing.ok ? "" : formatProblem(missing.problems[0]!)).toMatch(
      /cards\.file: expected a readable YAML file of card lists, found ".*missing\.yaml": no such file or directory \(ENOENT\)$/,
    );
  });
});

describe("points options", () => {
  const RULES = (rule: string) => `${HEAD}points:\n  rules_version: "2026-12"\n  rounding: half_up\n  daily_cap: 50\n  categories:\n    glass: ${rule}\n`;

  it("points_per_deposit, rounding and daily_cap are accepted", () => {
    const r = checkConfigText(RULES("{ points_per_deposit: 3, min_net_g: 100 }"), "c.yaml", dir);
    if (!r.ok) throw new Error(r.problems.map(formatProblem).join("\n"));
    expect(r.config.points).toMatchObject({ rounding: "half_up", daily_cap: 50, categories: { glass: { points_per_deposit: 3, min_net_g: 100 } } });
  });

  it("a rule with both, or neither, of points_per_kg and points_per_deposit is an error", () => {
    expect(check(RULES("{ points_per_kg: 2, points_per_deposit: 3 }"))).toEqual([
      "c.yaml:15:12: points.categories.glass: expected one of points_per_kg and points_per_deposit, found both",
    ]);
    expect(check(RULES("{ min_net_g: 3 }"))).toEqual(["c.yaml:15:12: points.categories.glass: required key missing (points_per_kg or points_per_deposit)"]);
  });
});
