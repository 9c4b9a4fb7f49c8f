/**
 * The command service end to end on the station's side, with the real runner and machine and a
 * REAL SQLite outbox on disk: decode, dedupe (also across a restart: a second runner and service on
 * the same file), dispatch, audit, reply; the 24-hour pruning; the log's rate limit.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";

import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { Outbox } from "../../../src/adapters/outbox/outbox.js";
import { CommandService, type IncomingCommand, type ReloadOutcome, type ReplayPort } from "../../../src/app/commands/service.js";
import { replySchema } from "../../../src/app/commands/schemas.js";
import { StationRunner } from "../../../src/app/runner.js";
import type { ScaleRequestOutcome } from "../../../src/domain/commands.js";
import { ManualClock } from "../../support/manual-clock.js";
import { testContext } from "../../support/machine.js";

const silent = pino({ level: "silent" });
const HOUR = 3_600_000;

const incoming = (name: string, payload: unknown): IncomingCommand => ({
  name,
  topic: `smartbin/st-001/cmd/${name}`,
  payload: Buffer.isBuffer(payload) ? payload : Buffer.from(JSON.stringify(payload)),
});

/** A log sink: every line as an object. */
function sink() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: "info" }, stream) };
}

describe("CommandService with a real outbox", () => {
  let dir: string;
  let clock: ManualClock;
  const opened: Array<{ outbox: Outbox; runner: StationRunner; service: CommandService }> = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "smartbin-cmd-"));
    clock = new ManualClock();
  });
  afterEach(async () => {
    for (const o of opened.splice(0)) {
      await o.service.stop();
      await o.runner.stop();
      o.outbox.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** A station process on the database file: outbox, runner (no devices), service and fakes of the ports. */
  function boot(opts: { logger?: ReturnType<typeof sink>["logger"]; replay?: ReplayPort; reload?: () => Promise<ReloadOutcome>; scale?: ScaleRequestOutcome } = {}) {
    const outbox = Outbox.open({ path: join(dir, "smartbin.db"), stationId: "st-001", logger: silent, now: () => new Date(clock.wall()) });
    const requests: string[] = [];
    const base = testContext();
    const runner = new StationRunner({
      context: { ...base, scales: base.scales.map((s) => ({ ...s, takesCommands: true })) },
      devices: [],
      adapters: {
        outbox,
        publisher: { notify: () => undefined, publishStatus: () => undefined },
        logger: silent,
        newId: () => "0190f1a2-0000-7000-8000-000000000001",
        scales: {
          request: (scaleId, request) => {
            requests.push(`${scaleId} ${request}`);
            return opts.scale ?? "sent";
          },
        },
      },
      clock,
    });
    runner.start();
    const replies: string[] = [];
    const replays: string[] = [];
    const service = new CommandService({
      runner,
      outbox,
      reply: { reply: (_cmd, body) => void replies.push(body) },
      replay: opts.replay ?? {
        replay: (from, to) => {
          replays.push(`${from}-${to ?? ""}`);
          return { count: 0, firstHeldSeq: null };
        },
      },
      reload: { reload: opts.reload ?? (() => Promise.resolve({ ok: true, changed: ["log.level"], applied: "now" })) },
      clock,
      logger: opts.logger ?? silent,
    });
    service.start();
    opened.push({ outbox, runner, service });
    return { outbox, runner, service, replies, replays, requests };
  }

  /** The audit events in the database: their data. */
  const audits = (outbox: Outbox) =>
    outbox
      .pendingAfter(0, 1000)
      .filter((e) => e.kind === "command")
      .map((e) => (JSON.parse(e.payload) as { type: string; subject: string; data: Record<string, unknown> }));

  it("answers set_cards, audits it, and after a restart answers the same id with the same reply without running it again", async () => {
    const first = boot();
    const cmd = incoming("set_cards", { command_id: "c-1", collectors: ["0000000777"], version: "v1" });
    await first.service.handle(cmd);
    expect(first.replies).toHaveLength(1);
    const reply = JSON.parse(first.replies[0]!) as unknown;
    expect(replySchema.parse(reply)).toEqual({ command_id: "c-1", ok: true, result: { version: "v1", collectors: 1, maintenance: 0, blocked: 0 } });
    const [audit] = audits(first.outbox);
    expect(audit?.type).toBe("smartbin.command.v1");
    expect(audit?.subject).toBe("st-001");
    expect(audit?.data).toMatchObject({ command_id: "c-1", name: "set_cards", args: { collectors: ["0000000777"], version: "v1" }, ok: true, error_code: null, seq: 1 });
    // Repeated in the same process: the same bytes, no second audit.
    await first.service.handle(cmd);
    expect(first.replies[1]).toBe(first.replies[0]);
    expect(audits(first.outbox)).toHaveLength(1);

    // A restart: a new outbox, runner and service on the same file.
    opened.splice(0).forEach((o) => void o.service.stop());
    await first.runner.stop();
    first.outbox.close();
    clock.advance(HOUR);
    const second = boot();
    // Other lists meanwhile: a second execution of c-1 would put v1 back.
    await second.service.handle(incoming("set_cards", { command_id: "c-2", collectors: [], version: "v2" }));
    await second.service.handle(cmd);
    expect(second.replies[1]).toBe(first.replies[0]);
    expect(second.runner.snapshot().cards?.version).toBe("v2");
    expect(audits(second.outbox).map((a) => a.data.command_id)).toEqual(["c-1", "c-2"]);
  });

  it("forgets ids after 24 hours: pruned at start and hourly, in batches, then executed again", async () => {
    const first = boot();
    for (let i = 0; i < 5; i++) await first.service.handle(incoming("status", { command_id: `s-${i}` }));
    expect(first.outbox.metaEntries("command/")).toHaveLength(5);
    clock.advance(23 * HOUR);
    await first.service.handle(incoming("status", { command_id: "late" }));
    clock.advance(2 * HOUR);
    // The hourly prune ran (a turn of the event loop between batches).
    await new Promise((r) => setTimeout(r, 20));
    expect(first.outbox.metaEntries("command/").map((r) => r.key)).toEqual(["command/late"]);
    // An old id is new again.
    await first.service.handle(incoming("status", { command_id: "s-0" }));
    expect(first.outbox.metaEntries("command/")).toHaveLength(2);

    await first.runner.stop();
    opened.splice(0).forEach((o) => {
      void o.service.stop();
      o.outbox.close();
    });
    clock.advance(24 * HOUR);
    const second = boot();
    const pruned = await second.service.prune();
    // Both were pruned by the start's own prune already.
    expect(pruned).toBe(0);
    expect(second.outbox.metaEntries("command/")).toEqual([]);
  });

  it("prunes page by page: more kept replies than a page, old and recent mixed, only the old go", async () => {
    const s = boot();
    for (let i = 0; i < 1200; i++) {
      await s.service.handle(incoming("status", { command_id: `p-${String(i).padStart(4, "0")}` }));
      if (i === 699) clock.advance(23 * HOUR); // 700 old ones, 500 recent ones
    }
    await new Promise((r) => setTimeout(r, 50)); // the hourly prunes of the first 23 hours end
    clock.advance(2 * HOUR); // the hourly prune at 24 h
    for (let i = 0; i < 200 && s.outbox.metaEntries("command/").length !== 500; i++) await new Promise((r) => setTimeout(r, 10));
    const left = s.outbox.metaEntries("command/").map((r) => r.key);
    expect(left).toHaveLength(500);
    expect(left[0]).toBe("command/p-0700");
  });

  it("prunes in small batches, each its own commit, with a turn of the event loop in between", async () => {
    const s = boot();
    for (let i = 0; i < 5; i++) await s.service.handle(incoming("status", { command_id: `old-${i}` }));
    await s.service.stop();
    clock.advance(25 * HOUR);
    const batches: string[][] = [];
    const runner = s.runner;
    const service = new CommandService({
      runner: {
        command: (c) => runner.command(c),
        commandDone: (d) => runner.commandDone(d),
        deleteMeta: (keys) => {
          batches.push([...keys]);
          runner.deleteMeta(keys);
        },
        statusFields: () => runner.statusFields(),
        stats: () => runner.stats(),
      },
      outbox: s.outbox,
      reply: { reply: () => undefined },
      replay: { replay: () => ({ count: 0, firstHeldSeq: null }) },
      reload: { reload: () => Promise.resolve({ ok: true, changed: [], applied: "now" }) },
      clock,
      logger: silent,
      pruneBatch: 2,
    });
    await expect(service.prune()).resolves.toBe(5);
    expect(batches.map((b) => b.length)).toEqual([2, 2, 1]);
    expect(s.outbox.metaEntries("command/")).toEqual([]);
  });

  it("the same id while the first is still executing: executed once, both get the reply when it is ready", async () => {
    let finish: (v: { count: number; firstHeldSeq: number | null }) => void = () => undefined;
    let calls = 0;
    const s = boot({
      replay: {
        replay: () => {
          calls++;
          return new Promise((resolve) => {
            finish = resolve;
          });
        },
      },
    });
    const cmd = incoming("replay", { command_id: "r-1", from_seq: 1, to_seq: 9 });
    const a = s.service.handle(cmd);
    const b = s.service.handle(cmd);
    await new Promise((r) => setTimeout(r, 5));
    expect(s.replies).toEqual([]);
    finish({ count: 4, firstHeldSeq: 3 });
    await Promise.all([a, b]);
    expect(calls).toBe(1);
    expect(s.replies).toHaveLength(2);
    expect(s.replies[0]).toBe(s.replies[1]);
    expect(JSON.parse(s.replies[0]!)).toEqual({ command_id: "r-1", ok: true, result: { count: 4, first_held_seq: 3 } });
    expect(audits(s.outbox).map((a) => a.data)).toEqual([
      expect.objectContaining({ command_id: "r-1", name: "replay", args: { from_seq: 1, to_seq: 9 }, ok: true, error_code: null }),
    ]);
  });

  it("a replay the publisher cannot take now is refused with its code, audited, nothing claimed", async () => {
    const s = boot({ replay: { replay: () => ({ refused: "too many replays are waiting", code: "busy" }) } });
    await s.service.handle(incoming("replay", { command_id: "r-9", from_seq: 1 }));
    expect(JSON.parse(s.replies[0]!)).toEqual({ command_id: "r-9", ok: false, error: { code: "busy", message: "too many replays are waiting" } });
    expect(audits(s.outbox).map((a) => [a.data.command_id, a.data.ok, a.data.error_code])).toEqual([["r-9", false, "busy"]]);
  });

  it("status: the retained status with state online, the counters and the backlog; kept but not audited", async () => {
    const s = boot();
    await s.service.handle(incoming("replay", { command_id: "r", from_seq: 1 }));
    await s.service.handle(incoming("status", { command_id: "st" }));
    const reply = JSON.parse(s.replies[1]!) as { ok: true; result: { status: Record<string, unknown>; counters: Record<string, number>; backlog: number } };
    expect(reply.ok).toBe(true);
    expect(reply.result.status).toMatchObject({ state: "online", devices: { "scale-1": "starting" }, session: "idle", storage: { state: "ok" } });
    expect(Object.keys(reply.result.counters).sort()).toEqual(
      ["alarms", "deposits", "discarded_frames", "level_frames", "noise_frames", "reader_frames", "refused_sessions", "scale_frames", "sessions_opened"].sort(),
    );
    // The replay's audit event waits for its PUBACK.
    expect(reply.result.backlog).toBe(1);
    expect(audits(s.outbox).map((a) => a.data.name)).toEqual(["replay"]);
    expect(s.outbox.meta("command/st")).not.toBeNull();
    expect(s.replays).toEqual(["1-"]);
  });

  it("tare and zero go to the machine: refused for a scale not online, audited", async () => {
    const s = boot();
    await s.service.handle(incoming("tare", { command_id: "t-1", scale_id: "scale-1" }));
    expect(JSON.parse(s.replies[0]!)).toEqual({ command_id: "t-1", ok: false, error: { code: "refused", message: "scale scale-1 is starting" } });
    await s.service.handle(incoming("zero", { command_id: "t-2", scale_id: "nope" }));
    expect(JSON.parse(s.replies[1]!)).toMatchObject({ ok: false, error: { code: "invalid" } });
    expect(s.requests).toEqual([]);
    expect(audits(s.outbox).map((a) => [a.data.name, a.data.error_code])).toEqual([
      ["tare", "refused"],
      ["zero", "invalid"],
    ]);
  });

  it("reload_config: applied and changed, or refused with the problems", async () => {
    const ok = boot();
    await ok.service.handle(incoming("reload_config", { command_id: "l-1" }));
    expect(JSON.parse(ok.replies[0]!)).toEqual({ command_id: "l-1", ok: true, result: { applied: "now", changed: ["log.level"] } });
    await ok.runner.stop();
    opened.splice(0).forEach((o) => {
      void o.service.stop();
      o.outbox.close();
    });
    const bad = boot({ reload: () => Promise.resolve({ ok: false, code: "invalid", reasons: ["smartbin.yaml:3:5 scales[0].baud_rate: expected a number, found \"fast\""] }) });
    await bad.service.handle(incoming("reload_config", { command_id: "l-2" }));
    const reply = JSON.parse(bad.replies[0]!) as { ok: false; error: { code: string; message: string } };
    expect(reply.error.code).toBe("refused");
    expect(reply.error.message).toContain("the config file is invalid");
    expect(reply.error.message).toContain('smartbin.yaml:3:5 scales[0].baud_rate: expected a number, found "fast"');
    expect(audits(bad.outbox).map((a) => [a.data.command_id, a.data.ok, a.data.error_code])).toEqual([
      ["l-1", true, null],
      ["l-2", false, "refused"],
    ]);
  });

  it("an error inside a handler is an internal reply, logged and audited; the service goes on", async () => {
    const log = sink();
    const s = boot({
      logger: log.logger,
      replay: {
        replay: () => {
          throw new Error("database is locked");
        },
      },
    });
    await s.service.handle(incoming("replay", { command_id: "r-9", from_seq: 2 }));
    expect(JSON.parse(s.replies[0]!)).toMatchObject({ command_id: "r-9", ok: false, error: { code: "internal" } });
    expect(log.lines.some((l) => l.msg === "command failed" && l.level === 50)).toBe(true);
    expect(audits(s.outbox).map((a) => a.data.error_code)).toEqual(["internal"]);
    await s.service.handle(incoming("status", { command_id: "after" }));
    expect(JSON.parse(s.replies[1]!)).toMatchObject({ ok: true });
  });

  it("malformed and unknown commands: a reply only (not executed, not audited, not kept), warnings at most once a minute per kind", async () => {
    const log = sink();
    const s = boot({ logger: log.logger });
    const bad = [
      incoming("status", Buffer.from("{")),
      incoming("status", Buffer.from("[]")),
      incoming("reboot", { command_id: "x" }),
      incoming("replay", { command_id: "y", from_seq: "1" }),
    ];
    for (let i = 0; i < 50; i++) for (const cmd of bad) await s.service.handle(cmd);
    expect(s.replies).toHaveLength(200);
    expect(JSON.parse(s.replies[2]!)).toEqual({ command_id: "x", ok: false, error: { code: "unknown_command", message: 'no command "reboot"' } });
    expect(audits(s.outbox)).toEqual([]);
    expect(s.outbox.metaEntries("command/")).toEqual([]);
    const warns = () => log.lines.filter((l) => l.level === 40);
    expect(warns().map((l) => l.kind)).toEqual(["not_json", "not_object", "unknown_command", "schema"]);
    clock.advance(60_000);
    await s.service.handle(bad[2]!);
    expect(warns().at(-1)).toMatchObject({ kind: "unknown_command", suppressed: 49, msg: "unknown command refused" });
    // The same id once valid is a new command: a malformed one was never kept.
    await s.service.handle(incoming("status", { command_id: "y" }));
    expect(JSON.parse(s.replies.at(-1)!)).toMatchObject({ command_id: "y", ok: true });
  });

  it("at shutdown: a command taken before stop is answered and audited before stop resolves; after stop none is taken, run or audited", async () => {
    let finishReload = (): void => undefined;
    const station = boot({
      reload: () => new Promise<ReloadOutcome>((resolve) => (finishReload = () => resolve({ ok: true, changed: ["log.level"], applied: "now" }))),
    });
    expect(station.service.take(incoming("reload_config", { command_id: "r-1" }))).toBe(true);
    const stopped = station.service.stop(60_000);
    // Arriving once the shutdown has begun: not taken (the MQTT side withholds its PUBACK).
    expect(station.service.take(incoming("set_cards", { command_id: "late", blocked: ["0000000001"], version: "late" }))).toBe(false);
    let done = false;
    void stopped.then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    finishReload();
    await stopped;
    // Answered and audited while the runner could still commit.
    expect(station.replies.map((r) => (JSON.parse(r) as { command_id: string }).command_id)).toEqual(["r-1"]);
    expect(audits(station.outbox).map((a) => a.data.command_id)).toEqual(["r-1"]);
    expect(station.runner.snapshot().cards?.version).not.toBe("late");
  });

  it("a command that reaches the runner after it stopped is not executed (no audit could be committed): internal, logged", async () => {
    const log = sink();
    const station = boot({ logger: log.logger });
    await station.runner.stop();
    await station.service.handle(incoming("set_cards", { command_id: "after", blocked: ["0000000001"], version: "after" }));
    expect(JSON.parse(station.replies[0]!)).toMatchObject({ command_id: "after", ok: false, error: { code: "internal" } });
    expect(station.runner.snapshot().cards?.version).not.toBe("after");
  });

  it("a reply port that throws is logged, never thrown", async () => {
    const log = sink();
    const s = boot({ logger: log.logger });
    const service = new CommandService({
      runner: s.runner,
      outbox: s.outbox,
      reply: {
        reply: () => {
          throw new Error("not connected");
        },
      },
      replay: { replay: () => ({ count: 0, firstHeldSeq: null }) },
      reload: { reload: () => Promise.resolve({ ok: true, changed: [], applied: "now" }) },
      clock,
      logger: log.logger,
    });
    await expect(service.handle(incoming("status", { command_id: "z" }))).resolves.toBeUndefined();
    expect(log.lines.some((l) => l.msg === "a command's reply could not be sent")).toBe(true);
  });
});
