/**
 * Schema versions (issue 7, item 6): every earlier version migrates forward keeping every event; a
 * newer database opens when it says this version can use it and is refused otherwise, untouched; a
 * migration is one transaction, so a failed or killed one leaves the previous version intact.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import Database from "better-sqlite3";
import { pino } from "pino";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { Outbox } from "../../src/adapters/outbox/outbox.js";
import { READABLE_BY_KEY, SCHEMA_VERSION, migrate } from "../../src/adapters/outbox/schema.js";
import { ROOT, buildOnce } from "../support/build.js";
import { refusal, writeOldOutbox } from "./outbox-files.js";

const logger = pino({ level: "silent" });

function facts(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    const tables = db
      .prepare<[], { name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
      .all()
      .map((r) => r.name);
    const meta = Object.fromEntries(
      db
        .prepare<[], { key: string; value: string }>("SELECT key, value FROM meta")
        .all()
        .map((r) => [r.key, r.value]),
    );
    const events = db.prepare<[], { seq: number; id: string; payload: string; published_at: string | null }>("SELECT seq, id, payload, published_at FROM events ORDER BY seq").all();
    const counter = db.prepare<[], { value: number }>("SELECT value FROM counter").get()!.value;
    return { version: db.pragma("user_version", { simple: true }) as number, tables, meta, events, counter };
  } finally {
    db.close();
  }
}

describe("outbox schema versions", () => {
  let dir: string;
  let path: string;
  const opened: Outbox[] = [];
  const open = () => {
    const o = Outbox.open({ path, stationId: "st-001", logger, clockSynced: () => true });
    opened.push(o);
    return o;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "smartbin-schema-"));
    path = join(dir, "smartbin.db");
  });
  afterEach(() => {
    for (const o of opened.splice(0)) o.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("this version writes schema 3, marked readable by schema 2 code, with a database id", () => {
    open();
    const f = facts(path);
    expect(SCHEMA_VERSION).toBe(3);
    expect(f.version).toBe(3);
    expect(f.tables).toEqual(["counter", "events", "meta", "open_sessions"]);
    expect(f.meta).toMatchObject({ station_id: "st-001", [READABLE_BY_KEY]: "2" });
    expect(f.meta.database_id).toMatch(/^[0-9a-f]{32}$/);
  });

  it.each([1, 2] as const)("migrates a schema %i database forward, every event, seq and published state kept", (version) => {
    writeOldOutbox(path, version, 12, 5);
    const before = facts(path);
    const outbox = open();
    const after = facts(path);
    expect(after.version).toBe(SCHEMA_VERSION);
    expect(after.events).toEqual(before.events);
    expect(after.counter).toBe(12);
    expect(after.meta[READABLE_BY_KEY]).toBe("2");
    expect(outbox.status()).toMatchObject({ pending: 7, published: 5, last_seq: 12 });
    expect(outbox.openSessions()).toHaveLength(version === 2 ? 1 : 0);
    expect(outbox.append("deposit", "kitchen", {}).seq).toBe(13);
    outbox.commit({ events: [], session: { op: "put", id: "s9", state: {} } });
  });

  it("an empty file (created, never migrated) becomes a new outbox", () => {
    Outbox.open({ path, stationId: "st-001", logger }).close();
    rmSync(path);
    rmSync(`${path}.state`);
    new Database(path).close(); // a zero-byte file
    expect(open().append("alarm", "x", {}).seq).toBe(1);
  });

  describe("a database of a newer version", () => {
    function newer(readable: number | null) {
      open().append("deposit", "kitchen", { n: 1 });
      opened.splice(0).forEach((o) => o.close());
      const db = new Database(path);
      db.exec("CREATE TABLE future_things (x TEXT)");
      db.exec("ALTER TABLE events ADD COLUMN future_field TEXT DEFAULT 'f'");
      if (readable === null) db.prepare("DELETE FROM meta WHERE key = ?").run(READABLE_BY_KEY);
      else db.prepare("UPDATE meta SET value = ? WHERE key = ?").run(String(readable), READABLE_BY_KEY);
      db.pragma(`user_version = ${SCHEMA_VERSION + 2}`);
      db.close();
    }

    it("opens when it says this version can still use it, and is left at its version", () => {
      newer(SCHEMA_VERSION);
      const outbox = open();
      expect(outbox.append("deposit", "kitchen", { n: 2 }).seq).toBe(2);
      expect(outbox.pendingAfter(0, 10).map((e) => e.seq)).toEqual([1, 2]);
      expect(Outbox.readStatus(path)).toMatchObject({ pending: 2, last_seq: 2 });
      outbox.close();
      expect(facts(path).version).toBe(SCHEMA_VERSION + 2);
      expect(facts(path).tables).toContain("future_things");
    });

    it.each([
      ["says it needs a newer version", SCHEMA_VERSION + 1],
      ["says nothing", null],
    ])("is refused, unchanged, when it %s", (_what, readable) => {
      newer(readable);
      const bytes = readFileSync(path);
      const err = refusal(open);
      expect(err.code).toBe("OUTBOX_OPEN_FAILED");
      expect(err.context).toMatchObject({ reason: "newer_schema", found: SCHEMA_VERSION + 2, supported: SCHEMA_VERSION });
      expect(err.message).toContain(`schema version ${SCHEMA_VERSION + 2}`);
      expect(readFileSync(path).equals(bytes)).toBe(true);
      expect(refusal(() => Outbox.readStatus(path)).code).toBe("OUTBOX_OPEN_FAILED");
      // Not taken for damage: nothing was moved aside.
      expect(readFileSync(path).equals(bytes)).toBe(true);
    });
  });

  it("a migration that fails part-way leaves the previous version as it was", () => {
    writeOldOutbox(path, 1, 8, 2);
    const before = facts(path);
    const db = new Database(path);
    expect(() =>
      migrate(db, path, {
        afterStep: (v) => {
          if (v === 2) throw new Error("power cut");
        },
      }),
    ).toThrow("power cut");
    db.close();
    expect(facts(path)).toEqual(before);
    const outbox = open();
    expect(facts(path).version).toBe(SCHEMA_VERSION);
    expect(outbox.status().last_seq).toBe(8);
  });

  describe("power lost during a migration", () => {
    beforeAll(() => buildOnce(), 120_000);

    it("a process killed inside the migration leaves the previous version intact, and the next start migrates", () => {
      writeOldOutbox(path, 1, 20, 4);
      const before = facts(path);
      const script = `
        import Database from "better-sqlite3";
        import { migrate } from ${JSON.stringify(join(ROOT, "dist/adapters/outbox/schema.js"))};
        const db = new Database(${JSON.stringify(path)});
        db.pragma("synchronous = FULL");
        migrate(db, "x", { afterStep: (v) => { if (v === 2) process.kill(process.pid, "SIGKILL"); } });`;
      const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, encoding: "utf8" });
      expect(r.signal).toBe("SIGKILL");
      expect(facts(path)).toEqual(before);
      const outbox = open();
      expect(facts(path).version).toBe(SCHEMA_VERSION);
      expect(facts(path).events).toEqual(before.events);
      expect(outbox.append("deposit", "kitchen", {}).seq).toBe(21);
    });
  });
});
