import { spawn } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { buildOnce, ROOT, SMARTBIN } from "../support/build.js";

/**
 * The launcher (bin/smartbin.js) exits explicitly once a command returns; a write to a pipe is not
 * synchronous beyond what the pipe holds (64 KiB on Linux), so it must let stdout hand everything
 * over first. `smartbin config schema` prints more than 64 KiB of JSON.
 */
beforeAll(() => buildOnce(), 120_000);

/**
 * Runs `smartbin ARGS | { sleep DELAY; cat; }` in bash with pipefail: a real pipe (64 KiB on Linux;
 * Node's own `stdio: "pipe"` is a socket pair, whose buffer can hold far more), read only after
 * `delayMs`. Resolves to what came through, stderr and the pipeline's exit code.
 */
function slowlyRead(args: string[], delayMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const command = `set -o pipefail; "$0" "$@" | { sleep ${delayMs / 1000}; cat; }`;
  const child = spawn("bash", ["-c", command, process.execPath, SMARTBIN, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const chunks: Buffer[] = [];
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => chunks.push(b));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout: Buffer.concat(chunks).toString("utf8"), stderr })));
}

describe("the launcher's output", () => {
  it("a slow reader of a pipe gets the whole of a long output (config schema, over 64 KiB), exit 0", async () => {
    const { code, stdout, stderr } = await slowlyRead(["config", "schema"], 700);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout.length).toBeGreaterThan(64 * 1024);
    expect(() => JSON.parse(stdout) as unknown).not.toThrow();
  });

  it("a reader that goes away early (`| head -c 10`) is no failure: exit 0, nothing on stderr", async () => {
    const child = spawn(process.execPath, [SMARTBIN, "config", "schema"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
    child.stdout.once("data", () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });
});
