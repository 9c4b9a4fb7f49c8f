/**
 * Pseudo-terminal pairs through socat, so tests drive the code under test with the REAL serialport
 * binding: the code opens `devicePath`, the test plays the device by writing to `hostPath`.
 *
 *     socat -d -d pty,raw,echo=0,link=<dir>/dev pty,raw,echo=0,link=<dir>/host
 *
 * Gotchas met while writing this (socat 1.7.4, Linux):
 * - `raw,echo=0` on both ends. The host end is opened with plain `fs`, which sets no termios; in the
 *   default cooked mode the line discipline eats 0x03 (VINTR) and 0x11/0x13 (XON/XOFF), turns LF
 *   into CR LF, holds bytes until a newline (ICANON) and echoes input back. (serialport puts the
 *   device end into raw mode itself when it opens it.)
 * - The host end is opened O_NONBLOCK. With nobody reading the device end, the ptys and socat
 *   buffer about 34 KB and then a blocking write hangs a libuv thread-pool thread for good; here
 *   `write()` retries on EAGAIN for a while and then rejects instead.
 * - Bytes written before the device end is opened are buffered and delivered (partly) when it
 *   opens: wait until the code under test reports the device online before writing what you assert.
 * - Unplug = kill socat. The device end's next read fails and serialport emits `close` with a
 *   `DisconnectedError` ("bad file descriptor"). SIGTERM makes socat remove its links; after
 *   SIGKILL they dangle, which opens also see as ENOENT. A new socat with the same links replaces
 *   them either way, usually on a different /dev/pts/N: that is a re-plug at the same path.
 * - The links exist before socat prints "starting data transfer loop"; that line is the readiness
 *   signal, and both links are checked as well.
 * - Host end opened with O_NOCTTY, so a test process that happens to be a session leader does not
 *   acquire the pty as its controlling terminal.
 *
 * Suites using this call `requireTools(["socat"])` (require-tool.ts): skipped with a reason when
 * socat is missing, failing when CI is set.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { constants, existsSync } from "node:fs";
import { mkdtemp, open, rm, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Where a pair's links live: `<dir>/dev` for the code under test, `<dir>/host` for the test. */
export interface PtyPaths {
  dir: string;
  devicePath: string;
  hostPath: string;
}

/** Makes a fresh temporary directory for a pair, without starting socat (a device "not plugged in"). */
export async function makePtyPaths(): Promise<PtyPaths> {
  const dir = await mkdtemp(join(tmpdir(), "smartbin-pty-"));
  return { dir, devicePath: join(dir, "dev"), hostPath: join(dir, "host") };
}

/** A running (or unplugged) socat pseudo-terminal pair. */
export interface PtyPair extends PtyPaths {
  /** The current socat process; replaced by `restart()`. */
  readonly proc: ChildProcess;
  /** Whether socat is running (false after `close()` until `restart()`). */
  readonly plugged: boolean;
  /**
   * Writes bytes (strings as UTF-8) to the host end, as the device would send them. Resolves when
   * all of them are in the pty; rejects if the pair is unplugged or the pty stays full for 2 s.
   * Writes are queued, so concurrent calls never interleave.
   */
  write(bytes: Uint8Array | string): Promise<void>;
  /** Unplugs: closes the host end and ends socat by its pid (SIGTERM), waiting for it to exit. Idempotent. */
  close(): Promise<void>;
  /** Re-plugs: starts a new socat with the same links (closing the old one first if still running). */
  restart(): Promise<void>;
  /** `close()`, then removes the temporary directory. */
  dispose(): Promise<void>;
}

const READY_TIMEOUT_MS = 5_000;

/** socat processes still running, killed if the test process exits without closing them. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function killOnExit(proc: ChildProcess): void {
  live.add(proc);
  proc.once("exit", () => live.delete(proc));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const p of live) p.kill("SIGTERM");
  });
}
const FULL_TIMEOUT_MS = 2_000;

/**
 * Starts socat with a pty pair linked at `paths` (default: a new temporary directory) and resolves
 * once both links exist. Rejects, with socat's log, if socat fails or is not ready within 5 s.
 */
export async function createPtyPair(paths?: PtyPaths): Promise<PtyPair> {
  const p = paths ?? (await makePtyPaths());
  let proc = await startSocat(p);
  let plugged = true;
  let host: FileHandle | undefined;
  let queue: Promise<void> = Promise.resolve();

  const closeHost = async (): Promise<void> => {
    const h = host;
    host = undefined;
    await h?.close().catch(() => undefined);
  };

  const writeNow = async (bytes: Uint8Array): Promise<void> => {
    if (!plugged) throw new Error(`pty ${p.hostPath} is unplugged`);
    host ??= await open(p.hostPath, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
    let offset = 0;
    const giveUpAt = Date.now() + FULL_TIMEOUT_MS;
    while (offset < bytes.length) {
      try {
        const { bytesWritten } = await host.write(bytes, offset, bytes.length - offset);
        offset += bytesWritten;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EAGAIN" || Date.now() > giveUpAt) throw err;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };

  const close = async (): Promise<void> => {
    await closeHost();
    if (!plugged) return;
    plugged = false;
    await stopSocat(proc);
  };

  return {
    ...p,
    get proc() {
      return proc;
    },
    get plugged() {
      return plugged;
    },
    write(bytes) {
      const data = typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes;
      const next = queue.then(() => writeNow(data));
      queue = next.catch(() => undefined);
      return next;
    },
    close,
    async restart() {
      await close();
      proc = await startSocat(p);
      plugged = true;
    },
    async dispose() {
      await close();
      await rm(p.dir, { recursive: true, force: true });
    },
  };
}

async function startSocat(p: PtyPaths): Promise<ChildProcess> {
  const proc = spawn(
    "socat",
    ["-d", "-d", `pty,raw,echo=0,link=${p.devicePath}`, `pty,raw,echo=0,link=${p.hostPath}`],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  killOnExit(proc);
  let log = "";
  await new Promise<void>((resolve, reject) => {
    const ready = (): boolean =>
      log.includes("starting data transfer loop") && existsSync(p.devicePath) && existsSync(p.hostPath);
    const finish = (): void => {
      clearTimeout(timer);
      clearInterval(poll);
      proc.stderr?.off("data", onLog);
      proc.off("exit", onExit);
      proc.off("error", onError);
    };
    const fail = (why: string): void => {
      finish();
      proc.kill("SIGKILL");
      reject(new Error(`socat not ready (${why}) for ${p.dir}:\n${log}`));
    };
    const check = (): void => {
      if (!ready()) return;
      finish();
      resolve();
    };
    const onLog = (chunk: Buffer): void => {
      log += chunk.toString("utf8");
      check();
    };
    const onExit = (code: number | null, signal: string | null): void => fail(`exited ${code ?? signal}`);
    const onError = (err: Error): void => fail(err.message);
    const timer = setTimeout(() => fail("timeout"), READY_TIMEOUT_MS);
    // The log line may come before the links are visible: look again until both are there.
    const poll = setInterval(check, 10);
    proc.stderr?.on("data", onLog);
    proc.once("exit", onExit);
    proc.once("error", onError);
  });
  // Keep draining socat's log so a chatty socat never blocks on a full stderr pipe.
  proc.stderr?.resume();
  return proc;
}

async function stopSocat(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 2_000);
  await exited;
  clearTimeout(timer);
}
