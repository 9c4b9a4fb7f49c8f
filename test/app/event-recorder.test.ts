import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { EventRecorder, type RecordBatch } from "../../src/app/event-recorder.js";
import type { SessionWrite } from "../../src/domain/station-types.js";
import { SmartbinError } from "../../src/errors.js";
import { ManualClock } from "../support/manual-clock.js";

/** A fake outbox whose commits fail while `broken` is set. */
function fakeOutbox() {
  const rows: Array<{ seq: number; kind: string; subject: string; data: Record<string, unknown> }> = [];
  const sessions: SessionWrite[] = [];
  const outbox = {
    broken: false,
    rows,
    sessions,
    commit(batch: { events: Array<{ kind: string; subject: string; data: Record<string, unknown> }>; session?: SessionWrite }) {
      if (outbox.broken) throw new SmartbinError("OUTBOX_COMMIT_FAILED", "disk I/O error");
      const out = batch.events.map((e) => {
        const seq = rows.length + 1;
        rows.push({ seq, ...e });
        return { seq };
      });
      if (batch.session) sessions.push(batch.session);
      return out;
    },
  };
  return outbox;
}

/** Timers of a manual clock (nothing fires unless a test advances it). */
function timers(clock = new ManualClock()) {
  return { after: (ms: number, fn: () => void) => clock.after(ms, fn), wall: () => clock.wall() };
}

const alarm = (code: "scale_offline" | "scale_online" | "reader_offline"): RecordBatch => ({
  events: [{ kind: "alarm", subject: "scale-1", data: { code, device_id: "scale-1", message: code } }],
});

describe("EventRecorder", () => {
  it("commits at once and acknowledges each event after its commit, in order", () => {
    const outbox = fakeOutbox();
    const committed: number[] = [];
    const rec = new EventRecorder({
      outbox,
      logger: pino({ level: "silent" }),
      onCommitted: (_item, seq) => committed.push(seq),
      ...timers(),
      onStateChanged: () => undefined,
    });
    rec.record(alarm("scale_offline"));
    rec.record(alarm("scale_online"));
    expect(committed).toEqual([1, 2]);
    expect(outbox.rows.map((r) => r.data.code)).toEqual(["scale_offline", "scale_online"]);
    expect(rec.fault()).toBeNull();
  });

  it("keeps events through a storage fault, in order, and clears the fault when they commit", () => {
    const outbox = fakeOutbox();
    const committed: string[] = [];
    let faultChanges = 0;
    const rec = new EventRecorder({
      outbox,
      logger: pino({ level: "silent" }),
      onCommitted: (item) => committed.push(item.kind === "alarm" ? item.data.code : item.kind === "deposit" ? item.data.bin_id : item.kind),
      ...timers(),
      onStateChanged: () => faultChanges++,
    });
    outbox.broken = true;
    rec.record(alarm("scale_offline"));
    rec.record(alarm("reader_offline"));
    expect(committed).toEqual([]); // nothing is acknowledged before its commit
    expect(rec.fault()).toBe("disk I/O error");
    expect(rec.waitingCount()).toBe(2);

    rec.commitWaiting(); // still broken: nothing lost, nothing reordered
    expect(rec.waitingCount()).toBe(2);

    outbox.broken = false;
    rec.record(alarm("scale_online")); // queues behind the two that wait
    expect(committed).toEqual(["scale_offline", "reader_offline", "scale_online"]);
    expect(outbox.rows.map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(rec.fault()).toBeNull();
    expect(rec.waitingCount()).toBe(0);
    expect(faultChanges).toBeGreaterThanOrEqual(2); // appeared, then cleared
  });

  it("commits a batch's events and its session write together; a session-only batch is fine", () => {
    const outbox = fakeOutbox();
    const rec = new EventRecorder({ outbox, logger: pino({ level: "silent" }), onCommitted: () => undefined, onStateChanged: () => undefined, ...timers() });
    rec.record({ events: [], session: { op: "put", id: "s1", state: { version: 1, session_id: "s1", card_id: "c", reader_id: "r", started_wall: 0, bins: [], last_change_wall: null } } });
    rec.record({ ...alarm("scale_offline"), session: { op: "delete", id: "s1" } });
    expect(outbox.sessions.map((s) => s.op)).toEqual(["put", "delete"]);
    expect(outbox.rows).toHaveLength(1);
    outbox.broken = true;
    rec.record({ events: [], session: { op: "put", id: "s2", state: { version: 1, session_id: "s2", card_id: "c", reader_id: "r", started_wall: 0, bins: [], last_change_wall: null } } });
    expect(rec.waitingBatches()).toBe(1);
    expect(rec.waitingCount()).toBe(0);
  });
});
