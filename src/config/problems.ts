/**
 * Config problems: one line per problem, `FILE:LINE:COL: dotted.path: message` (contract.md
 * section 1, `config check`), and the translation of zod issues into them.
 */
import { distance } from "fastest-levenshtein";
import { isScalar, type Document, type LineCounter, type Node } from "yaml";
import type { z } from "zod";
import { describeFound, quoteFound } from "./found.js";
import { configSchema } from "./schema.js";
import { isIntegerSchema, isNoMatchingMember, objectKeys, schemaAt, selectedMember, unionMembers } from "./schema-walk.js";
import { isEmptyValue, nodesAlong, stepPosition, type Position } from "./yaml-position.js";

/**
 * One problem of a config file. `line` and `col` are 1-based; `path` is the dotted key path with
 * array indices as segments (`scales.0.baud_rate`), or `(file)`, `(yaml)` or `(root)` for
 * problems of the file itself, its YAML syntax or its top level; `message` says what was expected
 * and what was found.
 */
export interface ConfigProblem {
  file: string;
  line: number;
  col: number;
  path: string;
  message: string;
}

/** `FILE:LINE:COL: path: message`, FILE exactly as given by the user. */
export function formatProblem(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.col}: ${p.path}: ${p.message}`;
}

/**
 * A warning about a valid file (contract.md section 1): `FILE:LINE:COL: path: warning: message`.
 * Warnings never change an exit code.
 */
export function formatWarning(w: ConfigProblem): string {
  return `${w.file}:${w.line}:${w.col}: ${w.path}: warning: ${w.message}`;
}

/** Orders problems by line, then column; problems at the same place keep their order. */
export function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => a.p.line - b.p.line || a.p.col - b.p.col || a.i - b.i)
    .map(({ p }) => p);
}

/** What an issue translation needs to know about the file. */
export interface IssueSource {
  file: string;
  doc: Document;
  lineCounter: LineCounter;
  /** The data zod was given (the YAML document as plain values). */
  data: unknown;
}

type Segment = string | number;

/** Turns every zod issue into problems (an issue with several unknown keys gives one per key). */
export function issuesToProblems(issues: readonly z.core.$ZodIssue[], source: IssueSource): ConfigProblem[] {
  return issues.filter((issue) => !isShadowedSafeIntegerBound(issue, issues)).flatMap((issue) => issueToProblems(issue, source));
}

/**
 * zod's `int()` carries its own bound at Number.MAX_SAFE_INTEGER; where the schema sets a tighter
 * bound on the same key, that one says what the technician needs and the internal one is noise.
 */
function isShadowedSafeIntegerBound(issue: z.core.$ZodIssue, all: readonly z.core.$ZodIssue[]): boolean {
  if (issue.code !== "too_big" || Number(issue.maximum) !== Number.MAX_SAFE_INTEGER) return false;
  const key = issue.path.join(".");
  return all.some((other) => other !== issue && other.code === "too_big" && other.path.join(".") === key);
}

function issueToProblems(issue: z.core.$ZodIssue, source: IssueSource): ConfigProblem[] {
  const path = issue.path.map((s): Segment => (typeof s === "number" ? s : String(s)));
  const problem = (at: Position, p: readonly Segment[], message: string): ConfigProblem => ({
    file: source.file,
    line: at.line,
    col: at.col,
    path: p.length === 0 ? "(root)" : p.join("."),
    message: oneLine(message),
  });

  if (issue.code === "unrecognized_keys") {
    const schema = schemaAt(configSchema, path, source.data) ?? configSchema;
    const value = valueAt(source.data, path);
    const allowed = objectKeys(schema, value) ?? [];
    return issue.keys.map((key) => {
      const keyPath = [...path, key];
      const message = otherMemberKeyMessage(schema, value, key) ?? unknownKeyMessage(key, allowed);
      return problem(keyPosition(keyPath, source), keyPath, message);
    });
  }
  if (issue.code === "invalid_key") {
    const inner = issue.issues[0];
    const message =
      inner && (inner.code === "invalid_format" || inner.code === "custom")
        ? inner.message
        : `expected a valid key, found ${quoteFound(String(path[path.length - 1]))}`;
    return [problem(keyPosition(path, source), path, message)];
  }
  // A required key that is absent: zod says invalid_type, invalid_value for an enum, or invalid_union
  // for the discriminator (`protocol`) of a union.
  const missing =
    (issue.code === "invalid_type" || issue.code === "invalid_value" || isNoMatchingMember(issue)) &&
    !hasValueAt(source.data, path);
  if (missing) return [problem(parentPosition(path, source), path, "required key missing")];
  return [problem(valuePosition(path, source), path, messageFor(issue, path, source))];
}

function messageFor(issue: z.core.$ZodIssue, path: readonly Segment[], source: IssueSource): string {
  const found = () => foundText(path, source);
  const leaf = schemaAt(configSchema, path, source.data);
  const numberWord = leaf && isIntegerSchema(leaf) ? "integer" : "number";
  // An unknown `protocol`: the names the registry knows.
  if (isNoMatchingMember(issue)) return `expected one of ${issue.options.map(String).join(", ")}, found ${found()}`;
  switch (issue.code) {
    case "invalid_type": {
      const text = found();
      // An identifier written in digits (usb ids, a serial number, a card id, one with a leading
      // zero): YAML reads it unquoted as a number. Not said of other text keys (a URL given 42).
      const quote =
        issue.expected === "string" && typeof valueAt(source.data, path) === "number" && looksLikeTextId(text, path)
          ? ` (write it in quotes, "${text}": unquoted, YAML reads it as a number)`
          : "";
      return `expected ${typeWord(issue.expected, numberWord)}, found ${text}${quote}`;
    }
    case "invalid_value":
      return issue.values.length === 1
        ? `expected ${String(issue.values[0])}, found ${found()}`
        : `expected one of ${issue.values.map(String).join(", ")}, found ${found()}`;
    case "too_small":
    case "too_big": {
      const small = issue.code === "too_small";
      const bound = small ? issue.minimum : issue.maximum;
      if (issue.origin === "number" || issue.origin === "int" || issue.origin === "bigint") {
        const op = small ? (issue.inclusive ? ">=" : ">") : issue.inclusive ? "<=" : "<";
        return `expected ${numberWord} ${op} ${String(bound)}, found ${found()}`;
      }
      const unit = issue.origin === "string" ? "character" : "item";
      const plural = Number(bound) === 1 ? "" : "s";
      return `expected ${small ? "at least" : "at most"} ${String(bound)} ${unit}${plural}, found ${found()}`;
    }
    case "not_multiple_of":
      return `expected a multiple of ${String(issue.divisor)}, found ${found()}`;
    // The schema words these itself, with what was expected and found (schema.ts).
    case "invalid_format":
    case "invalid_union":
    case "custom":
    case "invalid_element":
    case "invalid_key":
    case "unrecognized_keys":
      return issue.message;
  }
}

function typeWord(expected: string, numberWord: string): string {
  switch (expected) {
    case "number":
      return numberWord;
    case "int":
      return "integer";
    case "object":
    case "record":
      return "mapping";
    case "array":
      return "list";
    default:
      return expected;
  }
}

/**
 * For a key that another member of a discriminated union has (another protocol's option):
 * `pattern is an option of ascii-line, not of em4100-ascii`. Undefined for any other key.
 */
function otherMemberKeyMessage(schema: z.ZodType, value: unknown, key: string): string | undefined {
  const selected = selectedMember(schema, value);
  const owners = (unionMembers(schema)?.members ?? []).filter((m) => Object.hasOwn(m.schema.shape, key)).map((m) => m.value);
  if (selected === undefined || owners.length === 0) return undefined;
  const listed = owners.length === 1 ? owners[0] : `${owners.slice(0, -1).join(", ")} and ${owners[owners.length - 1]}`;
  return `${key} is an option of ${listed}, not of ${selected.value}`;
}

function unknownKeyMessage(key: string, allowed: readonly string[]): string {
  const list = `unknown key (expected one of: ${allowed.join(", ")})`;
  const guess = closestKey(key, allowed);
  return guess ? `${list}; did you mean ${guess}?` : list;
}

/** The allowed key a misspelling most likely meant: edit distance at most 2 (or a case slip). */
function closestKey(key: string, allowed: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const candidate of allowed) {
    const d = distance(key.toLowerCase(), candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** How the value at `path` reads in the file: strings quoted, other scalars as written. */
function foundText(path: readonly Segment[], source: IssueSource): string {
  const steps = nodesAlong(source.doc, path);
  const node: Node | null | undefined =
    steps.length === path.length + 1 ? steps[path.length]?.value : undefined;
  if (node) {
    if (isEmptyValue(node)) return "nothing (an empty value)";
    if (isScalar(node) && typeof node.value !== "string" && node.source !== undefined && node.source !== "") {
      return node.source;
    }
  }
  return describeFound(valueAt(source.data, path));
}

function valueAt(data: unknown, path: readonly Segment[]): unknown {
  let current = data;
  for (const segment of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<string, unknown>)[String(segment)];
  }
  return current;
}

function hasValueAt(data: unknown, path: readonly Segment[]): boolean {
  if (path.length === 0) return data !== undefined;
  const parent = valueAt(data, path.slice(0, -1));
  const key = String(path[path.length - 1]);
  return typeof parent === "object" && parent !== null && Object.hasOwn(parent, key);
}

const START: Position = { line: 1, col: 1 };

/** The value's position, or the nearest ancestor's when the path goes past the document. */
function valuePosition(path: readonly Segment[], source: IssueSource): Position {
  const steps = nodesAlong(source.doc, path);
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i];
    const at = step && stepPosition(step, source.lineCounter);
    if (at) return at;
  }
  return START;
}

/** A missing key is reported where its parent mapping starts. */
function parentPosition(path: readonly Segment[], source: IssueSource): Position {
  return valuePosition(path.slice(0, -1), source);
}

/** An unknown or invalid key is reported at the key itself. */
function keyPosition(path: readonly Segment[], source: IssueSource): Position {
  const steps = nodesAlong(source.doc, path);
  const last = steps.length === path.length + 1 ? steps[path.length] : undefined;
  const keyNode = last?.key;
  const start = keyNode?.range?.[0];
  return start !== undefined ? source.lineCounter.linePos(start) : parentPosition(path, source);
}

/** Messages are one line each: YAML and regex messages may quote multi-line text. */
function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, " ");
}

/** Keys whose values are identifiers that may be all digits (`usb.vendor_id: "0403"`, a device id). */
const TEXT_ID_KEYS = new Set(["id", "vendor_id", "product_id", "serial"]);

/**
 * True when `text` (the value as written) is digits meant as text: it has a leading zero, or it is
 * the value of an identifier key, or an item of a list (card lists).
 */
function looksLikeTextId(text: string, path: readonly Segment[]): boolean {
  if (!/^[0-9]+$/.test(text)) return false;
  const last = path[path.length - 1];
  return (text.length > 1 && text.startsWith("0")) || typeof last === "number" || (typeof last === "string" && TEXT_ID_KEYS.has(last));
}
