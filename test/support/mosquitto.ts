import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { TEST_RUN_DIR_ENV } from "./build.js";
import { findTool } from "./require-tool.js";

/** A Mosquitto broker started for one test file. */
export interface MosquittoBroker {
  port: number;
  /** `mqtt://127.0.0.1:<port>`. */
  url: string;
  /** Its folder: config, log and persistence. */
  dir: string;
  /** SIGTERM and wait for the exit (Mosquitto saves its persistence file on the way out). */
  stop(): Promise<void>;
  /** Stop if running, then start again on the same port with the same persistence. */
  restart(): Promise<void>;
  /** SIGKILL and wait for the exit: Mosquitto saves nothing (what it held since its last autosave is lost). */
  kill(): Promise<void>;
  /** Starts it again after stop() or kill(), on the same port with the same persistence; does nothing while it runs. */
  start(): Promise<void>;
  /** Stop, then remove its folder (when the test made it). */
  dispose(): Promise<void>;
  /**
   * SIGHUP: Mosquitto reloads its config's reloadable parts (the `acl_file` among them) without
   * dropping connections. Returns at once; the reload happens soon after.
   */
  reload(): void;
}

/** A port that was free a moment ago (bind port 0 on 127.0.0.1, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Options of {@link startMosquitto}. */
export interface MosquittoOptions {
  dir?: string;
  port?: number;
  /**
   * Config lines right after the `listener PORT 127.0.0.1` line (TLS: `cafile`, `certfile`,
   * `keyfile`, `require_certificate`…; `acl_file`, `password_file`). Paths must be absolute.
   */
  settings?: string[];
  /** `allow_anonymous`; default true. */
  allowAnonymous?: boolean;
}

/**
 * Starts Mosquitto on 127.0.0.1 with anonymous access (unless told otherwise) and persistence (so persistent subscriber
 * sessions and their queued messages survive {@link MosquittoBroker.restart}), in its own tmp
 * folder unless `dir` is given. Resolves once the port accepts connections.
 *
 * @throws Error when mosquitto is not installed or does not come up within 5 s (with its log).
 */
export async function startMosquitto(opts: MosquittoOptions = {}): Promise<MosquittoBroker> {
  const bin = findTool("mosquitto");
  if (bin === undefined) throw new Error("mosquitto is not installed");
  // Under the test run's own folder when there is one (global-build.ts kills what is left in it).
  const dir = opts.dir ?? mkdtempSync(join(process.env[TEST_RUN_DIR_ENV] ?? tmpdir(), "smartbin-mosquitto-"));
  const port = opts.port ?? (await freePort());
  const configFile = join(dir, "mosquitto.conf");
  const logFile = join(dir, "mosquitto.log");
  const lines = [
    `listener ${port} 127.0.0.1`,
    ...(opts.settings ?? []),
    `allow_anonymous ${opts.allowAnonymous ?? true}`,
    "persistence true",
    `persistence_location ${dir}/`,
    `log_dest file ${logFile}`,
    "log_type error",
    "log_type warning",
    "log_type notice",
    "log_type information",
    "connection_messages true",
  ];
  // As root, Mosquitto drops to user "mosquitto", which cannot write a root-owned tmp folder.
  if (process.getuid?.() === 0) lines.push("user root");
  writeFileSync(configFile, `${lines.join("\n")}\n`);

  let child: ChildProcess | undefined;

  async function launch(): Promise<void> {
    const proc = spawn(bin!, ["-c", configFile], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    proc.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    let exited = false;
    proc.on("exit", () => (exited = true));
    child = proc;
    const until = Date.now() + 5000;
    for (;;) {
      if (exited) throw new Error(`mosquitto exited at start: ${stderr.trim()} (see ${logFile})`);
      if (await accepts(port)) return;
      if (Date.now() > until) {
        proc.kill("SIGKILL");
        throw new Error(`mosquitto did not listen on ${port} within 5 s: ${stderr.trim()} (see ${logFile})`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async function stop(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }

  await launch();
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    dir,
    stop: () => stop(),
    kill: () => stop("SIGKILL"),
    reload: () => void child?.kill("SIGHUP"),
    async start() {
      if (child !== undefined && child.exitCode === null && child.signalCode === null) return;
      await launch();
    },
    async restart() {
      await stop();
      await launch();
    },
    async dispose() {
      await stop();
      if (opts.dir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** True when a TCP connection to 127.0.0.1:port succeeds. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => {
      socket.destroy();
      resolve(false);
    });
  });
}
