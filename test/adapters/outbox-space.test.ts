import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import Database from "better-sqlite3";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { Outbox, type OutboxOptions } from "../../src/adapters/outbox/outbox.js";
import { SmartbinError } from "../../src/errors.js";
import { buildOnce } from "../support/build.js";
import { isCI, toolAvailable } from "../support/require-tool.js";
import { manualWallClock } from "../support/wall-clock.js";

const logger = pino({ level: "silent" });


const alarm = (n: number, pad = 0) => ({
  kind: "alarm",
  subject: "st-001",
  data: { code: "scale_offline", device_id: "scale-1", message: `event ${n}${"x".repeat(pad)}` },
});

/** Issue 7, item 4: pruning in batches, the size measurement, the spill file and the reserve. */
describe("Outbox space: pruning, measuring, spilling", () => {
  let dir: string;
  let path: string;
  const open: Outbox[] = [];
  const clock = manualWallClock();

  function openOutbox(extra: Partial<OutboxOptions> = {}): Outbox {
    const outbox = Outbox.open({ path, stationId: "st-001", logger, now: clock.now, clockSynced: () => true, ...extra });
    open.push(outbox);
    return outbox;
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "smartbin-space-"));
    path = join(dir, "smartbin.db");
  });
  afterEach(() => {
    for (const o of open.splice(0)) o.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("prunes published events oldest first, in batches, before their retention when asked; pending events never", () => {
    const outbox = openOutbox();
    for (let i = 1; i <= 10; i++) outbox.append("alarm", "st-001", alarm(i).data);
    // 1, 2 and 5 stay pending (the broker never acknowledged them).
    outbox.markPublished([3, 4, 6, 7, 8, 9, 10]);
    expect(outbox.pruneBatch({ retentionDays: 1 })).toBe(0); // all younger than their retention
    expect(outbox.pruneBatch({ limit: 3 })).toBe(3);
    expect(outbox.pendingAfter(0, 100).map((e) => e.seq)).toEqual([1, 2, 5]);
    const left = () => new Database(path, { readonly: true }).prepare<[], { seq: number }>("SELECT seq FROM events ORDER BY seq").all().map((r) => r.seq);
    expect(left()).toEqual([1, 2, 5, 7, 8, 9, 10]); // 3, 4 and 6: the oldest published
    expect(outbox.pruneBatch({ limit: 100 })).toBe(4);
    expect(outbox.pruneBatch({})).toBe(0);
    expect(left()).toEqual([1, 2, 5]);
    expect(outbox.status()).toMatchObject({ pending: 3, published: 0, last_seq: 10 });
  });

  it("prunes past retention in batches of at most 500, each its own transaction (the write lock is free in between)", () => {
    const outbox = openOutbox();
    const seqs: number[] = [];
    for (let i = 1; i <= 1_200; i++) seqs.push(outbox.append("alarm", "st-001", alarm(i).data).seq);
    outbox.markPublished(seqs);
    clock.advance(8 * 86_400_000);
    expect(outbox.pruneBatch({ retentionDays: 7 })).toBe(500);
    const other = new Database(path, { timeout: 0 });
    other.exec("BEGIN IMMEDIATE"); // would throw SQLITE_BUSY if the prune still held the lock
    other.exec("COMMIT");
    other.close();
    expect(outbox.prune(7)).toBe(700);
    expect(outbox.status()).toMatchObject({ pending: 0, published: 0, last_seq: 1_200 });
  });

  it("measures the pages in use plus the WAL: pruning and a WAL truncation bring it down; the file never grows past its peak", () => {
    const outbox = openOutbox();
    const empty = outbox.measureSpace();
    expect(empty.freeBytes).toBeGreaterThan(0);
    const seqs: number[] = [];
    for (let i = 1; i <= 400; i++) seqs.push(outbox.append("alarm", "st-001", alarm(i, 3000).data).seq);
    outbox.truncateWal();
    const full = outbox.measureSpace();
    expect(full.usedBytes).toBeGreaterThan(empty.usedBytes + 400 * 3000);
    outbox.markPublished(seqs);
    while (outbox.pruneBatch({ limit: 50 }) > 0);
    outbox.truncateWal();
    const pruned = outbox.measureSpace();
    expect(pruned.usedBytes).toBeLessThan(full.usedBytes / 4);
    const fileSize = statSync(path).size;
    for (let i = 1; i <= 300; i++) outbox.append("alarm", "st-001", alarm(i, 3000).data);
    outbox.truncateWal();
    // Freed pages are used again before the file grows.
    expect(statSync(path).size).toBe(fileSize);
  });

  it("a commit against another connection's write lock fails fast with reason busy, and succeeds once it is free", () => {
    const outbox = openOutbox();
    const other = new Database(path);
    other.exec("BEGIN IMMEDIATE");
    const t0 = performance.now();
    let thrown: unknown;
    try {
      outbox.append("alarm", "st-001", alarm(1).data);
    } catch (err) {
      thrown = err;
    }
    const held = performance.now() - t0;
    expect(thrown).toBeInstanceOf(SmartbinError);
    expect((thrown as SmartbinError).code).toBe("OUTBOX_COMMIT_FAILED");
    expect((thrown as SmartbinError).context.reason).toBe("busy");
    expect(held).toBeLessThan(200); // the loop is held for the short busy timeout, not seconds
    let pruneErr: unknown;
    try {
      outbox.pruneBatch({});
    } catch (err) {
      pruneErr = err;
    }
    expect((pruneErr as SmartbinError).context.reason).toBe("busy");
    other.exec("COMMIT");
    other.close();
    expect(outbox.append("alarm", "st-001", alarm(1).data).seq).toBe(1);
  });

  it("a spill file is committed once, in order, with its recording times, before anything else; a copy put back is not committed again", () => {
    let outbox = openOutbox();
    outbox.append("alarm", "st-001", alarm(1).data);
    const file = outbox.spill([
      { time: "2026-11-29T10:00:00.000Z", events: [alarm(2)], session: { op: "put", id: "s1", state: { any: 1 } } },
      { time: "2026-11-29T10:00:05.000Z", events: [alarm(3), alarm(4)], session: { op: "delete", id: "s1" }, meta: { storage_alarm: "nearly_full" } },
    ]);
    expect(file).toBe(`${path}.spill`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const lines = readFileSync(file, "utf8").trim().split("\n");
    expect(lines).toHaveLength(3);
    copyFileSync(file, join(dir, "copy"));
    outbox.close();

    outbox = openOutbox();
    const spill = outbox.spilled();
    expect(spill?.batches.map((b) => b.events.length)).toEqual([1, 2]);
    const stored = outbox.commitSpill(spill!);
    expect(stored.map((b) => b.map((e) => e.seq))).toEqual([[2], [3, 4]]);
    expect(existsSync(file)).toBe(false);
    expect(outbox.spilled()).toBeNull();
    const times = outbox.pendingAfter(0, 10).map((e) => (JSON.parse(e.payload) as { time: string }).time);
    expect(times.slice(1)).toEqual(["2026-11-29T10:00:00.000Z", "2026-11-29T10:00:05.000Z", "2026-11-29T10:00:05.000Z"]);
    expect(outbox.meta("storage_alarm")).toBe("nearly_full");
    expect(outbox.openSessions()).toEqual([]);
    outbox.close();

    // The file removed by hand failed, say, or a backup put it back: its id says it is committed.
    copyFileSync(join(dir, "copy"), file);
    outbox = openOutbox();
    expect(outbox.spilled()).toBeNull();
    expect(existsSync(file)).toBe(false);
    expect(outbox.status().last_seq).toBe(4);
  });

  it("an unreadable spill file is moved aside, never deleted, and nothing of it is committed", () => {
    let outbox = openOutbox();
    outbox.close();
    rmSync(`${path}.spill`, { force: true });
    spawnSync("sh", ["-c", `printf '{"spill":1,"id":"x"}\\n{not json' > "${path}.spill"`]);
    outbox = openOutbox();
    expect(outbox.spilled()).toBeNull();
    expect(existsSync(`${path}.spill`)).toBe(false);
    expect(spawnSync("sh", ["-c", `ls "${dir}" | grep -c 'spill.unreadable-'`], { encoding: "utf8" }).stdout.trim()).toBe("1");
  });
});

// A full disk: CI runs as root, so the test gets its own small tmpfs in its own mount namespace
// (`unshare -m`), as the issue asks; the outbox runs in a child process on the built dist/.
const canMount = process.getuid?.() === 0 && toolAvailable("unshare") && toolAvailable("mount");
const mountReason = canMount ? "" : " (skipped: needs root with unshare and mount)";
/**
 * Runs `chain` (shell: `STEP name` runs `node fixtures/<fixture> DIR name`) in a mount namespace of
 * its own, on a 16 MiB tmpfs at DIR, with the built dist/; each step prints JSON lines `{step, …}`.
 */
async function onTmpfs(fixture: string, chain: string): Promise<{ code: unknown; err: string; steps: Record<string, Record<string, unknown>> }> {
  buildOnce();
  const dir = mkdtempSync(join(tmpdir(), "smartbin-full-"));
  try {
    const script = `mount -t tmpfs -o size=16m,mode=0700 tmpfs "$1" && { ${chain.replaceAll("STEP", '"$2" "$3" "$1"')}; }`;
    const args = ["-m", "sh", "-c", script, "sh", dir, process.execPath, join(import.meta.dirname, "fixtures", fixture)];
    const child = spawn("unshare", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise((resolve) => child.once("exit", resolve));
    const lines = out.trim().split("\n").filter((l) => l !== "");
    const steps = Object.fromEntries(lines.map((l) => JSON.parse(l) as { step: string } & Record<string, unknown>).map((st) => [st.step, st]));
    return { code, err, steps };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe(`Outbox on a full disk (a 16 MiB tmpfs)${mountReason}`, () => {
  if (!canMount) {
    if (isCI()) it("root with unshare and mount is required in CI", () => expect.fail("cannot mount a tmpfs here"));
    else it.skip("full disk", () => undefined);
    return;
  }

  it("commits what was accepted out of the reserve; truly full, a fault; the waiting events spill (0600) and commit first at the next start", async () => {
    const { code, err, steps } = await onTmpfs("full-disk.mjs", "STEP fill && STEP reopen");
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(steps.opened).toMatchObject({ reserved: true, reserve: 2 * 1_048_576 });
    expect(steps["disk full"]).toMatchObject({ free: 0 });
    // The reserve gave room for what was accepted, and kept room for a spill file.
    expect(steps["committed from the reserve"]).toMatchObject({ seqs: [2, 3, 4, 5, 6], reserve: 256 * 1024 });
    expect(steps["truly full"]).toMatchObject({ states: ["fault"], waiting: 1 });
    expect(steps.spilled).toMatchObject({ events: 1, mode: "600", reserve: null });
    expect(steps["committed the spill"]).toMatchObject({ batches: 1, seqs: [7], last_seq: 7, spill_left: false });
    expect(steps["reserve again"]).toMatchObject({ reserved: true, reserve: 2 * 1_048_576 });
    expect(steps["third open"]).toMatchObject({ spilled: null, last_seq: 7 });
  });

  it("a salvage that cannot write everything on a nearly full disk stops with the damaged files in place; the next start salvages it all, the open session too", async () => {
    // `crash` kills itself (SIGKILL): the steps after it run whatever its exit.
    const { code, steps } = await onTmpfs("salvage-full-disk.mjs", "STEP crash; STEP lose-wal && STEP full-open && STEP reopen");
    expect(code).toBe(0);
    expect(steps.crashing).toMatchObject({ sessions: 1, last_seq: 500 });
    // Another connection closed last: the WAL is gone after an unclean stop, so the next start salvages.
    expect(steps["wal gone"]).toMatchObject({ wal: false });
    // Not finished with less: the start fails, nothing is set aside (a partial new database is removed at the next start).
    expect(steps["open failed"]).toMatchObject({ code: "OUTBOX_OPEN_FAILED", cause: expect.stringMatching(/^salvage stopped.*disk is full/) });
    expect((steps["open failed"]!.files as string[]).filter((f) => f.includes(".corrupt-"))).toEqual([]);
    const reopened = steps.reopened!;
    expect(reopened).toMatchObject({ sessions: ["sess-22"], held: 201 });
    expect((reopened.files as string[]).filter((f) => /\.corrupt-[0-9TZ]+$/.test(f))).toHaveLength(1);
  });

  it("a start that fails on a full disk after a crash leaves the WAL in place: the next start opens the database as it is, no salvage", async () => {
    const { code, steps } = await onTmpfs("salvage-full-disk.mjs", "STEP crash; STEP full-start && STEP reopen");
    expect(code).toBe(0);
    expect(steps.crashing).toMatchObject({ sessions: 1, last_seq: 500 });
    expect(steps["start failed"]).toMatchObject({ code: "OUTBOX_OPEN_FAILED", cause: "ENOSPC" });
    // Said in words: SQLite's own "disk I/O error" would send a technician after the SD card.
    expect(steps["start failed"]!.message).toMatch(/^cannot open outbox database .*station\.db \(its file system is full: \d+ bytes free; free some space, then start again\)$/);
    // Closed as the last connection, SQLite would have checkpointed the WAL into the file and deleted it.
    expect(steps["start failed"]!.wal_bytes).toBeGreaterThan(0);
    expect(steps.reopened).toMatchObject({ salvaged: false, sessions: ["sess-22"], last_seq: 500, held: 200 });
  });
});
