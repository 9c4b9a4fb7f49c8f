/**
 * The port every backend shares: active-low both ways, debounce with a manual clock, writes only on
 * change, lines used twice, errors that reach onError and never the caller, and backend `none`.
 */
import { describe, expect, it } from "vitest";
import { createGpioPort } from "../../../src/adapters/gpio/create.js";
import { Debouncer } from "../../../src/adapters/gpio/debounce.js";
import type { DriverEvents, DriverLines, GpioDriver } from "../../../src/adapters/gpio/driver.js";
import type { GpioOpenSpec } from "../../../src/adapters/gpio/gpio-port.js";
import { LinePort } from "../../../src/adapters/gpio/line-port.js";
import { SmartbinError } from "../../../src/errors.js";
import { captureLogger, ManualTimers } from "./gpio-test-kit.js";

/** A driver whose inputs the test plays (`play`), recording what the port asked of it. */
class FakeDriver implements GpioDriver {
  events: DriverEvents | undefined;
  opened: DriverLines | undefined;
  writes: Array<[number, boolean]> = [];
  closed = false;
  throwOnWrite = false;
  constructor(private readonly initial: Map<number, boolean> = new Map()) {}
  open(lines: DriverLines, events: DriverEvents): Promise<Map<number, boolean>> {
    this.opened = lines;
    this.events = events;
    return Promise.resolve(this.initial);
  }
  write(line: number, high: boolean): void {
    if (this.throwOnWrite) throw new Error("EIO");
    this.writes.push([line, high]);
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
  play(line: number, high: boolean): void {
    this.events!.level(line, high);
  }
}

const spec: GpioOpenSpec = {
  inputs: [
    { line: 27, activeLow: true, name: "kitchen.closed", debounceMs: 30 },
    { line: 22, activeLow: false, name: "kitchen.button", debounceMs: 0 },
  ],
  outputs: [
    { line: 17, activeLow: false, name: "kitchen.lock", initial: false },
    { line: 23, activeLow: true, name: "kitchen.lamp", initial: false },
  ],
};

function rig(initial = new Map([[27, false], [22, false]])) {
  const timers = new ManualTimers();
  const driver = new FakeDriver(initial);
  const { logger, lines } = captureLogger();
  const port = new LinePort({ backend: "fake", driver, timers, logger });
  const edges: Array<[number, boolean, number]> = [];
  port.onInput((line, active) => edges.push([line, active, timers.t]));
  const errors: Array<[number, Error]> = [];
  port.onError((line, error) => errors.push([line, error]));
  return { timers, driver, port, edges, errors, logs: lines };
}

describe("Debouncer", () => {
  it("counts a new level once it held debounce_ms; a bouncing contact yields one change", () => {
    const timers = new ManualTimers();
    const changes: Array<[boolean, number]> = [];
    const d = new Debouncer(false, 30, timers, (l) => changes.push([l, timers.t]));
    // bounces: 1 0 1 0 1 at 0, 5, 10, 15, 20 ms, then holds 1
    for (const [t, l] of [[0, true], [5, false], [10, true], [15, false], [20, true]] as const) {
      timers.advance(t - timers.t);
      d.sample(l);
    }
    timers.advance(29);
    expect(changes).toEqual([]);
    timers.advance(1);
    expect(changes).toEqual([[true, 50]]);
    expect(d.level).toBe(true);
  });

  it("a pulse shorter than debounce_ms yields no change", () => {
    const timers = new ManualTimers();
    const changes: boolean[] = [];
    const d = new Debouncer(false, 30, timers, (l) => changes.push(l));
    d.sample(true);
    timers.advance(29);
    d.sample(false);
    timers.advance(100);
    expect(changes).toEqual([]);
    expect(timers.pending).toBe(0);
  });

  it("repeated readings of the new level do not restart the wait (polled inputs)", () => {
    const timers = new ManualTimers();
    const changes: number[] = [];
    const d = new Debouncer(false, 30, timers, () => changes.push(timers.t));
    for (let t = 0; t <= 40; t += 10) {
      timers.advance(t - timers.t);
      d.sample(true);
    }
    expect(changes).toEqual([30]);
  });

  it("with debounce_ms 0 a change counts at once", () => {
    const timers = new ManualTimers();
    const changes: boolean[] = [];
    const d = new Debouncer(true, 0, timers, (l) => changes.push(l));
    d.sample(false);
    expect(changes).toEqual([false]);
  });
});

describe("LinePort", () => {
  it("hands the driver physical levels: active_low outputs inverted, initial levels set at open", async () => {
    const { port, driver } = rig();
    await port.open(spec);
    expect(driver.opened!.outputs).toEqual([
      { line: 17, name: "kitchen.lock", activeLow: false, high: false },
      { line: 23, name: "kitchen.lamp", activeLow: true, high: true }, // inactive active-low lamp: pin high
    ]);
    port.write(23, true);
    port.write(17, true);
    expect(driver.writes).toEqual([
      [23, false],
      [17, true],
    ]);
  });

  it("reads inputs as logical levels (active_low applied) from open on", async () => {
    // closed sensor is active-low: pin 0 = door closed
    const { port } = rig(new Map([[27, false], [22, true]]));
    await port.open(spec);
    expect(port.read(27)).toBe(true);
    expect(port.read(22)).toBe(true);
  });

  it("reports debounced logical edges through onInput, one for a bouncing door sensor", async () => {
    const { port, driver, timers, edges } = rig(new Map([[27, false], [22, false]]));
    await port.open(spec);
    // the door opens: pin 27 goes high (inactive: not closed), bouncing for 12 ms
    for (const [t, high] of [[0, true], [4, false], [8, true], [12, false], [12, true]] as const) {
      timers.advance(t - timers.t);
      driver.play(27, high);
    }
    timers.advance(100);
    expect(edges).toEqual([[27, false, 42]]);
    expect(port.read(27)).toBe(false);
    // the button has no debounce: at once
    driver.play(22, true);
    expect(edges.at(-1)).toEqual([22, true, 112]);
  });

  it("writes an output only when its level changes", async () => {
    const { port, driver } = rig();
    await port.open(spec);
    port.write(17, false); // already false since open
    port.write(17, true);
    port.write(17, true);
    expect(driver.writes).toEqual([[17, true]]);
  });

  it("rejects a line used twice, listing each, without touching the driver", async () => {
    const { port, driver } = rig();
    const err = await port
      .open({
        inputs: [{ line: 27, activeLow: false, name: "a.closed", debounceMs: 0 }],
        outputs: [
          { line: 27, activeLow: false, name: "b.lock", initial: false },
          { line: 17, activeLow: false, name: "a.lock", initial: false },
          { line: 17, activeLow: false, name: "c.lamp", initial: false },
        ],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SmartbinError);
    expect((err as SmartbinError).code).toBe("GPIO_OPEN_FAILED");
    const failures = (err as SmartbinError).context.failures as Array<{ line: number; name: string }>;
    expect(failures.map((f) => [f.line, f.name])).toEqual([
      [27, "b.lock"],
      [17, "c.lamp"],
    ]);
    expect((err as Error).message).toContain("already used by a.closed");
    expect(driver.opened).toBeUndefined();
  });

  it("a driver that throws on write reaches onError with the line, never the caller", async () => {
    const { port, driver, errors, logs } = rig();
    await port.open(spec);
    driver.throwOnWrite = true;
    expect(() => port.write(17, true)).not.toThrow();
    expect(errors.map(([l, e]) => [l, (e as SmartbinError).code])).toEqual([[17, "GPIO_LINE_FAILED"]]);
    expect(logs.some((l) => l.msg === "gpio line failed" && l.line === 17)).toBe(true);
  });

  it("a run-time error of the driver reaches onError; a callback that throws is logged, not thrown", async () => {
    const { port, driver, errors, logs } = rig();
    port.onError(() => {
      throw new Error("bug in a consumer");
    });
    await port.open(spec);
    expect(() => driver.events!.error(27, new Error("gpiomon ended"))).not.toThrow();
    expect(errors).toHaveLength(1);
    expect(errors[0]![1].message).toContain("gpiomon ended");
    expect(logs.some((l) => l.msg === "gpio callback threw")).toBe(true);
  });

  it("close releases through the driver, cancels pending debounces and reports nothing after", async () => {
    const { port, driver, timers, edges } = rig();
    await port.open(spec);
    driver.play(27, true);
    await port.close();
    expect(driver.closed).toBe(true);
    timers.advance(100);
    driver.play(22, true);
    expect(edges).toEqual([]);
  });
});

describe("backend none", () => {
  it("opens with no lines and refuses any line", async () => {
    const { logger } = captureLogger();
    const empty = createGpioPort({ backend: "none", chip: "auto", logger });
    await expect(empty.open({ inputs: [], outputs: [] })).resolves.toBeUndefined();
    await empty.close();
    const port = createGpioPort({ backend: "none", chip: "auto", logger });
    const err = (await port.open(spec).catch((e: unknown) => e)) as SmartbinError;
    expect(err.code).toBe("GPIO_OPEN_FAILED");
    expect((err.context.failures as unknown[]).length).toBe(4);
    expect(err.message).toContain("gpio.backend is none");
  });
});
