#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the `prepare` script).
//
// Signals are caught from this first line and never let go of (src/cli/signals.ts says why: removing
// a listener drops a pending signal, which lost a SIGTERM in the daemon's first half second). Until
// a command claims them, SIGTERM and SIGINT are a clean stop, exit 0, since nothing has been opened
// yet; SIGHUP and SIGUSR2 (which would end the process) and SIGUSR1 (which would open the Node
// inspector) are kept for the command. `main` gets the hand-over as its `signals` argument.
/** @type {string[]} */
const kept = [];
/** @type {((signal: string) => void) | undefined} */
let claimant;
/** @param {string} signal */
const caught = (signal) => {
  if (claimant !== undefined) claimant(signal);
  else if (signal === "SIGTERM" || signal === "SIGINT") process.exit(0);
  else if (kept.length < 16) kept.push(signal);
};
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2"]) process.on(signal, caught);
const signals = {
  /** @param {(signal: string) => void} handler */
  claim(handler) {
    claimant = handler;
    for (const signal of kept.splice(0)) handler(signal);
  },
};

const { readFileSync } = await import("node:fs");

/** package.json: the version, and the supported Node floor in `engines.node` (">=22.12"). */
const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const args = process.argv.slice(2);
const found = process.versions.node;

if (args.length === 1 && (args[0] === "--version" || args[0] === "-V")) {
  // Answered here, before anything is loaded: it works on any Node, and says which one runs it.
  process.stdout.write(`${pkg.name} ${pkg.version} (Node ${found})\n`);
  process.exit(0);
}

const wantsHelp = args.includes("--help") || args.includes("-h") || args[0] === "help";
const floor = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(pkg.engines.node);
if (!wantsHelp && floor) {
  const need = floor.slice(1).map((part) => Number(part ?? 0));
  const have = found.split(".").map(Number);
  const i = need.findIndex((n, k) => have[k] !== n);
  const older = i >= 0 && have[i] < need[i];
  if (older) {
    // One line, before any dependency (better-sqlite3 13 crashes on Node 20) is loaded.
    process.stderr.write(
      `smartbin: Node ${found} is too old: smartbin-edge ${pkg.version} needs Node ${need.join(".")} or newer (24 or 26 recommended)\n`,
    );
    process.exit(1);
  }
}

const { main } = await import("../dist/cli/main.js");

// Exits explicitly so that a stray handle can never keep a finished command alive, once stdout and
// stderr have handed everything over: a write to a pipe is not synchronous beyond what the pipe
// holds (64 KiB on Linux), and process.exit() drops the rest (`smartbin config schema | less`).
const code = await main(args, signals);
await Promise.all(
  [process.stdout, process.stderr].map((stream) =>
    stream.writableLength > 0 && !stream.destroyed
      ? new Promise((resolve) => {
          // A reader that went away (`| head -1`) ends the wait: EPIPE is no failure of the command.
          stream.once("error", () => resolve(undefined));
          stream.write("", () => resolve(undefined));
        })
      : undefined,
  ),
);
process.exit(code);
