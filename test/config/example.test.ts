import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { renderExampleConfig } from "../../src/config/example.js";
import { checkConfigText, formatProblem } from "../../src/config/load.js";
import { configSchema } from "../../src/config/schema.js";
import { objectKeys } from "../../src/config/schema-walk.js";

const EXAMPLE_FILE = fileURLToPath(new URL("../../config/smartbin.example.yaml", import.meta.url));

describe("the example config", () => {
  const text = renderExampleConfig();

  it("is committed as config/smartbin.example.yaml, up to date with the schema", () => {
    if (process.env.UPDATE_EXAMPLE === "1") fs.writeFileSync(EXAMPLE_FILE, text);
    const committed = fs.existsSync(EXAMPLE_FILE) ? fs.readFileSync(EXAMPLE_FILE, "utf8") : "";
    if (committed !== text) {
      expect.fail(
        "config/smartbin.example.yaml differs from renderExampleConfig(): " +
          "run UPDATE_EXAMPLE=1 npx vitest run test/config",
      );
    }
  });

  it("passes the config check", () => {
    const result = checkConfigText(text, "smartbin.example.yaml", "/etc/smartbin");
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([]);
  });

  it("shows every key of the schema, documented", () => {
    for (const key of objectKeys(configSchema) ?? []) expect(text).toMatch(new RegExp(`^${key}:`, "m"));
    for (const key of ["baud_rate", "card_id_format", "points_per_kg", "keepalive_s", "client_id", "retention_days"]) {
      expect(text).toMatch(new RegExp(`^ *(# )?(- )?${key}: `, "m"));
    }
    // Every key line is preceded by its comment.
    const keyLines = text.split("\n").map((line, i, all) => ({ line, before: all[i - 1] ?? "" }));
    for (const { line, before } of keyLines.filter(({ line }) => /^ *(- )?[a-z_]+:/.test(line))) {
      if (/^ *food_waste:$/.test(line)) continue; // the sample category key
      expect(before.trimStart().startsWith("#"), line).toBe(true);
    }
  });

  it("stays within 110 columns", () => {
    for (const line of text.split("\n")) expect(line.length, line).toBeLessThanOrEqual(110);
  });
});
