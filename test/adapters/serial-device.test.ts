/**
 * SerialDevice with the REAL serialport binding over socat pseudo-terminals: bytes, a device missing
 * at start, unplug and re-plug at the same path, silence of a streaming indicator, stop() and a clean
 * process exit. Timing-sensitive parts (the backoff schedule) are in serial-device.unit.test.ts.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { pino, type Logger } from "pino";
import ts from "typescript";
import { afterEach, describe, expect, it } from "vitest";
import { SerialDevice, type SerialDeviceOptions } from "../../src/adapters/serial/serial-device.js";
import { requireTools } from "../support/require-tool.js";
import { createPtyPair, makePtyPaths } from "../support/socat.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 20 ms; throws after `ms` naming `what`. */
async function waitFor(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Recorder {
  device: SerialDevice;
  events: string[];
  data: Buffer[];
  monos: number[];
  errors: () => number;
}

function memoryLogger(): { logger: Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

const tools = requireTools(["socat"]);

describe.skipIf(tools.skip)(`SerialDevice over socat pseudo-terminals${tools.reason}`, () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups.length = 0;
  });

  function record(path: string, extra: Partial<SerialDeviceOptions> = {}): Recorder {
    const { logger, lines } = memoryLogger();
    const r: Recorder = {
      events: [],
      data: [],
      monos: [],
      errors: () => lines.filter((l) => l.level >= 50).length,
      device: new SerialDevice({
        id: "dev-1",
        path,
        baudRate: 9600,
        logger,
        backoff: { startMs: 50, maxMs: 400 },
        onData: (chunk, mono) => {
          r.data.push(Buffer.from(chunk));
          r.monos.push(mono);
        },
        onOnline: ({ previous }) => void r.events.push(`online<-${previous}`),
        onOffline: (_reason, { cause, previous }) => void r.events.push(`offline(${cause})<-${previous}`),
        ...extra,
      }),
    };
    cleanups.push(() => r.device.stop());
    return r;
  }

  const received = (r: Recorder): Buffer => Buffer.concat(r.data);

  it("delivers the device's bytes intact: STX/ETX, control bytes, non-ASCII, all 256 values", async () => {
    const pty = await createPtyPair();
    cleanups.push(() => pty.dispose());
    const r = record(pty.devicePath);
    r.device.start();
    await waitFor(() => r.device.state() === "online", "online");

    const bytes = Buffer.concat([
      Buffer.from([0x02]),
      Buffer.from("100086F444"),
      Buffer.from([0x03, 0x0d, 0x0a, 0x00, 0x03, 0x04, 0x11, 0x13, 0x1a, 0x1c, 0x7f, 0x80, 0xff]),
      Buffer.from("Grüße, 重量 €", "utf8"),
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      randomBytes(8_192),
    ]);
    await pty.write(bytes);
    await waitFor(() => received(r).length >= bytes.length, "all bytes");
    expect(received(r).equals(bytes)).toBe(true);
    expect(r.monos.every((m, i) => i === 0 || m >= r.monos[i - 1]!)).toBe(true);
    expect(r.device.stats().bytesReceived).toBe(bytes.length);
    expect(r.events).toEqual(["online<-unknown"]);
  });

  it("a device missing at start is reported offline once across retries, then online when it appears", async () => {
    const paths = await makePtyPaths();
    cleanups.push(() => rm(paths.dir, { recursive: true, force: true }));
    const r = record(paths.devicePath);
    r.device.start();
    await waitFor(() => r.device.stats().openFailures >= 4, "four failed opens");
    expect(r.events).toEqual(["offline(open_failed)<-unknown"]);
    expect(r.errors()).toBe(1); // the first failure at error level, the identical rest at debug

    const pty = await createPtyPair(paths);
    cleanups.push(() => pty.dispose());
    await waitFor(() => r.device.state() === "online", "online");
    expect(r.events).toEqual(["offline(open_failed)<-unknown", "online<-offline"]);
    await pty.write("\x020008844356\x03");
    await waitFor(() => received(r).length >= 12, "data");
    expect(received(r).toString("latin1")).toBe("\x020008844356\x03");
  });

  it("unplug (socat killed) → offline; re-plug at the same path → online and data flows again", async () => {
    const pty = await createPtyPair();
    cleanups.push(() => pty.dispose());
    const r = record(pty.devicePath);
    r.device.start();
    await waitFor(() => r.device.state() === "online", "online");
    await pty.write("before");
    await waitFor(() => received(r).toString() === "before", "data before unplug");

    await pty.close();
    await waitFor(() => r.device.state() === "offline", "offline after unplug");
    const failuresAtUnplug = r.device.stats().openFailures;
    await waitFor(() => r.device.stats().openFailures >= failuresAtUnplug + 2, "failed reopens while unplugged");
    expect(r.events).toEqual(["online<-unknown", "offline(disconnected)<-online"]);
    expect(r.device.stats().disconnects).toBe(1);

    await pty.restart();
    await waitFor(() => r.device.state() === "online", "online after re-plug");
    await pty.write("after");
    await waitFor(() => received(r).toString() === "beforeafter", "data after re-plug");
    expect(r.events).toEqual(["online<-unknown", "offline(disconnected)<-online", "online<-offline"]);
  });

  it("a streaming device that goes silent is reported offline, its port reopened, and online again on data", async () => {
    const pty = await createPtyPair();
    cleanups.push(() => pty.dispose());
    const r = record(pty.devicePath, { silenceTimeoutMs: 400 });
    r.device.start();
    // Open but never a byte: unknown → offline.
    await waitFor(() => r.device.state() === "offline", "offline while silent from the start");
    expect(r.events).toEqual(["offline(silent)<-unknown"]);

    // The indicator starts streaming (every 50 ms, as the real ones do).
    /** Streams a frame every 50 ms until the returned function is called (and awaited). */
    const stream = (): (() => Promise<void>) => {
      let feeding = true;
      const feed = (async () => {
        while (feeding) {
          await pty.write("ST,GS,+0012.500kg\r\n").catch(() => undefined);
          await sleep(50);
        }
      })();
      return () => {
        feeding = false;
        return feed;
      };
    };
    const stopFeed = stream();
    await waitFor(() => r.device.state() === "online", "online once data flows");
    await sleep(600); // longer than the silence timeout: steady data keeps it online
    expect(r.events).toEqual(["offline(silent)<-unknown", "online<-offline"]);
    await stopFeed();

    const opensBefore = r.device.stats().openAttempts;
    await waitFor(() => r.device.state() === "offline", "offline after silence");
    await waitFor(() => r.device.stats().openAttempts > opensBefore, "port reopened");
    expect(r.events).toEqual(["offline(silent)<-unknown", "online<-offline", "offline(silent)<-online"]);

    // The indicator streams again. One frame is not enough: "port reopened" counts the attempt, and a
    // frame written before the open has flushed the input (serialport's open does tcflush TCIOFLUSH) is gone.
    const stopAgain = stream();
    await waitFor(() => r.device.state() === "online", "online again");
    await stopAgain();
    expect(r.events).toEqual(["offline(silent)<-unknown", "online<-offline", "offline(silent)<-online", "online<-offline"]);
    expect(r.device.stats().silenceTimeouts).toBeGreaterThanOrEqual(2);
  });

  it("stop() closes the port: no callback afterwards, and the port can be opened by someone else", async () => {
    const pty = await createPtyPair();
    cleanups.push(() => pty.dispose());
    const r = record(pty.devicePath);
    r.device.start();
    await waitFor(() => r.device.state() === "online", "online");
    await r.device.stop();

    const seen = { events: r.events.length, bytes: received(r).length };
    await pty.write("late bytes").catch(() => undefined);
    await pty.close();
    await sleep(300);
    expect(r.events).toHaveLength(seen.events);
    expect(received(r).length).toBe(seen.bytes);

    // The exclusive lock was released: a second device opens the same (re-plugged) path.
    await pty.restart();
    const other = record(pty.devicePath);
    other.device.start();
    await waitFor(() => other.device.state() === "online", "second device online");
  });

  it("the port lock: refused while another process holds it (logged once), free once that holder is killed, and never left by 20 stop/start cycles", async () => {
    const pty = await createPtyPair();
    cleanups.push(() => pty.dispose());
    // serialport opens with lock: true, an flock(2) on the descriptor: the kernel drops it when the
    // holder's descriptors close, a SIGKILL included, so no lock file can outlive a crash.
    const holder = spawn(
      process.execPath,
      ["--input-type=module", "-e", `import { SerialPort } from "serialport"; new SerialPort({ path: process.argv[1], baudRate: 9600 }, (err) => console.log(err ? "error " + err.message : "held")); setInterval(() => {}, 1000);`, pty.devicePath],
      { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
    );
    cleanups.push(() => {
      holder.kill("SIGKILL");
      return Promise.resolve();
    });
    let said = "";
    holder.stdout.on("data", (b: Buffer) => (said += b.toString()));
    await waitFor(() => said.includes("held"), "the other process holds the port");

    const { logger, lines } = memoryLogger();
    const r = record(pty.devicePath, { logger });
    r.device.start();
    await waitFor(() => r.device.stats().openFailures >= 3, "refused opens");
    expect(r.device.state()).toBe("offline");
    const errors = lines.filter((l) => l.level >= 50).map((l) => l.msg);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/cannot open serial port .*lock/i);

    holder.kill("SIGKILL");
    await new Promise<void>((done) => (holder.exitCode !== null || holder.signalCode !== null ? done() : holder.once("exit", () => done())));
    await waitFor(() => r.device.state() === "online", "online once the holder is gone");
    await r.device.stop();

    for (let i = 0; i < 20; i++) {
      const cycle = record(pty.devicePath);
      cycle.device.start();
      await waitFor(() => cycle.device.state() === "online", `online at cycle ${i}`);
      expect(cycle.device.stats().openFailures).toBe(0);
      await cycle.device.stop();
    }
  });

  it("a process that stops its devices exits by itself (no timers, fds or pollers left)", async () => {
    const pty = await createPtyPair();
    cleanups.push(() => pty.dispose());
    const missing = await makePtyPaths();
    cleanups.push(() => rm(missing.dir, { recursive: true, force: true }));
    const work = await transpileForNode(["src/adapters/serial/serial-device.ts"]);
    cleanups.push(() => rm(work, { recursive: true, force: true }));
    await writeFile(
      join(work, "child.mjs"),
      `import { pino } from "pino";
import { SerialDevice } from "./src/adapters/serial/serial-device.js";
const logger = pino({ level: "silent" });
const wait = (ok) => new Promise((r) => { const t = setInterval(() => { if (ok()) { clearInterval(t); r(); } }, 10); });
const common = { baudRate: 9600, logger, backoff: { startMs: 20, maxMs: 100 }, onData() {} };
const online = new SerialDevice({ ...common, id: "a", path: process.argv[2] });
const streaming = new SerialDevice({ ...common, id: "b", path: process.argv[2], silenceTimeoutMs: 60_000 });
const retrying = new SerialDevice({ ...common, id: "c", path: process.argv[3] });
online.start(); retrying.start();
await wait(() => online.state() === "online" && retrying.stats().openFailures >= 3);
await online.stop();
streaming.start(); // opens the now free port, arms a 60 s silence timer
await wait(() => streaming.stats().openAttempts >= 1);
await new Promise((r) => setTimeout(r, 100));
await Promise.all([streaming.stop(), retrying.stop()]);
console.log("stopped");
`,
    );
    const child = spawn(process.execPath, [join(work, "child.mjs"), pty.devicePath, missing.devicePath], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    const exit = await new Promise<number | string>((done) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        done("hung");
      }, 8_000);
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        done(code ?? signal ?? "?");
      });
    });
    expect({ exit, out }).toEqual({ exit: 0, out: "stopped\n" });
  });
});

