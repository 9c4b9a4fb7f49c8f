import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { claimDaemonSignals, SHUTDOWN_LIMIT_MS } from "../../src/cli/daemon-signals.js";
import type { CaughtSignal, Signals } from "../../src/cli/signals.js";

/** A launcher hand-over the test fires by hand, and a logger whose JSON lines the test reads. */
function rig() {
  let handler: ((signal: CaughtSignal) => void) | undefined;
  const signals: Signals = { claim: (h) => void (handler = h) };
  const lines: Array<{ level: number; msg: string; signal?: string }> = [];
  const logger = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const exits: number[] = [];
  const reloads: number[] = [];
  const stop = claimDaemonSignals({ signals, logger, exit: (code) => void exits.push(code), reload: () => void reloads.push(1) });
  return { stop, lines, exits, reloads, fire: (s: CaughtSignal) => handler!(s) };
}

describe("the daemon's signals", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("the first SIGTERM asks for a stop; a second one, or a SIGINT, is logged and changes nothing", async () => {
    const { stop, lines, exits, fire } = rig();
    expect(stop.signal).toBeUndefined();
    fire("SIGTERM");
    expect(stop.signal).toBe("SIGTERM");
    await expect(stop.requested).resolves.toBe("SIGTERM");
    fire("SIGTERM");
    fire("SIGINT");
    expect(stop.signal).toBe("SIGTERM");
    expect(lines.filter((l) => l.msg.startsWith("already shutting down")).map((l) => [l.level, l.signal])).toEqual([
      [40, "SIGTERM"],
      [40, "SIGINT"],
    ]);
    expect(exits).toEqual([]);
  });

  it("SIGINT is a stop like SIGTERM", async () => {
    const { stop, fire } = rig();
    fire("SIGINT");
    await expect(stop.requested).resolves.toBe("SIGINT");
  });

  it("a stop that hangs past the limit ends the process with exit 1 and an error line", () => {
    const { lines, exits, fire } = rig();
    fire("SIGTERM");
    vi.advanceTimersByTime(SHUTDOWN_LIMIT_MS - 1);
    expect(exits).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(exits).toEqual([1]);
    expect(lines.at(-1)).toMatchObject({ level: 50, msg: "shutdown did not finish within the limit; exiting anyway" });
    expect(SHUTDOWN_LIMIT_MS).toBeLessThan(10_000); // the contract's limit, with room to exit
  });

  it("SIGHUP reloads (logged at info), SIGUSR1 is ignored; neither stops; no reload once stopping", () => {
    const { stop, lines, exits, reloads, fire } = rig();
    fire("SIGHUP");
    fire("SIGUSR1");
    vi.advanceTimersByTime(60_000);
    expect(stop.signal).toBeUndefined();
    expect(exits).toEqual([]);
    expect(reloads).toEqual([1]);
    expect(lines.map((l) => [l.level, l.signal])).toEqual([
      [30, "SIGHUP"],
      [30, "SIGUSR1"],
    ]);
    expect(lines[0]!.msg).toBe("configuration reload asked for");
    fire("SIGTERM");
    fire("SIGHUP");
    expect(reloads).toEqual([1]);
  });
});
