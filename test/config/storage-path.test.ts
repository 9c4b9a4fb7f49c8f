import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatProblem, loadConfigFile, ownerHint } from "../../src/config/load.js";
import { SMARTBIN, buildOnce } from "../support/build.js";
import { isCI, toolAvailable } from "../support/require-tool.js";
import { MINIMAL } from "./contract-example.js";

/**
 * `storage.path` is checked by `config check` and `run` (issue "An outbox that survives anything",
 * item 5): a place where no database can be kept is exit 78, never a restart loop.
 */
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "smartbin-storage-"));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The problems of a config whose storage.path is `storagePath` (written as given), as lines. */
function problems(storagePath: string): string[] {
  const file = path.join(dir, "config.yaml");
  fs.writeFileSync(file, `${MINIMAL}storage:\n  path: ${JSON.stringify(storagePath)}\n`);
  const result = loadConfigFile(file);
  return result.ok ? [] : result.problems.map(formatProblem);
}

describe("storage.path", () => {
  it("a new file in an existing folder, an existing database file, and :memory: are fine", () => {
    expect(problems(path.join(dir, "new.db"))).toEqual([]);
    fs.writeFileSync(path.join(dir, "old.db"), "");
    expect(problems(path.join(dir, "old.db"))).toEqual([]);
    expect(problems(":memory:")).toEqual([]);
  });

  it("a folder that does not exist yet is fine when its nearest existing ancestor is writable (the station creates it)", () => {
    expect(problems(path.join(dir, "a/b/c/smartbin.db"))).toEqual([]);
    expect(fs.existsSync(path.join(dir, "a"))).toBe(false);
  });

  it("a directory is refused at storage.path's position", () => {
    fs.mkdirSync(path.join(dir, "is-a-dir"), { recursive: true });
    expect(problems(path.join(dir, "is-a-dir"))).toEqual([
      `${path.join(dir, "config.yaml")}:6:9: storage.path: expected a database file, found "${path.join(dir, "is-a-dir")}": a directory`,
    ]);
  });

  it("a folder's name (a trailing slash, a final . or ..) is refused, even for a folder that does not exist yet", () => {
    const cfg = path.join(dir, "config.yaml");
    const missing = path.join(dir, "newdir");
    expect(problems(`${missing}/`)).toEqual([
      `${cfg}:6:9: storage.path: expected a database file, found "${missing}/", a folder's name: name the file too, such as "${missing}/smartbin.db"`,
    ]);
    expect(problems(`${dir}/.`)).toEqual([expect.stringContaining(`a folder's name: name the file too, such as "${dir}/smartbin.db"`)]);
    expect(problems("data/..")).toEqual([expect.stringContaining(`a folder's name: name the file too, such as "smartbin.db"`)]);
    expect(problems(".")).toEqual([expect.stringContaining(`a folder's name`)]);
    // No database file named after the folder was made by the check.
    expect(fs.existsSync(missing)).toBe(false);
    // Without the slash it is a file name, as before.
    expect(problems(missing)).toEqual([]);
  });

  it("/dev/null, a symbolic link to a device, and a FIFO are refused", () => {
    expect(problems("/dev/null")).toEqual([expect.stringMatching(/storage\.path: expected a database file, found "\/dev\/null": a device$/)]);
    fs.symlinkSync("/dev/zero", path.join(dir, "link.db"));
    expect(problems(path.join(dir, "link.db"))).toEqual([expect.stringMatching(/: a device$/)]);
    const fifo = path.join(dir, "fifo.db");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    expect(problems(fifo)).toEqual([expect.stringMatching(/: a FIFO$/)]);
  });

  it("for a command that only reads (outbox status|list|export), an existing database must be a readable regular file; the folder need not be writable", () => {
    const file = path.join(dir, "config.yaml");
    const read = (storagePath: string) => {
      fs.writeFileSync(file, `${MINIMAL}storage:\n  path: ${JSON.stringify(storagePath)}\n`);
      const result = loadConfigFile(file, { storage: "read" });
      return result.ok ? [] : result.problems.map(formatProblem);
    };
    fs.mkdirSync(path.join(dir, "read-dir"), { recursive: true });
    expect(read(path.join(dir, "read-dir"))).toEqual([expect.stringMatching(/storage\.path: expected a database file, found ".*read-dir": a directory$/)]);
    expect(read("/dev/null")).toEqual([expect.stringMatching(/: a device$/)]);
    expect(read(path.join(dir, "read-dir/"))).toEqual([expect.stringContaining("a folder's name")]);
    // Nothing there, even under folders that do not exist: the command says there is no database.
    expect(read(path.join(dir, "nowhere/at/all.db"))).toEqual([]);
  });

  it("a path through a regular file is refused", () => {
    fs.writeFileSync(path.join(dir, "plain"), "x");
    const through = path.join(dir, "plain/sub/smartbin.db");
    expect(problems(through)).toEqual([
      expect.stringMatching(/storage\.path: expected a database file, found ".*\/plain\/sub\/smartbin\.db": a part of the path is not a directory \(ENOTDIR\)$/),
    ]);
  });

  it("a relative path is checked against the config file's folder", () => {
    fs.mkdirSync(path.join(dir, "rel-dir"), { recursive: true });
    expect(problems("rel-dir")).toEqual([expect.stringMatching(/: a directory$/)]);
  });
});

