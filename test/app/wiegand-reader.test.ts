/**
 * A Wiegand reader from the GPIO side to the reader's frames (issue 9, item 3.3): GpioStation claims
 * the readers' D0/D1 lines as timed edge inputs, a fake port delivers timestamped falling edges, and
 * the reader's port (app/wiegand-reader.ts) hands on one bit line per frame after `frame_gap_ms` of
 * quiet, which the registry's framer decodes. Fake GPIO port and manual clock.
 */
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { GpioOpenSpec, GpioPort } from "../../src/adapters/gpio/gpio-port.js";
import { GpioStation, hasGpioLines, type GpioInputSink } from "../../src/app/gpio-station.js";
import type { DeviceHandlers } from "../../src/app/runner.js";
import { MAX_PENDING_EDGES, WiegandReaderPort } from "../../src/app/wiegand-reader.js";
import { configSchema } from "../../src/config/schema.js";
import { findProtocol } from "../../src/protocol/registry.js";
import type { ReaderFrame } from "../../src/protocol/types.js";
import { ManualClock } from "../support/manual-clock.js";

/** readers.md, wiegand: facility 90, card 324. */
const EXAMPLE = "00101101000000001010001000";
const D0 = 24;
const D1 = 25;

const config = configSchema.parse({
  station: { id: "st-001" },
  mqtt: { url: "mqtt://127.0.0.1:1883" },
  gpio: { backend: "gpiod" },
  readers: [{ id: "door-reader", protocol: "wiegand", d0_line: D0, d1_line: D1, card_id_format: "facility_card" }],
});

class FakePort implements GpioPort {
  spec: GpioOpenSpec | null = null;
  edge: ((line: number, tUs: number) => void) | null = null;
  error: ((line: number, error: Error) => void) | null = null;
  failOpen: Error | null = null;
  open(spec: GpioOpenSpec) {
    this.spec = spec;
    return this.failOpen ? Promise.reject(this.failOpen) : Promise.resolve();
  }
  read() {
    return false;
  }
  write() {}
  onInput() {}
  onError(cb: (line: number, error: Error) => void) {
    this.error = cb;
  }
  onEdge(cb: (line: number, tUs: number) => void) {
    this.edge = cb;
  }
  close() {
    return Promise.resolve();
  }
  /** Pulses of `bits`, 2 ms apart from `startUs`. */
  pulses(bits: string, startUs: number) {
    [...bits].forEach((b, i) => this.edge?.(b === "1" ? D1 : D0, startUs + i * 2000));
  }
}

const log = pino({ level: "silent" });
const sink: GpioInputSink = { doorInput() {}, contact() {}, gpioError() {} };

function reader(port: FakePort, clock: ManualClock) {
  const gpio = new GpioStation(config, port, clock, log);
  const framer = findProtocol("reader", "wiegand").configure(config.readers[0]).createFramer();
  const frames: ReaderFrame[] = [];
  const states: string[] = [];
  const handlers: DeviceHandlers = {
    onData: (chunk) => frames.push(...framer.push(chunk)),
    onOpen: () => states.push("open"),
    onClose: (reason) => states.push(`closed: ${reason}`),
  };
  const device = new WiegandReaderPort({ id: "door-reader", d0Line: D0, d1Line: D1, frameGapMs: 25, edges: gpio, clock, handlers, logger: log });
  return { gpio, device, frames, states };
}

/** A reader whose lines are claimed and whose port is started. */
async function started() {
  const port = new FakePort();
  const clock = new ManualClock();
  const r = reader(port, clock);
  await r.gpio.open(sink);
  r.device.start();
  return { port, clock, ...r };
}

