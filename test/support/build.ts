import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
/** The launcher that `npx smartbin` runs. */
export const SMARTBIN = join(ROOT, "bin/smartbin.js");

let built = false;

/**
 * Process tests start the built `smartbin` (bin/smartbin.js → dist/). Build once per test file so they
 * never run a stale dist/ after a source edit (`npm ci` builds it too, through `prepare`).
 */
export function buildOnce(): void {
  if (built) return;
  execFileSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
    cwd: ROOT,
    stdio: "inherit",
  });
  built = true;
}
