/**
 * Vitest global setup: builds dist/ once, before any test file runs, and tells the test workers so
 * (build.ts). Building in each process-test file instead let one file's `tsc` rewrite dist/ while
 * another file's `smartbin` was loading it, which failed that process at random (exit 1, no output)
 * once several process-test files ran in parallel.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { BUILT_ENV, ROOT } from "./build.js";

export default function setup(): void {
  execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
  // Workers are started after global setup and inherit this environment.
  process.env[BUILT_ENV] = "1";
}
