/**
 * Vitest global setup: builds dist/ once, before any test file runs, and tells the test workers so
 * (build.ts). Building in each process-test file instead let one file's `tsc` rewrite dist/ while
 * another file's `smartbin` was loading it, which failed that process at random (exit 1, no output)
 * once several process-test files ran in parallel.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUILT_ENV, ROOT, TEST_RUN_DIR_ENV } from "./build.js";

/**
 * Also gives the run a folder of its own ({@link TEST_RUN_DIR_ENV}); the teardown kills every
 * process still running with that folder on its command line (a broker whose test file never
 * disposed of it: a beforeAll that timed out on a loaded machine, a worker that crashed), and
 * removes the folder.
 */
export default function setup(): () => void {
  execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
  const runDir = mkdtempSync(join(tmpdir(), "smartbin-test-run-"));
  // Workers are started after global setup and inherit this environment.
  process.env[BUILT_ENV] = "1";
  process.env[TEST_RUN_DIR_ENV] = runDir;
  return () => {
    for (const pid of leftOver(runDir)) {
      try {
        process.kill(pid, "SIGKILL");
        console.warn(`test run: killed process ${pid}, left running by a test (its files under ${runDir})`);
      } catch {
        // gone meanwhile
      }
    }
    rmSync(runDir, { recursive: true, force: true });
  };
}

/** Pids of the processes whose command line names `dir` (Linux /proc; none elsewhere). */
function leftOver(dir: string): number[] {
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  return pids.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir);
    } catch {
      return false;
    }
  }).map(Number);
}
