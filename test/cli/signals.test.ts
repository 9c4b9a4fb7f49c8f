/**
 * Process tests of the signals (contract.md section 1, issue 6 item 8): the built `smartbin run`,
 * signalled as systemd, a closed terminal and a curious local user would. The station runs with
 * no broker (nothing listens on mqtt://127.0.0.1:1) and with devices that are not plugged in, so the
 * file needs neither mosquitto nor socat; start-up and shutdown take their real paths all the same.
 *
 * "During start-up" is counted from the moment the launcher's listeners are in: before its first
 * line Node itself ends the process on SIGTERM, which the contract allows. On Linux the moment shows
 * in /proc/PID/status: SIGHUP joins the caught signals (SigCgt) only when the launcher catches it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildOnce, ROOT, SMARTBIN } from "../support/build.js";
import { eventually, removeTempDirs, sleep, tempDir, writeStationConfig } from "../integration/harness.js";

beforeAll(() => buildOnce(), 120_000);
afterAll(() => removeTempDirs());

/** The contract's limit from a SIGTERM or SIGINT to the exit. */
const EXIT_LIMIT_MS = 10_000;
const SIGHUP_BIT = 1n << 0n; // bit N-1 of SigCgt is signal N; SIGHUP is 1

/** A started `smartbin` (or bare node) with its stdout and stderr collected. */
interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The JSON log lines on stdout so far. */
  logs: () => Array<{ level: number; msg: string; signal?: string; module?: string; err?: { message: string } }>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

const started: Proc[] = [];
afterEach(() => {
  for (const p of started.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
});

/** The environment of every child: this one's, without NODE_OPTIONS unless a test sets it. */
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _ignored, ...rest } = process.env;
  return { ...rest, ...extra };
}

function launch(nodeArgs: string[], extraEnv: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, nodeArgs, { cwd: ROOT, stdio: "pipe", env: env(extraEnv) });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  const proc: Proc = {
    child,
    stdout: () => out,
    stderr: () => err,
    logs: () =>
      out
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as ReturnType<Proc["logs"]>[number]),
    exited,
  };
  started.push(proc);
  return proc;
}

/** `smartbin run` on a fresh config: no broker, devices not plugged in. */
function startRun(extraEnv: NodeJS.ProcessEnv = {}, nodeOptions: string[] = []): Proc {
  const dir = tempDir("smartbin-signals-");
  const { file } = writeStationConfig({
    dir,
    brokerUrl: "mqtt://127.0.0.1:1",
    scalePort: join(dir, "scale-not-plugged-in"),
    readerPort: join(dir, "reader-not-plugged-in"),
  });
  return launch([...nodeOptions, SMARTBIN, "run", "-c", file], extraEnv);
}

/** Resolves once the launcher's signal listeners are in (SIGHUP is among the caught signals). */
async function launcherListening(proc: Proc): Promise<void> {
  const end = performance.now() + 10_000;
  for (;;) {
    let caught = 0n;
    try {
      const status = readFileSync(`/proc/${proc.child.pid}/status`, "utf8");
      caught = BigInt("0x" + (/^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? "0"));
    } catch {
      // not there yet, or gone: the checks below say which
    }
    if ((caught & SIGHUP_BIT) !== 0n) return;
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error(`exited early: ${proc.stderr()}`);
    if (performance.now() > end) throw new Error("the launcher's listeners never came");
    await sleep(1);
  }
}

/** Sends `signal` and resolves with how the process ended, failing if it takes longer than the contract's limit. */
async function signalAndExit(proc: Proc, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const sent = performance.now();
  proc.child.kill(signal);
  const limit = sleep(EXIT_LIMIT_MS + 2_000).then(() => undefined);
  const exit = await Promise.race([proc.exited, limit]);
  if (exit === undefined) throw new Error(`no exit within ${EXIT_LIMIT_MS} ms of ${signal}; output:\n${proc.stdout()}${proc.stderr()}`);
  return { code: exit.code, signal: exit.signal, ms: exit.at - sent };
}

const logged = (proc: Proc, msg: string | RegExp) => () =>
  proc.logs().some((l) => (typeof msg === "string" ? l.msg === msg : msg.test(l.msg)));

/** A small seeded generator (mulberry32), so the random instants are the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => (socket.destroy(), resolve(false)));
  });
}

const SEED = 20261129;
const random = seeded(SEED);
/**
 * Instants after spawn, from 0 to 1500 ms, denser early (squared), where dist/ loads and the station
 * starts; the signal goes no earlier than the launcher's first line.
 */
const instants = Array.from({ length: 9 }, () => Math.round(random() ** 2 * 1500));

