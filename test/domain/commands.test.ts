/**
 * MQTT commands as inputs of the pure machine (contract.md section 4, "Commands and telemetry"):
 * `tare` / `zero` judged per scale, `set_cards`, the audit event and kept reply of every valid
 * command, and the broker's client-id conflict. Transition tables: from-state, input, effects.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AUDIT_ARGS_MAX_BYTES, COMMAND_META_PREFIX, auditArgs, commandMetaKey, type KeptReply, type MachineCommand } from "../../src/domain/commands.js";
import { initialState, statusOf, step } from "../../src/domain/station-machine.js";
import type { StationContext, StationEffect, StationInput, StationState } from "../../src/domain/station-types.js";
import { doorContext, readyWithDoors, press } from "../support/doors.js";
import { ANNA, READY, STORED_SESSION, WALL0, card, close, open, recoverInput, recorded, run, testContext } from "../support/machine.js";

const at = (mono: number) => ({ mono, wall: WALL0 + mono });

/** The test station, scale-1 taking commands (MT-SICS-like), scale-2 a streaming one. */
function ctxWithCommands(base: StationContext = testContext()): StationContext {
  return { ...base, scales: base.scales.map((s) => ({ ...s, takesCommands: s.id === "scale-1" })) };
}

const tare = (scaleId: string, mono = 1000, id = "c-1"): StationInput => ({ type: "command", command: { id, name: "tare", args: { scale_id: scaleId } }, ...at(mono) });
const zero = (scaleId: string, mono = 1000, id = "c-1"): StationInput => ({ type: "command", command: { id, name: "zero", args: { scale_id: scaleId } }, ...at(mono) });

/** One line per effect that commands make: requests, audits, kept replies, replies. */
function summary(effects: StationEffect[]): string[] {
  return effects.flatMap((e): string[] => {
    switch (e.type) {
      case "scale_request":
        return [`request ${e.scaleId} ${e.request} ${e.commandId}`];
      case "command_reply":
        return [`reply ${e.commandId} ${e.outcome.ok ? "ok" : e.outcome.code}`];
      case "record": {
        const audits = e.events.flatMap((ev) => (ev.kind === "command" ? [`audit ${ev.data.name} ${ev.data.ok ? "ok" : String(ev.data.error_code)}`] : []));
        const kept = Object.keys(e.meta ?? {}).filter((k) => k.startsWith(COMMAND_META_PREFIX)).map((k) => `keep ${k}`);
        return [...audits, ...kept];
      }
      case "indicate":
      case "notice":
      case "status_changed":
        return [];
    }
  });
}

function stepAll(state: StationState, inputs: StationInput[], ctx: StationContext) {
  let s = state;
  const effects: StationEffect[] = [];
  for (const input of inputs) {
    const r = step(s, input, ctx);
    s = r.state;
    effects.push(...r.effects);
  }
  return { state: s, effects };
}

