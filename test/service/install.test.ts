/**
 * scripts/install.sh into a temporary root (issue 10, items 2 and 8): installed twice (the same
 * tree, the config kept), `systemd-analyze verify` on the installed unit (its ExecStart resolved in
 * that root), an upgrade to a second version, a rollback, a rollback refused for a database the
 * older release cannot read, `--uninstall` (data kept) and `--uninstall --purge`.
 *
 * The product is staged as an unpacked release (bin, dist, lock file; no src) built from this
 * checkout; npm installs its production dependencies from the local cache (`--prefer-offline`:
 * `npm ci` has filled it on CI), once: later releases with the same lock file reuse them.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { homedir, tmpdir } from "node:os";
import { join, relative } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, expect, it } from "vitest";
import { SCHEMA_VERSION } from "../../src/adapters/outbox/schema.js";
import { buildOnce, ROOT } from "../support/build.js";
import { describeWithTool } from "../support/require-tool.js";
import { startMosquitto } from "../support/mosquitto.js";
import { FakeCardReader, FakeIndicator, eventually } from "../integration/harness.js";

const work = mkdtempSync(join(tmpdir(), "smartbin-install-"));
const root = join(work, "root");
const releaseA = join(work, "release-a");
const releaseB = join(work, "release-b");
const VERSION_A = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string;
const VERSION_B = `${VERSION_A}-next`;
const OPT = join(root, "opt/smartbin-edge");
const DB = join(root, "var/lib/smartbin/smartbin.db");

/** The release tarball scripts/release.sh packs, once. */
let tarball: string | undefined;

