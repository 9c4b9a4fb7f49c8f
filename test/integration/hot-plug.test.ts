/**
 * Hot-plug and identity (issue 9, items 4 and 6) with the built `smartbin run` as a process, a real
 * Mosquitto and indicators behind socat pseudo-terminals (the real serialport binding):
 *
 * - the indicator's pseudo-terminal destroyed mid-stream and recreated at the same path;
 * - the by-id case: the configured path is a symlink, as udev's `/dev/serial/by-id/…` is, removed
 *   when the adapter goes and made again pointing at another pseudo-terminal when it comes back;
 * - the path coming to lead to another device (bytes of another protocol): never back online, `no valid frames` in the status;
 * - a scale configured by `usb` (vendor, product, serial) whose adapter comes back under another
 *   kernel name, in a fake sysfs tree given to the process with the hidden `--sysfs-root`.
 *
 * Each ends with the station online, a deposit taken, and the offline and online alarms published.
 */
import { readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import { encodeStGs, encodeYaohuaA9 } from "../../src/protocol/index.js";
import { fakeTtyRoot, type FakeTty } from "../adapters/serial/fake-tty-sysfs.js";
import { requireTools } from "../support/require-tool.js";
import { exited, startRun, type Run } from "../support/smartbin-run.js";
import { FakeIndicator, devicesRig, eventually, processTestCleanups, sleep, tempDir, writeStationConfig, type Central, type FakeCardReader } from "./harness.js";

const tools = requireTools(["mosquitto", "socat"]);

const ANNA = "100086F444";

/** The alarms the central subscriber received, in order: `code` and `reason`. */
function alarms(central: Central): Array<{ code: unknown; reason?: unknown }> {
  return central.events
    .filter((e) => e.json.type === "smartbin.alarm.v1")
    .map((e) => ({ code: e.json.data.code, ...(e.json.data.reason !== undefined ? { reason: e.json.data.reason } : {}) }));
}

const countOf = (central: Central, code: string): number => alarms(central).filter((a) => a.code === code).length;

/** The FTDI adapter (serial A50285BI) of a fake sysfs tree, enumerated as `name` on USB socket `bus`. */
const FTDI = (name: string, bus: string): FakeTty => ({
  name,
  kind: "usb-serial",
  driver: "ftdi_sio",
  usb: { vendorId: "0403", productId: "6001", serial: "A50285BI", manufacturer: "FTDI", product: "FT232R USB UART", bus },
  byId: ["usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"],
});

/** A CH340 adapter without a serial number (the common cheap one). */
const CH340 = (name: string, bus: string): FakeTty => ({ name, kind: "usb-serial", driver: "ch341", usb: { vendorId: "1a86", productId: "7523", product: "USB Serial", bus } });

/** Replaces the station's tree by another one (the kernel's view after an unplug or a plug). */
function swapInto(root: string, next: string): void {
  for (const part of ["sys", "dev"]) {
    rmSync(join(root, part), { recursive: true, force: true });
    renameSync(join(next, part), join(root, part));
  }
}

describe.skipIf(tools.skip)(`hot-plug and identity${tools.reason}`, () => {
  const cleanups = processTestCleanups();

  /** A fake sysfs and /dev tree with these ttys, each device node a link to its pty; returns its folder. */
  function treeWith(ttys: Array<{ tty: FakeTty; pty: string }>): string {
    const root = fakeTtyRoot(ttys.map((t) => t.tty));
    cleanups.push(() => {
      rmSync(root, { recursive: true, force: true });
      return Promise.resolve();
    });
    for (const { tty, pty } of ttys) {
      unlinkSync(join(root, "dev", tty.name)); // the fake tree's placeholder file
      symlinkSync(pty, join(root, "dev", tty.name));
    }
    return root;
  }

  /** A station config whose scale (or reader) is given by `usb` instead of `port`. */
  function usbConfig(opts: { brokerUrl: string; scale: string; reader: string }): string {
    const cfg = writeStationConfig({ brokerUrl: opts.brokerUrl, scalePort: "SCALE", readerPort: "READER" });
    const text = readFileSync(cfg.file, "utf8").replace("    port: SCALE\n", `    ${opts.scale}\n`).replace("    port: READER\n", `    ${opts.reader}\n`);
    writeFileSync(cfg.file, text);
    return cfg.file;
  }

  function run(file: string, args: readonly string[] = []): Run {
    const r = startRun(file, undefined, args);
    cleanups.push(async () => {
      if (r.exitCode === null && r.signalCode === null) r.kill("SIGKILL");
      await exited(r);
    });
    return r;
  }

  /** SIGTERM: the run ends cleanly (exit 0). */
  async function stop(r: Run): Promise<void> {
    r.kill("SIGTERM");
    await exited(r);
    expect(r.exitCode).toBe(0);
  }

  /**
   * A resident shows a card (again until a session opens: the scale needs an accepted weight
   * first) and drops `bagG` on `scale`; resolves with the deposit event's data.
   */
  async function deposit(r: Run, central: Central, reader: FakeCardReader, scale: FakeIndicator, bagG: number): Promise<Record<string, unknown>> {
    const sessions = () => r.lines.filter((l) => l.includes('"msg":"session opened"')).length;
    const before = sessions();
    const deposits = () => central.events.filter((e) => e.json.type === "smartbin.deposit.v1");
    const depositsBefore = deposits().length;
    // Presentations more than repeat_gap_ms (500 ms) apart are separate identifications.
    for (let i = 0; i < 15 && sessions() === before; i++) {
      await reader.present(ANNA);
      await sleep(800);
    }
    expect(sessions(), "a session opened").toBeGreaterThan(before);
    scale.loadG += bagG;
    const event = await eventually(() => deposits()[depositsBefore], 10_000, "the deposit event");
    return event.json.data;
  }

  /** Waits for the `n`th alarm with this code at the central subscriber. */
  const alarmed = (central: Central, code: string, n = 1) => eventually(() => countOf(central, code) >= n, 15_000, `${code} #${n}`);

  it("the pseudo-terminal destroyed mid-stream and recreated at the same path: scale_offline, scale_online, then a deposit", async () => {
    const { broker, scale, reader, central } = await devicesRig(cleanups);
    const cfg = writeStationConfig({ brokerUrl: broker.url, scalePort: scale.pty.devicePath, readerPort: reader.pty.devicePath });
    const r = run(cfg.file);
    await eventually(() => r.lines.some((l) => l.includes('"msg":"serial device online"') && l.includes('"device":"scale-1"')), 10_000, "the scale online");

    await scale.pty.close(); // the cable pulled while the indicator streams (a frame every 50 ms)
    await alarmed(central, "scale_offline");
    await scale.pty.restart(); // plugged back: a new pty behind the same path
    await alarmed(central, "scale_online");

    const data = await deposit(r, central, reader, scale, 500);
    expect(data).toMatchObject({ bin_id: "kitchen", net_g: 500, gross_before_g: 12_000 });
    expect(alarms(central).map((a) => a.code)).toEqual(["scale_offline", "scale_online"]);
    // Usually the port's own error ("disconnected: …"); on a loaded runner Node's serial poller can
    // notice the lost pty only after the silence timeout ("silent: no data for 2000 ms"). Both are the
    // indicator's loss.
    expect(alarms(central)[0]?.reason).toMatch(/^(disconnected: |silent: no data for \d+ ms$)/);
    await stop(r);
  });

  it("by-id: the configured symlink removed with the adapter and made again pointing at another pseudo-terminal", async () => {
    const { broker, scale: first, reader, central } = await devicesRig(cleanups);
    const byId = join(tempDir("smartbin-by-id-"), "usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0");
    symlinkSync(first.pty.devicePath, byId);
    const cfg = writeStationConfig({ brokerUrl: broker.url, scalePort: byId, readerPort: reader.pty.devicePath });
    const r = run(cfg.file);
    await eventually(() => r.lines.some((l) => l.includes('"msg":"serial device online"') && l.includes('"device":"scale-1"')), 10_000, "the scale online");

    // Unplugged: the pty goes, and udev removes the by-id link.
    await first.stop();
    unlinkSync(byId);
    await alarmed(central, "scale_offline");
    await sleep(500); // a few reopens fail while nothing is there

    // Plugged back: a new pty (another /dev/pts/N, another link), the by-id link made again to it.
    const second = await FakeIndicator.start(12_000);
    cleanups.push(() => second.stop());
    expect(second.pty.devicePath).not.toBe(first.pty.devicePath);
    symlinkSync(second.pty.devicePath, byId);
    await alarmed(central, "scale_online");

    const data = await deposit(r, central, reader, second, 750);
    expect(data).toMatchObject({ bin_id: "kitchen", net_g: 750 });
    expect(alarms(central).map((a) => a.code)).toEqual(["scale_offline", "scale_online"]);
    await stop(r);
  });

  it("the path comes to lead to another device (another protocol's bytes): never back online, the status says 'no valid frames'; the right one brings it back", async () => {
    const { broker, scale, reader, central } = await devicesRig(cleanups);
    const statuses: Array<{ devices?: Record<string, string>; offline_reasons?: Record<string, string> }> = [];
    const watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    cleanups.push(() => watcher.endAsync(true));
    watcher.on("message", (_topic, payload) => statuses.push(JSON.parse(payload.toString("utf8")) as (typeof statuses)[number]));
    await watcher.subscribeAsync("smartbin/st-it/status", { qos: 1 });
    const cfg = writeStationConfig({ brokerUrl: broker.url, scalePort: scale.pty.devicePath, readerPort: reader.pty.devicePath });
    const r = run(cfg.file);
    await eventually(() => r.lines.some((l) => l.includes('"msg":"serial device online"') && l.includes('"device":"scale-1"')), 10_000, "the scale online");

    await scale.pty.close();
    await alarmed(central, "scale_offline");
    // Another indicator answers at that path now: ST,GS frames where yaohua-a9 ones are expected.
    scale.encode = (grams) => encodeStGs({ stable: true, mode: "gross", grams });
    await scale.pty.restart();
    await eventually(
      () => statuses.at(-1)?.offline_reasons?.["scale-1"] === "no valid frames",
      15_000,
      "the retained status: scale-1 offline for 'no valid frames'",
    );
    expect(statuses.at(-1)?.devices?.["scale-1"]).toBe("offline");
    expect(r.lines.some((l) => l.includes('"msg":"scale sends bytes that never form a valid frame: check its protocol and baud rate"'))).toBe(true);
    // No deposit can be weighed meanwhile: the bin's scale is offline.
    expect(central.events.filter((e) => e.json.type === "smartbin.deposit.v1")).toEqual([]);

    // The right indicator is back on that path.
    scale.encode = (grams) => encodeYaohuaA9({ grams, unit: "kg", decimals: 3 });
    await eventually(() => alarms(central).at(-1)?.code === "scale_online", 15_000, "scale_online after the right frames");
    const data = await deposit(r, central, reader, scale, 400);
    expect(data).toMatchObject({ net_g: 400 });
    // A reopened indicator is online only at its first valid frame: the foreign bytes never made it
    // online, so the outage is one offline and one online.
    expect(alarms(central)).toEqual([{ code: "scale_offline", reason: expect.stringMatching(/^(disconnected: |silent: no data for \d+ ms$)/) }, { code: "scale_online" }]);
    await stop(r);
  });

  it("usb: the adapter found by vendor, product and serial comes back as ttyUSB1 and is found again", async () => {
    const { broker, scale: first, reader, central } = await devicesRig(cleanups);
    const root = treeWith([{ tty: FTDI("ttyUSB0", "1-1.2"), pty: first.pty.devicePath }]);

    const file = usbConfig({ brokerUrl: broker.url, scale: 'usb: { vendor_id: "0403", product_id: "6001", serial: A50285BI }', reader: `port: ${reader.pty.devicePath}` });
    const r = run(file, ["--sysfs-root", root]);
    await eventually(() => r.lines.some((l) => l.includes('"msg":"serial device online"') && l.includes('"device":"scale-1"')), 10_000, "the scale online");
    expect(r.lines.some((l) => l.includes(`"msg":"usb 0403:6001 serial A50285BI found at ${join(root, "dev", "ttyUSB0")}"`))).toBe(true);

    // Unplugged: the pty and the sysfs entry go.
    await first.stop();
    swapInto(root, treeWith([]));
    await alarmed(central, "scale_offline");
    await eventually(() => r.lines.some((l) => l.includes("no serial port of usb 0403:6001 serial A50285BI is plugged in")), 10_000, "the lookup's reason logged");

    // Plugged back on another USB socket: enumerated as ttyUSB1, another pty.
    const second = await FakeIndicator.start(12_000);
    cleanups.push(() => second.stop());
    swapInto(root, treeWith([{ tty: FTDI("ttyUSB1", "1-1.3"), pty: second.pty.devicePath }]));
    await alarmed(central, "scale_online");
    expect(r.lines.some((l) => l.includes(`"msg":"usb 0403:6001 serial A50285BI found at ${join(root, "dev", "ttyUSB1")}"`))).toBe(true);
    // Logged once per fault, not once per retry.
    expect(r.lines.filter((l) => l.includes('"level":50') && l.includes("cannot find serial port")).length).toBe(1);

    const data = await deposit(r, central, reader, second, 600);
    expect(data).toMatchObject({ net_g: 600 });
    expect(alarms(central).map((a) => a.code)).toEqual(["scale_offline", "scale_online"]);
    await stop(r);
  });

  it("usb without serial while two such adapters are plugged in: offline as ambiguous (logged once), never guessed; found once one is gone", async () => {
    const { broker, scale, reader, central } = await devicesRig(cleanups);
    const other = await FakeIndicator.start(0); // bytes on the adapter that must not be taken
    cleanups.push(() => other.stop());
    const root = treeWith([
      { tty: CH340("ttyUSB0", "1-1.3"), pty: reader.pty.devicePath },
      { tty: CH340("ttyUSB1", "1-1.4"), pty: other.pty.devicePath },
    ]);
    const file = usbConfig({ brokerUrl: broker.url, scale: `port: ${scale.pty.devicePath}`, reader: 'usb: { vendor_id: "1a86", product_id: "7523" }' });
    const r = run(file, ["--sysfs-root", root]);
    await alarmed(central, "reader_offline");
    expect(alarms(central)[0]?.reason).toBe(
      "ambiguous: 2 serial ports match usb 1a86:7523 (any serial) (/dev/ttyUSB0, /dev/ttyUSB1); none is chosen: " +
        "the adapters carry no serial number to tell them apart: configure the port by its USB socket, /dev/serial/by-path/…",
    );
    await sleep(3000); // several retries
    expect(r.lines.filter((l) => l.includes('"level":50') && l.includes("cannot find serial port")).length).toBe(1);
    expect(r.lines.some((l) => l.includes('"msg":"serial port open"') && l.includes('"device":"reader-1"'))).toBe(false);

    // The other adapter is unplugged: one match left, the reader is found and works.
    swapInto(root, treeWith([{ tty: CH340("ttyUSB0", "1-1.3"), pty: reader.pty.devicePath }]));
    await alarmed(central, "reader_online");
    const data = await deposit(r, central, reader, scale, 300);
    expect(data).toMatchObject({ net_g: 300, reader_id: "reader-1" });
    await stop(r);
  });
});
