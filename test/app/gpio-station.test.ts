/**
 * The station's GPIO side (app/gpio-station.ts) with a fake port and a manual clock: which lines it
 * claims, the safe levels before and after, inputs routed to the runner, lamp patterns, buzzer
 * patterns, and lines that fail.
 */
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { GpioOpenSpec, GpioPort } from "../../src/adapters/gpio/gpio-port.js";
import { BUZZER_PATTERNS, GpioStation, gpioLines, type GpioInputSink } from "../../src/app/gpio-station.js";
import { configSchema } from "../../src/config/schema.js";
import { SmartbinError } from "../../src/errors.js";
import { ManualClock } from "../support/manual-clock.js";

const config = configSchema.parse({
  station: { id: "st-001" },
  mqtt: { url: "mqtt://127.0.0.1:1883" },
  scales: [{ id: "scale-1", port: "/dev/ttyUSB0", protocol: "yaohua-a9" }],
  bins: [
    {
      id: "kitchen",
      category: "food_waste",
      scale: "scale-1",
      door: { lock: { line: 17 }, closed: { line: 27, active_low: true }, button: { line: 22 }, lamp: { line: 23 } },
    },
  ],
  gpio: { backend: "simulated", inputs: { fire: { line: 5 } }, buzzer: { line: 19 } },
});

class FakePort implements GpioPort {
  spec: GpioOpenSpec | null = null;
  writes: Array<[number, boolean]> = [];
  levels = new Map<number, boolean>([
    [27, true],
    [22, false],
    [5, false],
  ]);
  input: ((line: number, active: boolean) => void) | null = null;
  error: ((line: number, error: Error) => void) | null = null;
  failOpen: Error | null = null;
  closed = false;
  open(spec: GpioOpenSpec) {
    this.spec = spec;
    return this.failOpen ? Promise.reject(this.failOpen) : Promise.resolve();
  }
  read(line: number) {
    return this.levels.get(line) ?? false;
  }
  write(line: number, active: boolean) {
    this.writes.push([line, active]);
  }
  onInput(cb: (line: number, active: boolean) => void) {
    this.input = cb;
  }
  onError(cb: (line: number, error: Error) => void) {
    this.error = cb;
  }
  close() {
    this.closed = true;
    return Promise.resolve();
  }
}

function sink() {
  const calls: string[] = [];
  const s: GpioInputSink = {
    doorInput: (bin, part, active) => void calls.push(`${bin}.${part}=${active}`),
    contact: (c, active) => void calls.push(`${c}=${active}`),
    gpioError: (line, message, where) => void calls.push(`error ${line} ${where.binId ?? where.contact ?? ""}: ${message}`),
  };
  return { calls, s };
}

const log = pino({ level: "silent" });

