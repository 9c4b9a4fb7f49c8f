/**
 * The MQTT commands as inputs of the station machine (contract.md section 4, "Commands and
 * telemetry"): `tare` and `zero` (judged here, sent by the runner), `set_cards` (the role lists),
 * and the audit of every valid command: a durable `command` event (type `smartbin.command.v1`, data
 * `command_id`, `name`, `args` (lists counted when large: {@link auditArgs}), `ok`, `error_code`),
 * except for `status`, and the reply kept for
 * 24 hours under `command/<command_id>` in the database's `meta` table, in the same transaction, so
 * that a command repeated after a restart gets the same reply and is not executed twice.
 *
 * Also the broker's client-id conflict (`client_id_conflict`: a second gateway uses our MQTT client
 * id, a cloned SD card): one alarm per onset, and a status field while it lasts.
 *
 * Pure: the decoder (zod) and the 24-hour window live in src/app/commands/.
 */
import { alarmEffect } from "./alarms.js";
import { replaceCards } from "./cards.js";
import { linkState } from "./device-link.js";
import { sessionBinIds } from "./doors.js";
import { isoTime } from "./iso-time.js";
import { META_KEYS, type CardListsState, type StationContext, type StationEffect, type StationState } from "./station-types.js";

/** Error codes of a refused command (contract section 4). */
export const COMMAND_ERROR_CODES = ["invalid", "unknown_command", "not_supported", "busy", "refused", "internal"] as const;
export type CommandErrorCode = (typeof COMMAND_ERROR_CODES)[number];

/** What a command did: a result object, or an error code with a message for a human. */
export type CommandOutcome =
  | { readonly ok: true; readonly result: Readonly<Record<string, unknown>> }
  | { readonly ok: false; readonly code: CommandErrorCode; readonly message: string };

/** A reply as it goes on the wire (contract section 4). */
export type WireReply =
  | { command_id: string; ok: true; result: Readonly<Record<string, unknown>> }
  | { command_id: string; ok: false; error: { code: CommandErrorCode; message: string } };

/** A scale request of the `tare` and `zero` commands. */
export type ScaleRequest = "tare" | "zero";

/** What the port said of a scale request (src/app/station.ts `scaleCommand`). */
export type ScaleRequestOutcome = "sent" | "unsupported" | "not_open" | "unknown_scale";

/** A valid command that the machine executes (arguments as decoded, without `command_id`). */
export type MachineCommand =
  | { readonly id: string; readonly name: ScaleRequest; readonly args: { readonly scale_id: string } }
  | {
      readonly id: string;
      readonly name: "set_cards";
      readonly args: {
        readonly collectors?: readonly string[];
        readonly maintenance?: readonly string[];
        readonly blocked?: readonly string[];
        readonly version: string;
      };
    };

/** The data of a `command` event (contract section 4). */
export interface CommandEventData {
  command_id: string;
  name: string;
  args: Readonly<Record<string, unknown>>;
  ok: boolean;
  error_code: CommandErrorCode | null;
  [key: string]: unknown;
}

/**
 * The largest `args` an audit event carries as received: bytes of its JSON text in UTF-8. A
 * `set_cards` may be up to 256 KiB (the packet size the station announces), and its audit event,
 * envelope and MQTT 5 properties added, would then be larger than 256 KiB: a broker with that
 * `max_packet_size` (or a smaller one, such as a cloud broker's 128 KB) could never take it, and
 * the event would wait for ever. Above this, each list in `args` is audited as `{"count": n}`
 * (the other arguments are small: ids and versions of at most 64 characters), so every audit event
 * stays far below any broker's limit; the central system that sent the lists knows them by the
 * command's `command_id` and `version`.
 */
export const AUDIT_ARGS_MAX_BYTES = 64 * 1024;

/**
 * The `args` of a command's audit event: as received, or, when their JSON is larger than
 * {@link AUDIT_ARGS_MAX_BYTES}, with every list replaced by `{"count": <its length>}`.
 */
export function auditArgs(args: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  if (utf8Length(JSON.stringify(args)) <= AUDIT_ARGS_MAX_BYTES) return args;
  return Object.fromEntries(Object.entries(args).map(([key, value]) => [key, Array.isArray(value) ? { count: value.length } : value]));
}

