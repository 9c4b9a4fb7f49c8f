import { describe, expect, it } from "vitest";
import { checkBacklog, checkBroker, checkClock, checkDatabase, checkDisk, checkTlsFiles } from "../../src/app/doctor/checks.js";
import { doctorExitCode, doctorJson, formatResult, runDoctor } from "../../src/app/doctor/doctor.js";
import { checkGpio } from "../../src/app/doctor/gpio-check.js";
import { checkSerialDevice, type SerialDeviceEntry } from "../../src/app/doctor/serial-check.js";
import type { CheckResult, DoctorProbes } from "../../src/app/doctor/types.js";
import { encodeEm4100, encodeMtSics, encodeYaohuaA9 } from "../../src/protocol/index.js";
import { modbusRtuOptions } from "../../src/protocol/scale/modbus-rtu-options.js";
import { encodeModbusRtuException } from "../../src/protocol/scale/modbus-rtu.js";
import { validConfig } from "../support/config-text.js";
import { CERT_PEM, CERT_VALID_TO, KEY_PEM } from "../support/tls-fixtures.js";

const MIB = 1_048_576;

/** Probes of a healthy machine; each test overrides what it needs. */
function fakeProbes(over: Partial<DoctorProbes> = {}): DoctorProbes {
  return {
    now: () => new Date("2030-01-01T00:00:00Z"),
    stat: () => ({ kind: "char" }),
    readWriteDenied: () => null,
    findUsbPort: () => ({ kind: "missing", reason: "no serial port of this identity is plugged in" }),
    realpath: (p) => p,
    readFile: () => {
      throw Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" });
    },
    listen: () => Promise.resolve({ ok: true, chunks: [] }),
    stationHolder: () => null,
    deviceReports: () => new Map(),
    connectBroker: () => Promise.resolve({ ok: true, ms: 12 }),
    clockSynced: (marker) => ({ synced: true, source: `${marker} present` }),
    freeBytes: () => 10_000 * MIB,
    quickCheck: () => ({ kind: "ok" }),
    backlog: () => ({ pending: 0, oldestPendingAgeS: null, exists: true }),
    gpioChips: () => [],
    identity: () => ({ user: "smartbin", groups: ["smartbin"] }),
    ...over,
  };
}

const scale: SerialDeviceEntry = { kind: "scale", item: { id: "scale-1", port: "/dev/ttyUSB0", baud_rate: 9600, protocol: "yaohua-a9", unit: "kg" } };
const reader: SerialDeviceEntry = { kind: "reader", item: { id: "reader-1", port: "/dev/ttyUSB1", baud_rate: 9600, protocol: "em4100-ascii" } };
const line = (r: CheckResult) => formatResult(r);