describe("Wiegand reader on GPIO lines", () => {
  it("claims D0 and D1 as timed edge inputs", async () => {
    expect(hasGpioLines(config)).toBe(true);
    const port = new FakePort();
    const { gpio } = reader(port, new ManualClock());
    await gpio.open(sink);
    expect(port.spec?.edgeInputs).toEqual([
      { line: D0, name: "door-reader.d0" },
      { line: D1, name: "door-reader.d1" },
    ]);
  });

  it("is open once the lines are claimed, and hands on one frame after frame_gap_ms of quiet", async () => {
    const port = new FakePort();
    const clock = new ManualClock();
    const { gpio, device, frames, states } = reader(port, clock);
    device.start();
    expect(states).toEqual([]);
    await gpio.open(sink);
    expect(states).toEqual(["open"]);
    port.pulses(EXAMPLE, 1_000_000);
    clock.advance(24);
    expect(frames).toEqual([]);
    clock.advance(1);
    expect(frames).toEqual([{ kind: "id", cardId: "90,324" }]);
  });

  it("gives two frames that arrive in one burst (their gap is in the kernel timestamps) as two cards", async () => {
    const { port, clock, frames } = await started();
    port.pulses(EXAMPLE, 0);
    port.pulses(EXAMPLE, 26 * 2000 + 40_000);
    clock.advance(25);
    expect(frames).toEqual([{ kind: "id", cardId: "90,324" }, { kind: "id", cardId: "90,324" }]);
  });

  it("rejects a frame that lost a pulse, and counts noise", async () => {
    const { port, clock, frames } = await started();
    port.pulses(EXAMPLE.slice(1), 0);
    clock.advance(25);
    port.edge?.(D0, 1_000_000);
    port.edge?.(D1, 1_000_010);
    clock.advance(25);
    expect(frames.map((f) => (f.kind === "discarded" ? f.reason : f.kind))).toEqual([
      "wrong length: 25 bits (expected 26 or 34)",
      "edges closer than 100 µs (noise, not bits)",
    ]);
  });

  it("keeps memory bounded on a line that never falls quiet", async () => {
    const { port, frames } = await started();
    for (let i = 0; i < MAX_PENDING_EDGES; i++) port.edge?.(D0, i * 1000);
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.every((f) => f.kind === "discarded")).toBe(true);
  });

  it("a line chattering for minutes warns at most once a minute, not once per 256 edges", async () => {
    const port = new FakePort();
    const clock = new ManualClock();
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
    const gpio = new GpioStation(config, port, clock, log);
    const device = new WiegandReaderPort({
      id: "door-reader", d0Line: D0, d1Line: D1, frameGapMs: 25, edges: gpio, clock,
      handlers: { onData: () => {}, onOpen: () => {}, onClose: () => {} }, logger,
    });
    await gpio.open(sink);
    device.start();
    // EMI on an unshielded cable: 15 runs of MAX_PENDING_EDGES edges 500 µs apart, one every 10 s.
    for (let run = 0; run < 15; run++) {
      for (let i = 0; i < MAX_PENDING_EDGES; i++) port.edge?.(D0, run * 10_000_000 + i * 500);
      clock.advance(10_000);
    }
    const warns = lines.filter((l) => l.level === 40);
    expect(warns).toHaveLength(3);
    expect(warns[0]?.msg).toBe("wiegand lines never fall quiet: edges discarded as one over-long frame");
    await device.stop();
  });

  it("goes offline when a line fails, or cannot be claimed, and hands on nothing after stop", async () => {
    const { port, clock, device, frames, states } = await started();
    port.error?.(D1, new Error("gpiomon for lines 24, 25 ended: exit code 1"));
    expect(states).toEqual(["open", "closed: GPIO line failed: gpiomon for lines 24, 25 ended: exit code 1"]);
    await device.stop();
    port.pulses(EXAMPLE, 0);
    clock.advance(100);
    expect(frames).toEqual([]);

    const failing = new FakePort();
    failing.failOpen = new Error("gpio.backend gpiod needs the libgpiod tools");
    const other = reader(failing, new ManualClock());
    other.device.start();
    await other.gpio.open(sink);
    expect(other.states).toEqual(["closed: GPIO line failed: gpio.backend gpiod needs the libgpiod tools"]);
  });
});