describe("GpioStation", () => {
  it("claims every line with the safe levels (locks locked, lamps and buzzer off), then reports each input's level", async () => {
    const port = new FakePort();
    const gpio = new GpioStation(config, port, new ManualClock(), log);
    const { calls, s } = sink();
    await gpio.open(s);
    expect(port.spec?.outputs.map((o) => [o.name, o.line, o.initial])).toEqual([
      ["kitchen.lock", 17, false],
      ["kitchen.lamp", 23, false],
      ["gpio.buzzer", 19, false],
    ]);
    expect(port.spec?.inputs.map((i) => [i.name, i.line, i.activeLow, i.debounceMs])).toEqual([
      ["kitchen.closed", 27, true, 30],
      ["kitchen.button", 22, false, 30],
      ["gpio.inputs.fire", 5, false, 100],
    ]);
    expect(calls).toEqual(["kitchen.closed=true", "kitchen.button=false", "fire=false"]);
    port.input?.(22, true);
    expect(calls.at(-1)).toBe("kitchen.button=true");
  });

  it("levels asked for before the port opened are written once it has; a lock is written only when it changes", async () => {
    const port = new FakePort();
    const gpio = new GpioStation(config, port, new ManualClock(), log);
    gpio.apply({ locks: { kitchen: true }, lamps: { kitchen: "on" } });
    expect(port.writes).toEqual([]);
    await gpio.open(sink().s);
    expect(port.writes).toContainEqual([17, true]);
    expect(port.writes).toContainEqual([23, true]);
    port.writes = [];
    gpio.apply({ locks: { kitchen: true }, lamps: { kitchen: "on" } });
    expect(port.writes).toEqual([]);
  });

  it("a blinking lamp toggles at 1 Hz only while it blinks; a refused bin blinks fast for 2 s", async () => {
    const port = new FakePort();
    const clock = new ManualClock();
    const gpio = new GpioStation(config, port, clock, log);
    await gpio.open(sink().s);
    port.writes = [];
    gpio.apply({ locks: { kitchen: false }, lamps: { kitchen: "blink" } });
    clock.advance(2000);
    expect(port.writes.filter(([l]) => l === 23).map(([, v]) => v)).toEqual([true, false, true, false]);
    gpio.apply({ locks: { kitchen: false }, lamps: { kitchen: "off" } });
    port.writes = [];
    clock.advance(5000);
    expect(port.writes).toEqual([]);
    gpio.indicate("refused", "kitchen");
    clock.advance(2000);
    const lamp = port.writes.filter(([l]) => l === 23).length;
    expect(lamp).toBeGreaterThanOrEqual(14);
    port.writes = [];
    clock.advance(3000);
    expect(port.writes.filter(([l]) => l === 23)).toEqual([]);
  });

  it("buzzer patterns: a deposit is one 200 ms beep, a refusal two long beeps", async () => {
    const port = new FakePort();
    const clock = new ManualClock();
    const gpio = new GpioStation(config, port, clock, log);
    await gpio.open(sink().s);
    port.writes = [];
    gpio.indicate("deposit");
    clock.advance(1000);
    expect(port.writes.filter(([l]) => l === 19)).toEqual([
      [19, true],
      [19, false],
    ]);
    port.writes = [];
    gpio.indicate("refused");
    clock.advance(2000);
    expect(port.writes.filter(([l]) => l === 19).map(([, v]) => v)).toEqual([true, false, true, false]);
    expect(BUZZER_PATTERNS.refused).toEqual([400, 200, 400]);
  });

  it("at close writes the safe levels (a fire holding the doors open keeps the locks released), then releases the lines", async () => {
    const port = new FakePort();
    const gpio = new GpioStation(config, port, new ManualClock(), log);
    await gpio.open(sink().s);
    gpio.apply({ locks: { kitchen: true }, lamps: { kitchen: "on" } });
    port.writes = [];
    await gpio.close(true);
    expect(port.writes).toEqual([
      [17, true],
      [23, false],
      [19, false],
    ]);
    expect(port.closed).toBe(true);
  });

  it("a port that cannot open makes every line a gpio_error of its bin or contact; a line failing later once", async () => {
    const port = new FakePort();
    port.failOpen = new SmartbinError("GPIO_OPEN_FAILED", "busy", { failures: [{ line: 27, name: "kitchen.closed", error: new Error("EBUSY") }] });
    const gpio = new GpioStation(config, port, new ManualClock(), log);
    const { calls, s } = sink();
    await gpio.open(s);
    expect(calls[0]).toBe("error 27 kitchen: EBUSY");
    expect(calls).toContain("error 5 fire: not claimed: another line of the station failed to open");
    const ok = new FakePort();
    const later = sink();
    await new GpioStation(config, ok, new ManualClock(), log).open(later.s);
    ok.error?.(17, new Error("EIO"));
    ok.error?.(17, new Error("EIO"));
    expect(later.calls.filter((c) => c.startsWith("error"))).toEqual(["error 17 kitchen: EIO"]);
  });

  it("maps no lines for a station without GPIO parts", () => {
    const plain = configSchema.parse({ station: { id: "s" }, mqtt: { url: "mqtt://h" } });
    expect(gpioLines(plain).inputs).toEqual([]);
  });
});
