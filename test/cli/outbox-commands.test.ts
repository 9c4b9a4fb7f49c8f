import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import Database from "better-sqlite3";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { Outbox } from "../../src/adapters/outbox/outbox.js";
import { removeTempDirs, tempDir } from "../integration/harness.js";
import { buildOnce, ROOT, SMARTBIN } from "../support/build.js";
import { isCI, toolAvailable } from "../support/require-tool.js";

/**
 * `smartbin outbox list` and `smartbin outbox export` (contract.md section 1) as a technician runs
 * them: the built CLI on real SQLite files, beside a writer, into pipes that close early.
 */
beforeAll(() => buildOnce(), 120_000);
afterAll(() => removeTempDirs());

const logger = pino({ level: "silent" });

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function smartbin(args: string[]): Run {
  const r = spawnSync(process.execPath, [SMARTBIN, ...args], { cwd: ROOT, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString("utf8") };
}

/** A config in a fresh folder whose storage.path is `data/station.db` there (not created). */
function station(): { dir: string; config: string; db: string } {
  const dir = tempDir("smartbin-outbox-cli-");
  const config = join(dir, "config.yaml");
  writeFileSync(config, "station:\n  id: st-001\nstorage:\n  path: ./data/station.db\nmqtt:\n  url: mqtt://127.0.0.1:1\n");
  return { dir, config, db: join(dir, "data", "station.db") };
}

/**
 * Records `count` events (every fifth an alarm; non-ASCII text in each, to compare bytes) and marks
 * the first `published` of them published. Returns the stored payloads by seq (index 0 is seq 1).
 */
function record(db: string, count: number, published = 0): string[] {
  const outbox = Outbox.open({ path: db, stationId: "st-001", logger, clockSynced: () => true });
  try {
    const payloads: string[] = [];
    for (let i = 0; i < count; i++) {
      const event =
        i % 5 === 4
          ? outbox.append("alarm", "scale-1", { code: "scale_offline", device_id: "scale-1", message: "Waage offline — prüfen" })
          : outbox.append("deposit", "küche", { bin_id: "küche", category: "food_waste", card_id: "0008844356", net_g: 1000 + i, points: 2, note: "🚮" });
      payloads.push(event.payload);
    }
    outbox.markPublished(Array.from({ length: published }, (_, i) => i + 1));
    return payloads;
  } finally {
    outbox.close();
  }
}

/** The JSON lines of `payloads`, as UTF-8 bytes. */
const jsonLines = (payloads: string[]): Buffer => Buffer.from(payloads.map((p) => p + "\n").join(""), "utf8");

describe("smartbin outbox list", () => {
  it("on a database that does not exist prints nothing, exits 0, and creates nothing", () => {
    const s = station();
    for (const args of [[], ["--json"], ["--pending", "--since", "5"]]) {
      const r = smartbin(["outbox", "list", "-c", s.config, ...args]);
      expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout.length).toBe(0);
    }
    expect(existsSync(join(s.dir, "data"))).toBe(false);
  });

  it("--json prints the stored payloads byte for byte, oldest first; --pending and an inclusive --since filter them", () => {
    const s = station();
    const payloads = record(s.db, 12, 4);
    const all = smartbin(["outbox", "list", "--json", "-c", s.config]);
    expect(all).toMatchObject({ code: 0, stderr: "" });
    expect(all.stdout.equals(jsonLines(payloads))).toBe(true);

    expect(smartbin(["outbox", "list", "--json", "--pending", "-c", s.config]).stdout.equals(jsonLines(payloads.slice(4)))).toBe(true);
    expect(smartbin(["outbox", "list", "--json", "--since", "3", "-c", s.config]).stdout.equals(jsonLines(payloads.slice(2)))).toBe(true);
    expect(smartbin(["outbox", "list", "--json", "--since", "2", "--pending", "-c", s.config]).stdout.equals(jsonLines(payloads.slice(4)))).toBe(true);
    expect(smartbin(["outbox", "list", "--json", "--since", "13", "-c", s.config]).stdout.length).toBe(0);
  });

  it("prints one readable line per event, card ids masked", () => {
    const s = station();
    record(s.db, 6, 2);
    const r = smartbin(["outbox", "list", "-c", s.config]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    const lines = r.stdout.toString("utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(/^1 {2}\S+Z {2}deposit +küche +published {2}bin=küche net_g=1000 points=2 card=\*{6}4356$/);
    expect(lines[2]).toMatch(/^3 .* pending {4}bin=küche net_g=1002 /);
    expect(lines[4]).toMatch(/^5 .* alarm +scale-1 +pending {4}code=scale_offline device=scale-1$/);
    expect(r.stdout.toString("utf8")).not.toContain("0008844356");
    const pending = smartbin(["outbox", "list", "--pending", "--since", "4", "-c", s.config]).stdout.toString("utf8");
    expect(pending.trimEnd().split("\n").map((l) => Number(l.split(" ")[0]))).toEqual([4, 5, 6]);
  });

  it("lists the committed events while another process's writer holds the database open in a write transaction", () => {
    const s = station();
    const payloads = record(s.db, 3);
    const outbox = Outbox.open({ path: s.db, stationId: "st-001", logger, clockSynced: () => true });
    const writer = new Database(s.db);
    try {
      payloads.push(outbox.append("deposit", "küche", { net_g: 5 }).payload);
      writer.exec("BEGIN IMMEDIATE");
      writer.prepare("INSERT INTO events (seq, id, kind, subject, time, payload) VALUES (99, 'uncommitted', 'deposit', 'k', 't', '{}')").run();
      const started = Date.now();
      const r = smartbin(["outbox", "list", "--json", "-c", s.config]);
      expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout.equals(jsonLines(payloads))).toBe(true);
      expect(Date.now() - started).toBeLessThan(5_000); // never waits for the writer's busy timeout
      writer.exec("ROLLBACK");
      // The writer goes on as before.
      expect(outbox.append("deposit", "küche", { net_g: 6 }).seq).toBe(5);
    } finally {
      if (writer.inTransaction) writer.exec("ROLLBACK");
      writer.close();
      outbox.close();
    }
  });

  it("piped into head -1 ends quietly with exit 0 when head leaves (EPIPE)", () => {
    const s = station();
    const payloads = record(s.db, 3000); // about 700 KB of JSON: far more than a pipe buffer
    for (const args of [["--json"], []]) {
      const r = spawnSync(
        "bash",
        ["-c", '"$0" "$1" outbox list -c "$2" "${@:3}" | head -1; exit "${PIPESTATUS[0]}"', process.execPath, SMARTBIN, s.config, ...args],
        { cwd: ROOT, timeout: 60_000, encoding: "utf8" },
      );
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout.split("\n")).toHaveLength(2);
      if (args.includes("--json")) expect(r.stdout).toBe(payloads[0] + "\n");
    }
  });

  it("refuses a malformed --since and unknown options with a usage error (exit 2); a missing config is 78", () => {
    const s = station();
    for (const since of ["-3", "abc", "1.5", ""]) {
      const r = smartbin(["outbox", "list", "--since", since, "-c", s.config]);
      expect(r.code).toBe(2);
      expect(r.stdout.length).toBe(0);
    }
    expect(smartbin(["outbox", "list", "--since", "x", "-c", s.config]).stderr).toContain("--since");
    expect(smartbin(["outbox", "list", "--everything", "-c", s.config]).code).toBe(2);
    expect(smartbin(["outbox", "list", "-c", join(s.dir, "missing.yaml")]).code).toBe(78);
  });
});

