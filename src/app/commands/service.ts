/**
 * The MQTT commands of contract.md section 4 ("Commands and telemetry"), end to end on the station's
 * side: an incoming message is decoded (decode.ts), deduplicated by `command_id`, dispatched, and
 * answered through the reply port.
 *
 * - **Dedupe.** A `command_id` seen in the last 24 hours, across restarts, gets the same reply again
 *   and is not executed twice. The machine keeps each valid command's reply in the outbox's `meta`
 *   table (`command/<command_id>` -> `{at, name, reply}`, src/domain/commands.ts) in the same
 *   transaction as its audit event; a bounded map of recent ids sits in front of it; the same id
 *   arriving while the first is still executing waits for that reply. Rows older than 24 hours are
 *   deleted at start and every hour, in small batches. Malformed and unknown commands are neither
 *   executed nor kept.
 * - **Handlers.** `status` and `replay` and `reload_config` here (through ports), `tare`, `zero` and
 *   `set_cards` in the machine (through the runner); an error thrown by a handler is an `internal`
 *   reply, logged.
 * - **Bad input** never throws out of {@link CommandService.handle}; warnings about it are written
 *   at most once a minute per kind, the rest counted ({@link WarnLimiter}).
 */
import type { Logger } from "../../adapters/log/logger.js";
import type { IncomingCommand } from "../../adapters/mqtt/publisher-types.js";
import {
  COMMAND_META_PREFIX,
  commandMetaKey,
  wireReply,
  type CommandOutcome,
  type KeptReply,
  type MachineCommand,
} from "../../domain/commands.js";
import type { StationStatus } from "../../domain/station-machine.js";
import type { Clock } from "../clock.js";
import type { RunnerStats } from "../runner.js";
import { decodeCommand, type DecodeFailure } from "./decode.js";
import type { Command } from "./schemas.js";
import { WarnLimiter } from "./warn-limit.js";

/** A command as the MQTT side hands it over: the publisher's own type (one definition). */
export type { IncomingCommand };

/** Sends a reply (`body`: the JSON text) to where `cmd` asks for it (MQTT side). */
export interface CommandReplyPort {
  reply(cmd: IncomingCommand, body: string): void;
}

/**
 * Publishes again the held events with `fromSeq <= seq <= toSeq` (`toSeq` undefined: up to the
 * newest when asked). `count`: how many; `firstHeldSeq`: the oldest seq the station still holds,
 * `null` when it holds none. A replay that cannot be taken now (not connected to the broker, too
 * many replays waiting) is `{refused: reason}`: nothing is published.
 */
export interface ReplayPort {
  replay(fromSeq: number, toSeq: number | undefined): ReplayAnswer | Promise<ReplayAnswer>;
}

/** What a {@link ReplayPort} did. */
export type ReplayAnswer = { count: number; firstHeldSeq: number | null } | { refused: string; code: "busy" | "refused" };

/** What a reload did (src/app/station.ts `ReloadResult`). */
export type ReloadOutcome =
  | { ok: true; changed: string[]; applied: "now" | "after_session" }
  | { ok: false; code: "invalid" | "refused"; reasons: string[] };

/** Reads the config file again and applies it (src/app/station.ts `reload`). */
export interface ReloadPort {
  reload(): Promise<ReloadOutcome>;
}

/** What the service needs of the station runner (src/app/runner.ts `StationRunner` fits). */
export interface CommandRunnerPort {
  command(command: MachineCommand): Promise<CommandOutcome>;
  commandDone(done: { commandId: string; name: string; args: Readonly<Record<string, unknown>>; outcome: CommandOutcome }): Promise<CommandOutcome>;
  deleteMeta(keys: readonly string[]): void;
  statusFields(): StationStatus;
  stats(): RunnerStats;
}

/** What the service reads of the outbox (src/adapters/outbox/outbox.ts `Outbox` fits). */
export interface CommandStorePort {
  meta(key: string): string | null;
  metaEntries(prefix: string, page: { after: string; limit: number }): Array<{ key: string; value: string }>;
  status(): { pending: number };
}

