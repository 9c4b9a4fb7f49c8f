/**
 * A Wiegand reader end to end through the built `smartbin run` (issue 9, item 3.3): the `simulated`
 * GPIO backend's edge files (`<line>.edges`, one falling edge's microseconds per line) carry a
 * Wiegand-26 frame; the station decodes it, opens a session, and the deposit carries the card in
 * `w26` form, equal to the `w26` of the same EM4100 tag read by the RDM6300-style reader on its
 * pseudo-terminal. Real Mosquitto, socat pseudo-terminals, real files.
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodeWiegand } from "../../src/protocol/reader/wiegand.js";
import { requireTools } from "../support/require-tool.js";
import { exited, logged, startRun } from "../support/smartbin-run.js";
import { devicesRig, eventually, processTestCleanups, sleep, writeStationConfig } from "./harness.js";

const tools = requireTools(["mosquitto", "socat"]);
const D0 = 24;
const D1 = 25;

describe.skipIf(tools.skip)(`a Wiegand reader through the built smartbin${tools.reason}`, () => {
  const cleanups = processTestCleanups();

  it("a W26 frame of tag 100086F444 opens a session as card 134,62532, as the em4100-ascii reader in w26 form does", async () => {
    const { scale, reader, central, broker } = await devicesRig(cleanups);
    const cfg = writeStationConfig({ brokerUrl: broker.url, scalePort: scale.pty.devicePath, readerPort: reader.pty.devicePath, idleCloseS: 1 });
    const text = readFileSync(cfg.file, "utf8")
      .replace("    protocol: em4100-ascii\n", `    protocol: em4100-ascii\n    card_id_format: w26\n  - id: door-reader\n    protocol: wiegand\n    d0_line: ${D0}\n    d1_line: ${D1}\n`)
      .replace("bins:\n", "gpio:\n  backend: simulated\n  simulated_dir: ./gpio\nbins:\n");
    writeFileSync(cfg.file, text);
    const gpio = join(cfg.dir, "gpio");
    mkdirSync(gpio, { recursive: true });
    const run = startRun(cfg.file);
    cleanups.push(async () => {
      run.kill("SIGKILL");
      await exited(run);
    });
    await eventually(() => logged(run, "station started"), 10_000, "start");
    await eventually(() => logged(run, "gpio lines claimed"), 5000, "the Wiegand lines claimed");
    await sleep(1000); // the scale's baseline

    // The tag's last three bytes as a W26 frame: one falling edge per bit, 2 ms apart.
    const bits = new TextDecoder().decode(encodeWiegand("86F444")).trim();
    const d0: string[] = [];
    const d1: string[] = [];
    [...bits].forEach((b, i) => (b === "1" ? d1 : d0).push(String(5_000_000 + i * 2000)));
    appendFileSync(join(gpio, `${D0}.edges`), `${d0.join("\n")}\n`);
    appendFileSync(join(gpio, `${D1}.edges`), `${d1.join("\n")}\n`);
    await eventually(() => logged(run, "session opened"), 5000, "the session");
    scale.loadG = 13_000;
    const deposit = await eventually(() => central.events.find((e) => e.json.type === "smartbin.deposit.v1"), 15_000, "the deposit");
    expect(deposit.json.data).toMatchObject({ card_id: "134,62532", reader_id: "door-reader", net_g: 1000 });

    // The same tag on the RDM6300-style reader (em4100-ascii, card_id_format w26): the same card_id.
    await eventually(() => run.lines.some((l) => l.includes('"msg":"session closed"')), 10_000, "the first session closed");
    await reader.present("100086F444");
    await eventually(() => run.lines.filter((l) => l.includes('"msg":"session opened"')).length === 2, 5000, "the second session");
    scale.loadG = 14_000;
    const second = await eventually(() => central.events.filter((e) => e.json.type === "smartbin.deposit.v1")[1], 15_000, "the second deposit");
    expect(second.json.data).toMatchObject({ card_id: "134,62532", reader_id: "reader-1", net_g: 1000 });

    run.kill("SIGTERM");
    await exited(run);
    expect(run.exitCode).toBe(0);
  });
});
