import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOnce, ROOT, SMARTBIN } from "../support/build.js";
import { isCI } from "../support/require-tool.js";
import { removeTempDirs, tempDir, writeStationConfig } from "../integration/harness.js";

/**
 * The launcher refuses a Node older than `engines.node` (contract section 1) before it loads
 * anything: better-sqlite3 13 would crash such a Node at its first database write. The old Node is
 * `$SMARTBIN_OLD_NODE` (.ci/run sets it), else the "old" line of scripts/node-versions fetched by
 * scripts/with-node.sh. Without either: skipped visibly on a developer's machine, failed in CI.
 */
function findOldNode(): { node?: string; why: string } {
  const fromEnv = process.env.SMARTBIN_OLD_NODE;
  if (fromEnv) return existsSync(fromEnv) ? { node: fromEnv, why: "" } : { why: `SMARTBIN_OLD_NODE=${fromEnv} does not exist` };
  try {
    const bin = execFileSync("bash", [join(ROOT, "scripts/with-node.sh"), "old"], { encoding: "utf8", timeout: 120_000 });
    return { node: join(bin.trim(), "node"), why: "" };
  } catch (e) {
    return { why: `no old Node to run: ${(e as Error).message.split("\n")[0]}` };
  }
}

const old = findOldNode();
if (!old.node && isCI()) {
  it("an older Node is required when CI is set", () => {
    throw new Error(old.why);
  });
}
if (!old.node) console.warn(`skipping the old-Node launcher tests: ${old.why}`);

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string; engines: { node: string } };
const floor = pkg.engines.node.replace(/^>=\s*/, "");

function onOldNode(args: string[]) {
  const r = spawnSync(old.node!, [SMARTBIN, ...args], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!old.node)(`on a Node older than ${floor}${old.node ? "" : " (skipped: " + old.why + ")"}`, () => {
  beforeAll(() => buildOnce(), 120_000);
  afterAll(() => removeTempDirs());

  const version = () => execFileSync(old.node!, ["-p", "process.versions.node"], { encoding: "utf8" }).trim();
  const refusal = () => `smartbin: Node ${version()} is too old: smartbin-edge ${pkg.version} needs Node ${floor}.0 or newer (24 or 26 recommended)\n`;

  it("run: one line naming the found and the needed version, exit 1, nothing touched", () => {
    expect(Number(version().split(".")[0])).toBeLessThan(Number(floor.split(".")[0]));
    const { file, dbPath } = writeStationConfig({
      dir: tempDir("smartbin-oldnode-"),
      brokerUrl: "mqtt://127.0.0.1:1",
      scalePort: "/dev/null-scale",
      readerPort: "/dev/null-reader",
    });
    expect(onOldNode(["run", "-c", file])).toEqual({ code: 1, stdout: "", stderr: refusal() });
    expect(existsSync(dbPath)).toBe(false);
  });

  it("demo and the other commands: the same line, exit 1", () => {
    for (const args of [["demo", "--seconds", "1"], ["config", "schema"], ["outbox", "status", "--json"], []]) {
      expect(onOldNode(args)).toEqual({ code: 1, stdout: "", stderr: refusal() });
    }
  });

  it("--version and --help still answer, and say which Node runs them", () => {
    expect(onOldNode(["--version"])).toEqual({ code: 0, stdout: `smartbin-edge ${pkg.version} (Node ${version()})\n`, stderr: "" });
    const help = onOldNode(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("demo");
  });
});
