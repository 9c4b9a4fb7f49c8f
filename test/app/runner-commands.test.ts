/**
 * Commands through the runner (src/app/runner.ts): a machine command resolves with the machine's
 * reply, `tare`/`zero` go to the scale port and end with what it did, audits and kept replies are
 * committed in one batch; the broker's client-id conflict; per-device frame counts.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { StationRunner, type DeviceHandlers, type OutboxPort, type RunnerDevice } from "../../src/app/runner.js";
import type { ScaleRequestOutcome } from "../../src/domain/commands.js";
import { encodeEm4100, encodeStGs, findProtocol } from "../../src/protocol/index.js";
import { ManualClock } from "../support/manual-clock.js";
import { testContext } from "../support/machine.js";

type Batch = Parameters<OutboxPort["commit"]>[0];

function station(scaleOutcome: ScaleRequestOutcome | "throws" = "sent") {
  const batches: Batch[] = [];
  const outbox: OutboxPort = {
    commit: (batch) => {
      batches.push(batch);
      return batch.events.map((_, i) => ({ seq: batches.length * 100 + i }));
    },
    openSessions: () => [],
  };
  const handlers: Record<string, DeviceHandlers> = {};
  const open = (id: string) => (h: DeviceHandlers) => {
    handlers[id] = h;
    return { start: () => undefined, stop: () => Promise.resolve() };
  };
  const devices: RunnerDevice[] = [
    { kind: "scale", id: "scale-1", framer: findProtocol("scale", "ascii-st-gs").configure().createFramer(), open: open("scale-1") },
    { kind: "reader", id: "reader-1", framer: findProtocol("reader", "em4100-ascii").configure().createFramer(), open: open("reader-1") },
  ];
  const base = testContext();
  const requests: string[] = [];
  let statusPublishes = 0;
  const clock = new ManualClock();
  const runner = new StationRunner({
    context: { ...base, scales: [{ ...base.scales[0]!, takesCommands: true }], readers: [base.readers[0]!], bins: [base.bins[0]!] },
    devices,
    adapters: {
      outbox,
      publisher: { notify: () => undefined, publishStatus: () => void statusPublishes++ },
      logger: pino({ level: "silent" }),
      newId: () => "0190f1a2-0000-7000-8000-000000000001",
      scales: {
        request: (scaleId, request) => {
          requests.push(`${scaleId} ${request}`);
          if (scaleOutcome === "throws") throw new Error("EIO");
          return scaleOutcome;
        },
      },
    },
    clock,
  });
  runner.start();
  handlers["scale-1"]?.onOpen();
  handlers["reader-1"]?.onOpen();
  const frame = encodeStGs({ grams: 1200, stable: true, mode: "gross" });
  handlers["scale-1"]?.onData(Buffer.concat([frame, frame]));
  return { runner, batches, requests, handlers, statuses: () => statusPublishes };
}

describe("runner: commands", () => {
  it("tare on an online idle scale: sent through the port, then audited, kept and answered in one batch", async () => {
    const s = station();
    const outcome = await s.runner.command({ id: "t-1", name: "tare", args: { scale_id: "scale-1" } });
    expect(outcome).toEqual({ ok: true, result: { scale_id: "scale-1", sent: true } });
    expect(s.requests).toEqual(["scale-1 tare"]);
    const batch = s.batches.at(-1)!;
    expect(batch.events.map((e) => [e.kind, e.data.name, e.data.ok])).toEqual([["command", "tare", true]]);
    expect(Object.keys(batch.meta ?? {})).toEqual(["command/t-1"]);
  });

  it("what the port says becomes the reply; a port that throws is a refusal, not a crash", async () => {
    for (const [port, code] of [
      ["not_open", "refused"],
      ["unsupported", "not_supported"],
      ["throws", "refused"],
    ] as const) {
      const s = station(port);
      const outcome = await s.runner.command({ id: "z", name: "zero", args: { scale_id: "scale-1" } });
      expect(outcome.ok ? "ok" : outcome.code, port).toBe(code);
    }
  });

  it("set_cards: the lists, the audit and the kept reply in one commit", async () => {
    const s = station();
    const outcome = await s.runner.command({ id: "c", name: "set_cards", args: { maintenance: ["1"], version: "v9" } });
    expect(outcome).toEqual({ ok: true, result: { version: "v9", collectors: 0, maintenance: 1, blocked: 0 } });
    const batch = s.batches.at(-1)!;
    expect(Object.keys(batch.meta ?? {}).sort()).toEqual(["cards", "command/c"]);
    expect(batch.events).toHaveLength(1);
  });

  it("commandDone audits a command run outside the machine and resolves with its outcome", async () => {
    const s = station();
    const outcome = await s.runner.commandDone({ commandId: "r", name: "replay", args: { from_seq: 4 }, outcome: { ok: true, result: { count: 0, first_held_seq: null } } });
    expect(outcome.ok).toBe(true);
    expect(s.batches.at(-1)?.events[0]?.data).toEqual({ command_id: "r", name: "replay", args: { from_seq: 4 }, ok: true, error_code: null });
  });

  it("deleteMeta deletes rows in one commit; none: no commit", () => {
    const s = station();
    const n = s.batches.length;
    s.runner.deleteMeta([]);
    expect(s.batches).toHaveLength(n);
    s.runner.deleteMeta(["command/a", "command/b"]);
    expect(s.batches.at(-1)).toEqual({ events: [], meta: { "command/a": null, "command/b": null } });
  });

  it("broker conflict: one alarm, the status field while it lasts, republished", () => {
    const s = station();
    const before = s.statuses();
    s.runner.brokerConflict(true);
    s.runner.brokerConflict(true);
    expect(s.runner.statusFields().client_id_conflict).toBe(true);
    expect(s.batches.flatMap((b) => b.events).filter((e) => e.data.code === "client_id_conflict")).toHaveLength(1);
    expect(s.statuses()).toBeGreaterThan(before);
    s.runner.brokerConflict(false);
    expect(s.runner.statusFields().client_id_conflict).toBeUndefined();
  });

  it("counts valid and discarded frames per device, reader noise as discarded", () => {
    const s = station();
    // A tag, and an all-zero tag (noise).
    s.handlers["reader-1"]?.onData(Buffer.concat([encodeEm4100("100086F444"), encodeEm4100("0000000000")]));
    expect(s.runner.deviceFrames()).toEqual({ "scale-1": { valid: 2, discarded: 0 }, "reader-1": { valid: 1, discarded: 1 } });
  });
});
