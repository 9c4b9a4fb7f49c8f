import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createPrivateKey } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { runConfigCheck } from "../../src/cli/config-commands.js";
import { sharedPortIssues } from "../../src/config/cross-field.js";
import { checkConfigText, formatProblem, formatWarning, loadConfigFile, type ConfigLoadResult } from "../../src/config/load.js";
import { inspectTlsMaterial } from "../../src/config/tls-material.js";
import { nearestRule } from "../../src/config/warnings.js";
import { CERT_PEM, CERT_VALID_TO, KEY_PEM } from "../support/tls-fixtures.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "smartbin-warnings-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string | Uint8Array, mode = 0o600): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode });
  fs.chmodSync(file, mode);
  return file;
}

const warningLines = (r: ConfigLoadResult) => (r.ok ? r.warnings.map(formatWarning) : r.problems.map(formatProblem));
const problemLines = (r: ConfigLoadResult) => (r.ok ? [] : r.problems.map(formatProblem));

const BASE = `station: { id: st-1 }
storage: { path: ":memory:" }
mqtt: { url: "mqtts://broker:8883" }
`;
/** Config text checked as c.yaml; `realpath` default: every path is itself (no links). */
function check(text: string, opts: Parameters<typeof checkConfigText>[3] = {}): ConfigLoadResult {
  return checkConfigText(text, "c.yaml", dir, { realpath: (p) => p, ...opts });
}

describe("config warnings (valid files, exit 0)", () => {
  it("a bin category without a points rule names the nearest rule", () => {
    const r = check(`${BASE}scales:
  - { id: s1, port: /dev/ttyUSB0, protocol: yaohua-a9, unit: kg }
  - { id: s2, port: /dev/ttyUSB1, protocol: yaohua-a9, unit: kg }
bins:
  - { id: kitchen, category: food-waste, scale: s1 }
  - { id: glass, category: glass, scale: s2 }
points:
  rules_version: "1"
  categories:
    food_waste: { points_per_kg: 2 }
    recyclable: { points_per_kg: 1 }
`);
    expect(r.ok).toBe(true);
    expect(warningLines(r)).toEqual([
      'c.yaml:8:30: bins.0.category: warning: no points rule for category "food-waste" in points.categories: deposits into bin "kitchen" earn 0 points (points_reason no_rule); did you mean food_waste?',
      'c.yaml:9:28: bins.1.category: warning: no points rule for category "glass" in points.categories: deposits into bin "glass" earn 0 points (points_reason no_rule) (rules: food_waste, recyclable)',
    ]);
  });

  it("no rules table at all is no warning (every deposit is no_rule by design)", () => {
    const r = check(`${BASE}scales:\n  - { id: s1, port: /dev/ttyUSB0, protocol: yaohua-a9, unit: kg }\nbins:\n  - { id: k, category: food-waste, scale: s1 }\n`);
    expect(warningLines(r)).toEqual([]);
  });

  it("nearestRule: close misspellings only", () => {
    const rules = ["food_waste", "recyclable", "hazardous", "residual"];
    expect(nearestRule("food-waste", rules)).toBe("food_waste");
    expect(nearestRule("Recyclables", rules)).toBe("recyclable");
    expect(nearestRule("hazardus", rules)).toBe("hazardous");
    expect(nearestRule("glass", rules)).toBeNull();
    expect(nearestRule("x", [])).toBeNull();
  });

  it("a scale that serves no bin", () => {
    const r = check(`${BASE}scales:\n  - { id: s1, port: /dev/ttyUSB0, protocol: yaohua-a9, unit: kg }\n  - { id: spare, port: /dev/ttyUSB1, protocol: yaohua-a9, unit: kg }\nbins:\n  - { id: k, category: food_waste, scale: s1 }\n`);
    expect(warningLines(r)).toEqual([
      `c.yaml:6:11: scales.1.id: warning: scale "spare" serves no bin: it is read, but its weights never make a deposit (name it in a bin's scale, or remove it)`,
    ]);
  });

  it("a password in the file; harder on plain mqtt:// and when the file is readable by all", () => {
    const tls = check(`station: { id: st-1 }\nstorage: { path: ":memory:" }\nmqtt: { url: "mqtts://b:8883", username: u, password: p }\n`, { fileMode: 0o640 });
    expect(warningLines(tls)).toEqual([
      "c.yaml:3:55: mqtt.password: warning: a password written in the config file: anyone who can read the file can read it; move it to a file of its own, readable only by the station's user, named by mqtt.password_file",
    ]);
    const plain = check(`station: { id: st-1 }\nstorage: { path: ":memory:" }\nmqtt: { url: "mqtt://b", username: u, password: p }\n`, { fileMode: 0o644 });
    const [line] = warningLines(plain);
    expect(line).toContain("mode 0644; chmod 0640");
    expect(line).toContain("WORSE: mqtt.url is plain mqtt://, so the password also crosses the network unencrypted: use mqtts://");
    const ws = check(`station: { id: st-1 }\nstorage: { path: ":memory:" }\nmqtt: { url: "ws://b/mqtt", password: p }\n`);
    expect(warningLines(ws)[0]).toContain("use wss://");
  });

  it("a certificate past its expiry is a warning at its key, with the date; a valid one is not", () => {
    const ca = write("tls/ca.pem", CERT_PEM);
    const text = `station: { id: st-1 }\nstorage: { path: ":memory:" }\nmqtt:\n  url: mqtts://b:8883\n  ca_file: ${ca}\n`;
    expect(warningLines(check(text, { now: new Date("2030-01-01T00:00:00Z") }))).toEqual([]);
    const after = new Date(CERT_VALID_TO.getTime() + 1000);
    expect(warningLines(check(text, { now: after }))).toEqual([
      `c.yaml:5:12: mqtt.ca_file: warning: certificate CN=smartbin-test expired on ${CERT_VALID_TO.toISOString()}: the broker's certificate cannot be verified, so events wait in the database until it is renewed (residents are still served)`,
    ]);
  });

  it("config check prints the warnings, then FILE: ok, and exits 0", () => {
    const file = write("warn.yaml", `station: { id: st-1 }\nstorage: { path: ":memory:" }\nmqtt: { url: "mqtts://b:8883", password: p }\n`, 0o600);
    const out: string[] = [];
    expect(runConfigCheck(file, (l) => out.push(l))).toBe(0);
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(new RegExp(`^${file}:3:\\d+: mqtt.password: warning: a password written`));
    expect(out[1]).toBe(`${file}: ok`);
  });
});

