/**
 * sd_notify through systemd-notify(1), against a datagram socket of the test's own as
 * `$NOTIFY_SOCKET` (socat; no systemd runs here): the exact messages, the watchdog period from
 * `$WATCHDOG_USEC`/`$WATCHDOG_PID` (sd_watchdog_enabled(3)), the keep-alive stopping while a loop is
 * stuck, and the soft failures.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { SystemdNotifier, watchdogIntervalMs } from "../../src/adapters/systemd/notify.js";
import { Liveness } from "../../src/app/liveness.js";
import { superviseBySystemd } from "../../src/app/supervision.js";
import { ManualClock } from "../support/manual-clock.js";
import { openNotifySocket, type NotifySocket } from "../support/notify-socket.js";
import { describeWithTool, findTool } from "../support/require-tool.js";
import { eventually, tempDir } from "../integration/harness.js";

function memoryLogger() {
  const lines: Array<{ level: number; msg: string; reason?: string }> = [];
  const logger = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

describe("watchdogIntervalMs (sd_watchdog_enabled(3))", () => {
  it("is half of WATCHDOG_USEC, in ms, when WATCHDOG_PID is unset or ours", () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000" }, 42)).toBe(15_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "42" }, 42)).toBe(15_000);
  });
  it("is undefined when unset, not a number, zero, or meant for another process", () => {
    expect(watchdogIntervalMs({}, 42)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "soon" }, 42)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "0" }, 42)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "41" }, 42)).toBeUndefined();
  });
});

describe("SystemdNotifier without NOTIFY_SOCKET", () => {
  it("does nothing, and spawns nothing (a missing tool is not even noticed)", async () => {
    const { logger, lines } = memoryLogger();
    const n = new SystemdNotifier({ env: {}, pid: 42, logger, tool: "/nonexistent/systemd-notify" });
    expect(n.enabled).toBe(false);
    n.ready();
    n.watchdog();
    n.stopping();
    await n.settled();
    expect(lines).toEqual([]);
  });
});

describeWithTool(["socat", "systemd-notify"], "SystemdNotifier against a socket of its own", () => {
  let socket: NotifySocket | undefined;
  afterEach(async () => {
    await socket?.close();
    socket = undefined;
  });

  it("sends READY=1 (with MAINPID), WATCHDOG=1 and STOPPING=1, each its own message", async () => {
    socket = await openNotifySocket();
    const { logger } = memoryLogger();
    const n = new SystemdNotifier({ env: { ...process.env, NOTIFY_SOCKET: socket.path }, pid: 4242, logger });
    n.ready();
    await eventually(() => socket!.messages().length === 1, 5_000);
    n.watchdog();
    await eventually(() => socket!.messages().length === 2, 10_000);
    n.stopping();
    await eventually(() => socket!.messages().length === 3, 10_000);
    expect(socket.messages()).toEqual([["READY=1"], ["WATCHDOG=1"], ["STOPPING=1"]]);
    expect(socket.datagrams()[0]).toEqual(["MAINPID=4242", "READY=1"]);
  });

  it("READY=1 arrives first even when its tool is slow to send: the watchdog and STOPPING wait for it, not for its exit", async () => {
    socket = await openNotifySocket();
    const { logger } = memoryLogger();
    // A systemd-notify that takes 600 ms before sending READY=1 (a loaded board), the others at once.
    const dir = tempDir("smartbin-slow-notify-");
    const tool = join(dir, "systemd-notify");
    writeFileSync(tool, `#!/bin/sh\ncase "$*" in *READY=1*) sleep 0.6;; esac\nexec ${findTool("systemd-notify")} "$@"\n`, { mode: 0o755 });
    const n = new SystemdNotifier({ env: { ...process.env, NOTIFY_SOCKET: socket.path }, pid: 4242, logger, tool });
    n.ready();
    n.watchdog();
    n.watchdog();
    n.stopping();
    await eventually(() => socket!.messages().length === 4, 10_000);
    expect(socket.messages()[0]).toEqual(["READY=1"]);
    expect(socket.messages().slice(1).map((m) => m.join())).toEqual(expect.arrayContaining(["WATCHDOG=1", "WATCHDOG=1", "STOPPING=1"]));
    await n.settled();
  });

  it("a missing systemd-notify is logged once, at error, and nothing is thrown", async () => {
    socket = await openNotifySocket();
    const { logger, lines } = memoryLogger();
    const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: socket.path }, pid: 42, logger, tool: "/nonexistent/systemd-notify" });
    n.ready();
    await n.settled();
    n.watchdog();
    n.stopping();
    await n.settled();
    expect(lines.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual([
      expect.stringMatching(/^systemd-notify not found/),
    ]);
  });

  it("feeds WATCHDOG=1 while every loop turns, and stops while one is stuck", async () => {
    socket = await openNotifySocket();
    const { logger } = memoryLogger();
    const clock = new ManualClock();
    const liveness = new Liveness(() => clock.mono());
    const device = liveness.register("scale scale-1", 60_000);
    device.beat("idle");
    const supervision = superviseBySystemd({
      liveness,
      logger,
      clock,
      pid: 4242,
      env: { ...process.env, NOTIFY_SOCKET: socket.path, WATCHDOG_USEC: "30000000", WATCHDOG_PID: "4242" },
    });
    const count = (m: string) => socket!.messages().filter((d) => d.length === 1 && d[0] === m).length;
    // The first WATCHDOG=1 waits for READY's systemd-notify to end: up to 5 s here, where no service
    // manager answers its barrier.
    await eventually(() => count("READY=1") === 1 && count("WATCHDOG=1") === 1, 12_000);
    clock.advance(30_000); // two intervals of 15 s
    await eventually(() => count("WATCHDOG=1") === 3, 5_000);
    device.beat("busy"); // an open that never returns
    clock.advance(60_000); // within the limit: still fed
    await eventually(() => count("WATCHDOG=1") === 7, 5_000);
    clock.advance(120_000); // stuck: no ping
    await new Promise((r) => setTimeout(r, 300));
    expect(count("WATCHDOG=1")).toBe(7);
    supervision.stopping();
    await eventually(() => count("STOPPING=1") === 1, 5_000);
    clock.advance(60_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(socket.messages()).toEqual([["READY=1"], ...Array.from({ length: 7 }, () => ["WATCHDOG=1"]), ["STOPPING=1"]]);
  });
});