describe("tare and zero", () => {
  const ctx = ctxWithCommands();
  const doors = ctxWithCommands(doorContext());
  const rows: Array<{ name: string; ctx: StationContext; before: StationInput[]; input: StationInput; effects: string[]; message?: RegExp }> = [
    { name: "online idle scale that takes commands: a request", ctx, before: READY, input: tare("scale-1"), effects: ["request scale-1 tare c-1"] },
    { name: "zero likewise", ctx, before: READY, input: zero("scale-1"), effects: ["request scale-1 zero c-1"] },
    { name: "unknown scale: invalid", ctx, before: READY, input: tare("scale-9"), effects: ["audit tare invalid", "keep command/c-1", "reply c-1 invalid"], message: /no scale "scale-9"/ },
    { name: "streaming protocol: not_supported", ctx, before: READY, input: tare("scale-2"), effects: ["audit tare not_supported", "keep command/c-1", "reply c-1 not_supported"] },
    {
      name: "bin in an open session: busy",
      ctx,
      before: [...READY, card(ANNA, 500)],
      input: tare("scale-1"),
      effects: ["audit tare busy", "keep command/c-1", "reply c-1 busy"],
      message: /bin kitchen is in a session/,
    },
    {
      name: "bin in a recovered session: busy",
      ctx,
      before: [recoverInput([STORED_SESSION], 0)],
      input: zero("scale-1"),
      effects: ["audit zero busy", "keep command/c-1", "reply c-1 busy"],
    },
    { name: "offline scale: refused", ctx, before: [...READY, close("scale-1", 500)], input: tare("scale-1"), effects: ["audit tare refused", "keep command/c-1", "reply c-1 refused"], message: /offline/ },
    { name: "starting scale (port never opened): refused", ctx, before: [], input: tare("scale-1"), effects: ["audit tare refused", "keep command/c-1", "reply c-1 refused"], message: /starting/ },
    {
      name: "door unlocked (select mode, button pressed): busy",
      ctx: doors,
      before: [...readyWithDoors(doors), card(ANNA, 500), press("kitchen", 600)],
      input: tare("scale-1", 700),
      effects: ["audit tare busy", "keep command/c-1", "reply c-1 busy"],
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const { state } = run(row.before, row.ctx);
      const r = step(state, row.input, row.ctx);
      expect(summary(r.effects)).toEqual(row.effects);
      expect(r.state).toEqual(state);
      if (row.message) {
        const reply = r.effects.find((e) => e.type === "command_reply");
        expect(reply?.type === "command_reply" && !reply.outcome.ok ? reply.outcome.message : "").toMatch(row.message);
      }
    });
  }

  it("ends with what the port did: sent is ok, the others refusals; each audited and kept once", () => {
    const outcomes = [
      ["sent", "audit tare ok"],
      ["unsupported", "audit tare not_supported"],
      ["not_open", "audit tare refused"],
      ["unknown_scale", "audit tare invalid"],
    ] as const;
    for (const [outcome, audit] of outcomes) {
      const r = step(
        initialState(ctx),
        { type: "scale_request_done", commandId: "c-7", scaleId: "scale-1", request: "tare", args: { scale_id: "scale-1" }, outcome, ...at(5) },
        ctx,
      );
      expect(summary(r.effects)).toEqual([audit, "keep command/c-7", `reply c-7 ${audit.split(" ")[2]}`]);
    }
  });

  it("the audit event's data and the kept reply", () => {
    const { state } = run(READY, ctx);
    const r = step(
      state,
      { type: "scale_request_done", commandId: "c-7", scaleId: "scale-1", request: "zero", args: { scale_id: "scale-1" }, outcome: "sent", ...at(2000) },
      ctx,
    );
    const record = r.effects.find((e) => e.type === "record");
    expect(recorded(r.effects)).toEqual([
      { kind: "command", subject: "st-001", data: { command_id: "c-7", name: "zero", args: { scale_id: "scale-1" }, ok: true, error_code: null } },
    ]);
    const kept = JSON.parse(record?.type === "record" ? (record.meta?.[commandMetaKey("c-7")] ?? "") : "") as KeptReply;
    expect(kept).toEqual({
      at: new Date(WALL0 + 2000).toISOString(),
      name: "zero",
      reply: { command_id: "c-7", ok: true, result: { scale_id: "scale-1", sent: true } },
    });
  });

  it("a refusal's audit has its error code", () => {
    const r = step(initialState(ctx), tare("scale-2"), ctx);
    expect(recorded(r.effects)[0]?.data).toEqual({ command_id: "c-1", name: "tare", args: { scale_id: "scale-2" }, ok: false, error_code: "not_supported" });
  });
});

