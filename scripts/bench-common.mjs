// Small helpers shared by scripts/bench.mjs and its measures in scripts/bench-*.mjs.
import { existsSync, readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

/** The checkout (scripts/..). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The full path of a tool on PATH (or in the sbin folders, where mosquitto lives), else undefined. */
export function which(name) {
  for (const dir of [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/local/sbin", "/sbin"]) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The median of a list of numbers (the upper one of the middle two for an even count). */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A process's resident set in KiB (`VmRSS` of /proc/PID/status, proc(5)). */
export function rssKb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

/** Resolves once the child has exited (at once when it already has). */
export const exited = (child) =>
  new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", resolve)));

/** `min–max` of a list, with `digits` decimals: the spread the README reports next to a median. */
export const spread = (xs, digits = 2) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