describe("two devices on one port (exit 78)", () => {
  it("a scale and a reader on one port, at the later one's port", () => {
    const r = check(`${BASE}scales:\n  - { id: s1, port: /dev/ttyUSB0, protocol: yaohua-a9, unit: kg }\nreaders:\n  - { id: r1, port: /dev/ttyUSB0, protocol: em4100-ascii }\nbins:\n  - { id: k, category: food_waste, scale: s1 }\n`);
    expect(problemLines(r)).toEqual([
      'c.yaml:7:21: readers.0.port: expected a port no other device uses, found "/dev/ttyUSB0" (already the port of scales.0 (s1); a serial port serves one device)',
    ]);
  });

  it("the same device through a /dev/serial/by-id link (realpath)", () => {
    const links = (p: string) => (p === "/dev/serial/by-id/usb-FTDI-if00-port0" ? "/dev/ttyUSB0" : p);
    expect(
      sharedPortIssues(
        { scales: [{ id: "s1", port: "/dev/ttyUSB0" }], readers: [{ id: "r1", port: "/dev/serial/by-id/usb-FTDI-if00-port0" }] },
        "/etc/smartbin",
        links,
      ),
    ).toEqual([
      {
        path: ["readers", 0, "port"],
        message:
          'expected a port no other device uses, found "/dev/serial/by-id/usb-FTDI-if00-port0", the same device as "/dev/ttyUSB0" (already the port of scales.0 (s1); a serial port serves one device)',
      },
    ]);
  });

  it("on real files: a symbolic link and its target are one port (relative paths against the config's folder), reported with the other problems", () => {
    const target = write("dev/ttyUSB7", "");
    fs.mkdirSync(path.join(dir, "by-id"), { recursive: true });
    fs.symlinkSync(target, path.join(dir, "by-id/usb-x"));
    const r = checkConfigText(
      `${BASE}scales:\n  - { id: s1, port: by-id/usb-x, protocol: yaohua-a9, unit: kg }\nlevel_sensors_unknown_list_is_an_error: []\nreaders:\n  - { id: r1, port: ${target}, protocol: em4100-ascii }\n`,
      "c.yaml",
      dir,
    );
    const lines = problemLines(r);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^c\.yaml:6:1: level_sensors_unknown_list_is_an_error: unknown key/);
    expect(lines.slice(1)).toEqual([
      `c.yaml:8:21: readers.0.port: expected a port no other device uses, found ${JSON.stringify(target)}, the same device as "by-id/usb-x" (already the port of scales.0 (s1); a serial port serves one device)`,
    ]);
  });

  it("any list of devices with a port counts, and distinct ports pass", () => {
    expect(sharedPortIssues({ level_sensors: [{ id: "l1", port: "/dev/ttyS1" }], scales: [{ id: "s1", port: "/dev/ttyS1" }] }, "/", (p) => p)).toHaveLength(1);
    expect(sharedPortIssues({ readers: [{ id: "a", port: "/dev/ttyS1" }, { id: "b", port: "/dev/ttyS2" }] }, "/", (p) => p)).toEqual([]);
  });
});

