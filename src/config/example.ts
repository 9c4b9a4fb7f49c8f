/**
 * The commented example config file, generated from the schema so it cannot drift from it
 * (style.md, "Config"). The committed copy is config/smartbin.example.yaml; a test fails when it
 * differs from `renderExampleConfig()`.
 */
import { stringify } from "yaml";
import { z } from "zod";
import { configSchema } from "./schema.js";
import { childSchema, objectKeys, unionMembers, unwrap, type UnionMember } from "./schema-walk.js";

const WIDTH = 100;

const HEADER = [
  "# smartbin-edge configuration: an example with every key.",
  "#",
  "# Generated from the schema (src/config/schema.ts); do not edit by hand. After changing the schema,",
  "# run: UPDATE_EXAMPLE=1 npx vitest run test/config",
  "#",
  '# Keys marked "Required" and optional sections show sample values; every other value shown is',
  '# the default. Optional keys without a default are commented out. Lists default to empty; each',
  "# shows one sample entry. Unknown keys are errors. Relative paths are relative to this file's",
  "# folder.",
  "# Check a file with: smartbin config check -c FILE",
];

/**
 * Renders the example config as YAML text: every key of the schema with its default (or a sample
 * value from the schema's `examples` for required keys and lists), preceded by its `.describe()`
 * text as a comment. Throws if a required key has no example (a schema mistake, caught by tests).
 */
export function renderExampleConfig(): string {
  const lines = [...HEADER];
  for (const key of objectKeys(configSchema) ?? []) {
    lines.push("");
    renderKey(key, childSchema(configSchema, key) as z.ZodType, 0, lines, 0, false);
  }
  return lines.join("\n") + "\n";
}

/**
 * Appends `key` with its comment and value at `indent`. `commentIndent` may be less than `indent`
 * for the first key of a list item, whose line starts with "- ". Optional keys without a default
 * are commented out, except inside an optional section (`inOptional`), which is shown whole with
 * sample values, since its keys may depend on each other (`points.rules_version`).
 */
function renderKey(
  key: string,
  schema: z.ZodType,
  indent: number,
  lines: string[],
  commentIndent: number,
  inOptional: boolean,
): void {
  const { core, hasDefault, defaultValue, optional, doc } = unwrap(schema);
  const pad = " ".repeat(indent);
  const isCollection =
    core instanceof z.ZodObject || core instanceof z.ZodArray || core instanceof z.ZodRecord;
  const required = !optional && !hasDefault && !isCollection;
  // `exampleShown`: an optional key shown with its sample all the same (`port`, the usual one of `port` and `usb`).
  const shown = (schema.meta() as { exampleShown?: boolean } | undefined)?.exampleShown === true;
  const commentedOut = optional && !isCollection && !inOptional && !shown;
  const label = required
    ? "Required. "
    : optional && isCollection
      ? "Optional section, sample values shown. "
      : optional && !inOptional && !shown
        ? "Optional. "
        : "";
  const nested = inOptional || optional;
  if ((schema.meta() as { exampleCommented?: boolean } | undefined)?.exampleCommented === true) {
    // Shown commented out: a sample that needs other keys set first (a door needs a gpio backend).
    const part: string[] = [];
    renderKey(key, schema.meta({ exampleCommented: false }), indent, part, commentIndent, inOptional);
    for (const line of part) lines.push(line.trimStart().startsWith("#") ? line : `${pad}# ${line.slice(indent)}`);
    return;
  }
  pushComment(lines, commentIndent, label + (doc.description ?? ""));

  if (core instanceof z.ZodObject) {
    lines.push(`${pad}${key}:`);
    renderObjectBody(core, indent + 2, lines, indent + 2, nested);
  } else if (core instanceof z.ZodArray && !(unwrap(core.element as z.ZodType).core instanceof z.ZodObject) && unionMembers(core.element as z.ZodType) === undefined) {
    // A list of plain values (card ids): its default, inline.
    lines.push(`${pad}${key}: ${stringify(hasDefault ? defaultValue : (doc.examples?.[0] ?? [])).trimEnd()}`);
  } else if (core instanceof z.ZodArray) {
    lines.push(`${pad}${key}:`);
    const item: string[] = [];
    const element = core.element as z.ZodType;
    const union = unionMembers(element);
    const [shown, ...others] = union?.members ?? [];
    renderObjectBody(shown?.schema ?? element, indent + 4, item, indent + 2, nested);
    if (union && shown) {
      for (const other of others) renderOtherMember(union.discriminator, shown, other, indent + 4, item, nested);
    }
    const first = item.findIndex((l) => !l.trimStart().startsWith("#"));
    item[first] = `${pad}  - ${item[first]?.trimStart() ?? ""}`;
    lines.push(...item);
  } else if (core instanceof z.ZodRecord) {
    lines.push(`${pad}${key}:`);
    const sampleKey = unwrap(core.keyType as z.ZodType).doc.examples?.[0];
    if (typeof sampleKey !== "string") throw new Error(`example.ts: record ${key} needs a key example`);
    lines.push(`${pad}  ${sampleKey}:`);
    renderObjectBody(core.valueType as z.ZodType, indent + 4, lines, indent + 4, nested);
  } else {
    const value = hasDefault ? defaultValue : doc.examples?.[0];
    if (value === undefined) throw new Error(`example.ts: key ${key} needs a default or an example`);
    const line = `${key}: ${stringify(value).trimEnd()}`;
    lines.push(commentedOut ? `${pad}# ${line}` : `${pad}${line}`);
  }
}

function renderObjectBody(
  schema: z.ZodType,
  indent: number,
  lines: string[],
  firstCommentIndent: number,
  inOptional: boolean,
): void {
  (objectKeys(schema) ?? []).forEach((key, i) => {
    const child = childSchema(schema, key) as z.ZodType;
    renderKey(key, child, indent, lines, i === 0 ? firstCommentIndent : indent, inOptional);
  });
}

/**
 * A list whose items are a discriminated union (`scales`, `readers`, by `protocol`) shows a sample of
 * its first member; the keys only another member has (its protocol's options) follow it, commented
 * out, under a line saying which `protocol` they go with.
 */
function renderOtherMember(
  discriminator: string,
  shown: UnionMember,
  other: UnionMember,
  indent: number,
  lines: string[],
  inOptional: boolean,
): void {
  const keys = (objectKeys(other.schema) ?? []).filter((key) => !Object.hasOwn(shown.schema.shape, key));
  if (keys.length === 0) return;
  pushComment(lines, indent, `With ${discriminator}: ${other.value}, instead of ${shown.value}'s options:`);
  for (const key of keys) {
    const part: string[] = [];
    renderKey(key, childSchema(other.schema, key) as z.ZodType, indent, part, indent, inOptional);
    const pad = " ".repeat(indent);
    for (const line of part) lines.push(line.slice(indent).startsWith("#") ? line : `${pad}# ${line.slice(indent)}`);
  }
}

/** Appends `text` as `# ` comment lines wrapped at WIDTH columns. */
function pushComment(lines: string[], indent: number, text: string): void {
  const prefix = `${" ".repeat(indent)}# `;
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== "" && prefix.length + line.length + 1 + word.length > WIDTH) {
      lines.push(prefix + line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(prefix + line);
}
