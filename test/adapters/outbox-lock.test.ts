/**
 * One station per database (issue 7, item 3) and private files (item 5, the file half), with real
 * files, a real second process holding the lock, and the built `smartbin run` started twice.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { pino } from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { lockHolderPid } from "../../src/adapters/outbox/lock.js";
import { Outbox } from "../../src/adapters/outbox/outbox.js";
import { ROOT, SMARTBIN, buildOnce } from "../support/build.js";
import { eventually } from "../integration/harness.js";
import { capturingLogger, quarantined, refusal } from "./outbox-files.js";

const logger = pino({ level: "silent" });

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

let dir: string;
let path: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "smartbin-lock-"));
  path = join(dir, "data", "smartbin.db");
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** Waits for a child's exit; resolves its code (or the signal's name). */
function exited(child: ChildProcess): Promise<number | string> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode ?? child.signalCode!);
    else child.once("exit", (code, signal) => resolve(code ?? signal!));
  });
}

describe("the station lock", () => {
  it("a second outbox on the same database in this process is refused at once, naming this process", () => {
    const first = Outbox.open({ path, stationId: "st-001", logger });
    first.append("deposit", "kitchen", {});
    const err = refusal(() => Outbox.open({ path, stationId: "st-001", logger }));
    expect(err.code).toBe("OUTBOX_LOCKED");
    expect(err.context).toMatchObject({ pid: process.pid });
    // The refused attempt closed its connection without dropping the holder's POSIX lock.
    expect(lockHolderPid(`${path}.lock`)).toBe(process.pid);
    expect(refusal(() => Outbox.open({ path, stationId: "st-001", logger })).code).toBe("OUTBOX_LOCKED");
    // outbox status reads beside it.
    expect(Outbox.readStatus(path)).toMatchObject({ pending: 1, last_seq: 1 });
    first.close();
    const again = Outbox.open({ path, stationId: "st-001", logger });
    expect(again.append("deposit", "kitchen", {}).seq).toBe(2);
    again.close();
  });

  it("finds the holder of SQLite's RESERVED byte in /proc/locks", () => {
    const first = Outbox.open({ path, stationId: "st-001", logger });
    expect(lockHolderPid(`${path}.lock`)).toBe(process.pid);
    first.close();
    expect(lockHolderPid(`${path}.lock`)).toBeNull();
    const ino = statSync(`${path}.lock`).ino;
    const sample = join(dir, "locks");
    writeFileSync(
      sample,
      [
        `1: POSIX  ADVISORY  READ 4242 fe:00:${ino} 1073741826 1073742335`,
        `2: FLOCK  ADVISORY  WRITE 99 fe:00:${ino} 0 EOF`,
        `3: POSIX  ADVISORY  WRITE 4242 fe:00:${ino + 1} 1073741825 1073741825`,
        `4: POSIX  ADVISORY  WRITE 4243 00:2a:${ino} 1073741825 1073741825`,
        `4: -> POSIX  ADVISORY  WRITE 5000 00:2a:${ino} 1073741825 1073741825`,
      ].join("\n"),
    );
    expect(lockHolderPid(`${path}.lock`, sample)).toBe(4243);
  });

  describe("with a second process", () => {
    beforeAll(() => buildOnce(), 120_000);

    /** A process that opens the outbox, records one event, says "ready" and waits to be killed. */
    async function holder(): Promise<ChildProcess> {
      const script = `
        import { Outbox } from ${JSON.stringify(join(ROOT, "dist/adapters/outbox/outbox.js"))};
        import { pino } from "pino";
        const o = Outbox.open({ path: ${JSON.stringify(path)}, stationId: "st-001", logger: pino({ level: "silent" }) });
        o.append("deposit", "kitchen", { n: 1 });
        process.stdout.write("ready\\n");
        // Holds the outbox (its lock goes with it if it is garbage-collected) until killed.
        setInterval(() => o.status(), 1000);`;
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
      children.push(child);
      let out = "";
      child.stdout.on("data", (b: Buffer) => (out += b.toString()));
      await eventually(() => out.includes("ready") || child.exitCode !== null, 10_000, "the holder's ready line");
      expect(out).toContain("ready");
      return child;
    }

    it("is refused at once, naming the other process; status reads beside it; SIGKILL leaves nothing stuck", async () => {
      const child = await holder();
      const started = Date.now();
      const err = refusal(() => Outbox.open({ path, stationId: "st-001", logger }));
      expect(Date.now() - started).toBeLessThan(1000);
      expect(err.code).toBe("OUTBOX_LOCKED");
      expect(err.context).toMatchObject({ pid: child.pid });
      expect(err.message).toContain(`pid ${child.pid} (`);
      expect(err.message).toContain("--input-type=module");
      expect(Outbox.readStatus(path)).toMatchObject({ pending: 1, last_seq: 1 });

      child.kill("SIGKILL");
      await exited(child);
      const { logger: seen, lines } = capturingLogger();
      const outbox = Outbox.open({ path, stationId: "st-001", logger: seen });
      expect(outbox.recovered).toBeNull();
      expect(outbox.append("deposit", "kitchen", {}).seq).toBe(2);
      expect(lines.some((l) => l.msg === "integrity check after an unclean stop: ok")).toBe(true);
      outbox.close();
    });
  });
});

