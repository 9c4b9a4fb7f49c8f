import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SerialPort } from "serialport";
import { startPollerWake } from "../../src/adapters/serial/poller-wake.js";
import { findProtocol, protocolNames, type FrameOf, type DeviceKind } from "../../src/protocol/index.js";
import { parseSimulateLevel, parseSimulateReader, parseSimulateScale } from "../../src/cli/simulate.js";
import { buildOnce, ROOT, SMARTBIN } from "../support/build.js";
import { exited } from "../support/smartbin-run.js";
import { createPtyPair, type PtyPair } from "../support/socat.js";
import { describeWithTool } from "../support/require-tool.js";

/**
 * `smartbin simulate` as a process on one end of a socat pair; the test reads the other end with
 * the real serialport binding and the protocol's own framer (the device registry).
 */
beforeAll(() => buildOnce(), 120_000);

const children: ChildProcess[] = [];
const pairs: PtyPair[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  }
  for (const p of pairs.splice(0)) await p.dispose();
});
const stopWake = startPollerWake();
afterAll(() => stopWake());

function startSimulate(args: string[]): ChildProcess & { stderrText: () => string } {
  const child = spawn(process.execPath, [SMARTBIN, "simulate", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  return Object.assign(child, { stderrText: () => stderr });
}

/** Reads `path` with the protocol's framer until `enough` frames of interest came (or 15 s passed). */
async function readFrames<K extends DeviceKind>(
  path: string,
  kind: K,
  protocol: string,
  options: Record<string, unknown>,
  keep: (f: FrameOf<K>) => boolean,
  enough: number,
): Promise<FrameOf<K>[]> {
  const codec = findProtocol(kind, protocol).configure(options);
  const framer = codec.createFramer();
  const port = new SerialPort({ path, ...codec.port.serial, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  const frames: FrameOf<K>[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${frames.length} frames within 15 s`)), 15_000);
      port.on("data", (chunk: Buffer) => {
        frames.push(...framer.push(Uint8Array.from(chunk)).filter(keep));
        if (frames.length >= enough) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  } finally {
    await new Promise<void>((resolve) => port.close(() => resolve()));
  }
  return frames;
}

describeWithTool("socat", "smartbin simulate on a socat pair", () => {
  it("a yaohua-a9 scale at --weight 12340 sends frames that the protocol's framer decodes to 12340 g; SIGTERM ends it with 0", async () => {
    const pair = await createPtyPair();
    pairs.push(pair);
    const sim = startSimulate(["scale", "--port", pair.hostPath, "--protocol", "yaohua-a9", "--weight", "12340", "--period", "50"]);
    const frames = await readFrames(pair.devicePath, "scale", "yaohua-a9", {}, (f) => f.kind !== "discarded", 5);
    expect(frames.slice(0, 5)).toEqual(Array(5).fill({ kind: "weight", grams: 12340, stable: null, mode: "gross" }));
    sim.kill("SIGTERM");
    await exited(sim);
    expect(sim.exitCode).toBe(0);
    expect(sim.stderrText()).toMatch(/^simulating a scale \(yaohua-a9\) on .*host \(9600 8N1\): 12340 g, a frame every 50 ms; Ctrl-C ends\n$/);
  });

  it("an ascii-st-gs scale with --noise stays within the noise and --unit g is honoured", async () => {
    const pair = await createPtyPair();
    pairs.push(pair);
    startSimulate(["scale", "--port", pair.hostPath, "--protocol", "ascii-st-gs", "--weight", "5000", "--noise", "30", "--unit", "g", "--decimals", "0", "--period", "20"]);
    const frames = await readFrames(pair.devicePath, "scale", "ascii-st-gs", { unit: "g" }, (f) => f.kind === "weight", 20);
    for (const f of frames) {
      expect(f.kind).toBe("weight");
      if (f.kind === "weight") {
        expect(Math.abs(f.grams - 5000)).toBeLessThanOrEqual(30);
        expect(f.stable).toBe(true);
      }
    }
  });

  it("an em4100-ascii reader presents each --card for a while (repeated frames), read back through em4100-ascii's framer; SIGINT ends it with 0", async () => {
    const pair = await createPtyPair();
    pairs.push(pair);
    const sim = startSimulate(["reader", "--port", pair.hostPath, "--protocol", "em4100-ascii", "--card", "100086F444", "--card", "13005D1DA5", "--every", "0.6", "--hold", "0.4"]);
    const frames = await readFrames(pair.devicePath, "reader", "em4100-ascii", { card_id_format: "hex10" }, (f) => f.kind === "id", 30);
    const ids = frames.map((f) => (f.kind === "id" ? f.cardId : ""));
    expect(new Set(ids)).toEqual(new Set(["100086F444", "13005D1DA5"]));
    // held in the field: the same id comes several times in a row (an RDM6300 repeats every 50 ms)
    expect(ids[1]).toBe(ids[0]);
    sim.kill("SIGINT");
    await exited(sim);
    expect(sim.exitCode).toBe(0);
  });

  it("a dyp-a02 level sensor at --distance-mm 1953 sends FF 07 A1 A7 frames, decoded to 1953 mm; SIGTERM ends it with 0", async () => {
    const pair = await createPtyPair();
    pairs.push(pair);
    const sim = startSimulate(["level", "--port", pair.hostPath, "--protocol", "dyp-a02", "--distance-mm", "1953", "--period", "20"]);
    const frames = await readFrames(pair.devicePath, "level", "dyp-a02", {}, (f) => f.kind !== "discarded", 5);
    expect(frames.slice(0, 5)).toEqual(Array(5).fill({ kind: "distance", mm: 1953, strength: null, temperatureC: null }));
    sim.kill("SIGTERM");
    await exited(sim);
    expect(sim.exitCode).toBe(0);
    expect(sim.stderrText()).toMatch(/^simulating a level sensor \(dyp-a02\) on .*host \(9600 8N1\): 1953 mm, a reading every 20 ms; Ctrl-C ends\n$/);
  });

  it("a tf-luna level sensor ramping a bin full (1000 mm to 240 mm) at 115200 baud, with --strength, read back through tf-luna's framer", async () => {
    const pair = await createPtyPair();
    pairs.push(pair);
    startSimulate(["level", "--port", pair.hostPath, "--protocol", "tf-luna", "--ramp", "1000:240:1", "--strength", "300", "--period", "20"]);
    const frames = await readFrames(pair.devicePath, "level", "tf-luna", {}, (f) => f.kind === "distance", 80);
    const mm = frames.map((f) => (f.kind === "distance" ? f.mm : -1));
    expect(Math.max(...mm)).toBeLessThanOrEqual(1000);
    expect(mm.at(-1)).toBe(240);
    for (let i = 1; i < mm.length; i++) expect(mm[i]).toBeLessThanOrEqual(mm[i - 1]!);
    expect(frames[0]).toMatchObject({ strength: 300 });
  });

  it.each([
    ["modbus-rtu", ["--option", "decimals=3", "--option", "slave_id=7"], { decimals: 3, slave_id: 7 }],
    ["mt-sics", [], {}],
  ] as const)("a polled %s scale answers each request the station sends, and sends nothing unasked", async (protocol, extra, options) => {
    const pair = await createPtyPair();
    pairs.push(pair);
    const sim = startSimulate(["scale", "--port", pair.hostPath, "--protocol", protocol, "--weight", "12340", ...extra]);
    const codec = findProtocol("scale", protocol).configure(options);
    const framer = codec.createFramer();
    const port = new SerialPort({ path: pair.devicePath, ...codec.port.serial, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    const frames: FrameOf<"scale">[] = [];
    port.on("data", (chunk: Buffer) => frames.push(...framer.push(Uint8Array.from(chunk))));
    try {
      const until = async (check: () => boolean, what: string) => {
        for (let i = 0; i < 150 && !check(); i++) await new Promise((r) => setTimeout(r, 100));
        if (!check()) throw new Error(`no ${what} within 15 s (stderr: ${sim.stderrText()})`);
      };
      await until(() => sim.stderrText().includes("answering each request"), "start line");
      // A streaming simulator would have sent frames by now; a polled one waits for requests.
      await new Promise((r) => setTimeout(r, 300));
      const request = codec.port.poll?.request ?? new Uint8Array(0);
      for (let i = 1; i <= 3; i++) {
        port.write(Buffer.from(request));
        await until(() => frames.length >= i, `answer ${i}`);
      }
      expect(frames).toEqual(Array(3).fill(expect.objectContaining({ kind: "weight", grams: 12_340, stable: protocol === "mt-sics" ? true : null })));
    } finally {
      await new Promise<void>((resolve) => port.close(() => resolve()));
    }
    sim.kill("SIGTERM");
    await exited(sim);
    expect(sim.exitCode).toBe(0);
  });

  it("a port that cannot be opened is one line and exit 1", async () => {
    const sim = startSimulate(["scale", "--port", "/nonexistent/ttyUSB9", "--protocol", "yaohua-a9", "--weight", "1"]);
    await exited(sim);
    expect(sim.exitCode).toBe(1);
    expect(sim.stderrText()).toBe("smartbin simulate scale: cannot open /nonexistent/ttyUSB9: no such file or directory (ENOENT)\n");
  });
});

describe("smartbin simulate: bad arguments exit 2 with one clear line", () => {
  const cases: Array<[string[], RegExp]> = [
    [["scale", "--port", "/dev/null", "--protocol", "nope"], /unknown scale protocol "nope" \(known: yaohua-a9, /],
    [["scale", "--port", "/dev/null", "--protocol", "yaohua-a9", "--weight", "12.5"], /--weight expects whole grams/],
    [["scale", "--port", "/dev/null", "--protocol", "yaohua-a9", "--weight", "1", "--ramp", "0:10:1"], /give --weight or --ramp, not both/],
    [["scale", "--port", "/dev/null", "--protocol", "yaohua-a9", "--ramp", "0-10"], /--ramp expects FROM:TO:SECONDS/],
    [["scale", "--port", "/dev/null", "--protocol", "yaohua-a9", "--period", "0"], /--period expects a whole number from 10 to 60000/],
    [["scale", "--port", "/dev/null", "--protocol", "yaohua-a12", "--unit", "lb"], /yaohua-a12 has no option "unit"/],
    [["scale", "--port", "/dev/null", "--protocol", "yaohua-a9", "--unit", "stone"], /yaohua-a9 option unit: /],
    [["scale", "--port", "/dev/null", "--protocol", "yaohua-a9", "--weight", "999999999"], /yaohua-a9 cannot show 999999999 g/],
    [["reader", "--port", "/dev/null", "--protocol", "em4100-ascii"], /give at least one --card ID/],
    [["reader", "--port", "/dev/null", "--protocol", "em4100-ascii", "--card", "XYZ"], /--card "XYZ" is not an identifier em4100-ascii can send/],
    [["reader", "--port", "/dev/null", "--protocol", "em4100-ascii", "--card", "100086F444", "--every", "1", "--hold", "2"], /--hold \(2 s\) must not be longer than --every/],
    [["level", "--port", "/dev/null", "--protocol", "dyp-a02"], /give --distance-mm N or --ramp FROM:TO:SECONDS/],
    [["level", "--port", "/dev/null", "--protocol", "hc-sr04", "--distance-mm", "900"], /unknown level protocol "hc-sr04" \(known: dyp-a02, tf-luna\)/],
    [["level", "--port", "/dev/null", "--protocol", "dyp-a02", "--distance-mm", "9.5"], /--distance-mm expects whole millimetres/],
    [["level", "--port", "/dev/null", "--protocol", "dyp-a02", "--distance-mm", "900", "--ramp", "900:200:5"], /give --distance-mm or --ramp, not both/],
    [["level", "--port", "/dev/null", "--protocol", "dyp-a02", "--distance-mm", "900", "--option", "min_strength=50"], /dyp-a02 has no option "min_strength" \(its options: min_mm, max_mm\)/],
    [["level", "--port", "/dev/null", "--protocol", "dyp-a02", "--distance-mm", "70000"], /--distance-mm expects whole millimetres|dyp-a02 cannot send 70000 mm/],
    [["scale", "--protocol", "yaohua-a9"], /required option '--port <path>' not specified/],
  ];
  it.each(cases)("simulate %j", (args, message) => {
    const r = spawnSync(process.execPath, [SMARTBIN, "simulate", ...args], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
  });
});

describe("smartbin simulate: the start line names the device kind, then the protocol in brackets (no article before the name)", () => {
  const summaryOf = (setup: { summary: string } | { usage: string }): string => ("summary" in setup ? setup.summary : `usage: ${setup.usage}`);
  it.each([
    ["em4100-ascii", "100086F444"],
    ["ascii-line", "ABC123"],
    ["iso14443-text", "04A1B2C3"],
  ])("reader %s", (protocol, card) => {
    expect(summaryOf(parseSimulateReader({ port: "/tmp/r", protocol, card: [card] }))).toMatch(new RegExp(`^simulating a reader \\(${protocol}\\) on /tmp/r \\(\\d+ 8N1\\): 1 card, `));
  });
  it("every scale protocol, ascii-st-gs among them", () => {
    for (const protocol of protocolNames("scale")) {
      expect(summaryOf(parseSimulateScale({ port: "/tmp/s", protocol, weight: "100" }))).toMatch(new RegExp(`^simulating a scale \\(${protocol}\\) on /tmp/s \\(`));
    }
  });
  it("every level protocol", () => {
    for (const protocol of protocolNames("level")) {
      expect(summaryOf(parseSimulateLevel({ port: "/tmp/l", protocol, distanceMm: "900" }))).toMatch(new RegExp(`^simulating a level sensor \\(${protocol}\\) on /tmp/l \\(`));
    }
  });
});

describe("smartbin simulate: a protocol read over GPIO lines (wiegand) is refused, not written to a serial port", () => {
  it("parseSimulateReader: a usage message naming GPIO and the simulated backend's .edges files", () => {
    const setup = parseSimulateReader({ port: "/tmp/r", protocol: "wiegand", card: ["86F444"] });
    expect(setup).toEqual({ usage: expect.stringMatching(/^wiegand is read over GPIO lines \(d0_line, d1_line\), not a serial port.*<line>\.edges in gpio\.simulated_dir play a Wiegand reader/) });
  });

  it("only GPIO protocols are refused this way: every serial one of every kind still plays", () => {
    const refused = (["scale", "reader", "level"] as const).flatMap((kind) =>
      protocolNames(kind).filter((name) => {
        const setup =
          kind === "scale"
            ? parseSimulateScale({ port: "/tmp/p", protocol: name })
            : kind === "level"
              ? parseSimulateLevel({ port: "/tmp/p", protocol: name, distanceMm: "900" })
              : parseSimulateReader({ port: "/tmp/p", protocol: name, card: ["86F444"] });
        return "usage" in setup && setup.usage.includes("not a serial port");
      }),
    );
    expect(refused).toEqual(["wiegand"]);
  });

  it("the command: exit 2, one line on stderr, nothing on stdout", () => {
    const r = spawnSync(process.execPath, [SMARTBIN, "simulate", "reader", "--port", "/dev/null", "--protocol", "wiegand", "--card", "86F444"], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^smartbin simulate reader: wiegand is read over GPIO lines .*\.edges.*\n$/);
    expect(r.stderr.split("\n")).toHaveLength(2);
    expect(r.stdout).toBe("");
  });
});