/** Options of a {@link CommandService}: every dependency in one object. */
export interface CommandServiceOptions {
  runner: CommandRunnerPort;
  outbox: CommandStorePort;
  reply: CommandReplyPort;
  replay: ReplayPort;
  reload: ReloadPort;
  clock: Clock;
  logger: Logger;
  /** The retained status's fields (`state` is set to `online` here); default the runner's `statusFields()`. */
  statusFields?: () => Readonly<Record<string, unknown>>;
  /** How long a reply is kept, in ms; default 24 hours (contract section 4). */
  keepMs?: number;
  /** Recent ids kept in memory in front of the database; default 1000. */
  memoryIds?: number;
  /** Kept replies deleted per transaction when pruning; default 100. */
  pruneBatch?: number;
  /** Warnings about bad input: at most one per kind per this many ms; default 60 000. */
  warnIntervalMs?: number;
}

const DAY_MS = 24 * 3_600_000;

/** One message per kind of bad input: the root logger's own limit (same message, 30 s) then never merges two kinds. */
const DECODE_WARNINGS: Record<DecodeFailure, string> = {
  oversized: "command refused: payload over the size limit",
  not_json: "command refused: payload is not JSON",
  not_object: "command refused: payload is not a JSON object",
  unknown_command: "unknown command refused",
  schema: "command refused: arguments do not match the command",
};
const PRUNE_EVERY_MS = 3_600_000;
/** Kept replies read per page when pruning. */
const PRUNE_PAGE = 500;
/** A reload's problems are listed in the reply up to this many characters. */
const MAX_REASONS_CHARS = 4000;

/** Decodes, deduplicates, dispatches and answers MQTT commands. */
export class CommandService {
  /** Replies of recent ids (wall ms when kept, the body sent), oldest first. */
  private readonly recent = new Map<string, { at: number; body: string }>();
  /** Ids being executed now, with the body their reply will be. */
  private readonly running = new Map<string, Promise<string>>();
  private readonly warns: WarnLimiter;
  private readonly log: Logger;
  private cancelPrune: (() => void) | null = null;
  private pruning = false;
  /** Set by {@link stop}: no command is taken any more. */
  private stopping = false;
  /** Commands taken and not yet answered. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly opts: CommandServiceOptions) {
    this.log = opts.logger;
    this.warns = new WarnLimiter({ logger: opts.logger, mono: () => opts.clock.mono(), intervalMs: opts.warnIntervalMs ?? 60_000 });
  }

  /** Deletes kept replies past their 24 hours now and every hour after. */
  start(): void {
    if (this.cancelPrune !== null) return;
    this.cancelPrune = this.opts.clock.every(PRUNE_EVERY_MS, () => void this.prune());
    void this.prune();
  }

  /**
   * Takes `cmd` to run ({@link handle}, in the background), or returns false once {@link stop} was
   * called: the MQTT side then withholds its PUBACK, and the broker delivers it again at the next
   * start. A command is thus run only while its audit event can still be committed (contract
   * section 4: every executed valid command but `status` is audited; its reply is kept 24 hours).
   */
  take(cmd: IncomingCommand): boolean {
    if (this.stopping) return false;
    const done = this.handle(cmd).finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
    return true;
  }

