/**
 * The `gpiod` backend through fake libgpiod tools on PATH (fixtures/fake-libgpiod.sh) that speak the
 * syntax of libgpiod 1.6.3 (Debian 12), 2.1.3 and 2.3 and refuse the other's, as the real ones do.
 * Real processes, real pipes; no wall-clock asserts (vi.waitFor polls for a condition).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createGpioPort } from "../../../src/adapters/gpio/create.js";
import type { GpioOpenSpec, GpioPort } from "../../../src/adapters/gpio/gpio-port.js";
import { gpiomonArgs, parseGpiodetect, parseMonitorLine, parseToolsVersion } from "../../../src/adapters/gpio/gpiod-tools.js";
import type { SmartbinError } from "../../../src/errors.js";
import { captureLogger } from "./gpio-test-kit.js";

const FAKE = join(import.meta.dirname, "fixtures", "fake-libgpiod.sh");
const DETECT = "gpiochip0 [gpio-brcmstb@107d508500] (32 lines)\ngpiochip4 [pinctrl-rp1] (54 lines)\n";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function world(version: string, opts: { tools?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "smartbin-gpiod-"));
  const bin = join(dir, "bin");
  const state = join(dir, "state");
  mkdirSync(bin);
  mkdirSync(state);
  if (opts.tools !== false) for (const t of ["gpioset", "gpioget", "gpiomon", "gpiodetect"]) symlinkSync(FAKE, join(bin, t));
  writeFileSync(join(state, "detect"), DETECT);
  writeFileSync(join(state, "chip"), "/dev/gpiochip4");
  writeFileSync(join(state, "calls"), "");
  // without the tools, PATH holds only the empty folder (the machine may have the real ones)
  const path = opts.tools === false ? bin : `${bin}${delimiter}/usr/bin${delimiter}/bin`;
  const env = { ...process.env, PATH: path, FAKE_LIBGPIOD: version, FAKE_GPIO_DIR: state };
  const pin = (line: number, high?: boolean): string => {
    if (high !== undefined) writeFileSync(join(state, String(line)), high ? "1\n" : "0\n");
    return readFileSync(join(state, String(line)), "utf8").trim();
  };
  const calls = (): string[] => readFileSync(join(state, "calls"), "utf8").split("\n").filter((l) => l !== "");
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return { state, env, pin, calls };
}

function port(env: NodeJS.ProcessEnv): { port: GpioPort; edges: Array<[number, boolean]>; errors: Array<[number, Error]> } {
  const { logger } = captureLogger();
  const p = createGpioPort({ backend: "gpiod", chip: "auto", logger, toolEnv: env, toolSettleMs: 150 });
  const edges: Array<[number, boolean]> = [];
  p.onInput((line, active) => edges.push([line, active]));
  const errors: Array<[number, Error]> = [];
  p.onError((line, error) => errors.push([line, error]));
  cleanups.push(() => p.close());
  return { port: p, edges, errors };
}

const spec: GpioOpenSpec = {
  inputs: [{ line: 27, activeLow: true, name: "kitchen.closed", debounceMs: 0 }],
  outputs: [{ line: 17, activeLow: false, name: "kitchen.lock", initial: false }],
};

describe("libgpiod tool output", () => {
  it("parses the version lines of 1.6, 2.0 to 2.2 and 2.3", () => {
    expect(parseToolsVersion("gpioset (libgpiod) v1.6.3\nCopyright")).toMatchObject({ major: 1, version: "1.6.3" });
    expect(parseToolsVersion("gpioset (libgpiod) v2.1.3")).toMatchObject({ major: 2, initialState: false });
    expect(parseToolsVersion("gpioset v2.3 (libgpiod v2.3)", "  -I, --initial-state")).toMatchObject({ major: 2, version: "2.3", initialState: true });
    expect(parseToolsVersion("gpioset v3.0")).toBeUndefined();
    expect(parseToolsVersion("command not found")).toBeUndefined();
  });
  it("parses gpiomon lines of both lines and gpiodetect", () => {
    expect(parseMonitorLine("17 1")).toEqual({ kind: "level", line: 17, high: true });
    expect(parseMonitorLine("17 falling")).toEqual({ kind: "level", line: 17, high: false });
    expect(parseMonitorLine("17=active")).toEqual({ kind: "level", line: 17, high: true });
    expect(parseMonitorLine("Monitoring line '17'...")).toEqual({ kind: "banner" });
    expect(parseGpiodetect(DETECT)).toEqual([
      { id: "gpiochip0", label: "gpio-brcmstb@107d508500", ngpio: 32 },
      { id: "gpiochip4", label: "pinctrl-rp1", ngpio: 54 },
    ]);
    expect(gpiomonArgs({ major: 1, version: "1.6.3", initialState: false }, "/dev/gpiochip0", 5)).toEqual(["-b", "-F", "%o %e", "/dev/gpiochip0", "5"]);
  });
});

describe.each(["1.6.3", "2.1.3", "2.3"])("gpiod backend, libgpiod %s", (version) => {
  it("finds the header chip by label, holds outputs, reads inputs and reports edges; close releases every line", async () => {
    const w = world(version);
    w.pin(27, false); // door closed (active-low)
    const { port: p, edges } = port(w.env);
    await p.open(spec);
    expect(w.pin(17)).toBe("0");
    expect(existsSync(join(w.state, "held-17"))).toBe(true);
    expect(p.read(27)).toBe(true);
    w.pin(27, true); // door opens
    await vi.waitFor(() => expect(edges).toEqual([[27, false]]), { timeout: 5000 });
    p.write(17, true);
    await vi.waitFor(() => expect(w.pin(17)).toBe("1"), { timeout: 5000 });
    await vi.waitFor(() => expect(existsSync(join(w.state, "held-17"))).toBe(true), { timeout: 5000 });
    await p.close();
    expect(existsSync(join(w.state, "held-17"))).toBe(false);
    expect(existsSync(join(w.state, "held-27"))).toBe(false);
    if (version.startsWith("1.")) {
      expect(w.calls()).toContain("gpioset --mode=signal /dev/gpiochip4 17=0");
      expect(w.calls()).toContain("gpioget /dev/gpiochip4 27");
    } else {
      expect(w.calls()).toContain("gpioset -c /dev/gpiochip4 -C smartbin --banner 17=0");
    }
    expect(w.calls().some((c) => c.startsWith("gpioget"))).toBe(version !== "2.3");
  });

  it("times the falling edges of Wiegand data lines on one gpiomon, in kernel microseconds, and fails both lines when it dies", async () => {
    const w = world(version);
    w.pin(27, false);
    const { port: p, errors } = port(w.env);
    const timed: Array<[number, number]> = [];
    p.onEdge?.((line, tUs) => timed.push([line, tUs]));
    await p.open({ ...spec, edgeInputs: [{ line: 24, name: "door-reader.d0" }, { line: 25, name: "door-reader.d1" }] });
    expect(existsSync(join(w.state, "held-24")) && existsSync(join(w.state, "held-25"))).toBe(true);
    // Three pulses as the version prints them (1.6: nanoseconds unpadded; 2.x: seconds.nanoseconds).
    const events = version.startsWith("1.")
      ? ["24 812 5000", "25 812 2005000", "24 812 4005000"]
      : ["24 812.000005000", "25 812.002005000", "24 812.004005000"];
    writeFileSync(join(w.state, "edges"), `${events.join("\n")}\n`);
    await vi.waitFor(() => expect(timed).toEqual([[24, 812_000_005], [25, 812_002_005], [24, 812_004_005]]), { timeout: 5000 });
    expect(w.calls()).toContain(
      version.startsWith("1.")
        ? "gpiomon -b -f -F %o %s %n /dev/gpiochip4 24 25"
        : "gpiomon -c /dev/gpiochip4 -C smartbin --banner -e falling -F %o %S 24 25",
    );
    writeFileSync(join(w.state, "die-edges"), "");
    await vi.waitFor(() => expect(errors.map(([l]) => l).sort()).toEqual([24, 25]), { timeout: 5000 });
  });

  it("a busy line fails open with its line number, releasing the lines it had claimed", async () => {
    const w = world(version);
    w.pin(27, false);
    writeFileSync(join(w.state, "busy-27"), "");
    const { port: p } = port(w.env);
    const err = (await p.open(spec).catch((e: unknown) => e)) as SmartbinError;
    expect(err.code).toBe("GPIO_OPEN_FAILED");
    const failures = err.context.failures as Array<{ line: number; error: Error }>;
    expect(failures.map((f) => f.line)).toEqual([27]);
    expect(failures[0]!.error.message).toContain("line 27 is busy");
    expect(failures[0]!.error.message).toContain("Device or resource busy");
    await vi.waitFor(() => expect(existsSync(join(w.state, "held-17"))).toBe(false), { timeout: 5000 });
  });

  it("a monitor that dies at run time is an onError of its line, no crash", async () => {
    const w = world(version);
    w.pin(27, false);
    const { port: p, errors } = port(w.env);
    await p.open(spec);
    writeFileSync(join(w.state, "die-27"), "");
    await vi.waitFor(() => expect(errors.map(([l]) => l)).toEqual([27]), { timeout: 5000 });
    expect(errors[0]![1].message).toContain("Input/output error");
  });
});

describe("gpiod backend without its tools or chip", () => {
  it("tools missing: says which package to install", async () => {
    const w = world("2.1.3", { tools: false });
    const { port: p } = port(w.env);
    const err = (await p.open(spec).catch((e: unknown) => e)) as SmartbinError;
    expect(err.code).toBe("GPIO_BACKEND_UNAVAILABLE");
    expect(err.message).toContain("apt-get install gpiod");
  });

  it("no header chip among the chips: names what was found", async () => {
    const w = world("1.6.3");
    writeFileSync(join(w.state, "detect"), "gpiochip0 [gpio-mockup-A] (8 lines)\n");
    const { port: p } = port(w.env);
    const err = (await p.open(spec).catch((e: unknown) => e)) as SmartbinError;
    expect(err.code).toBe("GPIO_BACKEND_UNAVAILABLE");
    expect(err.message).toContain("gpiochip0 [gpio-mockup-A]");
  });
});
