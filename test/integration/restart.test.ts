/**
 * A restart mid-deposit loses nothing (contract section 2 "Restart mid-session"), with the built
 * `smartbin run` as a process: SIGKILL between the weight change and the close, restart, exactly
 * one deposit for that card, with `close_reason: "restart"`; and SIGTERM before the bag has settled,
 * which waits for it rather than closing on the weight from before the bag.
 */
import { describe, expect, it } from "vitest";
import { exited, logged, startRun } from "../support/smartbin-run.js";
import { requireTools } from "../support/require-tool.js";
import { devicesRig, eventually, processTestCleanups, sleep, writeStationConfig } from "./harness.js";

const tools = requireTools(["mosquitto", "socat"]);

describe.skipIf(tools.skip)(`restart mid-deposit${tools.reason}`, () => {
  const cleanups = processTestCleanups();

  /**
   * A broker, a 12 kg indicator and a card reader on pseudo-terminals, a central subscriber, and a
   * station config with a long idle close (a signal always lands while the session is open).
   */
  async function rig() {
    const { broker, scale, reader, central } = await devicesRig(cleanups);
    const cfg = writeStationConfig({ brokerUrl: broker.url, scalePort: scale.pty.devicePath, readerPort: reader.pty.devicePath, idleCloseS: 30 });
    return { scale, reader, central, cfg };
  }

  it("SIGKILL after the bag was weighed and before the close: one deposit after the restart, never two", async () => {
    const { scale, reader, central, cfg } = await rig();

    const first = startRun(cfg.file);
    cleanups.push(() => {
      first.kill("SIGKILL");
      return Promise.resolve();
    });
    await eventually(() => logged(first, "station started"), 10_000, "start");
    await sleep(1000); // the scale's baseline
    await reader.present("100086F444");
    await eventually(() => logged(first, "session opened"), 5000, "the session");
    scale.loadG = 13_250;
    await eventually(() => first.lines.some((l) => l.includes('"msg":"weight change"') && l.includes("13250")), 5000, "the weight change");
    first.kill("SIGKILL");
    await exited(first);
    expect(central.events.filter((e) => e.json.type === "smartbin.deposit.v1")).toEqual([]);

    const second = startRun(cfg.file);
    cleanups.push(async () => {
      if (second.exitCode === null) second.kill("SIGKILL");
      await exited(second);
    });
    await eventually(() => logged(second, "session recovered after a restart: it closes once its scales are back"), 10_000, "recovery");
    await eventually(() => central.events.some((e) => e.json.type === "smartbin.deposit.v1"), 10_000, "the deposit");
    await sleep(1500);
    second.kill("SIGTERM");
    await exited(second);
    const deposits = central.events.filter((e) => e.json.type === "smartbin.deposit.v1").map((e) => e.json.data);
    expect(deposits).toHaveLength(1);
    expect(deposits[0]).toMatchObject({ card_id: "0008844356", net_g: 1250, close_reason: "restart", gross_before_g: 12_000 });

    // A third start finds nothing left to recover.
    const third = startRun(cfg.file);
    cleanups.push(async () => {
      if (third.exitCode === null) third.kill("SIGKILL");
      await exited(third);
    });
    await eventually(() => logged(third, "station started"), 10_000, "third start");
    await sleep(1000);
    expect(logged(third, "session recovered after a restart: it closes once its scales are back")).toBe(false);
    third.kill("SIGTERM");
    await exited(third);
    expect(central.events.filter((e) => e.json.type === "smartbin.deposit.v1")).toHaveLength(1);
  });

  it("SIGTERM a moment after the bag landed, before the scale settled: the shutdown waits for it, one deposit with the bag", async () => {
    const { scale, reader, central, cfg } = await rig();

    const run = startRun(cfg.file);
    cleanups.push(async () => {
      if (run.exitCode === null) run.kill("SIGKILL");
      await exited(run);
    });
    await eventually(() => logged(run, "station started"), 10_000, "start");
    await sleep(1000); // the scale's baseline
    await reader.present("100086F444");
    await eventually(() => logged(run, "session opened"), 5000, "the session");
    scale.loadG = 13_250;
    await sleep(200); // the 1 s stability window is far from full
    const from = Date.now();
    run.kill("SIGTERM");
    await exited(run);
    expect(run.exitCode).toBe(0);
    expect(Date.now() - from).toBeLessThan(10_000);
    expect(logged(run, "shutdown: waiting for the session's scales to settle before closing it")).toBe(true);
    await eventually(() => central.events.some((e) => e.json.type === "smartbin.deposit.v1"), 5000, "the deposit");
    const deposits = central.events.filter((e) => e.json.type === "smartbin.deposit.v1").map((e) => e.json.data);
    expect(deposits).toHaveLength(1);
    expect(deposits[0]).toMatchObject({ card_id: "0008844356", net_g: 1250, close_reason: "shutdown" });
  });
});