describe("set_cards", () => {
  const ctx = testContext();
  const setCards = (args: Extract<MachineCommand, { name: "set_cards" }>["args"], id = "c-2"): StationInput => ({ type: "command", command: { id, name: "set_cards", args }, ...at(100) });

  it("replaces the given lists, keeps the others, and stores lists, audit and reply in one record", () => {
    const first = run([setCards({ collectors: ["1", "2"], maintenance: ["3"], blocked: ["4"], version: "v1" }, "c-1")], ctx);
    const r = step(first.state, setCards({ blocked: [], version: "v2" }), ctx);
    expect(r.state.cards).toEqual({ collectors: ["1", "2"], maintenance: ["3"], blocked: [], version: "v2" });
    const records = r.effects.filter((e) => e.type === "record");
    expect(records).toHaveLength(1);
    const record = records[0]!;
    if (record.type !== "record") throw new Error("not a record");
    expect(Object.keys(record.meta ?? {}).sort()).toEqual(["cards", "command/c-2"]);
    expect(JSON.parse(record.meta?.cards ?? "")).toEqual(r.state.cards);
    expect(record.events.map((e) => e.data)).toEqual([{ command_id: "c-2", name: "set_cards", args: { blocked: [], version: "v2" }, ok: true, error_code: null }]);
    const reply = r.effects.find((e) => e.type === "command_reply");
    expect(reply).toEqual({ type: "command_reply", commandId: "c-2", outcome: { ok: true, result: { version: "v2", collectors: 2, maintenance: 1, blocked: 0 } } });
  });

  it("a set_cards of about 256 KiB (20,000 ids and more) is applied whole; its audit counts the lists, so it stays publishable", () => {
    const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => String(from + i).padStart(10, "0"));
    const args = { collectors: ids(19_000), blocked: ids(1_500, 50_000), version: "2026-11-29.1" };
    expect(JSON.stringify(args).length).toBeGreaterThan(256 * 1000);
    const r = step(initialState(ctx), setCards(args), ctx);
    expect(r.state.cards).toMatchObject({ collectors: args.collectors, blocked: args.blocked, version: "2026-11-29.1" });
    const audit = recorded(r.effects).find((e) => e.kind === "command");
    expect(audit?.data).toEqual({ command_id: "c-2", name: "set_cards", args: { collectors: { count: 19_000 }, blocked: { count: 1_500 }, version: "2026-11-29.1" }, ok: true, error_code: null });
    expect(JSON.stringify(audit?.data).length).toBeLessThan(1000);
  });
});

describe("auditArgs", () => {
  const list = (bytes: number) => ["x".repeat(bytes - 4)]; // ["…"]: the quotes and brackets
  it("keeps args up to AUDIT_ARGS_MAX_BYTES of JSON as received, counts the lists above", () => {
    const at = { collectors: list(AUDIT_ARGS_MAX_BYTES - 30), version: "v1" }; // {"collectors":…,"version":"v1"}: 30 bytes around the list
    expect(JSON.stringify(at).length).toBe(AUDIT_ARGS_MAX_BYTES);
    expect(auditArgs(at)).toBe(at);
    const over = { collectors: list(AUDIT_ARGS_MAX_BYTES - 29), version: "v1" };
    expect(auditArgs(over)).toEqual({ collectors: { count: 1 }, version: "v1" });
  });
  it("counts UTF-8 bytes, not characters", () => {
    const ascii = { collectors: ["a".repeat(40_000)], version: "v" };
    expect(auditArgs(ascii)).toBe(ascii);
    const wide = { collectors: ["é".repeat(40_000)], version: "v" }; // 80,000 bytes
    expect(auditArgs(wide)).toEqual({ collectors: { count: 1 }, version: "v" });
    const astral = { collectors: ["😀".repeat(20_000)], version: "v" }; // 80,000 bytes
    expect(auditArgs(astral)).toEqual({ collectors: { count: 1 }, version: "v" });
  });
});

describe("commands executed outside the machine", () => {
  const ctx = testContext();
  const done = (name: string, ok: boolean): StationInput => ({
    type: "command_done",
    commandId: `id-${name}`,
    name,
    args: name === "replay" ? { from_seq: 1 } : {},
    outcome: ok ? { ok: true, result: { count: 2 } } : { ok: false, code: "refused", message: "no" },
    ...at(10),
  });
  it("audits replay and reload_config, refused or not; status only keeps its reply", () => {
    expect(summary(step(initialState(ctx), done("replay", true), ctx).effects)).toEqual(["audit replay ok", "keep command/id-replay", "reply id-replay ok"]);
    expect(summary(step(initialState(ctx), done("reload_config", false), ctx).effects)).toEqual([
      "audit reload_config refused",
      "keep command/id-reload_config",
      "reply id-reload_config refused",
    ]);
    const status = step(initialState(ctx), done("status", true), ctx);
    expect(summary(status.effects)).toEqual(["keep command/id-status", "reply id-status ok"]);
    expect(recorded(status.effects)).toEqual([]);
  });
});

