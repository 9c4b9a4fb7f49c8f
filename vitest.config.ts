import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // dist/ is built once for the whole run (process tests start the built smartbin).
    globalSetup: ["test/support/global-build.ts"],
    // CI also writes a JSON report, from which .ci/run prints the plain "N passed, N failed" line.
    reporters: process.env.CI ? ["default", ["json", { outputFile: "test-results.json" }]] : ["default"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start their own brokers and pseudo-terminals; keep the 2-core machine calm.
    fileParallelism: true,
    maxWorkers: 2,
    coverage: {
      provider: "v8",
      include: ["src/protocol/**", "src/domain/**"],
      thresholds: { lines: 85, branches: 80 },
    },
  },
});