/** Bytes of `text` in UTF-8 (a surrogate pair, one code point of 4 bytes, counts 2 + 2). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    bytes += c < 0x80 ? 1 : c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 2 : 3;
  }
  return bytes;
}

/** Prefix of the `meta` keys of the kept replies: `command/<command_id>`. */
export const COMMAND_META_PREFIX = "command/";

/** The `meta` key of a command's kept reply. */
export function commandMetaKey(commandId: string): string {
  return `${COMMAND_META_PREFIX}${commandId}`;
}

/** A kept reply as stored in `meta` (JSON): when (RFC 3339 UTC), which command, and the reply sent. */
export interface KeptReply {
  at: string;
  name: string;
  reply: WireReply;
}

/** The reply on the wire of an outcome. */
export function wireReply(commandId: string, outcome: CommandOutcome): WireReply {
  return outcome.ok
    ? { command_id: commandId, ok: true, result: outcome.result }
    : { command_id: commandId, ok: false, error: { code: outcome.code, message: outcome.message } };
}

interface At {
  readonly mono: number;
  readonly wall: number;
}

/**
 * Ends a valid command: the audit event (not for `status`) and its kept reply in one record effect,
 * with `meta` values of the command's own (the role lists of `set_cards`) in the same transaction;
 * then the reply.
 */
export function finishCommand(
  cmd: { commandId: string; name: string; args: Readonly<Record<string, unknown>>; outcome: CommandOutcome },
  at: At,
  ctx: StationContext,
  effects: StationEffect[],
  meta: Readonly<Record<string, string>> = {},
): void {
  const { commandId, name, args, outcome } = cmd;
  const kept: KeptReply = { at: isoTime(at.wall), name, reply: wireReply(commandId, outcome) };
  const data: CommandEventData = { command_id: commandId, name, args: auditArgs(args), ok: outcome.ok, error_code: outcome.ok ? null : outcome.code };
  effects.push({
    type: "record",
    events: name === "status" ? [] : [{ kind: "command", subject: ctx.stationId, data }],
    meta: { ...meta, [commandMetaKey(commandId)]: JSON.stringify(kept) },
  });
  effects.push({
    type: "notice",
    // `status` is a read, asked often by monitoring: at debug, so a flood of them does not fill the log.
    level: name === "status" ? "debug" : outcome.ok ? "info" : "warn",
    msg: outcome.ok ? "command executed" : "command refused",
    fields: { command: name, command_id: commandId, ...(outcome.ok ? {} : { code: outcome.code, reason: outcome.message }) },
  });
  effects.push({ type: "command_reply", commandId, outcome });
}

/**
 * A command the machine executes. `tare`/`zero`: an unknown scale is `invalid`; a protocol that
 * takes no commands `not_supported`; a scale whose bin is in a session (or whose door is unlocked)
 * `busy`; a scale not online `refused`; else a `scale_request` effect, and the command ends when the
 * runner feeds back what the port did ({@link scaleRequestDone}). `set_cards`: the lists replace
 * those in force, stored with the audit in one transaction.
 */
export function commandInput(state: StationState, cmd: MachineCommand, at: At, ctx: StationContext, effects: StationEffect[]): StationState {
  switch (cmd.name) {
    case "tare":
    case "zero": {
      const refusal = scaleRefusal(state, cmd.args.scale_id, ctx);
      if (refusal !== null) {
        finishCommand({ commandId: cmd.id, name: cmd.name, args: cmd.args, outcome: refusal }, at, ctx, effects);
        return state;
      }
      effects.push({ type: "scale_request", scaleId: cmd.args.scale_id, request: cmd.name, commandId: cmd.id, args: cmd.args });
      return state;
    }
    case "set_cards": {
      const { collectors, maintenance, blocked, version } = cmd.args;
      const { state: next, cards, notice } = replaceCards(state, {
        ...(collectors !== undefined ? { collectors } : {}),
        ...(maintenance !== undefined ? { maintenance } : {}),
        ...(blocked !== undefined ? { blocked } : {}),
        version,
      });
      effects.push(notice);
      finishCommand(
        { commandId: cmd.id, name: cmd.name, args: cmd.args, outcome: { ok: true, result: cardsResult(next.cards ?? cards) } },
        at,
        ctx,
        effects,
        { [META_KEYS.cards]: JSON.stringify(cards) },
      );
      return next;
    }
    default: {
      const never: never = cmd;
      return never;
    }
  }
}