/**
 * Transpiles `entries` and every relative module they import into a temporary directory (same
 * layout, `.js`), next to a `node_modules` link to the repository's, so a plain `node` child can run
 * them: Node 22.12 (the floor) cannot run TypeScript itself and the full build needs the whole project to compile.
 */
async function transpileForNode(entries: string[]): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), "smartbin-serial-exit-"));
  await symlink(join(ROOT, "node_modules"), join(work, "node_modules"), "dir");
  await writeFile(join(work, "package.json"), JSON.stringify({ type: "module" }));
  const todo = entries.map((e) => join(ROOT, e));
  const done = new Set<string>();
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (done.has(file)) continue;
    done.add(file);
    const source = await readFile(file, "utf8");
    for (const m of source.matchAll(/from\s+"(\.{1,2}\/[^"]+)\.js"/g)) {
      todo.push(resolve(dirname(file), `${m[1]}.ts`));
    }
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
      },
      fileName: file,
    });
    const out = join(work, relative(ROOT, file)).replace(/\.ts$/, ".js");
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, outputText);
  }
  return work;
}

describe("SerialDevice on a path that is not a serial device (the real binding, no socat needed)", () => {
  it("/dev/null and a directory: offline with the reason in words, logged as one line without a stack", async () => {
    const dir = await mkdtemp(join(tmpdir(), "smartbin-not-a-port-"));
    try {
      for (const [path, reason] of [
        ["/dev/null", "open failed: not a serial device (ENOTTY)"],
        [dir, "open failed: a directory, not a serial device (EISDIR)"],
      ] as const) {
        const { logger, lines } = memoryLogger();
        const reasons: string[] = [];
        const device = new SerialDevice({ id: "dev-1", path, baudRate: 9600, logger, backoff: { startMs: 50, maxMs: 400 }, onData: () => undefined, onOffline: (r) => void reasons.push(r) });
        device.start();
        await waitFor(() => reasons.length > 0, `offline on ${path}`);
        await device.stop();
        // Not serialport's "setting custom baud rate of 9600" (9600 is no custom rate).
        expect(reasons[0]).toBe(reason);
        const errors = lines.filter((l) => l.level >= 50) as Array<{ msg: string; err?: unknown }>;
        expect(errors).toHaveLength(1);
        expect(errors[0]!.err).toBeUndefined();
        expect(errors[0]!.msg).toContain(reason.replace("open failed: ", ""));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
