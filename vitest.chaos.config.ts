import { defineConfig } from "vitest/config";

/**
 * `npm run test:chaos` (issue 12): the chaos day through the real `smartbin run`, one file, alone
 * (it starts its own broker, pseudo-terminals and station, and kills them). `CHAOS_PROFILE=short`
 * (default, CI) or `long` (by hand, at least 50 kills); `CHAOS_SEED=N` replays a seed.
 */
export default defineConfig({
  test: {
    include: ["test/chaos/**/*.chaos.ts"],
    globalSetup: ["test/support/global-build.ts"],
    // CI also writes a JSON report, from which .ci/run prints its "N passed, N failed" line.
    reporters: process.env.CI ? ["default", ["json", { outputFile: "test-results.json" }]] : ["default"],
    // The day's length is in the profile; the test sets its own timeout from it.
    testTimeout: 60 * 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
