/**
 * The demo's visitors at a door bin (issue 8 item 7), against the `simulated` GPIO folder alone: the
 * test plays the station's part (it writes the lock file) and watches the input files the simulator
 * writes. A visitor presses the button longer than its debounce, opens the door only once the lock
 * reads unlocked, drops the bag with the door open and closes it; a door that stays locked is never
 * opened. Real timers (the simulator's steps are a few hundred ms apart); nothing asserts a duration.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createDemoBinding } from "../../../src/app/demo/binding.js";
import { FIRST_RESIDENT_MS, Simulator, UNLOCK_WAIT_MS, type SimScale, type Visitor } from "../../../src/app/demo/simulator.js";
import { findProtocol } from "../../../src/protocol/index.js";
import { eventually, sleep } from "../../integration/harness.js";

const DOOR = { binId: "kitchen", lock: 17, closed: 27, button: 22 };
const DEBOUNCE_MS = 30;

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** A simulator with one door bin and the given visitors; every 10 ms a sample of the lines and the load. */
function rig(visitors: Visitor[], ready?: () => boolean) {
  const dir = mkdtempSync(join(tmpdir(), "smartbin-sim-"));
  const demo = createDemoBinding();
  const scale: SimScale = {
    binId: "kitchen",
    path: "/dev/demo/test-scale",
    codec: findProtocol("scale", "yaohua-a9").configure({ unit: "kg" }),
    loadG: 5_000,
    settleTicks: 0,
  };
  const readerCodec = findProtocol("reader", "em4100-ascii").configure({});
  const sim = new Simulator({
    demo,
    scales: [scale],
    cardReader: { path: "/dev/demo/test-card", codec: readerCodec },
    qrReader: { path: "/dev/demo/test-qr", codec: readerCodec },
    gpio: { dir, doors: [DOOR], debounceMs: DEBOUNCE_MS },
    visitors,
    random: () => 0.5,
    ...(ready !== undefined ? { ready } : {}),
  });
  const line = (n: number): string => {
    try {
      return readFileSync(join(dir, String(n)), "utf8").trim();
    } catch {
      return "missing";
    }
  };
  const samples: Array<{ lock: string; closed: string; button: string; loadG: number }> = [];
  const sampler = setInterval(() => samples.push({ lock: line(DOOR.lock), closed: line(DOOR.closed), button: line(DOOR.button), loadG: scale.loadG }), 10);
  cleanups.push(() => {
    clearInterval(sampler);
    sim.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const setLock = (level: 0 | 1) => writeFileSync(join(dir, String(DOOR.lock)), `${level}\n`);
  return { sim, scale, line, samples, setLock };
}

describe("the demo's simulator at a door bin", () => {
  it("the first visitor waits until the station says it is ready (every scale weighed), then comes", async () => {
    let ready = false;
    const { sim, line, samples } = rig([{ cardTag: "100086F444", bags: [{ binId: "kitchen", grams: 1_250 }] }], () => ready);
    sim.start();
    // Well past the usual first press (1.5 s after start): nobody pressed the button while the
    // station was not ready (the sampler looks every 10 ms; a press lasts 150 ms).
    await sleep(FIRST_RESIDENT_MS + 1_200);
    expect(samples.length).toBeGreaterThan(100);
    expect(samples.filter((x) => x.button === "1")).toEqual([]);
    ready = true;
    await eventually(() => line(DOOR.button) === "1", 3_000, "the press once ready");
  });

  it("a resident presses the button, opens the door only once it is unlocked, drops the bag inside, closes the door", async () => {
    const { sim, scale, line, samples, setLock } = rig([{ cardTag: "100086F444", bags: [{ binId: "kitchen", grams: 1_250 }] }]);
    setLock(0);
    sim.start();
    expect(line(DOOR.closed)).toBe("1");
    expect(line(DOOR.button)).toBe("0");
    await eventually(() => line(DOOR.button) === "1", 5_000, "the press");
    await eventually(() => line(DOOR.button) === "0", 2_000, "the release");
    // The press held longer than the debounce: several samples 10 ms apart saw it.
    expect(samples.filter((s) => s.button === "1").length).toBeGreaterThanOrEqual(DEBOUNCE_MS / 10);
    await sleep(300);
    expect(line(DOOR.closed)).toBe("1"); // still locked: still closed
    setLock(1); // the station unlocks it
    await eventually(() => line(DOOR.closed) === "0", 2_000, "the door opened");
    await eventually(() => line(DOOR.closed) === "1", 3_000, "the door closed");
    expect(scale.loadG).toBe(6_250);
    // Never open while locked, and the bag fell while the door was open.
    expect(samples.filter((s) => s.closed === "0" && s.lock !== "1")).toEqual([]);
    const firstHeavy = samples.findIndex((s) => s.loadG === 6_250);
    expect(samples[firstHeavy]!.closed).toBe("0");
  }, 15_000);

  it("a door that stays locked is never opened: the resident gives up on that bag", async () => {
    const { sim, scale, line, samples, setLock } = rig([{ cardTag: "100086F444", bags: [{ binId: "kitchen", grams: 1_250 }] }]);
    setLock(0);
    sim.start();
    await eventually(() => line(DOOR.button) === "1", 5_000, "the press");
    await sleep(UNLOCK_WAIT_MS + 500);
    setLock(1); // too late: the resident has gone
    await sleep(500);
    expect(samples.every((s) => s.closed === "1")).toBe(true);
    expect(scale.loadG).toBe(5_000);
  }, 15_000);

  it("a collector opens the door as soon as it unlocks (no button) and empties the bin", async () => {
    const { sim, scale, line, samples, setLock } = rig([{ collector: true, cardTag: "0F00BC4E29" }]);
    setLock(0);
    sim.start();
    await sleep(1_500);
    expect(samples.every((s) => s.button === "0" && s.closed === "1")).toBe(true);
    setLock(1);
    await eventually(() => line(DOOR.closed) === "0", 2_000, "the door opened");
    await eventually(() => line(DOOR.closed) === "1", 3_000, "the door closed");
    expect(scale.loadG).toBe(0);
  }, 15_000);

  it("at the end a door held open is closed and the button released", async () => {
    const { sim, line, setLock } = rig([{ collector: true, cardTag: "0F00BC4E29" }]);
    setLock(1);
    sim.start();
    await eventually(() => line(DOOR.closed) === "0", 5_000, "the door opened");
    sim.stopResidents();
    expect(line(DOOR.closed)).toBe("1");
    expect(line(DOOR.button)).toBe("0");
  }, 15_000);
});