describe("doctor: a serial device", () => {
  it("missing, not a device, no permission", async () => {
    expect(line(await checkSerialDevice(scale, fakeProbes({ stat: () => ({ error: "ENOENT" }) }), null, 3000))).toBe(
      "fail scale.scale-1: port /dev/ttyUSB0 does not exist: plug the adapter in, or correct the port (ls -l /dev/serial/by-id/)",
    );
    expect(line(await checkSerialDevice(scale, fakeProbes({ stat: () => ({ kind: "file" }) }), null, 3000))).toMatch(/^fail scale\.scale-1: port \/dev\/ttyUSB0 is a regular file, not a serial device/);
    expect(line(await checkSerialDevice(scale, fakeProbes({ readWriteDenied: () => "EACCES" }), null, 3000))).toBe(
      "fail scale.scale-1: no read-write access to /dev/ttyUSB0 (EACCES) (user smartbin is not in group dialout: sudo usermod -aG dialout smartbin, then log in again)",
    );
  });

  it("a device configured by usb is found as the station finds it: listened to at the path found; missing or ambiguous fails", async () => {
    const byUsb: SerialDeviceEntry = { kind: "scale", item: { id: "scale-1", usb: { vendor_id: "0403", product_id: "6001", serial: "A50285BI" }, baud_rate: 9600, protocol: "yaohua-a9", unit: "kg" } };
    const listened: string[] = [];
    const frames = encodeYaohuaA9({ grams: 500, unit: "kg", decimals: 3 });
    const found = fakeProbes({
      findUsbPort: (usb) => {
        expect(usb).toEqual({ vendorId: "0403", productId: "6001", serial: "A50285BI" });
        return { kind: "found", path: "/dev/ttyUSB1", port: { path: "/dev/ttyUSB1", byId: [], byPath: [] } };
      },
      listen: (path) => {
        listened.push(path);
        return Promise.resolve({ ok: true, chunks: [frames] });
      },
    });
    expect(line(await checkSerialDevice(byUsb, found, null, 3000))).toBe(
      "ok scale.scale-1: /dev/ttyUSB1 (usb 0403:6001 serial A50285BI): 1 valid yaohua-a9 frames in 3 s (last: 500 g, gross)",
    );
    expect(listened).toEqual(["/dev/ttyUSB1"]);
    expect(line(await checkSerialDevice(byUsb, fakeProbes(), null, 3000))).toBe(
      "fail scale.scale-1: usb 0403:6001 serial A50285BI: no serial port of this identity is plugged in: plug the adapter in, or compare the ids with smartbin ports",
    );
    const ambiguous = fakeProbes({ findUsbPort: () => ({ kind: "ambiguous", paths: ["/dev/ttyUSB0", "/dev/ttyUSB1"], reason: "ambiguous: 2 serial ports match" }) });
    expect(line(await checkSerialDevice(byUsb, ambiguous, null, 3000))).toBe("fail scale.scale-1: usb 0403:6001 serial A50285BI: ambiguous: 2 serial ports match");
  });

  it("frames arriving and decoding through the protocol module, split anywhere", async () => {
    const frames = Buffer.concat([1, 2, 3].map(() => encodeYaohuaA9({ grams: 12_340, unit: "kg", decimals: 3 })));
    const chunks = [frames.subarray(0, 5), frames.subarray(5, 17), frames.subarray(17)];
    const r = await checkSerialDevice(scale, fakeProbes({ listen: () => Promise.resolve({ ok: true, chunks }) }), null, 3000);
    expect(line(r)).toBe("ok scale.scale-1: /dev/ttyUSB0: 3 valid yaohua-a9 frames in 3 s (last: 12340 g, gross)");
    expect(r.details).toMatchObject({ bytes: frames.length, valid_frames: 3, discarded_frames: 0 });
  });

  it("a silent indicator's hint: continuous output for a streaming protocol; for a polled one, the requests it did not answer", async () => {
    expect(line(await checkSerialDevice(scale, fakeProbes(), null, 3000))).toBe(
      "fail scale.scale-1: /dev/ttyUSB0 opens, but no bytes in 3 s: is the indicator on, set to continuous output, and its TX wired to the adapter's RX?",
    );
    const polled: SerialDeviceEntry = { kind: "scale", item: { id: "scale-2", port: "/dev/ttyUSB4", baud_rate: 9600, protocol: "mt-sics" } };
    expect(line(await checkSerialDevice(polled, fakeProbes(), null, 3000))).toBe(
      "fail scale.scale-2: /dev/ttyUSB4 opens, but no bytes in 3 s: no answer to the mt-sics requests the doctor sent as the station does: is the indicator on, its interface set to answer them (address, baud rate and framing as configured), and wired both ways (the adapter's TX to its RX, its TX to the adapter's RX)?",
    );
  });

  it("a polled indicator is asked as the station asks it (the protocol's request and period), and its answers decode", async () => {
    const polled: SerialDeviceEntry = { kind: "scale", item: { id: "scale-2", port: "/dev/ttyUSB4", baud_rate: 9600, protocol: "mt-sics" } };
    const asked: { request: string; everyMs: number }[] = [];
    const answers = Buffer.concat([1, 2].map(() => encodeMtSics({ grams: 2_500, stable: true })));
    const probes = fakeProbes({
      listen: (_path, _serial, _ms, poll) => {
        if (poll !== undefined) asked.push({ request: Buffer.from(poll.request).toString("latin1"), everyMs: poll.everyMs });
        return Promise.resolve({ ok: true, chunks: poll === undefined ? [] : [answers] });
      },
    });
    expect(line(await checkSerialDevice(polled, probes, null, 3000))).toBe("ok scale.scale-2: /dev/ttyUSB4: 2 valid mt-sics frames in 3 s (last: 2500 g, net)");
    expect(asked).toEqual([{ request: "SI\r\n", everyMs: expect.any(Number) as number }]);
    // A streaming indicator is only listened to.
    const streamed: unknown[] = [];
    await checkSerialDevice(scale, fakeProbes({ listen: (_p, _s, _m, poll) => (streamed.push(poll), Promise.resolve({ ok: true, chunks: [] })) }), null, 3000);
    expect(streamed).toEqual([undefined]);
  });

  it("a polled indicator that answers but never with a weight (busy) warns; Modbus exceptions and another address say what to check", async () => {
    const balance: SerialDeviceEntry = { kind: "scale", item: { id: "scale-2", port: "/dev/ttyUSB4", baud_rate: 9600, protocol: "mt-sics" } };
    const answering = (bytes: Uint8Array) => fakeProbes({ listen: (_p, _s, _m, poll) => Promise.resolve({ ok: true, chunks: poll === undefined ? [] : [bytes] }) });
    const busy = await checkSerialDevice(balance, answering(Buffer.from("S I\r\nS I\r\nS I\r\n", "latin1")), null, 3000);
    expect(busy.level).toBe("warn");
    expect(line(busy)).toContain("3 valid mt-sics frames in 3 s but not one weight");
    const transmitter: SerialDeviceEntry = { kind: "scale", item: { id: "scale-3", port: "/dev/ttyUSB5", baud_rate: 9600, protocol: "modbus-rtu" } };
    const options = modbusRtuOptions.parse({});
    const exception = await checkSerialDevice(transmitter, answering(Buffer.concat([0, 1, 2].map(() => encodeModbusRtuException(2, options)))), null, 3000);
    expect(exception.level).toBe("fail");
    expect(line(exception)).toContain("the transmitter answers (baud rate and address are right) but refuses the request: check register, function and value_type");
    expect(line(exception)).not.toContain("wrong protocol, baud rate");
    const other = await checkSerialDevice(transmitter, answering(Buffer.concat([0, 1, 2].map(() => encodeModbusRtuException(2, { ...options, slave_id: 2 })))), null, 3000);
    expect(line(other)).toContain("another address answers: check slave_id");
  });

  it("a silent indicator fails; a quiet reader is fine; a card read is shown masked", async () => {
    expect((await checkSerialDevice(scale, fakeProbes(), null, 3000)).level).toBe("fail");
    expect(line(await checkSerialDevice(reader, fakeProbes(), null, 3000))).toMatch(/^ok reader\.reader-1: \/dev\/ttyUSB1 opens; no card shown in 3 s/);
    const card = Buffer.concat([encodeEm4100("100086F444"), encodeEm4100("100086F444")]);
    expect(line(await checkSerialDevice(reader, fakeProbes({ listen: () => Promise.resolve({ ok: true, chunks: [card] }) }), null, 3000))).toBe(
      "ok reader.reader-1: /dev/ttyUSB1: 2 valid em4100-ascii frames in 3 s (last card: ******4356)",
    );
  });

  it("bytes without a valid frame: wrong protocol or baud rate", async () => {
    const garbage = [new Uint8Array(100).fill(0x55)];
    const r = await checkSerialDevice(scale, fakeProbes({ listen: () => Promise.resolve({ ok: true, chunks: garbage }) }), null, 3000);
    expect(r.level).toBe("fail");
    expect(r.message).toMatch(/^\/dev\/ttyUSB0: 100 bytes in 3 s but no valid yaohua-a9 frame.*: wrong protocol, baud rate \(9600\) or character format$/);
    // A few stray bytes on a reader are a warning, not a fault (contract.md section 4).
    const stray = [new Uint8Array([0x41, 0x42, 0x0d, 0x0a])];
    expect((await checkSerialDevice(reader, fakeProbes({ listen: () => Promise.resolve({ ok: true, chunks: stray }) }), null, 3000)).level).toBe("warn");
  });

  it("a port another process holds, and other open failures, with the reason in words", async () => {
    const locked = new Error("Error Resource temporarily unavailable Cannot lock port");
    expect(line(await checkSerialDevice(scale, fakeProbes({ listen: () => Promise.resolve({ ok: false, error: locked }) }), null, 3000))).toBe(
      "fail scale.scale-1: port /dev/ttyUSB0 is in use by another process (locked by another process (EAGAIN)): stop it (fuser -v /dev/ttyUSB0), or give this device another port",
    );
    const notTty = new Error("Error: Inappropriate ioctl for device setting custom baud rate of 9600");
    expect(line(await checkSerialDevice(scale, fakeProbes({ listen: () => Promise.resolve({ ok: false, error: notTty }) }), null, 3000))).toBe(
      "fail scale.scale-1: cannot open /dev/ttyUSB0: not a serial device (ENOTTY)",
    );
  });

  it("held by a running station: what that station reports, without opening the port", async () => {
    let opened = false;
    const probes = fakeProbes({
      listen: () => {
        opened = true;
        return Promise.resolve({ ok: true, chunks: [] });
      },
    });
    const reports = new Map([["scale-1", { code: "scale_offline", time: "2030-01-01T00:00:00.000Z", reason: "no valid frames" }]]);
    expect(line(await checkSerialDevice(scale, probes, { pid: 42, reports }, 3000))).toMatch(
      /^fail scale\.scale-1: \/dev\/ttyUSB0 is held by the running station \(pid 42\), which reports it offline since 2030-01-01T00:00:00.000Z \(no valid frames\)/,
    );
    expect(line(await checkSerialDevice(reader, probes, { pid: 42, reports }, 3000))).toBe(
      "ok reader.reader-1: /dev/ttyUSB1 is held by the running station (pid 42), which has recorded no offline alarm for it (online since its start)",
    );
    expect(opened).toBe(false);
  });
});

