/**
 * The outbox's open-session rows and batch commits (issue "One pure station machine", item 7), on
 * SQLite files on disk.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { pino } from "pino";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Outbox } from "../../src/adapters/outbox/outbox.js";
import { ROOT, buildOnce } from "../support/build.js";

const logger = pino({ level: "silent" });
const alarm = (code: string) => ({ kind: "alarm", subject: "scale-1", data: { code, device_id: "scale-1", message: code } });
const state = (id: string) => ({ version: 1, session_id: id, card_id: "0008844356", reader_id: "reader-1", started_wall: 1, bins: [{ bin_id: "kitchen", baseline_g: 12_000 }], last_change_wall: null });

describe("Outbox.commit and open sessions", () => {
  let dir: string;
  let path: string;
  let outbox: Outbox;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "smartbin-sessions-"));
    path = join(dir, "station.db");
    outbox = Outbox.open({ path, stationId: "st-001", logger });
  });
  afterEach(() => {
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a session-only batch stores the session; a later batch records events and deletes it at once", () => {
    expect(outbox.commit({ events: [], session: { op: "put", id: "s1", state: state("s1") } })).toEqual([]);
    expect(outbox.openSessions()).toEqual([{ id: "s1", state: state("s1") }]);
    outbox.commit({ events: [], session: { op: "put", id: "s1", state: { ...state("s1"), last_change_wall: 5 } } });
    expect(outbox.openSessions()).toEqual([{ id: "s1", state: { ...state("s1"), last_change_wall: 5 } }]);
    const stored = outbox.commit({ events: [alarm("a"), alarm("b")], session: { op: "delete", id: "s1" } });
    expect(stored.map((e) => e.seq)).toEqual([1, 2]);
    expect(outbox.openSessions()).toEqual([]);
    expect(outbox.status().last_seq).toBe(2);
  });

  it("is all or nothing: a bad event in the batch leaves no event, no seq used and the session row as it was", () => {
    outbox.commit({ events: [], session: { op: "put", id: "s1", state: state("s1") } });
    const bad = { kind: "alarm", subject: "x", data: { seq: 99 } };
    expect(() => outbox.commit({ events: [alarm("a"), bad], session: { op: "delete", id: "s1" } })).toThrow(/cannot commit/);
    expect(outbox.status().last_seq).toBe(0);
    expect(outbox.openSessions()).toHaveLength(1);
    const unserialisable = { kind: "alarm", subject: "x", data: { n: 1n } as Record<string, unknown> };
    expect(() => outbox.commit({ events: [alarm("a"), unserialisable], session: { op: "delete", id: "s1" } })).toThrow(/cannot commit/);
    expect(outbox.status().last_seq).toBe(0);
    expect(outbox.openSessions()).toHaveLength(1);
    expect(outbox.commit({ events: [alarm("a")] })[0]!.seq).toBe(1);
  });

  it("the stored sessions survive a reopen, oldest first", () => {
    outbox.commit({ events: [], session: { op: "put", id: "s1", state: state("s1") } });
    outbox.commit({ events: [], session: { op: "put", id: "s2", state: state("s2") } });
    outbox.close();
    outbox = Outbox.open({ path, stationId: "st-001", logger });
    expect(outbox.openSessions().map((s) => s.id)).toEqual(["s1", "s2"]);
  });

  it("a row that is not JSON comes back with state null (the runner reports it, never trusts it)", () => {
    outbox.close();
    const db = new Database(path);
    db.prepare("INSERT INTO open_sessions (id, state, created_at, updated_at) VALUES ('bad', '{not json', 'x', 'x')").run();
    db.close();
    outbox = Outbox.open({ path, stationId: "st-001", logger });
    expect(outbox.openSessions()).toEqual([{ id: "bad", state: null }]);
  });
});

describe("a stored session survives SIGKILL", () => {
  beforeAll(() => buildOnce());
  it("commits a put in a child process that is then killed; the row is there on reopen", () => {
    const dir = mkdtempSync(join(tmpdir(), "smartbin-kill-"));
    const path = join(dir, "station.db");
    try {
      const script = `
        import { Outbox } from ${JSON.stringify(join(ROOT, "dist/adapters/outbox/outbox.js"))};
        import { pino } from "pino";
        const o = Outbox.open({ path: ${JSON.stringify(path)}, stationId: "st-001", logger: pino({ level: "silent" }) });
        o.commit({ events: [], session: { op: "put", id: "s1", state: { hello: 1 } } });
        process.kill(process.pid, "SIGKILL");`;
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT });
      expect(r.signal).toBe("SIGKILL");
      const outbox = Outbox.open({ path, stationId: "st-001", logger });
      expect(outbox.openSessions()).toEqual([{ id: "s1", state: { hello: 1 } }]);
      outbox.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
