/**
 * The `onoff` (sysfs) backend: chip discovery on fake sysfs trees for each kernel numbering, and
 * the onoff path through a fake onoff module acting on the same tree (the real one needs hardware).
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createGpioPort } from "../../../src/adapters/gpio/create.js";
import type { GpioOpenSpec } from "../../../src/adapters/gpio/gpio-port.js";
import { onoffLoadError } from "../../../src/adapters/gpio/onoff.js";
import { findSysfsChip, listSysfsChips } from "../../../src/adapters/gpio/sysfs-chips.js";
import type { SmartbinError } from "../../../src/errors.js";
import { fakeSysfs, FakeOnoff, PI4_66, PI4_OLD, PI5_66, type FakeChip } from "./fake-sysfs.js";
import { captureLogger, ManualTimers } from "./gpio-test-kit.js";

const roots: string[] = [];
function tree(chips: FakeChip[], opts?: { sysfsGpio?: boolean }): string {
  const root = fakeSysfs(chips, opts);
  roots.push(root);
  return root;
}
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function problem(fn: () => unknown): SmartbinError {
  try {
    fn();
  } catch (err) {
    return err as SmartbinError;
  }
  throw new Error("expected an error");
}

describe("sysfs chip discovery", () => {
  it.each([
    ["a Pi 4 before Linux 6.6 (base 0)", PI4_OLD, "pinctrl-bcm2711", 0],
    ["a Pi 4 on Linux 6.6+ (base 512)", PI4_66, "pinctrl-bcm2711", 512],
    ["a Pi 5 on Linux 6.6+ (base 571)", PI5_66, "pinctrl-rp1", 571],
    ["a Pi 3 before 6.6", [{ base: 0, label: "pinctrl-bcm2835", ngpio: 54 }, { base: 504, label: "raspberrypi-exp-gpio", ngpio: 8 }], "pinctrl-bcm2835", 0],
  ] as const)("chip auto finds the header chip on %s", (_what, chips, label, base) => {
    const chip = findSysfsChip(tree([...chips]), "auto");
    expect(chip).toMatchObject({ label, base });
  });

  it("lists every chip with label, base and ngpio, by base", () => {
    expect(listSysfsChips(tree(PI5_66)).map((c) => [c.id, c.label, c.base, c.ngpio])).toEqual(
      PI5_66.map((c) => [`gpiochip${c.base}`, c.label, c.base, c.ngpio]),
    );
  });

  it("with several chips, a label picks its chip", () => {
    expect(findSysfsChip(tree(PI4_66), "raspberrypi-exp-gpio")).toMatchObject({ base: 570, ngpio: 8 });
  });

  it("a /dev/gpiochipN picks the sysfs chip of that character device", () => {
    const root = tree(PI5_66);
    expect(findSysfsChip(root, "/dev/gpiochip4")).toMatchObject({ label: "pinctrl-rp1", base: 571 });
    expect(findSysfsChip(root, "/dev/gpiochip0")).toMatchObject({ base: 512 });
    expect(problem(() => findSysfsChip(root, "/dev/gpiochip9")).code).toBe("GPIO_BACKEND_UNAVAILABLE");
  });

  it("no matching chip: an error naming what was found and what to set", () => {
    const root = tree([{ base: 512, label: "gpio-mockup-A", ngpio: 8 }]);
    const err = problem(() => findSysfsChip(root, "auto"));
    expect(err.code).toBe("GPIO_BACKEND_UNAVAILABLE");
    expect(err.message).toContain("no Raspberry Pi header chip");
    expect(err.message).toContain("gpiochip512 [gpio-mockup-A]");
    expect(err.message).toContain("set gpio.chip");
    expect(problem(() => findSysfsChip(root, "pinctrl-bcm2711")).message).toContain("no GPIO chip has that label");
  });

  it("two chips with one label: ambiguous, use /dev/gpiochipN", () => {
    const root = tree([
      { base: 512, label: "pca953x", ngpio: 16 },
      { base: 528, label: "pca953x", ngpio: 16 },
    ]);
    expect(problem(() => findSysfsChip(root, "pca953x")).message).toContain("2 chips have that label");
  });

  it("a kernel without sysfs GPIO: says so and points at gpiod", () => {
    const err = problem(() => findSysfsChip(tree(PI4_66, { sysfsGpio: false }), "auto"));
    expect(err.code).toBe("GPIO_BACKEND_UNAVAILABLE");
    expect(err.message).toContain("use gpio.backend gpiod");
  });
});

const spec: GpioOpenSpec = {
  inputs: [{ line: 27, activeLow: true, name: "kitchen.closed", debounceMs: 30 }],
  outputs: [{ line: 17, activeLow: false, name: "kitchen.lock", initial: false }],
};

function rig(chips: FakeChip[]) {
  const root = tree(chips);
  const fake = new FakeOnoff(root);
  const timers = new ManualTimers();
  const { logger, lines } = captureLogger();
  const port = createGpioPort({ backend: "onoff", chip: "auto", sysfsRoot: root, timers, logger, loadOnoff: () => Promise.resolve(fake.module) });
  const edges: Array<[number, boolean]> = [];
  port.onInput((line, active) => edges.push([line, active]));
  const errors: Array<[number, Error]> = [];
  port.onError((line, error) => errors.push([line, error]));
  return { root, fake, timers, port, edges, errors, logs: lines };
}

describe("onoff backend", () => {
  it.each([
    ["base 0", PI4_OLD, 0],
    ["base 512", PI4_66, 512],
    ["base 571 (Pi 5)", PI5_66, 571],
  ] as const)("gives onoff the global number, chip base + BCM line (%s)", async (_what, chips, base) => {
    const { fake, port } = rig([...chips]);
    fake.busy.clear();
    await port.open(spec);
    expect(fake.constructed).toEqual([
      { gpio: base + 17, direction: "low", edge: "none", activeLow: false },
      { gpio: base + 27, direction: "in", edge: "both", activeLow: false },
    ]);
    await port.close();
  });

  it("sets outputs glitch-free at their initial level (direction high/low), active_low applied by the port", async () => {
    const { fake, port } = rig(PI4_66);
    await port.open({ inputs: [], outputs: [{ line: 23, activeLow: true, name: "lamp", initial: false }] });
    expect(fake.constructed[0]).toMatchObject({ gpio: 535, direction: "high" });
    expect(fake.pin(535)).toBe("1");
    port.write(23, true);
    expect(fake.pin(535)).toBe("0");
    await port.close();
  });

  it("reads inputs at open and reports debounced edges from onoff's watch", async () => {
    const { root, fake, timers, port, edges } = rig(PI4_66);
    // the pin reads 0 before the station claims it: export creates value 0 (door closed, active-low)
    await port.open(spec);
    expect(port.read(27)).toBe(true);
    fake.edge(539, true);
    fake.edge(539, false);
    fake.edge(539, true);
    timers.advance(30);
    expect(edges).toEqual([[27, false]]);
    expect(existsSync(join(root, "class", "gpio", "gpio539"))).toBe(true);
    await port.close();
  });

  it("reuses a line left exported by a crash, and logs it", async () => {
    const { root, fake, port, logs } = rig(PI4_66);
    mkdirSync(join(root, "class", "gpio", "gpio529"));
    fake.setPin(529, true);
    await port.open(spec);
    expect(fake.exported).toEqual([539]); // 529 was not exported again
    expect(fake.pin(529)).toBe("0"); // but set to its initial level
    expect(logs.some((l) => l.line === 17 && String(l.msg).includes("left exported"))).toBe(true);
    await port.close();
  });

  it("a busy line (EBUSY on export) fails open with its line number and error, releasing the others", async () => {
    const { fake, port } = rig(PI4_66);
    fake.busy.add(539);
    const err = (await port.open(spec).catch((e: unknown) => e)) as SmartbinError;
    expect(err.code).toBe("GPIO_OPEN_FAILED");
    const failures = err.context.failures as Array<{ line: number; error: Error }>;
    expect(failures.map((f) => f.line)).toEqual([27]);
    expect(failures[0]!.error.message).toContain("busy");
    expect(failures[0]!.error.message).toContain("EBUSY");
    expect(err.message).toContain("27 (kitchen.closed)");
    expect(fake.unexported).toEqual([529]); // the lock that was claimed is released
  });

  it("a line beyond the chip fails open with its line", async () => {
    const { port } = rig(PI4_66);
    const err = (await port
      .open({ inputs: [], outputs: [{ line: 60, activeLow: false, name: "x.lock", initial: false }] })
      .catch((e: unknown) => e)) as SmartbinError;
    expect(err.code).toBe("GPIO_OPEN_FAILED");
    expect(err.message).toContain("beyond pinctrl-bcm2711, which has 58 lines");
  });

  it("unexports every line on close", async () => {
    const { root, fake, port } = rig(PI4_66);
    await port.open(spec);
    await port.close();
    expect(fake.unexported.sort()).toEqual([529, 539]);
    expect(existsSync(join(root, "class", "gpio", "gpio529"))).toBe(false);
  });

  it("EIO at run time on an output or inside onoff's edge handler is an onError of the line, no crash", async () => {
    const { fake, port, errors } = rig(PI4_66);
    await port.open(spec);
    fake.failWrites.add(529);
    expect(() => port.write(17, true)).not.toThrow();
    fake.failReads.add(539);
    expect(() => fake.edge(539, true)).not.toThrow();
    expect(() => fake.edge(539, false)).not.toThrow(); // still failing: reported once
    expect(errors.map(([l, e]) => [l, (e as SmartbinError).code])).toEqual([
      [17, "GPIO_LINE_FAILED"],
      [27, "GPIO_LINE_FAILED"],
    ]);
    expect(errors[1]![1].message).toContain("EIO");
    await port.close();
  });

  it("onoff not installed: open says which module is missing and how to get it", async () => {
    const { logger } = captureLogger();
    const missing = Object.assign(new Error("Cannot find package 'onoff' imported from /x/onoff.js"), { code: "ERR_MODULE_NOT_FOUND" });
    const port = createGpioPort({ backend: "onoff", chip: "auto", sysfsRoot: tree(PI4_66), logger, loadOnoff: () => Promise.reject(onoffLoadError(missing)) });
    const err = (await port.open(spec).catch((e: unknown) => e)) as SmartbinError;
    expect(err.code).toBe("GPIO_BACKEND_UNAVAILABLE");
    expect(err.message).toContain("needs the npm package onoff, which is not installed");
    expect(err.message).toContain("apt-get install g++ make python3");
  });

  it("an epoll addon built for another Node says to rebuild it", () => {
    const err = onoffLoadError(
      Object.assign(new Error("The module '/x/node_modules/epoll/build/Release/epoll.node'\nwas compiled against a different Node.js version using\nNODE_MODULE_VERSION 115."), {
        code: "ERR_DLOPEN_FAILED",
      }),
    );
    expect(err.code).toBe("GPIO_BACKEND_UNAVAILABLE");
    expect(err.message).toContain("npm rebuild epoll");
  });
});
