import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runConfigCheck } from "../../src/cli/config-commands.js";
import { checkConfigText, formatProblem, formatWarning, readPasswordFile, type ConfigLoadResult } from "../../src/config/load.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "smartbin-mqtt-config-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string, mode = 0o600): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode });
  return file;
}

function check(text: string): ConfigLoadResult {
  return checkConfigText(text, "c.yaml", dir, { realpath: (p) => p });
}
const problems = (r: ConfigLoadResult) => (r.ok ? [] : r.problems.map(formatProblem));
const warnings = (r: ConfigLoadResult) => (r.ok ? r.warnings.map(formatWarning) : r.problems.map(formatProblem));
const head = (url: string) => `station: { id: st-1 }\nstorage: { path: ":memory:" }\nmqtt:\n  url: ${url}\n`;

describe("mqtt connection keys (contract.md section 2)", () => {
  it("defaults: tls_insecure false, session_expiry_s 3600, reconnect_max_s 60, telemetry.interval_s 60", () => {
    const r = check(head("mqtts://b:8883"));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.config.mqtt).toMatchObject({ tls_insecure: false, session_expiry_s: 3600, reconnect_max_s: 60 });
    expect(r.config.mqtt.password_file).toBeUndefined();
    expect(r.config.telemetry).toEqual({ interval_s: 60 });
    expect(r.warnings).toEqual([]);
  });

  it("password_file is relative to the config's folder; its first line is the password", () => {
    write("secrets/pw.txt", "s3cret  \r\nsecond line\n");
    const r = check(`${head("mqtts://b:8883")}  username: st-1\n  password_file: secrets/pw.txt\n`);
    expect(problems(r)).toEqual([]);
    expect(r.ok && r.config.mqtt.password_file).toBe(path.join(dir, "secrets/pw.txt"));
    expect(r.ok && r.warnings).toEqual([]);
    expect(readPasswordFile(path.join(dir, "secrets/pw.txt"))).toEqual({ ok: true, password: "s3cret" });
  });

  it("a missing, empty or folder password_file is a config error at its key", () => {
    expect(problems(check(`${head("mqtts://b:8883")}  password_file: nope.txt\n`))).toEqual([
      `c.yaml:5:18: mqtt.password_file: expected a readable file whose first line is the password, found ${JSON.stringify(path.join(dir, "nope.txt"))}: no such file or directory (ENOENT)`,
    ]);
    write("empty.txt", "");
    expect(problems(check(`${head("mqtts://b:8883")}  password_file: empty.txt\n`))[0]).toMatch(/: an empty file$/);
    write("blank.txt", "\nsecond\n");
    expect(problems(check(`${head("mqtts://b:8883")}  password_file: blank.txt\n`))[0]).toMatch(/: an empty first line \(the password is the first line\)$/);
    expect(problems(check(`${head("mqtts://b:8883")}  password_file: secrets\n`))[0]).toMatch(/: is a directory$/);
  });

  it("password and password_file together are an error", () => {
    write("pw.txt", "x\n");
    expect(problems(check(`${head("mqtts://b:8883")}  password: p\n  password_file: pw.txt\n`))).toEqual([
      "c.yaml:6:18: mqtt.password_file: expected either mqtt.password or mqtt.password_file, found both (which one would the station use?)",
    ]);
  });

  it("a password_file over plain mqtt:// or ws:// is a warning", () => {
    write("pw.txt", "x\n");
    expect(warnings(check(`${head("mqtt://b")}  password_file: pw.txt\n`))).toEqual([
      "c.yaml:5:18: mqtt.password_file: warning: mqtt.url is plain mqtt://, so the password crosses the network unencrypted (anyone on the path can read it): use mqtts://",
    ]);
    expect(warnings(check(`${head("ws://b/mqtt")}  password_file: pw.txt\n`))[0]).toContain("use wss://");
    expect(warnings(check(`${head("wss://b/mqtt")}  password_file: pw.txt\n`))).toEqual([]);
  });

  it("tls_insecure true is a warning; ranges of session_expiry_s, reconnect_max_s, telemetry.interval_s", () => {
    expect(warnings(check(`${head("mqtts://b:8883")}  tls_insecure: true\n`))).toEqual([
      "c.yaml:5:17: mqtt.tls_insecure: warning: tls_insecure is true: the broker's certificate is not checked, so anyone on the path can pose as the broker (logged at warn at every connect; for commissioning only)",
    ]);
    expect(problems(check(`${head("mqtts://b:8883")}  session_expiry_s: -1\n  reconnect_max_s: 0\ntelemetry: { interval_s: 0 }\n`))).toEqual([
      expect.stringMatching(/^c\.yaml:5:21: mqtt\.session_expiry_s: /),
      expect.stringMatching(/^c\.yaml:6:20: mqtt\.reconnect_max_s: /),
      expect.stringMatching(/^c\.yaml:7:26: telemetry\.interval_s: /),
    ]);
    const ok = check(`${head("mqtts://b:8883")}  session_expiry_s: 0\n  reconnect_max_s: 2.5\ntelemetry: { interval_s: 0.5 }\n`);
    expect(ok.ok && [ok.config.mqtt.session_expiry_s, ok.config.mqtt.reconnect_max_s, ok.config.telemetry.interval_s]).toEqual([0, 2.5, 0.5]);
    expect(problems(check(`${head("mqtts://b:8883")}  session_expiry_s: 1.5\n`))[0]).toMatch(/mqtt\.session_expiry_s: expected integer/);
  });

  it("config check: a missing password file exits 78 with its line; a readable one is ok", () => {
    const file = write("station.yaml", `${head("mqtts://b:8883")}  password_file: gone.txt\n`);
    const out: string[] = [];
    expect(runConfigCheck(file, (l) => out.push(l))).toBe(78);
    expect(out).toEqual([expect.stringMatching(new RegExp(`^${file}:5:18: mqtt\\.password_file: expected a readable file whose first line is the password, found .*gone\\.txt.*\\(ENOENT\\)$`))]);
    write("gone.txt", "pw\n");
    out.length = 0;
    expect(runConfigCheck(file, (l) => out.push(l))).toBe(0);
    expect(out).toEqual([`${file}: ok`]);
  });
});
