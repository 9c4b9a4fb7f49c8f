import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
/** The launcher that `npx smartbin` runs. */
export const SMARTBIN = join(ROOT, "bin/smartbin.js");

let built = false;

/**
 * Set by global-build.ts: a folder of this test run's own, under which the brokers of
 * mosquitto.ts keep their files; what still runs from it when the run ends is killed.
 */
export const TEST_RUN_DIR_ENV = "SMARTBIN_TEST_RUN_DIR";

/** Set by global-build.ts once it has built dist/ for this test run: files then build nothing. */
export const BUILT_ENV = "SMARTBIN_TEST_DIST_BUILT";

/**
 * Process tests start the built `smartbin` (bin/smartbin.js → dist/), never a stale dist/ after a
 * source edit (`npm ci` builds it too, through `prepare`). Under `vitest run` global-build.ts has
 * built it once for the whole run and this does nothing; a file run some other way builds it here.
 */
export function buildOnce(): void {
  if (built || process.env[BUILT_ENV] === "1") return;
  execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
    cwd: ROOT,
    stdio: "inherit",
  });
  built = true;
}
