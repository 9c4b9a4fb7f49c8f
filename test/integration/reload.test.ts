/**
 * SIGHUP reloads the config (issue 10 item 3) in the built `smartbin run`, with Mosquitto and socat
 * devices: a valid change applies (a new points rule earns the next deposit's points) without
 * reopening a device whose settings did not change; an invalid file is refused with its problems and
 * the old config keeps running; a key that needs a restart is refused with that reason.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { requireTools } from "../support/require-tool.js";
import { exited, logged, startRun } from "../support/smartbin-run.js";
import { devicesRig, eventually, processTestCleanups, sleep, writeStationConfig } from "./harness.js";

const tools = requireTools(["mosquitto", "socat"]);

describe.skipIf(tools.skip)(`SIGHUP reloads the config${tools.reason}`, () => {
  const cleanups = processTestCleanups();

  it("valid: applied, devices kept open; invalid or restart-only: refused, the old config runs on", async () => {
    const { broker, scale, reader, central } = await devicesRig(cleanups);
    const cfg = writeStationConfig({ brokerUrl: broker.url, scalePort: scale.pty.devicePath, readerPort: reader.pty.devicePath });
    const original = readFileSync(cfg.file, "utf8");
    const run = startRun(cfg.file);
    cleanups.push(async () => {
      run.kill("SIGKILL");
      await exited(run);
    });
    await eventually(() => logged(run, "station started"), 10_000, "start");
    await sleep(1000);
    const opened = () => run.lines.filter((l) => l.includes('"msg":"serial port open"')).length;
    const openedBefore = opened();
    expect(openedBefore).toBe(2); // the scale and the reader

    // An invalid file: refused with its problem, nothing changes.
    writeFileSync(cfg.file, original.replace("idle_close_s: 0.5", "idle_close_s: soon"));
    run.kill("SIGHUP");
    await eventually(() => logged(run, "configuration reload refused: the file is invalid; the running configuration stays"), 5000, "the refusal");
    expect(run.lines.some((l) => l.includes("session.idle_close_s: expected number"))).toBe(true);

    // A key that needs a restart: refused with the reason.
    writeFileSync(cfg.file, original.replace("id: st-it", "id: st-other"));
    run.kill("SIGHUP");
    await eventually(() => run.lines.some((l) => l.includes("station.id changed: needs a restart")), 5000, "the restart-only refusal");

    // A valid change: 3 points per kg instead of 1.16; the devices stay open.
    writeFileSync(cfg.file, original.replace("points_per_kg: 1.16", "points_per_kg: 3"));
    run.kill("SIGHUP");
    await eventually(() => logged(run, "configuration reloaded"), 5000, "the reload");
    expect(run.exitCode).toBeNull();
    // One line per reload, with what changed (the station's; the state machine logs none of its own).
    const reloadedLines = run.lines.filter((l) => l.includes('"msg":"configuration reloaded"'));
    expect(reloadedLines).toHaveLength(1);
    expect(JSON.parse(reloadedLines[0]!)).toMatchObject({ changed: ["points"], reopened: [], removed: { devices: [], bins: [], categories: [] } });
    expect(run.lines.some((l) => l.includes("\"msg\":\"configuration reloaded without"))).toBe(false);
    await reader.present("100086F444");
    await eventually(() => logged(run, "session opened"), 5000, "a session");
    scale.loadG = 13_000;
    const deposit = await eventually(() => central.events.find((e) => e.json.type === "smartbin.deposit.v1"), 10_000, "the deposit");
    expect(deposit.json.data).toMatchObject({ net_g: 1000, points: 3 });
    expect(opened()).toBe(openedBefore);
    run.kill("SIGTERM");
    await exited(run);
    expect(run.exitCode).toBe(0);
  });
});
