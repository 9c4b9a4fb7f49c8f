import { spawn, type ChildProcess } from "node:child_process";

import { ROOT, SMARTBIN } from "./build.js";

/** The built `smartbin run` as a child process, with every stdout line (JSON log) and stderr chunk kept. */
export type Run = ChildProcess & { lines: string[] };

/**
 * Starts `smartbin run -c file` (build it first: buildOnce); `env` replaces the child's environment
 * when given; `args` are added after the config (hidden test options such as `--sysfs-root DIR`).
 */
export function startRun(file: string, env?: NodeJS.ProcessEnv, args: readonly string[] = []): Run {
  const child = spawn(process.execPath, [SMARTBIN, "run", "-c", file, ...args], { cwd: ROOT, stdio: "pipe", ...(env ? { env } : {}) }) as Run;
  child.lines = [];
  let rest = "";
  child.stdout!.on("data", (b: Buffer) => {
    const parts = (rest + b.toString()).split("\n");
    rest = parts.pop() ?? "";
    child.lines.push(...parts);
  });
  child.stderr!.on("data", (b: Buffer) => child.lines.push(b.toString()));
  return child;
}

/** True when the run has logged a line with this `msg`. */
export const logged = (run: Run, msg: string): boolean => run.lines.some((l) => l.includes(`"msg":"${msg}"`));

/** Resolves when the child has exited (at once when it already has). */
export const exited = (child: ChildProcess): Promise<void> =>
  new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve())));