// A read-only file system: CI runs as root, where a chmod alone refuses nothing, so the test mounts
// the folder read-only in its own mount namespace (`unshare -m`), as the issue asks.
const canMount = process.getuid?.() === 0 && toolAvailable("unshare") && toolAvailable("mount");
const roReason = canMount ? "" : " (skipped: needs root with unshare and mount)";
describe(`storage.path on a read-only mount${roReason}`, () => {
  if (!canMount) {
    if (isCI()) it("root with unshare and mount is required in CI", () => expect.fail("cannot mount read-only here"));
    else it.skip("read-only mount", () => undefined);
    return;
  }

  it("config check exits 78 and says the file system is read-only; the same folder writable is fine", () => {
    buildOnce();
    const ro = path.join(dir, "ro");
    fs.mkdirSync(ro, { recursive: true });
    const file = path.join(dir, "ro-config.yaml");
    fs.writeFileSync(file, `${MINIMAL}storage:\n  path: ${JSON.stringify(path.join(ro, "smartbin.db"))}\n`);
    const script = `mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && exec "$2" "$3" config check -c "$4"`;
    const r = spawnSync("unshare", ["-m", "sh", "-c", script, "sh", ro, process.execPath, SMARTBIN, file], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(78);
    expect(r.stdout).toBe(`${file}:6:9: storage.path: expected a folder this user can write to, found "${ro}": on a read-only file system (EROFS)\n`);
    const plain = spawnSync(process.execPath, [SMARTBIN, "config", "check", "-c", file], { encoding: "utf8" });
    expect(plain.status).toBe(0);
  });
});

describe("a database file another user owns", () => {
  // Root can open any file, so the refusal itself is seen only by another user; its hint is checked here.
  it("the refusal says whose it is and how to give it back (a station run by hand as root leaves root's files)", () => {
    const me = process.getuid?.() ?? 0;
    const other = me === 0 ? 65534 : 0;
    const passwd = fs.readFileSync("/etc/passwd", "utf8");
    const nameOf = (uid: number) => passwd.split("\n").find((l) => l.split(":")[2] === String(uid))?.split(":")[0];
    const owner = nameOf(other) ?? `uid ${other}`;
    const user = nameOf(me) ?? String(me);
    expect(ownerHint({ uid: other }, "/var/lib/smartbin/smartbin.db")).toBe(
      `; it belongs to ${owner}, not to this user (${user}), as after a station was run by hand as ${owner}: give it back with chown ${user}: /var/lib/smartbin/smartbin.db*`,
    );
    expect(ownerHint({ uid: me }, "/var/lib/smartbin/smartbin.db")).toBe("");
  });
});
