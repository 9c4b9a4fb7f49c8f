#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the `prepare` script).
// A SIGTERM or SIGINT that arrives while the code is still loading is a clean stop: nothing has been
// opened yet. The commands install their own handlers once they run.
const early = () => process.exit(0);
process.on("SIGTERM", early);
process.on("SIGINT", early);
const { main } = await import("../dist/cli/main.js");
process.off("SIGTERM", early);
process.off("SIGINT", early);

// Exits explicitly so that a stray handle can never keep a finished command alive; on Linux, stdout
// and stderr writes to pipes, files and terminals are synchronous, so nothing is cut off.
process.exit(await main(process.argv.slice(2)));
