#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the `prepare` script).
// It exits explicitly so that a stray handle can never keep a finished command alive; on Linux,
// stdout and stderr writes to pipes, files and terminals are synchronous, so nothing is cut off.
import { main } from "../dist/cli/main.js";

process.exit(await main(process.argv.slice(2)));
