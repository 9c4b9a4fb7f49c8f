import { describe, expect, it } from "vitest";
import { createLogging } from "../../src/adapters/log/logger.js";
import { claimDaemonSignals } from "../../src/cli/daemon-signals.js";
import { debugToggle } from "../../src/cli/run.js";
import type { CaughtSignal, Signals } from "../../src/cli/signals.js";

function rig(configured: "warn" | "debug") {
  let handler: ((signal: CaughtSignal) => void) | undefined;
  const signals: Signals = { claim: (h) => void (handler = h) };
  const lines: Array<{ level: number; msg: string; module?: string }> = [];
  const logging = createLogging({ level: configured, fd: 1, stream: { write: (s: string) => void lines.push(JSON.parse(s)) }, rateLimit: false });
  const log = logging.logger.child({ module: "run" });
  const stop = claimDaemonSignals({ signals, logger: log, exit: () => undefined, toggleDebug: debugToggle(logging, configured, log) });
  return { stop, lines, logging, fire: (s: CaughtSignal) => handler!(s) };
}

describe("SIGUSR2 toggles debug logging at run time", () => {
  it("between the configured level and debug, for every module, without stopping", () => {
    const { stop, lines, logging, fire } = rig("warn");
    const scale = logging.logger.child({ module: "scale" });
    scale.debug("before");
    fire("SIGUSR2");
    scale.debug("while on");
    fire("SIGUSR2");
    scale.debug("after");
    expect(stop.signal).toBeUndefined();
    expect(lines.map((l) => l.msg)).toEqual([
      "log level now debug (SIGUSR2 toggles between warn and debug)",
      "while on",
      "log level now warn (SIGUSR2 toggles between warn and debug)",
    ]);
  });

  it("a config already at debug toggles to info and back", () => {
    const { logging, fire } = rig("debug");
    fire("SIGUSR2");
    expect(logging.level()).toBe("info");
    fire("SIGUSR2");
    expect(logging.level()).toBe("debug");
  });
});