describe("doctor: broker, TLS, clock, disk, database, backlog, GPIO", () => {
  const config = validConfig("station: { id: st-1 }\nstorage: { path: /var/lib/smartbin/s.db, min_free_mb: 64 }\nmqtt: { url: 'mqtt://user:pw@broker.example:1883' }\n");

  it("broker: ok, refused, unknown host, timeout, bad credentials; never shows the URL's password", async () => {
    expect(line(await checkBroker(config, fakeProbes(), 5000))).toBe("ok broker: mqtt://broker.example:1883 accepted an MQTT 5 connection in 12 ms");
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    expect(line(await checkBroker(config, fakeProbes({ connectBroker: () => Promise.resolve({ ok: false, error: refused, stage: "connect" }) }), 5000))).toBe(
      "fail broker: mqtt://broker.example:1883: connection refused (ECONNREFUSED): nothing listens there; is the broker running, and the port right?",
    );
    const unknown = Object.assign(new Error("getaddrinfo ENOTFOUND broker.example"), { code: "ENOTFOUND" });
    expect((await checkBroker(config, fakeProbes({ connectBroker: () => Promise.resolve({ ok: false, error: unknown, stage: "connect" }) }), 5000)).message).toContain("check the host in mqtt.url and the DNS");
    expect((await checkBroker(config, fakeProbes({ connectBroker: () => Promise.resolve({ ok: false, error: undefined, stage: "timeout" }) }), 5000)).message).toContain("no answer within 5 s");
    const denied = Object.assign(new Error("Connection refused: Not authorized"), { code: 135 });
    expect((await checkBroker(config, fakeProbes({ connectBroker: () => Promise.resolve({ ok: false, error: denied, stage: "connect" }) }), 5000)).message).toContain("refused the station's credentials");
  });

  it("TLS files: unreadable and not PEM fail, expiry within 30 days warns, past expiry fails", () => {
    const tls = { ...config, mqtt: { ...config.mqtt, ca_file: "/etc/smartbin/ca.pem", key_file: "/etc/smartbin/k.pem" } };
    const files = (ca: string) => (p: string) => Buffer.from(p.endsWith("ca.pem") ? ca : KEY_PEM);
    const at = (iso: string | Date) => () => new Date(iso);
    expect(checkTlsFiles(tls, fakeProbes({ readFile: files(CERT_PEM), now: at("2030-01-01T00:00:00Z") })).map(line)).toEqual([
      `ok tls.ca_file: /etc/smartbin/ca.pem: 1 certificate(s), the first to expire on ${CERT_VALID_TO.toISOString()}`,
      "ok tls.key_file: /etc/smartbin/k.pem: a readable private key",
    ]);
    const soon = new Date(CERT_VALID_TO.getTime() - 10 * 86_400_000);
    expect(checkTlsFiles(tls, fakeProbes({ readFile: files(CERT_PEM), now: () => soon }))[0]?.level).toBe("warn");
    const past = new Date(CERT_VALID_TO.getTime() + 1);
    expect(checkTlsFiles(tls, fakeProbes({ readFile: files(CERT_PEM), now: () => past }))[0]).toMatchObject({ level: "fail", message: expect.stringContaining("expired on") });
    expect(checkTlsFiles(tls, fakeProbes({ readFile: files("junk") }))[0]).toMatchObject({ level: "fail", message: "/etc/smartbin/ca.pem: no PEM block (-----BEGIN …-----)" });
    expect(checkTlsFiles(tls, fakeProbes())[0]?.message).toContain("cannot be read (no such file or directory (ENOENT))");
    expect(checkTlsFiles(config, fakeProbes())).toEqual([]);
  });

  it("clock: synchronised is ok, not or unknown is a warning", () => {
    expect(checkClock(fakeProbes(), "/run/m").level).toBe("ok");
    expect(line(checkClock(fakeProbes({ clockSynced: () => ({ synced: false, source: "timedatectl: NTPSynchronized=no" }) }), "/run/m"))).toBe(
      "warn clock: not synchronised (timedatectl: NTPSynchronized=no): events are marked clock_synced false; enable NTP (sudo timedatectl set-ntp true) and check the network",
    );
    expect(checkClock(fakeProbes({ clockSynced: () => ({ synced: null, source: "?" }) }), "/run/m").level).toBe("warn");
  });

  it("disk: against min_free_mb and twice it", () => {
    expect(checkDisk(config, fakeProbes({ freeBytes: () => 200 * MIB })).level).toBe("ok");
    expect(checkDisk(config, fakeProbes({ freeBytes: () => 100 * MIB })).level).toBe("warn");
    expect(line(checkDisk(config, fakeProbes({ freeBytes: () => 10 * MIB })))).toBe(
      "fail disk: 10 MiB free under /var/lib/smartbin, below storage.min_free_mb (64): no new sessions open; free some space",
    );
  });

  it("database: none yet is ok, damage fails", () => {
    expect(line(checkDatabase(config, fakeProbes({ quickCheck: () => ({ kind: "missing" }) })))).toBe(
      "ok database: no database yet at /var/lib/smartbin/s.db (the station creates it at its first start)",
    );
    expect(checkDatabase(config, fakeProbes({ quickCheck: () => ({ kind: "damaged", problems: ["*** in database main ***"] }) })).level).toBe("fail");
  });

  it("backlog: pending events are fine until the oldest waits 15 min", () => {
    expect(checkBacklog(config, fakeProbes()).level).toBe("ok");
    expect(line(checkBacklog(config, fakeProbes({ backlog: () => ({ pending: 3, oldestPendingAgeS: 20, exists: true }) })))).toBe("ok backlog: 3 event(s) wait for the broker, the oldest for 20 s");
    expect(line(checkBacklog(config, fakeProbes({ backlog: () => ({ pending: 30, oldestPendingAgeS: 7300, exists: true }) })))).toBe(
      "warn backlog: 30 event(s) wait for the broker, the oldest for 2 h 1 min: see the broker check; they go out in order once it is reached",
    );
  });

  it("GPIO: backend none needs nothing; gpiod needs a chip this user may open", () => {
    expect(checkGpio(config, fakeProbes()).level).toBe("ok");
    const gpiod = { ...config, gpio: { backend: "gpiod" } };
    expect(checkGpio(gpiod, fakeProbes()).level).toBe("fail");
    expect(checkGpio(gpiod, fakeProbes({ gpioChips: () => [{ path: "/dev/gpiochip0", denied: "EACCES" }] })).message).toContain("add the station's user to the group owning them");
    expect(checkGpio(gpiod, fakeProbes({ gpioChips: () => [{ path: "/dev/gpiochip0", denied: null }] })).level).toBe("ok");
    expect(checkGpio({ ...config, gpio: { backend: "onoff" } }, fakeProbes({ stat: () => ({ error: "ENOENT" }) })).level).toBe("fail");
  });
});

