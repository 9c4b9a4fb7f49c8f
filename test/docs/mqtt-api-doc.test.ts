/**
 * docs/mqtt-api.md's example payloads: every JSON block marked `<!-- example: <message> -->` is a
 * valid payload of that message of docs/asyncapi.yaml (its zod schema), so the guide's examples
 * cannot drift from what the station sends; and the guide names every topic and command.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { COMMAND_NAMES } from "../../src/app/commands/schemas.js";
import { messageSchemas } from "../../src/app/mqtt-api/asyncapi.js";
import { ALL_ALARM_CODES, EVENT_KINDS } from "../../src/app/mqtt-api/payloads.js";
import { ROOT } from "../support/build.js";

const text = readFileSync(join(ROOT, "docs/mqtt-api.md"), "utf8");
const examples = [...text.matchAll(/<!-- example: (\w+) -->\n```json\n([\s\S]*?)\n```/g)].map((m) => [m[1]!, m[2]!] as const);

describe("docs/mqtt-api.md", () => {
  it("has marked examples, and every marker is followed by a JSON block", () => {
    expect(examples.length).toBeGreaterThanOrEqual(15);
    expect(examples.length).toBe([...text.matchAll(/<!-- example: /g)].length);
  });

  it.each(examples)("the %s example is a valid payload of that message", (name, json) => {
    const schema = messageSchemas()[name];
    expect(schema, `no message ${name} in asyncapi.yaml`).toBeDefined();
    expect(schema!.safeParse(JSON.parse(json)).error?.issues ?? []).toEqual([]);
  });

  it("names every event kind, command and alarm code, and links the AsyncAPI document", () => {
    for (const kind of EVENT_KINDS) expect(text).toContain(`smartbin.${kind}.v1`);
    for (const name of COMMAND_NAMES) expect(text).toMatch(new RegExp(`### .*\`${name}\``));
    for (const code of ALL_ALARM_CODES) expect(text).toContain(`\`${code}\``);
    expect(text).toContain("(asyncapi.yaml)");
  });
});
