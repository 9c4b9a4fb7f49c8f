import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";
import { ROOT } from "../support/build.js";

/**
 * Probes of the layer rule in eslint.config.js (architecture.md, "Layers and the rule between
 * them"): small snippets linted as if they were files of a layer. The rules probed here are
 * syntactic, so the probe parses without the type-aware project service (a probe file does not
 * exist on disk, and type information would cost seconds) and runs only the `no-restricted-*` rules.
 */
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
  ruleFilter: ({ ruleId }) => ruleId.startsWith("no-restricted-"),
});

/** The messages ESLint reports for `code` in a file at `filePath` (relative to the repository). */
async function lint(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => `${m.ruleId ?? "parse"}: ${m.message}`);
}

const LAYER_MESSAGE = /architecture\.md, "Layers and the rule between them"/;

describe("lint holds the layers", () => {
  const forbiddenInPureLayers: Array<[what: string, code: string]> = [
    ["an import of node:fs", `import { readFileSync } from "node:fs";\nexport const f = readFileSync;`],
    ["an import of fs", `import fs from "fs";\nexport const f = fs;`],
    ["an import of node:crypto", `import { randomUUID } from "node:crypto";\nexport const f = randomUUID;`],
    ["an import of crypto", `import { randomUUID } from "crypto";\nexport const f = randomUUID;`],
    ["an import of uuid", `import { v7 } from "uuid";\nexport const id = v7();`],
    ["an import of timers", `import { setTimeout } from "node:timers/promises";\nexport const f = setTimeout;`],
    ["an import of pino", `import { pino } from "pino";\nexport const l = pino();`],
    ["a dynamic import", `export const m = import("node:fs");`],
    ["an import from adapters/", `import { Outbox } from "../adapters/outbox/outbox.js";\nexport const o = Outbox;`],
    ["Date.now()", `export const now = (): number => Date.now();`],
    ["new Date()", `export const now = (): string => new Date().toISOString();`],
    ["performance.now()", `export const now = (): number => performance.now();`],
    ["setTimeout", `export function later(f: () => void): void {\n  setTimeout(f, 10);\n}`],
    ["setInterval", `export const every = (f: () => void): unknown => setInterval(f, 10);`],
    ["setImmediate", `export const soon = (f: () => void): unknown => setImmediate(f);`],
    ["clearTimeout", `export const stop = (t: number): void => clearTimeout(t);`],
    ["queueMicrotask", `export const soon = (f: () => void): void => queueMicrotask(f);`],
    ["AbortSignal.timeout", `export const s = AbortSignal.timeout(10);`],
    ["Math.random()", `export const roll = (): number => Math.random();`],
    ["crypto.randomUUID()", `export const id = (): string => crypto.randomUUID();`],
    ["process", `export const level = process.env.LEVEL;`],
    ["console", `export const say = (s: string): void => console.log(s);`],
    ["globalThis", `export const t = globalThis.setTimeout;`],
    ["Buffer", `export const b = Buffer.from("x");`],
  ];

  for (const layer of ["src/domain/probe.ts", "src/protocol/scale/probe.ts"]) {
    it.each(forbiddenInPureLayers)(`${layer}: %s fails lint with the layer message`, async (_what, code) => {
      const messages = await lint(code, layer);
      expect(messages.length).toBeGreaterThan(0);
      for (const m of messages) expect(m).toMatch(LAYER_MESSAGE);
    });
  }

  it("protocol/ may not import domain/ or config code; domain/ may import config types only", async () => {
    expect(await lint(`import { step } from "../domain/session.js";\nexport const s = step;`, "src/protocol/probe.ts")).toEqual([
      expect.stringMatching(/innermost layer/),
    ]);
    const configCode = `import { configSchema } from "../config/schema.js";\nexport const s = configSchema;`;
    expect(await lint(configCode, "src/domain/probe.ts")).toEqual([expect.stringMatching(/never config code/)]);
    expect(await lint(`import type { Config } from "../config/schema.js";\nexport type C = Config;`, "src/domain/probe.ts")).toEqual([]);
  });

  it("adapters/ may not import app/ or cli/", async () => {
    for (const target of ["../../app/clock.js", "../../cli/exit-codes.js"]) {
      const messages = await lint(`import { x } from "${target}";\nexport const y = x;`, "src/adapters/serial/probe.ts");
      expect(messages).toEqual([expect.stringMatching(/adapters\/ may not import app\/ or cli\//)]);
    }
  });

  it("only cli/ uses the command-line parser", async () => {
    const code = `import { Command } from "commander";\nexport const c = new Command();`;
    for (const file of ["src/adapters/probe.ts", "src/app/probe.ts", "src/config/probe.ts", "src/domain/probe.ts"]) {
      expect(await lint(code, file)).toEqual([expect.stringMatching(LAYER_MESSAGE)]);
    }
    expect(await lint(code, "src/cli/probe.ts")).toEqual([]);
  });

  it("pure code that takes its time and ids as inputs passes", async () => {
    const allowed = [
      `import type { Config } from "../config/schema.js";`,
      `import { unreachable } from "./exhaustive.js";`,
      `/** A deadline from a time passed in; Date as a type only. */`,
      `export function deadline(nowMs: number, cfg: Config, at?: Date): number {`,
      `  void unreachable;`,
      `  return Math.max(nowMs + cfg.session.idle_close_s * 1000, at?.getTime() ?? 0);`,
      `}`,
    ].join("\n");
    expect(await lint(allowed, "src/domain/probe.ts")).toEqual([]);
    // The outer layers keep their clock, timers and I/O.
    const outer = `import { readFileSync } from "node:fs";\nexport const t = (): number => Date.now() + readFileSync.length;\nsetTimeout(() => undefined, 1);`;
    for (const file of ["src/adapters/probe.ts", "src/app/probe.ts", "src/cli/probe.ts"]) expect(await lint(outer, file)).toEqual([]);
  });
});
