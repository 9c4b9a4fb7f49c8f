/**
 * The command decoder (contract.md section 4, "Commands and telemetry"): a command's name (the last
 * topic level of `P/S/cmd/<name>`) and its payload bytes in, a validated {@link Command} or the
 * error reply out. Pure; never throws, whatever the bytes.
 *
 * Order of the checks: a payload over {@link MAX_COMMAND_BYTES} is `invalid` unread; then it must
 * be UTF-8 JSON text of an object (`invalid`); then the name must be a command (`unknown_command`);
 * then the payload must match the command's schema (`invalid`, with the first problems zod found,
 * bounded in length). The reply echoes `command_id` whenever the payload has one that could be read
 * (a string of 1 to 64 characters), else it is `""`.
 */
import type { z } from "zod";
import { commandIdSchema, COMMAND_SCHEMAS, MAX_COMMAND_BYTES, type Command, type CommandName, type CommandReply } from "./schemas.js";

/** Why a payload was not decoded: the reply's error code and the kind counted by the log's rate limit. */
export type DecodeFailure = "oversized" | "not_json" | "not_object" | "unknown_command" | "schema";

/** A decoded command, or the reply that refuses it. */
export type Decoded =
  | { ok: true; command: Command }
  | { ok: false; failure: DecodeFailure; reply: Extract<CommandReply, { ok: false }> };

/** At most this many schema problems are named in a reply's message. */
const MAX_ISSUES = 3;
/** A message is cut to this many characters (a path or an unknown key may be long). */
const MAX_MESSAGE_CHARS = 300;
/** Each named problem is cut to this many characters. */
const MAX_ISSUE_CHARS = 120;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Decodes one command. `payload` is the MQTT message's bytes. */
export function decodeCommand(name: string, payload: Uint8Array): Decoded {
  if (payload.byteLength > MAX_COMMAND_BYTES) {
    return refuse("oversized", "", "invalid", `payload of ${payload.byteLength} bytes is over the limit of ${MAX_COMMAND_BYTES} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(payload));
  } catch {
    return refuse("not_json", "", "invalid", "payload is not JSON text (UTF-8)");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return refuse("not_object", "", "invalid", `payload is ${value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`}, not a JSON object`);
  }
  const commandId = readableId((value as Record<string, unknown>).command_id);
  if (!isCommandName(name)) {
    return refuse("unknown_command", commandId, "unknown_command", `no command ${JSON.stringify(clip(name, 64))}`);
  }
  const parsed = COMMAND_SCHEMAS[name].safeParse(value);
  if (!parsed.success) return refuse("schema", commandId, "invalid", issuesMessage(parsed.error.issues));
  return { ok: true, command: { name, payload: parsed.data } as Command };
}

function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(COMMAND_SCHEMAS, name);
}

/** `command_id` when it is a string of 1 to 64 characters, else `""`. */
/** The `command_id` to echo in an error reply: one the schema would take (its length counted as zod counts it), else `""`. */
function readableId(id: unknown): string {
  return commandIdSchema.safeParse(id).success ? (id as string) : "";
}

function refuse(failure: DecodeFailure, commandId: string, code: "invalid" | "unknown_command", message: string): Decoded {
  return { ok: false, failure, reply: { command_id: commandId, ok: false, error: { code, message } } };
}

/** The first {@link MAX_ISSUES} problems as `path: message`, with how many more there are; bounded. */
export function issuesMessage(issues: readonly z.core.$ZodIssue[]): string {
  const named = issues.slice(0, MAX_ISSUES).map((i) => clip(`${pathText(i.path)}: ${i.message}`, MAX_ISSUE_CHARS));
  const more = issues.length > MAX_ISSUES ? ` (and ${issues.length - MAX_ISSUES} more)` : "";
  return clip(named.join("; "), MAX_MESSAGE_CHARS - more.length) + more;
}

/** `to_seq`, `collectors[3]`, or `(payload)` for the whole object. */
function pathText(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(payload)";
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`)).join("");
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
