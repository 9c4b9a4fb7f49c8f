/**
 * The `simulated` backend on real files in a temporary folder (contract.md section 2, "Simulated
 * backend"), with a manual clock for the poll and the debounce.
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createGpioPort } from "../../../src/adapters/gpio/create.js";
import type { GpioPort } from "../../../src/adapters/gpio/gpio-port.js";
import { parseSimulatedLevel } from "../../../src/adapters/gpio/simulated.js";
import { captureLogger, ManualTimers } from "./gpio-test-kit.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "smartbin-gpio-sim-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function rig(): { port: GpioPort; timers: ManualTimers; logs: Array<Record<string, unknown>>; edges: Array<[number, boolean, number]> } {
  const timers = new ManualTimers();
  const { logger, lines } = captureLogger();
  const port = createGpioPort({ backend: "simulated", chip: "auto", simulatedDir: dir, timers, logger });
  const edges: Array<[number, boolean, number]> = [];
  port.onInput((line, active) => edges.push([line, active, timers.t]));
  return { port, timers, logs: lines, edges };
}

const file = (line: number): string => join(dir, String(line));

describe("parseSimulatedLevel", () => {
  it.each([
    ["0", { high: false }],
    ["1", { high: true }],
    ["1\n", { high: true }],
    ["0 \t\r\n\n", { high: false }],
  ])("%j is a level", (content, expected) => {
    expect(parseSimulatedLevel(content)).toEqual(expected);
  });
  it.each(["", "\n", "2", "1x", " 1", "10", "on"])("%j is no level", (content) => {
    expect(parseSimulatedLevel(content)).toHaveProperty("invalid");
  });
});

describe("simulated backend", () => {
  it("writes every output at open, as the physical level (active_low applied)", async () => {
    const { port } = rig();
    await port.open({
      inputs: [],
      outputs: [
        { line: 17, activeLow: false, name: "kitchen.lock", initial: false },
        { line: 23, activeLow: true, name: "kitchen.lamp", initial: false },
      ],
    });
    expect(readFileSync(file(17), "utf8")).toBe("0\n");
    expect(readFileSync(file(23), "utf8")).toBe("1\n");
    await port.close();
  });

  it("creates a missing simulated_dir", async () => {
    rmSync(dir, { recursive: true });
    const { port } = rig();
    await port.open({ inputs: [], outputs: [{ line: 19, activeLow: false, name: "buzzer", initial: false }] });
    expect(readFileSync(file(19), "utf8")).toBe("0\n");
    await port.close();
  });

  it("writes an output when it changes, atomically (a new file renamed over the old), leaving no temporary file", async () => {
    const { port } = rig();
    await port.open({ inputs: [], outputs: [{ line: 17, activeLow: false, name: "kitchen.lock", initial: false }] });
    const before = statSync(file(17)).ino;
    port.write(17, true);
    expect(readFileSync(file(17), "utf8")).toBe("1\n");
    expect(readdirSync(dir)).toEqual(["17"]);
    // a new inode, not the old file rewritten in place: a reader never sees a half-written file
    expect(statSync(file(17)).ino).not.toBe(before);
    await port.close();
  });

  it("reads an input file and reports the debounced edge once it held debounce_ms", async () => {
    writeFileSync(file(27), "0\n"); // active-low door sensor: 0 = closed
    const { port, timers, edges } = rig();
    await port.open({ inputs: [{ line: 27, activeLow: true, name: "kitchen.closed", debounceMs: 30 }], outputs: [] });
    expect(port.read(27)).toBe(true);
    writeFileSync(file(27), "1\n"); // the door opens
    timers.advance(10); // read at the next poll (10 ms), counts 30 ms later
    expect(edges).toEqual([]);
    timers.advance(29);
    expect(edges).toEqual([]);
    timers.advance(1);
    expect(edges).toEqual([[27, false, 40]]);
    expect(port.read(27)).toBe(false);
    await port.close();
  });

  it("a file that bounces between polls yields one edge", async () => {
    writeFileSync(file(22), "0");
    const { port, timers, edges } = rig();
    await port.open({ inputs: [{ line: 22, activeLow: false, name: "kitchen.button", debounceMs: 30 }], outputs: [] });
    for (const level of ["1", "0", "1", "0", "1"]) {
      writeFileSync(file(22), level);
      timers.advance(10);
    }
    timers.advance(100);
    expect(edges).toEqual([[22, true, 80]]);
    await port.close();
  });

  it("reads inputs at least every 20 ms", async () => {
    writeFileSync(file(5), "1");
    const { port, timers, edges } = rig();
    await port.open({ inputs: [{ line: 5, activeLow: false, name: "fire", debounceMs: 0 }], outputs: [] });
    writeFileSync(file(5), "0");
    timers.advance(20);
    expect(edges).toEqual([[5, false, 10]]);
    await port.close();
  });

  it("a missing file, or other content, reads as the inactive level and is logged once until valid again", async () => {
    // fire is active-low: a missing file must read as no fire
    const { port, timers, edges, logs } = rig();
    await port.open({ inputs: [{ line: 5, activeLow: true, name: "gpio.inputs.fire", debounceMs: 0 }], outputs: [] });
    expect(port.read(5)).toBe(false);
    timers.advance(100);
    writeFileSync(file(5), "fire!");
    timers.advance(100);
    expect(port.read(5)).toBe(false);
    const warned = () => logs.filter((l) => l.msg === "gpio simulated input file has no level: reads as inactive");
    expect(warned()).toHaveLength(1);
    expect(warned()[0]).toMatchObject({ line: 5, reason: "no such file" });
    writeFileSync(file(5), "0\n"); // active: fire
    timers.advance(10);
    expect(edges).toEqual([[5, true, 210]]);
    expect(logs.filter((l) => l.msg === "gpio simulated input file is valid again")).toHaveLength(1);
    rmSync(file(5));
    timers.advance(10);
    expect(edges.at(-1)).toEqual([5, false, 220]);
    expect(warned()).toHaveLength(2); // invalid again: logged again, once
    await port.close();
  });

  it("an output that cannot be written is reported through onError with its line, and the station goes on", async () => {
    const { port } = rig();
    const errors: number[] = [];
    port.onError((line) => errors.push(line));
    await port.open({ inputs: [], outputs: [{ line: 17, activeLow: false, name: "kitchen.lock", initial: false }] });
    rmSync(dir, { recursive: true });
    expect(() => port.write(17, true)).not.toThrow();
    expect(errors).toEqual([17]);
    await port.close();
  });

  it("open fails with the line when an output file cannot be written (root too: its name is taken by a folder)", async () => {
    // A folder where the line's file should be: renaming the new file over it fails whoever runs this.
    mkdirSync(file(17));
    const { port } = rig();
    const err = await port.open({ inputs: [], outputs: [{ line: 17, activeLow: false, name: "kitchen.lock", initial: false }] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "GPIO_OPEN_FAILED" });
    expect((err as Error).message).toContain("17 (kitchen.lock)");
  });

  it("open fails with the line when simulated_dir is a file", async () => {
    const notDir = join(dir, "plain-file");
    writeFileSync(notDir, "");
    const timers = new ManualTimers();
    const { logger } = captureLogger();
    const port = createGpioPort({ backend: "simulated", chip: "auto", simulatedDir: notDir, timers, logger });
    const err = await port.open({ inputs: [], outputs: [{ line: 17, activeLow: false, name: "kitchen.lock", initial: false }] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "GPIO_OPEN_FAILED" });
    expect((err as Error).message).toContain("17 (kitchen.lock)");
  });

  it("reports the edges appended to <line>.edges after open, complete lines only, and rereads a file that shrank", async () => {
    const { port, timers } = rig();
    writeFileSync(join(dir, "24.edges"), "1\n2\n"); // before open: not replayed
    const timed: Array<[number, number]> = [];
    port.onEdge?.((line, tUs) => timed.push([line, tUs]));
    await port.open({ inputs: [], outputs: [], edgeInputs: [{ line: 24, name: "r.d0" }, { line: 25, name: "r.d1" }] });
    appendFileSync(join(dir, "24.edges"), "1000\n3000\n50");
    appendFileSync(join(dir, "25.edges"), "2000\nnot a time\n");
    timers.advance(10);
    expect(timed).toEqual([[24, 1000], [24, 3000], [25, 2000]]);
    appendFileSync(join(dir, "24.edges"), "00\n");
    timers.advance(10);
    expect(timed.at(-1)).toEqual([24, 5000]);
    writeFileSync(join(dir, "25.edges"), "7\n");
    timers.advance(10);
    expect(timed.at(-1)).toEqual([25, 7]);
    await port.close();
  });

  it("close stops polling", async () => {
    writeFileSync(file(27), "0");
    const { port, timers, edges } = rig();
    await port.open({ inputs: [{ line: 27, activeLow: false, name: "x", debounceMs: 0 }], outputs: [] });
    await port.close();
    expect(timers.pending).toBe(0);
    writeFileSync(file(27), "1");
    timers.advance(100);
    expect(edges).toEqual([]);
    expect(existsSync(file(27))).toBe(true);
  });
});
