import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";

import Database from "better-sqlite3";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { Outbox } from "../../src/adapters/outbox/outbox.js";
import { OutboxReader } from "../../src/adapters/outbox/reader.js";
import type { HeldEvent } from "../../src/adapters/outbox/reader.js";
import { READABLE_BY_KEY, SCHEMA_VERSION } from "../../src/adapters/outbox/schema.js";
import { runOutboxExport } from "../../src/cli/outbox-export.js";
import { formatHeldEvent, runOutboxList } from "../../src/cli/outbox-list.js";

const logger = pino({ level: "silent" });

const deposit = { bin_id: "kitchen", category: "food_waste", card_id: "0008844356", net_g: 1250, points: 2 };

/** Drains a generator of pages into seqs, and the largest page seen. */
function collect(pages: Iterable<HeldEvent[]>): { seqs: number[]; largest: number } {
  const seqs: number[] = [];
  let largest = 0;
  for (const page of pages) {
    largest = Math.max(largest, page.length);
    seqs.push(...page.map((e) => e.seq));
  }
  return { seqs, largest };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A writable that keeps what it is given, as stdout would. */
function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString("utf8") };
}

describe("OutboxReader and the list/export commands (SQLite files on disk)", () => {
  let dir: string;
  let path: string;
  const opened: Array<{ close(): void }> = [];

  function outbox(): Outbox {
    const o = Outbox.open({ path, stationId: "st-001", logger, clockSynced: () => true });
    opened.push(o);
    return o;
  }

  function reader(at = path): OutboxReader {
    const r = OutboxReader.open(at);
    if (r === null) throw new Error("no outbox");
    opened.push(r);
    return r;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "smartbin-reader-"));
    path = join(dir, "data", "smartbin.db");
  });
  afterEach(() => {
    for (const o of opened.splice(0)) o.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("finds no outbox where there is no database, and creates neither file nor folder", () => {
    expect(OutboxReader.open(path)).toBeNull();
    expect(existsSync(join(dir, "data"))).toBe(false);
    writeFileSync(join(dir, "empty.db"), "");
    expect(OutboxReader.open(join(dir, "empty.db"))).toBeNull();
  });

  it("refuses a file that is not a database, and a newer schema that does not admit this version, with OUTBOX_OPEN_FAILED", () => {
    writeFileSync(join(dir, "junk.db"), "this is not sqlite, just text long enough to matter".repeat(20));
    expect(() => OutboxReader.open(join(dir, "junk.db"))).toThrow(expect.objectContaining({ code: "OUTBOX_OPEN_FAILED" }));
    const o = outbox();
    o.append("deposit", "kitchen", deposit);
    o.close();
    const newer = (readableBy: number) => {
      const db = new Database(path);
      db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
      db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(READABLE_BY_KEY, String(readableBy));
      db.close();
    };
    newer(SCHEMA_VERSION + 1);
    expect(() => OutboxReader.open(path)).toThrow(expect.objectContaining({ code: "OUTBOX_OPEN_FAILED" }));
    // A newer version that says this one can still read it (an additive change) is read.
    newer(SCHEMA_VERSION);
    expect(collect(reader().pages()).seqs).toEqual([1]);
  });

  it("pages every held event oldest first, never more than a page at a time, with --pending and an inclusive --since", () => {
    const o = outbox();
    for (let i = 0; i < 25; i++) o.append(i % 5 === 4 ? "alarm" : "deposit", "kitchen", i % 5 === 4 ? { code: "scale_offline" } : deposit);
    o.markPublished(range(1, 10));
    const r = reader();
    expect(r.lastHeldSeq).toBe(25);
    expect(collect(r.pages({ pageSize: 7 }))).toEqual({ seqs: range(1, 25), largest: 7 });
    expect(collect(r.pages({ pageSize: 4, pendingOnly: true })).seqs).toEqual(range(11, 25));
    expect(collect(r.pages({ pageSize: 4, sinceSeq: 7 })).seqs).toEqual(range(7, 25));
    expect(collect(r.pages({ pageSize: 4, sinceSeq: 7, pendingOnly: true })).seqs).toEqual(range(11, 25));
    expect(collect(r.pages({ sinceSeq: 26 })).seqs).toEqual([]);
    const [first] = r.pages({ sinceSeq: 11, pageSize: 1 });
    expect(first![0]).toMatchObject({ seq: 11, kind: "deposit", subject: "kitchen", published_at: null });
    expect(first![0]!.payload).toBe(o.pendingAfter(10, 1)[0]!.payload);
  });

  it("lists the events held when it was opened: later appends are not listed, pruned ones are skipped", () => {
    const o = outbox();
    for (let i = 0; i < 10; i++) o.append("deposit", "kitchen", deposit);
    const r = reader();
    const pages = r.pages({ pageSize: 3 });
    expect(pages.next().value).toHaveLength(3);
    // Between pages no read transaction is held: the station appends, publishes and prunes freely.
    o.append("deposit", "kitchen", deposit);
    o.markPublished(range(4, 6));
    const raw = new Database(path);
    raw.prepare("DELETE FROM events WHERE seq IN (7, 8)").run();
    raw.close();
    const rest = collect({ [Symbol.iterator]: () => pages });
    expect(rest.seqs).toEqual([4, 5, 6, 9, 10]);
  });

  it("reads the committed events while another connection holds the write lock", () => {
    const o = outbox();
    o.append("deposit", "kitchen", deposit);
    const writer = new Database(path);
    writer.exec("BEGIN IMMEDIATE");
    writer.prepare("INSERT INTO events (seq, id, kind, subject, time, payload) VALUES (99, 'x', 'deposit', 'k', 't', '{}')").run();
    try {
      const started = Date.now();
      expect(collect(reader().pages()).seqs).toEqual([1]);
      expect(Date.now() - started).toBeLessThan(1000); // a WAL reader does not wait for the busy timeout
    } finally {
      writer.exec("ROLLBACK");
      writer.close();
    }
  });

  it("formats a readable line: seq, time, kind, subject, state and the kind's details, card ids masked", () => {
    const o = outbox();
    o.append("deposit", "kitchen", deposit);
    o.append("alarm", "scale-1", { code: "scale_offline", device_id: "scale-1", reason: "no valid frames" });
    o.append("maintenance", "st-001", { card_id: "0008844356" });
    o.markPublished([1]);
    const [events] = reader().pages();
    const [dep, alarm, other] = events!.map((e) => formatHeldEvent(e, 3));
    expect(dep).toMatch(/^ {2}1 {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z {2}deposit +kitchen +published {2}bin=kitchen net_g=1250 points=2 card=\*{6}4356$/);
    expect(alarm).toMatch(/^ {2}2 .* alarm +scale-1 +pending {4}code=scale_offline device=scale-1$/);
    expect(other).toMatch(/^ {2}3 .* maintenance +st-001 +pending$/);
    expect(events!.map((e) => formatHeldEvent(e, 3)).join("\n")).not.toContain("0008844356");
  });

  it("shows control characters in a readable line as \\uXXXX: one line, no terminal escapes", () => {
    const o = outbox();
    o.append("deposit", "kitchen", { ...deposit, card_id: "00088443\u001b\n" });
    const [events] = reader().pages();
    const line = formatHeldEvent(events![0]!);
    expect(line).toMatch(/ card=\*{6}43\\u001b\\u000a$/);
    expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });

  it("runOutboxList writes one line per event, and stops quietly when the reader goes away", async () => {
    const o = outbox();
    for (let i = 0; i < 600; i++) o.append("deposit", "kitchen", deposit);
    const out = sink();
    const errors: string[] = [];
    expect(await runOutboxList(path, { pendingOnly: false, json: true }, out.stream, (l) => errors.push(l))).toBe(0);
    expect(out.text()).toBe(o.pendingAfter(0, 1000).map((e) => e.payload + "\n").join(""));
    expect(errors).toEqual([]);

    // A stdout whose reader left after the first chunk: EPIPE ends the listing, exit 0, nothing on stderr.
    let writes = 0;
    const closed = new Writable({
      write(_chunk, _enc, done) {
        writes++;
        done(writes === 1 ? null : Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
      },
    });
    expect(await runOutboxList(path, { pendingOnly: false, json: false }, closed, (l) => errors.push(l))).toBe(0);
    expect(writes).toBe(2);
    expect(errors).toEqual([]);
  });

  it("export leaves no file and no temporary file behind when the database fails part-way", () => {
    const o = outbox();
    for (let i = 0; i < 3000; i++) o.append("deposit", "kitchen", { ...deposit, note: "x".repeat(200) });
    o.close();
    // Scribble over a page in the second half of the events table: the first pages still read.
    const db = readFileSync(path);
    const pageSize = 4096;
    const victim = Math.floor(db.length / pageSize / 2) * pageSize;
    writeFileSync(path, Buffer.concat([db.subarray(0, victim), Buffer.alloc(pageSize, 0xa5), db.subarray(victim + pageSize)]));
    let readable = 0;
    expect(() => {
      for (const page of reader().pages()) readable += page.length;
    }).toThrow(expect.objectContaining({ code: "OUTBOX_OPEN_FAILED" }));
    expect(readable).toBeGreaterThan(0); // the export fails after writing part of it
    const file = join(dir, "export.jsonl");
    const errors: string[] = [];
    expect(runOutboxExport(path, file, false, (l) => errors.push(l))).toBe(1);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^smartbin outbox export: cannot write .*export\.jsonl: cannot read outbox database .*: database disk image is malformed/);
    expect(readdirSync(dir).sort()).toEqual(["data"]);
  });

  it("export writes the payloads as JSON lines, file mode 0600, and counts them on stderr", () => {
    const o = outbox();
    for (let i = 0; i < 3; i++) o.append("deposit", "kitchen", deposit);
    const file = join(dir, "export.jsonl");
    const errors: string[] = [];
    expect(runOutboxExport(path, file, false, (l) => errors.push(l))).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(o.pendingAfter(0, 10).map((e) => e.payload + "\n").join(""));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(errors).toEqual([`smartbin outbox export: 3 events written to ${file}`]);
  });
});