  /**
   * Stops taking commands and the hourly pruning; resolves once the commands already taken are
   * answered (audited and their reply kept), or after `waitMs` (default 1.5 s: a command commits in
   * milliseconds, and the whole shutdown, with a settling scale and the publisher's goodbye, must end
   * within the daemon's 8 s limit, daemon-signals.ts), whichever is first.
   * Call it before the runner stops: the audit of a command still running after that is lost (logged).
   */
  async stop(waitMs = 1_500): Promise<void> {
    this.stopping = true;
    this.cancelPrune?.();
    this.cancelPrune = null;
    if (this.inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const waited = await Promise.race([
      Promise.all([...this.inFlight]).then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), waitMs))),
    ]);
    clearTimeout(timer);
    if (!waited) this.log.error({ running: this.inFlight.size, wait_ms: waitMs }, "commands still running at shutdown: their audit may be lost");
  }

  /** Decodes, deduplicates, executes and answers one command. Never rejects. */
  async handle(cmd: IncomingCommand): Promise<void> {
    let body: string;
    try {
      body = await this.answer(cmd);
    } catch (err) {
      // Only a bug gets here (every handler's error is caught in execute).
      this.log.error({ err, command: clip(cmd.name) }, "a command could not be answered");
      body = JSON.stringify(wireReply("", { ok: false, code: "internal", message: "the station could not answer" }));
    }
    try {
      this.opts.reply.reply(cmd, body);
    } catch (err) {
      this.log.error({ err, command: clip(cmd.name) }, "a command's reply could not be sent");
    }
  }

  private async answer(cmd: IncomingCommand): Promise<string> {
    const decoded = decodeCommand(cmd.name, cmd.payload);
    if (!decoded.ok) {
      const { error, command_id } = decoded.reply;
      this.warns.warn(
        decoded.failure,
        { command: clip(cmd.name), command_id, bytes: cmd.payload.byteLength, reason: error.message },
        DECODE_WARNINGS[decoded.failure],
      );
      return JSON.stringify(decoded.reply);
    }
    const command = decoded.command;
    const id = command.payload.command_id;
    const kept = this.kept(id);
    if (kept !== null) {
      this.log.info({ command: command.name, command_id: id }, "command seen before: its reply is sent again, it is not executed again");
      return kept;
    }
    const already = this.running.get(id);
    if (already !== undefined) {
      this.log.info({ command: command.name, command_id: id }, "command repeated while it runs: it gets the same reply");
      return already;
    }
    const pending = this.execute(command);
    this.running.set(id, pending);
    try {
      const body = await pending;
      this.remember(id, this.opts.clock.wall(), body);
      return body;
    } finally {
      this.running.delete(id);
    }
  }

  /** The kept reply of `id` from memory, else from the database, when younger than 24 hours; else `null`. */
  private kept(id: string): string | null {
    const now = this.opts.clock.wall();
    const keepMs = this.opts.keepMs ?? DAY_MS;
    const recent = this.recent.get(id);
    if (recent !== undefined) return now - recent.at < keepMs ? recent.body : null;
    let text: string | null = null;
    try {
      text = this.opts.outbox.meta(commandMetaKey(id));
    } catch (err) {
      this.log.warn({ err, command_id: id }, "a kept command reply could not be read");
    }
    if (text === null) return null;
    const stored = parseKept(text);
    if (stored === null) {
      this.log.warn({ command_id: id }, "a kept command reply is not in the expected form: the command runs again");
      return null;
    }
    if (now - stored.at >= keepMs) return null;
    const body = JSON.stringify(stored.reply);
    this.remember(id, stored.at, body);
    return body;
  }

  private remember(id: string, at: number, body: string): void {
    this.recent.delete(id);
    this.recent.set(id, { at, body });
    const limit = this.opts.memoryIds ?? 1000;
    for (const oldest of this.recent.keys()) {
      if (this.recent.size <= limit) break;
      this.recent.delete(oldest);
    }
  }

  /** Runs a valid command; its reply is kept (and audited) by the machine. Resolves with the reply's JSON. */
  private async execute(command: Command): Promise<string> {
    const { command_id: id, ...args } = command.payload;
    let outcome: CommandOutcome;
    try {
      switch (command.name) {
        case "tare":
        case "zero":
          outcome = await this.opts.runner.command({ id, name: command.name, args: { scale_id: command.payload.scale_id } });
          return JSON.stringify(wireReply(id, outcome));
        case "set_cards": {
          const { collectors, maintenance, blocked, version } = command.payload;
          outcome = await this.opts.runner.command({
            id,
            name: "set_cards",
            args: { ...(collectors ? { collectors } : {}), ...(maintenance ? { maintenance } : {}), ...(blocked ? { blocked } : {}), version },
          });
          return JSON.stringify(wireReply(id, outcome));
        }
        case "status":
          outcome = { ok: true, result: this.statusResult() };
          break;
        case "replay":
          outcome = await this.replay(command.payload.from_seq, command.payload.to_seq);
          break;
        case "reload_config":
          outcome = await this.reload();
          break;
        default: {
          const never: never = command;
          return never;
        }
      }
    } catch (err) {
      this.log.error({ err, command: command.name, command_id: id }, "command failed");
      outcome = { ok: false, code: "internal", message: `the command failed: ${clip(err instanceof Error ? err.message : String(err), 200)}` };
    }
    try {
      outcome = await this.opts.runner.commandDone({ commandId: id, name: command.name, args, outcome });
    } catch (err) {
      this.log.error({ err, command: command.name, command_id: id }, "a command could not be audited");
      outcome = { ok: false, code: "internal", message: "the command could not be recorded" };
    }
    return JSON.stringify(wireReply(id, outcome));
  }

  /** `status`: the retained status (state online), the runner's counters, the events not yet acknowledged. */
  private statusResult(): Record<string, unknown> {
    const fields = this.opts.statusFields?.() ?? this.opts.runner.statusFields();
    const s = this.opts.runner.stats();
    return {
      status: { ...fields, state: "online" },
      counters: {
        scale_frames: s.scaleFrames,
        reader_frames: s.readerFrames,
        level_frames: s.levelFrames,
        discarded_frames: s.discardedFrames,
        noise_frames: s.noiseFrames,
        sessions_opened: s.sessionsOpened,
        refused_sessions: s.refusedSessions,
        deposits: s.deposits,
        alarms: s.alarms,
      },
      backlog: this.opts.outbox.status().pending,
    };
  }

  private async replay(fromSeq: number, toSeq: number | undefined): Promise<CommandOutcome> {
    const r = await this.opts.replay.replay(fromSeq, toSeq);
    if ("refused" in r) {
      this.log.warn({ from_seq: fromSeq, to_seq: toSeq ?? null, reason: r.refused }, "replay refused");
      return { ok: false, code: r.code, message: r.refused };
    }
    this.log.info({ from_seq: fromSeq, to_seq: toSeq ?? null, count: r.count, first_held_seq: r.firstHeldSeq }, "replay requested");
    return { ok: true, result: { count: r.count, first_held_seq: r.firstHeldSeq } };
  }

  /** `reload_config`: `{applied, changed}`, or `refused` with the file's problems as `config check` prints them. */
  private async reload(): Promise<CommandOutcome> {
    const r = await this.opts.reload.reload();
    if (r.ok) return { ok: true, result: { applied: r.applied, changed: r.changed } };
    const head = r.code === "invalid" ? "the config file is invalid; the running configuration stays" : "the reload is refused; the running configuration stays";
    return { ok: false, code: "refused", message: clip(`${head}: ${r.reasons.join("\n")}`, MAX_REASONS_CHARS) };
  }

  /**
   * Deletes kept replies older than 24 hours (and unreadable ones), {@link CommandServiceOptions.pruneBatch}
   * per transaction with a turn of the event loop in between; forgets them in memory too. One at a time; never throws.
   */
  async prune(): Promise<number> {
    if (this.pruning) return 0;
    this.pruning = true;
    try {
      const now = this.opts.clock.wall();
      const keepMs = this.opts.keepMs ?? DAY_MS;
      for (const [id, r] of this.recent) if (now - r.at >= keepMs) this.recent.delete(id);
      // Page by page, never every kept reply at once: a flood of commands keeps many for a day.
      const batch = Math.max(1, this.opts.pruneBatch ?? 100);
      let deleted = 0;
      for (let after = ""; ; ) {
        const page = this.opts.outbox.metaEntries(COMMAND_META_PREFIX, { after, limit: PRUNE_PAGE });
        if (page.length === 0) break;
        after = page[page.length - 1]!.key;
        const old = page
          .filter((row) => {
            const kept = parseKept(row.value);
            return kept === null || now - kept.at >= keepMs;
          })
          .map((row) => row.key);
        for (let i = 0; i < old.length; i += batch) {
          this.opts.runner.deleteMeta(old.slice(i, i + batch));
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        deleted += old.length;
        if (page.length < PRUNE_PAGE) break;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      if (deleted > 0) this.log.info({ deleted }, "command replies older than 24 hours forgotten");
      return deleted;
    } catch (err) {
      this.log.warn({ err }, "kept command replies could not be pruned; retrying in an hour");
      return 0;
    } finally {
      this.pruning = false;
    }
  }
}

/** A kept reply's time (wall ms) and reply, `null` when the text is not one. */
function parseKept(text: string): { at: number; reply: KeptReply["reply"] } | null {
  try {
    const v = JSON.parse(text) as Partial<KeptReply> | null;
    if (typeof v !== "object" || v === null || typeof v.at !== "string" || typeof v.reply !== "object" || v.reply === null) return null;
    const at = Date.parse(v.at);
    return Number.isFinite(at) ? { at, reply: v.reply } : null;
  } catch {
    return null;
  }
}

function clip(text: string, max = 64): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
