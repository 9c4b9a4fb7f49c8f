import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

import { describe, it } from "vitest";

/**
 * Daemons such as mosquitto install into sbin folders, which are not on every user's PATH (Debian
 * puts /usr/sbin only on root's), so those are searched too.
 */
const EXTRA_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/** The absolute path of an executable, like `which`, or `undefined` when it is not installed. */
export function findTool(name: string): string | undefined {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter((d) => d !== "");
  for (const dir of [...dirs, ...EXTRA_DIRS]) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** True when `name` is an executable on PATH (or in an sbin folder). */
export function toolAvailable(name: string): boolean {
  return findTool(name) !== undefined;
}

/** True when `CI` is set to anything but `""`, `"false"` or `"0"` (contract.md section 2 booleans). */
export function isCI(): boolean {
  const v = (process.env.CI ?? "").trim().toLowerCase();
  return v !== "" && v !== "false" && v !== "0";
}

/** What {@link requireTools} decided. */
export interface ToolRequirement {
  /** Skip the suite: a tool is missing (in CI a failing test has been registered instead). */
  skip: boolean;
  /** `""`, or ` (skipped: mosquitto not installed)` to append to the suite's title. */
  reason: string;
  missing: string[];
}

/**
 * For suites that need external tools (mosquitto, socat). When all are installed: run. When one
 * is missing on a developer machine: skip, visibly (the suite title says why, and a warning is
 * printed). When one is missing and `CI` is set: register a failing test, "mosquitto is required
 * when CI is set", so CI cannot pass without them. Call at the top level of a test file:
 *
 * ```ts
 * const tools = requireTools(["mosquitto"]);
 * describe.skipIf(tools.skip)(`publisher${tools.reason}`, () => { ... });
 * ```
 */
export function requireTools(names: readonly string[]): ToolRequirement {
  const missing = names.filter((n) => !toolAvailable(n));
  if (missing.length === 0) return { skip: false, reason: "", missing };
  const list = missing.join(", ");
  if (isCI()) {
    const message = `${list} ${missing.length === 1 ? "is" : "are"} required when CI is set`;
    it(message, () => {
      throw new Error(`${message} (Debian: apt-get install ${missing.join(" ")})`);
    });
    return { skip: true, reason: ` (not run: ${list} missing)`, missing };
  }
  console.warn(`skipping tests that need ${list}: not installed (they fail when CI is set)`);
  return { skip: true, reason: ` (skipped: ${list} not installed)`, missing };
}

/** `describe` that needs tools: see {@link requireTools} for the skip and CI rules. */
export function describeWithTool(names: string | readonly string[], title: string, fn: () => void): void {
  const tools = requireTools(typeof names === "string" ? [names] : names);
  describe.skipIf(tools.skip)(`${title}${tools.reason}`, fn);
}
