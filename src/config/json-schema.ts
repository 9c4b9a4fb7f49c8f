/**
 * The JSON Schema (draft 2020-12) of the config file, generated from the same zod schema the
 * daemon validates with (`smartbin config schema`, contract.md section 1).
 */
import { z } from "zod";
import { configSchema } from "./schema.js";

/** The `$id` of the config file's JSON Schema. */
export const CONFIG_SCHEMA_ID = "urn:smartbin-edge:config";

/**
 * The config file's JSON Schema as a plain object: draft 2020-12, describing the file as written
 * (`io: "input"`, so keys with defaults are optional), with every key's description and default.
 * Cross-field rules (unique ids, bins referring to scales, ...) are checked by `config check` only.
 */
export function configJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(configSchema, { target: "draft-2020-12", io: "input" });
  return {
    $schema,
    $id: CONFIG_SCHEMA_ID,
    title: "smartbin-edge configuration",
    ...rest,
  };
}