/** An unpacked release (scripts/release.sh's tarball, without src/, so it does not build) at `dir`, as `version`. */
function stageRelease(dir: string, version: string): void {
  tarball ??= execFileSync("bash", [join(ROOT, "scripts/release.sh"), "--no-build", work], { encoding: "utf8" }).trim().split("\n").at(-1)!;
  mkdirSync(dir, { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", dir, "--strip-components=1"]);
  expect(existsSync(join(dir, "src"))).toBe(false);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  pkg.version = version;
  writeFileSync(join(dir, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
}

function install(release: string, ...args: string[]) {
  const r = spawnSync("bash", [join(release, "scripts/install.sh"), "--root", root, ...args], { encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Every path of the tree with its type, mode and content hash or link target (not times). */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      const rel = relative(dir, p);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out.push(`${rel} -> ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`${rel}/ ${mode} ${st.uid}:${st.gid}`);
        walk(p);
      } else out.push(`${rel} ${mode} ${st.uid}:${st.gid} ${createHash("sha256").update(readFileSync(p)).digest("hex").slice(0, 16)}`);
    }
  };
  walk(dir);
  return out;
}

function makeDatabase(userVersion: number, readableBy: number): void {
  rmSync(DB, { force: true });
  const db = new Database(DB);
  db.exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT");
  db.prepare("INSERT INTO meta (key, value) VALUES ('readable_by_schema', ?)").run(String(readableBy));
  db.pragma(`user_version = ${userVersion}`);
  db.close();
}

const group = (name: string) => readFileSync(join(root, "etc/group"), "utf8").split("\n").find((l) => l.startsWith(`${name}:`));

beforeAll(() => {
  buildOnce();
  stageRelease(releaseA, VERSION_A);
  stageRelease(releaseB, VERSION_B);
  // A Debian root has these already: dialout is gid 20 there; the unit files let verify resolve
  // the unit's default dependencies (sysinit.target, ...).
  mkdirSync(join(root, "etc"), { recursive: true });
  writeFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n");
  writeFileSync(join(root, "etc/group"), "root:x:0:\ndialout:x:20:\n");
  cpSync("/lib/systemd/system", join(root, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
  // ExecReload's /bin/kill (procps on Debian), which verify checks is an executable in the root.
  mkdirSync(join(root, "bin"), { recursive: true });
  writeFileSync(join(root, "bin/kill"), '#!/bin/sh\nexec /usr/bin/kill "$@"\n', { mode: 0o755 });
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describeWithTool(["systemd-analyze", "systemd-sysusers", "mosquitto", "socat"], "install.sh --root", () => {
  it("installs the product, the user, the groups, the udev rule, the config and the enabled unit", () => {
    const r = install(releaseA);
    expect(r.code, r.err).toBe(0);
    expect(readlinkSync(join(OPT, "current"))).toBe(`releases/${VERSION_A}`);
    const rel = join(OPT, "releases", VERSION_A);
    // Production dependencies only, and enough to run.
    expect(existsSync(join(rel, "node_modules/better-sqlite3"))).toBe(true);
    expect(existsSync(join(rel, "node_modules/typescript"))).toBe(false);
    expect(existsSync(join(rel, "node_modules/vitest"))).toBe(false);
    expect(readlinkSync(join(root, "usr/local/bin/smartbin"))).toBe("/opt/smartbin-edge/current/bin/smartbin.js");
    expect(execFileSync(process.execPath, [join(OPT, "current/bin/smartbin.js"), "--version"], { encoding: "utf8" })).toContain(VERSION_A);
    JSON.parse(execFileSync(process.execPath, [join(OPT, "current/bin/smartbin.js"), "config", "schema"], { encoding: "utf8" }));
    // The user, in dialout and gpio.
    expect(readFileSync(join(root, "etc/passwd"), "utf8")).toMatch(/^smartbin:x:\d+:\d+:[^:]*:\/var\/lib\/smartbin:\/usr\/sbin\/nologin$/m);
    expect(group("dialout")).toBe("dialout:x:20:smartbin");
    expect(group("gpio")).toMatch(/^gpio:x:\d+:smartbin$/);
    const gid = Number(group("smartbin")!.split(":")[2]);
    expect(readFileSync(join(root, "etc/udev/rules.d/60-smartbin-gpio.rules"), "utf8")).toContain('KERNEL=="gpiochip*", GROUP="gpio"');
    // The config: the example, 0640 root:smartbin; the state folder 0700 smartbin.
    const config = statSync(join(root, "etc/smartbin/config.yaml"));
    expect((config.mode & 0o777).toString(8)).toBe("640");
    if (process.getuid?.() === 0) expect([config.uid, config.gid]).toEqual([0, gid]);
    expect(readFileSync(join(root, "etc/smartbin/config.yaml"), "utf8")).toBe(readFileSync(join(ROOT, "config/smartbin.example.yaml"), "utf8"));
    expect((statSync(join(root, "var/lib/smartbin")).mode & 0o777).toString(8)).toBe("700");
    expect(readlinkSync(join(root, "etc/systemd/system/multi-user.target.wants/smartbin.service"))).toBe("/etc/systemd/system/smartbin.service");
    // `systemctl reload smartbin` (README, "Signals") needs an ExecReload: SIGHUP to the main process.
    expect(readFileSync(join(root, "etc/systemd/system/smartbin.service"), "utf8")).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
  }, 60_000);

  it("an empty folder as --root is refused before anything is written there", () => {
    const empty = mkdtempSync(join(work, "empty-root-"));
    const r = spawnSync("bash", [join(releaseA, "scripts/install.sh"), "--root", empty], { encoding: "utf8" });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("has no etc/passwd and etc/group");
    expect(readdirSync(empty)).toEqual([]);
  });

  it("the installed unit passes systemd-analyze verify in that root, ExecStart included", () => {
    const r = spawnSync("systemd-analyze", ["verify", `--root=${root}`, "/etc/systemd/system/smartbin.service"], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("the installed smartbin runs a station against a local Mosquitto with simulated devices, and doctor reports no fail", async () => {
    const broker = await startMosquitto();
    const scale = await FakeIndicator.start(12_000);
    const reader = await FakeCardReader.start();
    const dir = mkdtempSync(join(work, "station-"));
    const config = join(dir, "config.yaml");
    writeFileSync(
      config,
      `station: { id: st-installed }
storage: { path: ${join(dir, "smartbin.db")} }
mqtt: { url: "${broker.url}" }
scales:
  - { id: scale-1, port: ${scale.pty.devicePath}, protocol: yaohua-a9, unit: kg, silence_timeout_s: 2 }
readers:
  - { id: reader-1, port: ${reader.pty.devicePath}, protocol: em4100-ascii }
bins:
  - { id: kitchen, category: food_waste, scale: scale-1 }
points:
  rules_version: "1"
  categories: { food_waste: { points_per_kg: 2 } }
`,
    );
    const smartbin = join(OPT, "current/bin/smartbin.js");
    const run = spawn(process.execPath, [smartbin, "run", config], { stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    run.stdout.on("data", (b: Buffer) => (log += b.toString()));
    try {
      await eventually(() => log.includes('"msg":"station started"'), 15_000, "the installed station started");
      await new Promise((r) => setTimeout(r, 1500));
      const doctor = spawnSync(process.execPath, [smartbin, "doctor", config], { encoding: "utf8", timeout: 30_000 });
      const lines = doctor.stdout.trim().split("\n");
      expect(lines.filter((l) => l.startsWith("fail ")), doctor.stdout + doctor.stderr).toEqual([]);
      expect(lines.some((l) => l.startsWith("ok broker:"))).toBe(true);
      expect(lines.some((l) => l.startsWith("ok scale.scale-1:"))).toBe(true);
      expect(doctor.status).toBe(0);
    } finally {
      run.kill("SIGTERM");
      await new Promise((r) => (run.exitCode !== null ? r(undefined) : run.once("exit", r)));
      await scale.stop();
      await reader.stop();
      await broker.dispose();
    }
    expect(run.exitCode).toBe(0);
  }, 60_000);

  it("a second run changes nothing, and keeps an edited config", () => {
    const configFile = join(root, "etc/smartbin/config.yaml");
    writeFileSync(configFile, readFileSync(configFile, "utf8") + "# edited by the technician\n");
    const before = tree(root);
    const r = install(releaseA);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("is installed already");
    expect(tree(root)).toEqual(before);
  }, 30_000);

  it("an upgrade keeps the config and the database, and the previous release for --rollback", () => {
    mkdirSync(join(root, "var/lib/smartbin"), { recursive: true });
    makeDatabase(SCHEMA_VERSION, SCHEMA_VERSION);
    const db = readFileSync(DB);
    const r = install(releaseB);
    expect(r.code, r.err).toBe(0);
    expect(readlinkSync(join(OPT, "current"))).toBe(`releases/${VERSION_B}`);
    expect(readlinkSync(join(OPT, "previous"))).toBe(`releases/${VERSION_A}`);
    expect(readFileSync(join(root, "etc/smartbin/config.yaml"), "utf8")).toContain("# edited by the technician");
    expect(readFileSync(DB)).toEqual(db);
    expect(execFileSync(process.execPath, [join(OPT, "current/bin/smartbin.js"), "--version"], { encoding: "utf8" })).toContain(VERSION_B);
  }, 30_000);

  it("--rollback returns to the previous release when it can read the database", () => {
    const r = install(releaseB, "--rollback");
    expect(r.code, r.err).toBe(0);
    expect(readlinkSync(join(OPT, "current"))).toBe(`releases/${VERSION_A}`);
    expect(readlinkSync(join(OPT, "previous"))).toBe(`releases/${VERSION_B}`);
    expect(spawnSync("systemd-analyze", ["verify", `--root=${root}`, "/etc/systemd/system/smartbin.service"]).status).toBe(0);
  }, 30_000);

  it("--rollback refuses, and says why, when the database needs a newer schema than the previous release has", () => {
    expect(install(releaseB).code).toBe(0);
    makeDatabase(SCHEMA_VERSION + 1, SCHEMA_VERSION + 1);
    const r = install(releaseB, "--rollback");
    expect(r.code).toBe(1);
    expect(r.err).toContain("rollback refused");
    expect(r.err).toContain(`can be read only by schema ${SCHEMA_VERSION + 1} or newer`);
    expect(readlinkSync(join(OPT, "current"))).toBe(`releases/${VERSION_B}`);
    // A newer schema that says the older one can still read it: allowed.
    makeDatabase(SCHEMA_VERSION + 1, SCHEMA_VERSION);
    expect(install(releaseB, "--rollback").code).toBe(0);
    expect(readlinkSync(join(OPT, "current"))).toBe(`releases/${VERSION_A}`);
  }, 30_000);

  it("--uninstall --purge is refused, removing nothing, while the database holds events the broker has not acknowledged", () => {
    rmSync(DB, { force: true });
    const db = new Database(DB);
    db.exec("CREATE TABLE events (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL, published_at TEXT NULL) STRICT");
    db.prepare("INSERT INTO events (payload, published_at) VALUES ('{}', '2026-12-07T10:00:00.000Z'), ('{}', NULL), ('{}', NULL)").run();
    db.close();
    const r = install(releaseA, "--uninstall", "--purge");
    expect(r.code).toBe(1);
    expect(r.err).toContain("purge refused, nothing removed: the outbox database /var/lib/smartbin/smartbin.db holds 2 event(s) the broker has not acknowledged");
    expect(r.err).toContain("--force");
    expect(existsSync(DB)).toBe(true);
    expect(existsSync(join(OPT, "current"))).toBe(true);
    expect(existsSync(join(root, "etc/systemd/system/smartbin.service"))).toBe(true);
    // --force belongs to --purge only.
    expect(install(releaseA, "--uninstall", "--force").code).toBe(2);
  });

  it("--uninstall removes the product and keeps the config, the database and the user", () => {
    const r = install(releaseA, "--uninstall");
    expect(r.code, r.err).toBe(0);
    expect(existsSync(OPT)).toBe(false);
    expect(existsSync(join(root, "etc/systemd/system/smartbin.service"))).toBe(false);
    expect(existsSync(join(root, "etc/systemd/system/multi-user.target.wants/smartbin.service"))).toBe(false);
    expect(existsSync(join(root, "usr/local/bin/smartbin"))).toBe(false);
    expect(readFileSync(join(root, "etc/smartbin/config.yaml"), "utf8")).toContain("# edited by the technician");
    expect(existsSync(DB)).toBe(true);
    expect(group("smartbin")).toBeDefined();
  });

  it("--uninstall --purge removes the config, the database and the user too; with the product gone it needs --force", () => {
    // No installed release is left to read the database with: refused, unless --force.
    const refused = install(releaseA, "--uninstall", "--purge");
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("could not be checked for unsent events");
    expect(existsSync(DB)).toBe(true);
    const r = install(releaseA, "--uninstall", "--purge", "--force");
    expect(r.code, r.err).toBe(0);
    expect(existsSync(join(root, "etc/smartbin"))).toBe(false);
    expect(existsSync(join(root, "var/lib/smartbin"))).toBe(false);
    expect(readFileSync(join(root, "etc/passwd"), "utf8")).not.toContain("smartbin");
    expect(group("smartbin")).toBeUndefined();
    expect(group("dialout")).toBe("dialout:x:20:");
  });
});

// A host install (no --root) with a Node under a home folder (nvm's, say): the unit's ProtectHome=yes
// and the smartbin user's lack of access to that home would make every start fail. Refused before
// the root check, so this runs as any user; the stand-in node answers only the version query, so a
// check that let it through would fail at the next step instead of installing anything.
const home = homedir();
const homeIsHome = /^\/(home|root)\//.test(`${home}/`);
(homeIsHome ? it : it.skip)(
  `a host install refuses a Node under a home folder, before anything is written${homeIsHome ? "" : " (skipped: HOME is not under /home or /root)"}`,
  () => {
    const dir = mkdtempSync(join(home, ".smartbin-node-check-"));
    try {
      writeFileSync(join(dir, "node"), '#!/bin/sh\n[ "$*" = "-p process.versions.node" ] && { echo 24.0.0; exit 0; }\nexit 97\n', { mode: 0o755 });
      const r = spawnSync("bash", [join(ROOT, "scripts/install.sh")], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, encoding: "utf8" });
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toContain(`the Node found, ${realpathSync(join(dir, "node"))}, is under a home folder`);
      expect(r.stderr).toContain("nothing was installed");
      expect(r.stdout).toBe("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
