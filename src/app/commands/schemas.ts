/**
 * The MQTT commands of contract.md section 4 "Commands and telemetry", as zod schemas: the single
 * source of the decoder (a payload that does not match is an `invalid` error reply), of the types,
 * and of the JSON Schemas in docs/asyncapi.yaml (generated, never written twice).
 *
 * A command arrives on `P/S/cmd/<name>` as a JSON object with `command_id` (1 to 64 characters) and
 * the command's arguments. Unknown keys are refused (`invalid`): a misspelt argument must not be
 * silently ignored, as with the config's keys.
 */
import { z } from "zod";
import { COMMAND_ERROR_CODES, type CommandErrorCode } from "../../domain/commands.js";

/** Largest command payload the station takes, in bytes: it announces it as its MQTT 5 Maximum Packet Size (contract section 4). */
export const MAX_COMMAND_BYTES = 256 * 1024;

/** `command_id`: the idempotency key of a command, 1 to 64 characters (contract section 4). */
export const commandIdSchema = z
  .string()
  .min(1)
  .max(64)
  .describe("Idempotency key chosen by the sender: a command_id seen in the last 24 hours gets the same reply again and is not executed twice.")
  .meta({ examples: ["c-2026-12-07-0001"] });

/**
 * A seq argument: a safe integer of at least 1. One message for every way to miss it (not a number,
 * a fraction, 0, beyond 2^53 - 1): zod's own would name `int` and `number`, and a number too big
 * failed two checks with two messages.
 */
const SEQ_MESSAGE = `expected an integer from 1 to ${Number.MAX_SAFE_INTEGER}`;
const seqSchema = z.int({ error: SEQ_MESSAGE }).min(1, { error: SEQ_MESSAGE });
const scaleIdSchema = z.string().min(1).max(64).describe("Id of a configured scale (config `scales[].id`).").meta({ examples: ["scale-1"] });
const cardListSchema = z
  .array(z.string().min(1).max(128))
  .max(100_000)
  .describe("Card ids as the readers report them; replaces the list in force.");

/** The arguments of each command, without `command_id`. */
export const COMMAND_ARGS = {
  status: z.strictObject({}).describe("The retained status object and the station's counters."),
  replay: z
    .strictObject({
      from_seq: seqSchema.describe("First seq to publish again (inclusive)."),
      to_seq: seqSchema.optional().describe("Last seq to publish again (inclusive); absent: up to the newest event held."),
    })
    .describe("Publishes again the events still held (published or not) whose seq is in the range: how a central system fills a gap."),
  tare: z.strictObject({ scale_id: scaleIdSchema }).describe("Tares the indicator (stores the present weight as its tare)."),
  zero: z.strictObject({ scale_id: scaleIdSchema }).describe("Sets the indicator to zero."),
  set_cards: z
    .strictObject({
      collectors: cardListSchema.optional(),
      maintenance: cardListSchema.optional(),
      blocked: cardListSchema.optional(),
      version: z.string().min(1).max(64).describe("The version of these lists, as the central system names it."),
    })
    .describe("Replaces the role lists given (collectors, maintenance, blocked); lists not given stay as they are."),
  reload_config: z
    .strictObject({})
    .describe(
      "Reads the config file again: an invalid file is refused with its problems; a valid one is applied once no session is open, and rolled back if the broker cannot be reached with it.",
    ),
} as const;

/** A command name (the last topic level of `P/S/cmd/<name>`). */
export type CommandName = keyof typeof COMMAND_ARGS;

/** Every command name, in the contract's order. */
export const COMMAND_NAMES = Object.keys(COMMAND_ARGS) as CommandName[];

/** The whole payload of each command: `command_id` and its arguments. */
export const COMMAND_SCHEMAS = {
  status: COMMAND_ARGS.status.extend({ command_id: commandIdSchema }),
  replay: COMMAND_ARGS.replay
    .extend({ command_id: commandIdSchema })
    // Compared only once both are valid seqs: a bad one has its own message.
    .refine((a) => a.to_seq === undefined || a.to_seq >= a.from_seq, {
      message: "to_seq must not be below from_seq",
      path: ["to_seq"],
      when: (payload) => payload.issues.length === 0,
    }),
  tare: COMMAND_ARGS.tare.extend({ command_id: commandIdSchema }),
  zero: COMMAND_ARGS.zero.extend({ command_id: commandIdSchema }),
  set_cards: COMMAND_ARGS.set_cards.extend({ command_id: commandIdSchema }),
  reload_config: COMMAND_ARGS.reload_config.extend({ command_id: commandIdSchema }),
} as const satisfies Record<CommandName, z.ZodType>;

/** A decoded command: its name and its validated payload. */
export type Command = { [N in CommandName]: { name: N; payload: z.output<(typeof COMMAND_SCHEMAS)[N]> } }[CommandName];

/** Error codes of a refused command (contract section 4): the station machine's (src/domain/commands.ts), one list. */
export { COMMAND_ERROR_CODES, type CommandErrorCode };

/** A reply: `{command_id, ok: true, result}` or `{command_id, ok: false, error: {code, message}}`. */
export const replySchema = z.discriminatedUnion("ok", [
  z.strictObject({
    command_id: z.string().describe("The request's command_id (empty when the request had none that could be read)."),
    ok: z.literal(true),
    result: z.record(z.string(), z.unknown()).describe("What the command did; its fields depend on the command."),
  }),
  z.strictObject({
    command_id: z.string(),
    ok: z.literal(false),
    error: z.strictObject({
      code: z.enum(COMMAND_ERROR_CODES),
      message: z.string().describe("Why, for a human."),
    }),
  }),
]);
export type CommandReply = z.output<typeof replySchema>;