describe("doctor: the whole run", () => {
  const config = validConfig(`station: { id: st-1 }
storage: { path: /var/lib/smartbin/s.db }
mqtt: { url: "mqtt://127.0.0.1:1883" }
scales:
  - { id: scale-1, port: /dev/ttyUSB0, protocol: yaohua-a9, unit: kg }
bins:
  - { id: k, category: food_waste, scale: scale-1 }
`);
  const frames = encodeYaohuaA9({ grams: 5000, unit: "kg", decimals: 3 });

  it("one result per check, names without spaces or colons; exit 0 with warnings only, 1 with a fail", async () => {
    const probes = fakeProbes({ listen: () => Promise.resolve({ ok: true, chunks: [frames] }), clockSynced: () => ({ synced: false, source: "x" }) });
    const results = await runDoctor(config, { file: "c.yaml", warnings: [] }, probes, { listenMs: 10 });
    expect(results.map((r) => r.name)).toEqual(["config", "station", "scale.scale-1", "gpio", "broker", "clock", "disk", "database", "backlog"]);
    for (const r of results) expect(r.name).toMatch(/^[^\s:]+$/);
    expect(results.map((r) => r.level)).toEqual(["ok", "ok", "ok", "ok", "ok", "warn", "ok", "ok", "ok"]);
    expect(doctorExitCode(results)).toBe(0);
    const failing = await runDoctor(config, { file: "c.yaml", warnings: [] }, fakeProbes({ connectBroker: () => Promise.resolve({ ok: false, error: undefined, stage: "timeout" }) }), { listenMs: 10 });
    expect(doctorExitCode(failing)).toBe(1);
    expect(doctorJson("c.yaml", failing)).toMatchObject({ config: "c.yaml", summary: { fail: 2 } });
  });

  it("config warnings are warn lines; a running station's reports replace the listen", async () => {
    const warning = { file: "c.yaml", line: 3, col: 4, path: "mqtt.password", message: "a password" };
    const probes = fakeProbes({ stationHolder: () => ({ pid: 7 }), listen: () => Promise.reject(new Error("must not open")) });
    const results = await runDoctor(config, { file: "c.yaml", warnings: [warning] }, probes);
    expect(results.slice(0, 3).map(line)).toEqual([
      "warn config: mqtt.password (line 3): a password",
      "ok station: a station is running (pid 7): its ports are not opened; what it reports is shown instead",
      "ok scale.scale-1: /dev/ttyUSB0 is held by the running station (pid 7), which has recorded no offline alarm for it (online since its start)",
    ]);
  });
});