describe("client id conflict", () => {
  const ctx = testContext();
  const conflict = (active: boolean, mono: number): StationInput => ({ type: "broker_conflict", active, ...at(mono) });
  const alarms = (effects: StationEffect[]) => recorded(effects).flatMap((e) => (e.kind === "alarm" ? [`${e.data.code} ${e.subject}`] : []));

  it("one alarm per onset, a status field while it lasts", () => {
    const rows: Array<[boolean, string[], boolean]> = [
      [false, [], false],
      [true, ["client_id_conflict st-001"], true],
      [true, [], true],
      [false, [], false],
      [true, ["client_id_conflict st-001"], true],
    ];
    let state = run([open("scale-1")], ctx).state;
    rows.forEach(([active, expected, flagged], i) => {
      const r = step(state, conflict(active, 100 * i), ctx);
      expect(alarms(r.effects), `row ${i}`).toEqual(expected);
      expect(r.effects.some((e) => e.type === "status_changed"), `row ${i}`).toBe(active === (state.clientIdConflict !== true) && (active || state.clientIdConflict === true));
      state = r.state;
      expect(statusOf(state, ctx).client_id_conflict, `row ${i}`).toBe(flagged ? true : undefined);
    });
  });

  it("the alarm says a second gateway uses the same client id", () => {
    const r = stepAll(initialState(ctx), [conflict(true, 0)], ctx);
    const data = recorded(r.effects)[0]?.data as { message: string };
    expect(data.message).toMatch(/second gateway uses the same MQTT client id/);
    expect(data.message).toMatch(/cloned SD card/);
  });
});

describe("commands over random sequences", () => {
  const ctx = ctxWithCommands();
  const SCALES = ["scale-1", "scale-2", "scale-9"];
  const input = fc.oneof(
    { weight: 4, arbitrary: fc.record({ s: fc.constantFrom("scale-1", "scale-2"), g: fc.integer({ min: 0, max: 20_000 }) }).map(({ s, g }) => (mono: number) => weighFramesAt(s, g, mono)) },
    { weight: 2, arbitrary: fc.constantFrom(ANNA, "0000000001").map((c) => (mono: number) => [card(c, mono)]) },
    { weight: 2, arbitrary: fc.record({ d: fc.constantFrom("scale-1", "scale-2"), up: fc.boolean() }).map(({ d, up }) => (mono: number) => [up ? open(d, mono) : close(d, mono)]) },
    { weight: 3, arbitrary: fc.constant((mono: number) => [{ type: "tick" as const, ...at(mono) }]) },
    {
      weight: 4,
      arbitrary: fc.record({ s: fc.constantFrom(...SCALES), name: fc.constantFrom("tare" as const, "zero" as const) }).map(({ s, name }) => (mono: number): StationInput[] => [
        { type: "command", command: { id: `c-${mono}`, name, args: { scale_id: s } }, ...at(mono) },
      ]),
    },
    {
      weight: 1,
      arbitrary: fc.array(fc.constantFrom("1", "2", "3"), { maxLength: 3 }).map((list) => (mono: number): StationInput[] => [
        { type: "command", command: { id: `c-${mono}`, name: "set_cards", args: { collectors: list, version: `v${mono}` } }, ...at(mono) },
      ]),
    },
  );

  it("each command ends in one request or one kept, audited reply; no request while its bin is in a session", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ dt: fc.integer({ min: 20, max: 20_000 }), make: input }), { maxLength: 40 }), (drafts) => {
        let state = initialState(ctx);
        let mono = 0;
        for (const d of drafts) {
          mono += d.dt;
          for (const i of d.make(mono)) {
            const r = step(state, i, ctx);
            // The session as the command found it: the machine first ends a session whose time ran
            // out at this instant (idle close), then decides the command; a command never opens one.
            const busy = r.state.session.phase !== "idle" && r.state.session.bins.some((b) => b.binId === "kitchen");
            if (i.type === "command") {
              const requests = r.effects.filter((e) => e.type === "scale_request");
              const replies = r.effects.filter((e) => e.type === "command_reply");
              expect(requests.length + replies.length).toBe(1);
              if (requests.length === 1) expect(busy).toBe(false);
              if (replies.length === 1) {
                const kept = r.effects.filter((e) => e.type === "record" && e.meta?.[commandMetaKey(i.command.id)] !== undefined);
                expect(kept).toHaveLength(1);
                expect(recorded(r.effects).filter((e) => e.kind === "command")).toHaveLength(1);
              }
            }
            state = r.state;
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});

function weighFramesAt(scaleId: string, grams: number, mono: number): StationInput[] {
  return [mono - 10, mono].map((t) => ({ type: "scale_data" as const, scaleId, bytes: 18, frames: [{ kind: "weight" as const, grams, stable: true, mode: "gross" as const }], ...at(t) }));
}