describe("smartbin outbox export", () => {
  it("writes every held event as JSON lines to a new file and counts them on stderr", () => {
    const s = station();
    const payloads = record(s.db, 7, 3);
    const file = join(s.dir, "export.jsonl");
    const r = smartbin(["outbox", "export", file, "-c", s.config]);
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toBe(`smartbin outbox export: 7 events written to ${file}\n`);
    expect(readFileSync(file).equals(jsonLines(payloads))).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600); // card ids are personal data
    expect(readdirSync(s.dir).sort()).toEqual(["config.yaml", "data", "export.jsonl"]); // no temporary file left
  });

  it("refuses to overwrite an existing file (exit 1, file unchanged); --force replaces it", () => {
    const s = station();
    const payloads = record(s.db, 4);
    const file = join(s.dir, "export.jsonl");
    writeFileSync(file, "keep me\n");
    const refused = smartbin(["outbox", "export", file, "-c", s.config]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`smartbin outbox export: ${file} already exists; --force overwrites it\n`);
    expect(readFileSync(file, "utf8")).toBe("keep me\n");

    const forced = smartbin(["outbox", "export", file, "--force", "-c", s.config]);
    expect(forced).toMatchObject({ code: 0, stderr: `smartbin outbox export: 4 events written to ${file}\n` });
    expect(readFileSync(file).equals(jsonLines(payloads))).toBe(true);
    expect(readdirSync(s.dir).sort()).toEqual(["config.yaml", "data", "export.jsonl"]);
  });

  it("never replaces a folder, a FIFO, a device or a symlink to a device, even with --force (exit 1)", () => {
    const s = station();
    record(s.db, 2);
    const folder = join(s.dir, "a-folder");
    mkdirSync(folder);
    const fifo = join(s.dir, "a-fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const toNull = join(s.dir, "to-dev-null");
    symlinkSync("/dev/null", toNull);
    const cases: [string, string][] = [
      [folder, "a folder"],
      [fifo, "a FIFO"],
      [toNull, "a device"],
    ];
    // A device node of its own (root only): the test must never risk the real /dev/null.
    if (process.getuid?.() === 0) {
      const node = join(s.dir, "null-device");
      expect(spawnSync("mknod", ["-m", "666", node, "c", "1", "3"]).status).toBe(0);
      cases.push([node, "a device"]);
    }
    for (const [target, kind] of cases) {
      for (const force of [[], ["--force"]]) {
        const r = smartbin(["outbox", "export", target, ...force, "-c", s.config]);
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(
          `smartbin outbox export: ${target} is ${kind}, not a regular file; export writes a regular file and never replaces ${kind}\n`,
        );
      }
    }
    expect(statSync(folder).isDirectory()).toBe(true);
    expect(statSync(fifo).isFIFO()).toBe(true);
    expect(lstatSync(toNull).isSymbolicLink()).toBe(true);
    for (const [target] of cases.slice(3)) expect(statSync(target).isCharacterDevice()).toBe(true);
    expect(readdirSync(s.dir).filter((n) => n.endsWith(".part"))).toEqual([]);
  });

  it("never writes over the database or a file of its own, however the path is spelled, even with --force", () => {
    const s = station();
    const payloads = record(s.db, 3);
    const before = readFileSync(s.db);
    symlinkSync(join(s.dir, "data"), join(s.dir, "alias"));
    const targets: [string, string][] = [
      [s.db, "the outbox database itself"],
      [join(s.dir, "alias", "station.db"), "the outbox database itself"],
      [join(s.dir, "data", ".", "station.db"), "the outbox database itself"],
      [`${s.db}-wal`, "one of the outbox database's own files (station.db*)"],
      [`${s.db}.state`, "one of the outbox database's own files (station.db*)"],
      [`${s.db}.corrupt-20261207T150000Z`, "one of the outbox database's own files (station.db*)"],
      [join(s.dir, "alias", "station.db-shm"), "one of the outbox database's own files (station.db*)"],
    ];
    for (const [target, what] of targets) {
      const r = smartbin(["outbox", "export", target, "--force", "-c", s.config]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`smartbin outbox export: ${target} is ${what}; write the export somewhere else\n`);
    }
    expect(readFileSync(s.db).equals(before)).toBe(true);
    expect(existsSync(`${s.db}-wal`)).toBe(false);
    expect(existsSync(`${s.db}.corrupt-20261207T150000Z`)).toBe(false);
    // A name beside it that is not the database's own is fine.
    const beside = join(s.dir, "data", "export.jsonl");
    expect(smartbin(["outbox", "export", beside, "-c", s.config]).code).toBe(0);
    expect(readFileSync(beside).equals(jsonLines(payloads))).toBe(true);
  });

  it("fails with a clear message (exit 1) into a folder that does not exist, creating nothing", () => {
    const s = station();
    record(s.db, 2);
    const file = join(s.dir, "usb", "export.jsonl");
    const r = smartbin(["outbox", "export", file, "-c", s.config]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`smartbin outbox export: cannot write ${file}: folder ${join(s.dir, "usb")} does not exist\n`);
    expect(existsSync(join(s.dir, "usb"))).toBe(false);
  });

  it("fails (exit 1) on a database it cannot read, leaving no file", () => {
    const s = station();
    mkdirSync(join(s.dir, "data"));
    writeFileSync(s.db, "this is not sqlite, just text long enough to matter".repeat(20));
    const file = join(s.dir, "export.jsonl");
    const r = smartbin(["outbox", "export", file, "-c", s.config]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^smartbin outbox export: cannot read outbox database .*station\.db: /);
    expect(existsSync(file)).toBe(false);
  });

  it("writes an empty file when there is no database yet, and says so", () => {
    const s = station();
    const file = join(s.dir, "export.jsonl");
    const r = smartbin(["outbox", "export", file, "-c", s.config]);
    expect(r).toMatchObject({ code: 0, stderr: `smartbin outbox export: 0 events written to ${file} (no database at ${s.db})\n` });
    expect(readFileSync(file, "utf8")).toBe("");
    expect(existsSync(join(s.dir, "data"))).toBe(false);
  });

  it("without FILE, or with an unknown option, is a usage error (exit 2)", () => {
    const s = station();
    const missing = smartbin(["outbox", "export", "-c", s.config]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'file'");
    expect(smartbin(["outbox", "export", join(s.dir, "x.jsonl"), "--overwrite", "-c", s.config]).code).toBe(2);
    expect(existsSync(join(s.dir, "x.jsonl"))).toBe(false);
  });
});

// A station's card mounted read-only on a laptop: CI runs as root, where a chmod refuses nothing,
// so the folder is mounted read-only in the command's own mount namespace (`unshare -m`).
const canMount = process.getuid?.() === 0 && toolAvailable("unshare") && toolAvailable("mount");
describe(`smartbin outbox on a read-only file system${canMount ? "" : " (skipped: needs root with unshare and mount)"}`, () => {
  if (!canMount) {
    if (isCI()) it("root with unshare and mount is required in CI", () => expect.fail("cannot mount read-only here"));
    else it.skip("read-only mount", () => undefined);
    return;
  }

  /** Runs `smartbin ARGS` with `folder` mounted read-only. */
  function readOnly(folder: string, args: string[]): Run {
    const script = `mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"`;
    const r = spawnSync("unshare", ["-m", "sh", "-c", script, "sh", folder, process.execPath, SMARTBIN, ...args], { cwd: ROOT, timeout: 60_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString("utf8") };
  }

  const copies = () => readdirSync(tmpdir()).filter((n) => n.startsWith("smartbin-outbox-read-"));

  it("status, list and export read a cleanly closed database and a crashed one (its -wal not checkpointed), and leave nothing behind", () => {
    // Cleanly closed: no -wal or -shm, which SQLite cannot create on a read-only file system.
    const clean = station();
    const cleanPayloads = record(clean.db, 6, 2);
    expect(existsSync(`${clean.db}-shm`)).toBe(false);
    // Crashed: its last events only in the -wal, as a station killed by a power cut leaves them.
    const crashed = station();
    mkdirSync(join(crashed.dir, "data"));
    const outbox = Outbox.open({ path: join(crashed.dir, "live.db"), stationId: "st-001", logger, clockSynced: () => true });
    const crashedPayloads = [1, 2, 3].map((i) => outbox.append("deposit", "kitchen", { bin_id: "kitchen", net_g: i }).payload);
    for (const suffix of ["", "-wal"]) copyFileSync(join(crashed.dir, `live.db${suffix}`), `${crashed.db}${suffix}`);
    outbox.close();

    const before = copies();
    for (const [s, payloads, pending] of [
      [clean, cleanPayloads, 4],
      [crashed, crashedPayloads, 3],
    ] as const) {
      const data = join(s.dir, "data");
      const status = readOnly(data, ["outbox", "status", "--json", "-c", s.config]);
      expect(status.stderr).toBe("");
      expect(status.code).toBe(0);
      expect(JSON.parse(status.stdout.toString("utf8"))).toMatchObject({ exists: true, pending, last_seq: payloads.length });
      const list = readOnly(data, ["outbox", "list", "--json", "-c", s.config]);
      expect(list.code).toBe(0);
      expect(list.stdout.equals(jsonLines(payloads))).toBe(true);
      const file = join(s.dir, "export.jsonl");
      const exported = readOnly(data, ["outbox", "export", file, "-c", s.config]);
      expect(exported).toMatchObject({ code: 0, stderr: `smartbin outbox export: ${payloads.length} events written to ${file}\n` });
      expect(readFileSync(file).equals(jsonLines(payloads))).toBe(true);
    }
    expect(copies()).toEqual(before);
    // The crashed database's files are as they were: nothing was checkpointed or created.
    expect(readdirSync(join(crashed.dir, "data")).sort()).toEqual(["station.db", "station.db-wal"]);
  });
});