function cardsResult(cards: CardListsState): Record<string, unknown> {
  return { version: cards.version, collectors: cards.collectors.length, maintenance: cards.maintenance.length, blocked: cards.blocked.length };
}

/** Why a scale takes no request now (see {@link commandInput}), `null` when it may. */
function scaleRefusal(state: StationState, scaleId: string, ctx: StationContext): CommandOutcome | null {
  const spec = ctx.scales.find((s) => s.id === scaleId);
  if (spec === undefined) return { ok: false, code: "invalid", message: `no scale ${JSON.stringify(scaleId)} is configured` };
  if (spec.takesCommands !== true) return { ok: false, code: "not_supported", message: `scale ${scaleId}: its protocol takes no commands` };
  const binId = spec.binId;
  if (binId !== null && binInSession(state, binId)) {
    return { ok: false, code: "busy", message: `scale ${scaleId}: bin ${binId} is in a session` };
  }
  const scale = state.scales[scaleId];
  const link = scale === undefined ? "starting" : linkState(scale.link);
  if (link !== "online") return { ok: false, code: "refused", message: `scale ${scaleId} is ${link}` };
  return null;
}

/** A session (open or recovering) covers the bin, or its door is unlocked. */
function binInSession(state: StationState, binId: string): boolean {
  const s = state.session;
  const sessions = [...(s.phase === "idle" ? [] : [s]), ...state.recoveredQueue];
  for (const session of sessions) {
    const bins = session.phase === "open" ? sessionBinIds(session) : session.bins.map((b) => b.binId);
    if (bins.includes(binId)) return true;
  }
  const door = state.doors?.[binId];
  return door !== undefined && !door.locked;
}

/** What the port did with a scale request: the command's outcome, audited and replied. */
export function scaleRequestDone(
  input: { commandId: string; request: ScaleRequest; scaleId: string; args: Readonly<Record<string, unknown>>; outcome: ScaleRequestOutcome } & At,
  ctx: StationContext,
  effects: StationEffect[],
): void {
  const { scaleId, request } = input;
  const outcome: CommandOutcome = ((): CommandOutcome => {
    switch (input.outcome) {
      case "sent":
        return { ok: true, result: { scale_id: scaleId, sent: true } };
      case "unsupported":
        return { ok: false, code: "not_supported", message: `scale ${scaleId}: its protocol takes no commands` };
      case "not_open":
        return { ok: false, code: "refused", message: `scale ${scaleId}: its port is not open` };
      case "unknown_scale":
        return { ok: false, code: "invalid", message: `no scale ${JSON.stringify(scaleId)} is configured` };
      default: {
        const never: never = input.outcome;
        return never;
      }
    }
  })();
  finishCommand({ commandId: input.commandId, name: request, args: input.args, outcome }, input, ctx, effects);
}

/**
 * The broker reports (or stops reporting) that another client connects with our client id: a
 * `client_id_conflict` alarm at each onset (subject the station id), and the status says so while
 * it lasts.
 */
export function brokerConflict(state: StationState, active: boolean, ctx: StationContext, effects: StationEffect[]): StationState {
  const was = state.clientIdConflict === true;
  if (active === was) return state;
  effects.push({ type: "status_changed" });
  if (!active) {
    effects.push({ type: "notice", level: "info", msg: "MQTT client id conflict over: no other client took our connection for a while", fields: {} });
    return { ...state, clientIdConflict: false };
  }
  const message = "a second gateway uses the same MQTT client id (a cloned SD card?): give each station its own station.id or mqtt.client_id";
  effects.push({ type: "notice", level: "error", msg: message, fields: {} });
  effects.push(alarmEffect(ctx.stationId, { code: "client_id_conflict", message }));
  return { ...state, clientIdConflict: true };
}