describe("private files", () => {
  it("a folder the station creates is 0700 and the database files 0600, whatever the umask", () => {
    const old = process.umask(0);
    try {
      const outbox = Outbox.open({ path, stationId: "st-001", logger });
      outbox.append("deposit", "kitchen", {});
      expect(mode(join(dir, "data"))).toBe("700");
      for (const suffix of ["", "-wal", "-shm", ".lock", ".state"]) expect(mode(path + suffix)).toBe("600");
      outbox.close();
      expect(mode(path)).toBe("600");
    } finally {
      process.umask(old);
    }
  });

  it("every missing folder level is created 0700, even under a restrictive umask", () => {
    const old = process.umask(0o277);
    try {
      const deep = join(dir, "a", "b", "smartbin.db");
      Outbox.open({ path: deep, stationId: "st-001", logger }).close();
      expect(mode(join(dir, "a"))).toBe("700");
      expect(mode(join(dir, "a", "b"))).toBe("700");
      expect(mode(deep)).toBe("600");
    } finally {
      process.umask(old);
    }
  });

  it("an existing folder is left as it is, with a warning when others can read it; old 0644 files are made 0600", () => {
    mkdirSync(join(dir, "data"), { mode: 0o755 });
    chmodSync(join(dir, "data"), 0o755);
    writeFileSync(path, "");
    chmodSync(path, 0o644);
    const { logger: seen, lines } = capturingLogger();
    Outbox.open({ path, stationId: "st-001", logger: seen }).close();
    expect(mode(join(dir, "data"))).toBe("755");
    expect(mode(path)).toBe("600");
    const warning = lines.find((l) => l.level === 40 && String(l.msg).includes("folder can be read by other accounts"));
    expect(warning).toMatchObject({ folder: join(dir, "data"), mode: "755" });

    chmodSync(join(dir, "data"), 0o700);
    const quiet = capturingLogger();
    Outbox.open({ path, stationId: "st-001", logger: quiet.logger }).close();
    expect(quiet.lines.some((l) => l.level === 40)).toBe(false);
  });

  it.each([
    ["a directory", (p: string) => mkdirSync(p, { recursive: true })],
    ["a FIFO", (p: string) => spawnSync("mkfifo", [p])],
    ["a symlink to a device", (p: string) => spawnSync("ln", ["-s", "/dev/null", p])],
  ])("storage.path that is %s is refused, never moved aside", (_what, make) => {
    mkdirSync(join(dir, "data"), { recursive: true });
    make(path);
    expect(existsSync(path)).toBe(true);
    const err = refusal(() => Outbox.open({ path, stationId: "st-001", logger }));
    expect(err.code).toBe("OUTBOX_OPEN_FAILED");
    expect(existsSync(path)).toBe(true);
    expect(quarantined(path)).toEqual([]);
  });

  it("a symlink to a database file is followed: the lock and WAL sit beside the target", () => {
    const real = join(dir, "real.db");
    mkdirSync(join(dir, "data"));
    Outbox.open({ path: real, stationId: "st-001", logger }).close();
    spawnSync("ln", ["-s", real, path]);
    const outbox = Outbox.open({ path, stationId: "st-001", logger });
    expect(refusal(() => Outbox.open({ path: real, stationId: "st-001", logger })).code).toBe("OUTBOX_LOCKED");
    outbox.append("deposit", "kitchen", {});
    expect(existsSync(`${real}-wal`)).toBe(true);
    outbox.close();
  });
});

describe("smartbin run as a process", () => {
  beforeAll(() => buildOnce(), 120_000);
  afterAll(() => undefined);

  function config(): string {
    const file = join(dir, "config.yaml");
    // Nothing listens on port 9: the station runs without a broker, as it must.
    writeFileSync(file, `station:\n  id: st-lock\nstorage:\n  path: ${path}\nmqtt:\n  url: mqtt://127.0.0.1:9\n`);
    return file;
  }

  function startRun(file: string): ChildProcess & { output: () => string } {
    const child = spawn(process.execPath, [SMARTBIN, "run", "-c", file], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    return Object.assign(child, { output: () => out });
  }

  const smartbin = (args: string[]) => spawnSync(process.execPath, [SMARTBIN, ...args], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });

  it("a second run on the same database exits 1 at once, naming the first; outbox status works beside it", async () => {
    const file = config();
    const first = startRun(file);
    await eventually(() => first.output().includes('"msg":"station started"'), 15_000, "the first station started");

    const started = Date.now();
    const second = smartbin(["run", "-c", file]);
    expect(second.status).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(second.stderr).toContain(`pid ${first.pid} (`);
    expect(second.stderr).toContain("smartbin");
    expect(second.stdout).toContain('"code":"OUTBOX_LOCKED"');
    // A condition of the field, not a bug: one line with the reason, no stack trace (README, "Logs").
    expect(second.stdout).not.toContain('"stack"');
    expect(second.stdout).toContain('"fault":"OUTBOX_LOCKED"');

    const status = smartbin(["outbox", "status", "--json", "-c", file]);
    expect(status.status).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ exists: true });

    expect(mode(join(dir, "data"))).toBe("700");
    expect(mode(path)).toBe("600");
    first.kill("SIGTERM");
    expect(await exited(first)).toBe(0);
    expect(readFileSync(`${path}.state`, "utf8")).toContain('"run":"stopped"');
  }, 40_000);

  it("a database that is not SQLite does not stop the station: it is moved aside and the station runs", async () => {
    const file = config();
    mkdirSync(join(dir, "data"));
    writeFileSync(path, "not a database\n".repeat(1000));
    const run = startRun(file);
    await eventually(() => run.output().includes('"msg":"station started"'), 15_000, "the station started");
    expect(run.output()).toContain("storage_recovered recorded");
    const status = JSON.parse(smartbin(["outbox", "status", "--json", "-c", file]).stdout);
    expect(status).toMatchObject({ pending: 1, last_seq: 1 });
    expect(quarantined(path).length).toBe(1);
    run.kill("SIGTERM");
    expect(await exited(run)).toBe(0);
  }, 40_000);
});