describe("TLS material that is not usable PEM (exit 78)", () => {
  const configWith = (key: string, file: string, extra = "") =>
    `station: { id: st-1 }\nstorage: { path: ":memory:" }\nmqtt:\n  url: mqtts://b:8883\n  ${key}: ${file}\n${extra}`;

  it("a ca_file that is not PEM, at its key", () => {
    const file = write("bad/ca.pem", "not a certificate\n");
    expect(problemLines(check(configWith("ca_file", file)))).toEqual([
      `c.yaml:5:12: mqtt.ca_file: expected PEM certificates, found ${JSON.stringify(file)}: no PEM block (-----BEGIN …-----)`,
    ]);
  });

  it("a DER certificate, a key in a cert_file, an encrypted key", () => {
    const der = Buffer.from(CERT_PEM.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
    expect(inspectTlsMaterial(der, "certificates")).toMatchObject({ ok: false, problem: expect.stringContaining("DER?") });
    expect(inspectTlsMaterial(Buffer.from(KEY_PEM), "certificates")).toEqual({ ok: false, problem: "PEM blocks PRIVATE KEY but no CERTIFICATE" });
    const encrypted = createPrivateKey(KEY_PEM).export({ format: "pem", type: "pkcs8", cipher: "aes-256-cbc", passphrase: "x" });
    expect(inspectTlsMaterial(Buffer.from(encrypted), "private_key")).toMatchObject({ ok: false, problem: expect.stringContaining("encrypted private key") });
    expect(inspectTlsMaterial(Buffer.from(CERT_PEM), "private_key")).toEqual({ ok: false, problem: "PEM blocks CERTIFICATE but no private key" });
    expect(inspectTlsMaterial(Buffer.from(""), "certificates")).toEqual({ ok: false, problem: "an empty file" });
  });

  it("a damaged certificate block", () => {
    const broken = CERT_PEM.replace(/\n[A-Za-z0-9+/]{20}/, "\nAAAAAAAAAAAAAAAAAAAA");
    expect(inspectTlsMaterial(Buffer.from(broken), "certificates")).toMatchObject({ ok: false, problem: expect.stringContaining("certificate 1 of 1 cannot be read") });
  });

  it("good certificates and key pass, with the certificate's facts", () => {
    expect(inspectTlsMaterial(Buffer.from(CERT_PEM + CERT_PEM), "certificates")).toEqual({
      ok: true,
      certificates: [
        { subject: "CN=smartbin-test", validTo: CERT_VALID_TO },
        { subject: "CN=smartbin-test", validTo: CERT_VALID_TO },
      ],
    });
    expect(inspectTlsMaterial(Buffer.from(KEY_PEM), "private_key")).toEqual({ ok: true, certificates: [] });
    const cert = write("good/c.pem", CERT_PEM);
    const key = write("good/c.key", KEY_PEM);
    const r = loadConfigFile(write("good/config.yaml", configWith("cert_file", cert, `  key_file: ${key}\n`)));
    expect(problemLines(r)).toEqual([]);
  });
});