// /proc/PID/status is Linux's; so are the gateways and CI.
describe.skipIf(process.platform !== "linux")(`smartbin run and its signals${process.platform === "linux" ? "" : " (skipped: needs Linux /proc)"}`, () => {
  it(`SIGINT, then SIGTERM, at random instants of the start-up (seed ${SEED}: ${instants.join(", ")} ms): exit 0 within 10 s, every time`, async () => {
    const trials = instants.map((ms, i) => ({ ms, signal: i === 0 ? ("SIGINT" as const) : ("SIGTERM" as const) }));
    const results = await Promise.all(
      trials.map(async ({ ms, signal }) => {
        const proc = startRun();
        const spawned = performance.now();
        await launcherListening(proc);
        await sleep(Math.max(0, ms - (performance.now() - spawned)));
        const exit = await signalAndExit(proc, signal);
        return { trial: `${signal} at ${ms} ms`, exit, msgs: proc.logs().map((l) => l.msg), stderr: proc.stderr() };
      }),
    );
    for (const r of results) {
      const what = JSON.stringify(r);
      expect({ code: r.exit.code, killedBy: r.exit.signal }, what).toEqual({ code: 0, killedBy: null });
      expect(r.exit.ms, what).toBeLessThan(EXIT_LIMIT_MS);
      // Whatever had started was stopped cleanly: once the station started, "stopped" is the last word.
      if (r.msgs.includes("station started")) expect(r.msgs.at(-1), what).toBe("stopped");
      expect(r.stderr, what).toBe("");
    }
    if (process.env.SMARTBIN_SIGNALS_DEBUG) console.log(results.map((r) => `${r.trial}: ${r.msgs.at(-2) ?? "-"} / ${r.msgs.at(-1) ?? "-"}`));
  }, 40_000);

  it("a second and third stop signal during the shutdown change nothing: one shutdown, exit 0", async () => {
    const proc = startRun();
    await eventually(logged(proc, "station started"), 10_000, "station started");
    // Back to back: the shutdown takes milliseconds without a broker. Pending together, the kernel
    // delivers SIGINT (2) before SIGTERM (15), and merges a repeated SIGTERM, so either one can be first.
    proc.child.kill("SIGTERM");
    proc.child.kill("SIGTERM");
    const exit = await signalAndExit(proc, "SIGINT");
    expect(exit).toMatchObject({ code: 0, signal: null });
    const logs = proc.logs();
    expect(logs.filter((l) => l.msg === "shutting down")).toHaveLength(1);
    for (const l of logs.filter((l) => l.msg.startsWith("already shutting down"))) expect(l.level).toBe(40);
    expect(logs.at(-1)).toMatchObject({ msg: "stopped", signal: expect.stringMatching(/^SIG(TERM|INT)$/) });
    expect(proc.stderr()).toBe("");
  });

  it("SIGHUP, during start-up and while running, never ends it: it logs that a reload was asked for (reloads: test/integration/reload.test.ts)", async () => {
    const proc = startRun();
    await launcherListening(proc);
    proc.child.kill("SIGHUP"); // kept by the launcher until the daemon claims the signals
    await eventually(logged(proc, "station started"), 10_000, "station started");
    proc.child.kill("SIGHUP");
    const reload = /^configuration reload asked for$/;
    await eventually(() => proc.logs().filter((l) => reload.test(l.msg)).length === 2, 5_000, "two reload lines");
    await sleep(300);
    expect(proc.child.exitCode).toBeNull();
    expect(proc.logs().filter((l) => reload.test(l.msg))).toEqual([
      expect.objectContaining({ level: 30, signal: "SIGHUP" }),
      expect.objectContaining({ level: 30, signal: "SIGHUP" }),
    ]);
    expect(await signalAndExit(proc, "SIGTERM")).toMatchObject({ code: 0, signal: null });
  });

  it("SIGUSR1, during start-up and while running, opens no inspector: nothing listens on 127.0.0.1:9229", async () => {
    const taken = await listening(9229); // something else's: then only Node's own announcement is checked
    const proc = startRun();
    await launcherListening(proc);
    proc.child.kill("SIGUSR1");
    await eventually(logged(proc, "station started"), 10_000, "station started");
    proc.child.kill("SIGUSR1");
    await eventually(() => proc.logs().filter((l) => l.signal === "SIGUSR1").length === 2, 5_000, "two SIGUSR1 lines");
    await sleep(300);
    expect(proc.child.exitCode).toBeNull();
    expect(proc.stderr()).not.toContain("Debugger listening");
    if (!taken) expect(await listening(9229)).toBe(false);
    expect(await signalAndExit(proc, "SIGTERM")).toMatchObject({ code: 0, signal: null });
  });

  it("(the check above would see it: a bare node opens the inspector on SIGUSR1)", async () => {
    const bare = launch(["--inspect-port=0", "-e", "setTimeout(() => undefined, 5000)"]);
    await sleep(300);
    bare.child.kill("SIGUSR1");
    await eventually(() => bare.stderr().includes("Debugger listening on ws://127.0.0.1:"), 5_000, "the inspector");
    bare.child.kill("SIGKILL");
  });

  it("an inspector opened by --inspect in NODE_OPTIONS is closed at start, with a warning", async () => {
    const proc = startRun({ NODE_OPTIONS: "--inspect=127.0.0.1:0" });
    await eventually(logged(proc, /^the Node inspector was opened by --inspect/), 10_000, "the inspector warning");
    const port = Number(/Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(proc.stderr())?.[1]);
    expect(port).toBeGreaterThan(0);
    expect(proc.logs().find((l) => l.msg.startsWith("the Node inspector"))).toMatchObject({ level: 40 });
    expect(await listening(port)).toBe(false);
    expect(await signalAndExit(proc, "SIGTERM")).toMatchObject({ code: 0, signal: null });
  });

  it.each([
    ["exception", "uncaught exception; exiting for systemd to restart"],
    ["rejection", "unhandled rejection; exiting for systemd to restart"],
  ])("a provoked %s is logged at fatal, with the error, flushed before exit 1", async (kind, msg) => {
    const fixture = join(ROOT, "test/cli/fixtures/provoke-fatal.mjs");
    const proc = startRun({ SMARTBIN_PROVOKE: kind }, ["--import", fixture]);
    const exit = await Promise.race([proc.exited, sleep(15_000).then(() => undefined)]);
    expect(exit, proc.stdout() + proc.stderr()).toMatchObject({ code: 1, signal: null });
    const logs = proc.logs();
    expect(logs.map((l) => l.msg)).toContain("station started");
    expect(logs.at(-1)).toMatchObject({
      level: 60,
      msg,
      err: expect.objectContaining({ message: `provoked ${kind} (test/cli/fixtures/provoke-fatal.mjs)` }),
    });
    expect(proc.stdout().endsWith("\n")).toBe(true); // the whole line, not a cut-off one
  });
});
