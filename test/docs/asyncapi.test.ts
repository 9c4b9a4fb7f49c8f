/**
 * docs/asyncapi.yaml (issue 11 item 5): the committed file is what the generator writes now, the
 * official AsyncAPI parser finds nothing wrong in it, and every example of every message validates
 * against its message's JSON Schema (ajv, as a consumer would) and against the zod schema it came
 * from (as the station does).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Parser } from "@asyncapi/parser";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { COMMAND_NAMES } from "../../src/app/commands/schemas.js";
import { asyncApiDocument, asyncApiYaml, MESSAGE_NAMES, messageSchemas } from "../../src/app/mqtt-api/asyncapi.js";
import { CLOUD_EVENT_SCHEMAS, EVENT_KINDS, eventUserPropertiesSchema } from "../../src/app/mqtt-api/payloads.js";
import { ROOT } from "../support/build.js";

const FILE = join(ROOT, "docs/asyncapi.yaml");

// ajv-formats is CommonJS with `module.exports = formatsPlugin` plus a `default` property.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (a: Ajv) => Ajv;

interface Message {
  name: string;
  payload: Record<string, unknown>;
  headers?: Record<string, unknown>;
  examples: Array<{ name: string; payload: unknown; headers?: unknown }>;
}

/** The zod schema each message's payload was generated from. */
function zodOf(name: string): z.ZodType {
  const schema = messageSchemas()[name];
  if (schema === undefined) throw new Error(`no zod schema for message ${name}`);
  return schema;
}

describe("docs/asyncapi.yaml", () => {
  const committed = readFileSync(FILE, "utf8");
  const doc = parse(committed) as { components: { messages: Record<string, Message> } };
  const messages = Object.entries(doc.components.messages);

  it("is what `npm run docs:asyncapi` writes from the zod schemas now (run it after changing a schema)", () => {
    expect(committed).toBe(asyncApiYaml());
  });

  it("parses without errors or warnings with @asyncapi/parser (AsyncAPI 3.0.0, MQTT bindings 0.2.0)", async () => {
    const { document, diagnostics } = await new Parser().parse(committed);
    // Severity 0 error, 1 warning, 2 information, 3 hint; 3.0.0 draws a "latest version" information.
    const serious = diagnostics.filter((d) => Number(d.severity) <= 1).map((d) => `${d.code}: ${d.message} at ${d.path.join(".")}`);
    expect(serious).toEqual([]);
    expect(document).toBeDefined();
    expect(document!.version()).toBe("3.0.0");
    expect(document!.channels().all().map((c) => c.address())).toEqual(
      expect.arrayContaining([
        "{prefix}/{station_id}/status",
        ...EVENT_KINDS.map((k) => `{prefix}/{station_id}/events/${k}`),
        "{prefix}/{station_id}/telemetry",
        "{prefix}/{station_id}/cmd/{name}",
        "{prefix}/{station_id}/cmd/{name}/reply",
      ]),
    );
    const qos = Object.fromEntries(
      document!
        .operations()
        .all()
        .map((op) => [op.id(), op.bindings().get("mqtt")?.value<{ qos: number; retain: boolean }>()]),
    );
    expect(qos.sendStatus).toMatchObject({ qos: 1, retain: true });
    expect(qos.sendDepositEvent).toMatchObject({ qos: 1, retain: false });
    expect(qos.sendTelemetry).toMatchObject({ qos: 0, retain: false });
    expect(qos.receiveCommand).toMatchObject({ qos: 1 });
  });

  it("describes every message the station sends or takes", () => {
    expect(messages.map(([k]) => k).sort()).toEqual(
      [
        "statusOnline",
        "statusWill",
        "statusShutdown",
        "telemetry",
        ...EVENT_KINDS.map(MESSAGE_NAMES.event),
        ...COMMAND_NAMES.map(MESSAGE_NAMES.command),
        ...COMMAND_NAMES.map(MESSAGE_NAMES.reply),
      ].sort(),
    );
    // The generator reads the same object it writes.
    expect(parse(asyncApiYaml())).toEqual(JSON.parse(JSON.stringify(asyncApiDocument())));
  });

  describe("every example of every message validates against its JSON Schema (ajv) and its zod schema", () => {
    const ajv = addFormats(new Ajv({ allErrors: true, strict: true }));
    it.each(messages)("%s", (name, message) => {
      expect(message.examples.length).toBeGreaterThan(0);
      const validate: ValidateFunction = ajv.compile(message.payload);
      const headers = message.headers === undefined ? null : ajv.compile(message.headers);
      for (const example of message.examples) {
        expect(validate(example.payload) ? [] : validate.errors, `${name}/${example.name}`).toEqual([]);
        expect(zodOf(name).safeParse(example.payload).error?.issues ?? [], `${name}/${example.name} (zod)`).toEqual([]);
        if (headers !== null) {
          expect(headers(example.headers) ? [] : headers.errors, `${name}/${example.name} headers`).toEqual([]);
          expect(eventUserPropertiesSchema.safeParse(example.headers).success).toBe(true);
        }
      }
    });

    it("and a payload that breaks the schema is refused by both", () => {
      const deposit = doc.components.messages[MESSAGE_NAMES.event("deposit")]!;
      const broken = structuredClone(deposit.examples[0]!.payload) as { data: Record<string, unknown> };
      broken.data.net_g = 12.5;
      expect(ajv.compile(deposit.payload)(broken)).toBe(false);
      expect(CLOUD_EVENT_SCHEMAS.deposit.safeParse(broken).success).toBe(false);
      const replay = doc.components.messages[MESSAGE_NAMES.command("replay")]!;
      expect(ajv.compile(replay.payload)({ command_id: "x", from_seq: 0 })).toBe(false);
      expect(ajv.compile(replay.payload)({ command_id: "x", from_seq: 1, extra: true })).toBe(false);
    });
  });
});
