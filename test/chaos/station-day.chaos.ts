/**
 * The chaos suite (issue 12): a simulated station day (residents, collectors, disturbances, a door)
 * through the built `smartbin run` with real serial pseudo-terminals (socat), a real Mosquitto behind
 * a proxy, the `simulated` GPIO backend and a SQLite file, while seeded faults strike: SIGKILL of
 * the station at random instants and at chosen moments (a door unlocked, a commit, the drain), the
 * broker stopped and killed, connections cut, devices unplugged, garbage on the lines, the wall
 * clock jumped (libfaketime), the database locked by another process, the disk filled. Then the
 * invariant checker (checker.ts) compares the truth with what the central subscriber received.
 *
 *     npm run test:chaos                          # short: CI's run, at least 10 kills, under 5 min
 *     CHAOS_PROFILE=long npm run test:chaos       # at least 50 kills, about 16 min
 *     CHAOS_SEED=1234 npm run test:chaos          # the seed a failure printed
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../support/build.js";
import { isCI, requireTools } from "../support/require-tool.js";
import { check } from "./checker.js";
import { playDay } from "./play.js";
import { findLibfaketime } from "../support/faketime.js";
import { startRig, type LogLine } from "./rig.js";
import type { Truth } from "./truth.js";
import { PROFILES, planDay } from "./script.js";

const tools = requireTools(["mosquitto", "socat"]);
const profile = PROFILES[process.env.CHAOS_PROFILE ?? "short"];
if (profile === undefined) throw new Error(`CHAOS_PROFILE must be one of ${Object.keys(PROFILES).join(", ")}`);
const seed = process.env.CHAOS_SEED !== undefined ? Number(process.env.CHAOS_SEED) : Math.floor(Math.random() * 2 ** 31);
if (!Number.isInteger(seed)) throw new Error("CHAOS_SEED must be an integer");
const libfaketime = findLibfaketime();
const diskDir = process.env.CHAOS_DISK;

// What a developer's machine may lack is skipped visibly; CI must have it all.
const missing = [
  ...(libfaketime === undefined ? ["libfaketime (apt-get install faketime): no clock jumps"] : []),
  ...(diskDir === undefined ? ["a disk of its own (run as root: scripts/test-chaos.sh mounts a tmpfs in its own namespace): no disk faults"] : []),
];
for (const m of missing) console.warn(`chaos: without ${m}`);

describe.skipIf(tools.skip)(`a station day under faults${tools.reason}`, () => {
  it.skipIf(!isCI() || missing.length === 0)("has everything the chaos day needs when CI is set", () => {
    throw new Error(`missing when CI is set: ${missing.join("; ")}`);
  });

  it(
    `loses nothing, doubles nothing, awards nothing a device fault made (${profile.name}, seed ${seed})`,
    async () => {
      const plan = planDay(seed, profile);
      const dir = mkdtempSync(join(tmpdir(), "smartbin-chaos-"));
      const dbDir = diskDir ?? join(dir, "db");
      mkdirSync(dbDir, { recursive: true });
      const rig = await startRig({ dir, dbDir, plan, libfaketime });
      let keep = false;
      try {
        const say = (line: string) => process.stderr.write(`chaos: ${line}\n`);
        say(`seed ${seed}, profile ${profile.name}: ${plan.kills.length} kills and ${plan.faults.length} faults planned; reproduce with CHAOS_SEED=${seed} CHAOS_PROFILE=${profile.name} npm run test:chaos`);
        const { truth, report } = await playDay(rig, plan, { diskDir, note: say });
        const verdict = check(truth, rig.central.received);
        const violations = [...report.problems, ...verdict.violations];
        const summary = { ...report, stats: verdict.stats, violations };
        mkdirSync(join(ROOT, ".chaos"), { recursive: true });
        const file = join(ROOT, ".chaos", `${profile.name}-${seed}.json`);
        writeFileSync(file, JSON.stringify(summary, null, 2) + "\n");
        say(JSON.stringify({ ...summary, violations: violations.length }));
        say(`report in ${file}`);
        expect(report.kills, "kills made").toBeGreaterThanOrEqual(profile.name === "long" ? 50 : profile.name === "short" ? 10 : 1);
        // CHAOS_KEEP=1 keeps the files of a run without violations too (to compare it with a failed one).
        keep = violations.length > 0 || process.env.CHAOS_KEEP === "1";
        // What a violation needs for its diagnosis stays in `dir`: the station's log, what central got, the truth.
        if (keep) {
          writeFileSync(join(dir, "received.jsonl"), rig.central.received.map((r) => r.payload).join("\n") + "\n");
          writeFileSync(join(dir, "station.log.jsonl"), rig.station.log.map((l) => JSON.stringify(l)).join("\n") + "\n");
          writeFileSync(join(dir, "truth.json"), JSON.stringify(truth, null, 1) + "\n");
        }
        if (keep) say(`files kept in ${dir}`);
        // CI keeps no files: the station's own lines around the first visits a violation names go to the output.
        if (violations.length > 0) for (const line of digest(violations, truth, rig.station.log)) say(line);
        // The database may be on the namespace's tmpfs, which goes with the run: keep a copy beside the rest.
        if (keep && diskDir !== undefined) for (const f of ["station.db", "station.db-wal"]) if (existsSync(join(diskDir, f))) copyFileSync(join(diskDir, f), join(dir, f));
        expect(violations, `violations with seed ${seed} (CHAOS_SEED=${seed} CHAOS_PROFILE=${profile.name} npm run test:chaos; files kept in ${dir})`).toEqual([]);
      } finally {
        await rig.dispose();
        if (diskDir !== undefined) rmSync(join(diskDir, "chaos-filler"), { force: true });
        if (!keep) rmSync(dir, { recursive: true, force: true });
      }
    },
    profile.durationMs + 240_000,
  );
});

/** Log lines of no use to a diagnosis (reconnect backoff, port and line set-up). */
const QUIET = /^(reconnecting to the broker|serial port open|gpio |the database folder|broker unreachable)/;
/** Fields left out of a digest line (pino's own and the line's message). */
const OMIT = new Set(["time", "pid", "hostname", "level", "name", "msg", "module", "err"]);

/**
 * The station's log from 2 s before to 12 s after each of the first two visits a violation names,
 * one short line each (`+125.47 s run 13: session opened card=…`), at most 60 lines in all: what CI,
 * which keeps no files, needs to tell what happened.
 */
function digest(violations: string[], truth: Truth, log: LogLine[]): string[] {
  const t0 = log[0]?.at ?? 0;
  /** `125.47`: seconds into the run. */
  const sec = (at: number) => ((at - t0) / 1000).toFixed(2);
  const named = [...new Set(violations.flatMap((v) => [...v.matchAll(/visit #(\d+)/g)].map((m) => Number(m[1]))))].slice(0, 2);
  const out: string[] = [];
  for (const n of named) {
    const visit = truth.visits.find((v) => v.n === n);
    if (visit === undefined) continue;
    const moves = visit.moves.map((m) => `${m.deltaG} g at +${sec(m.at)} s`).join(", ");
    out.push(`visit #${n}: +${sec(visit.startedAt)} to +${sec(visit.endedAt)} s, moves: ${moves || "none"}; station log:`);
    for (const l of log) {
      if (l.at < visit.startedAt - 2000 || l.at > visit.endedAt + 12_000 || QUIET.test(l.msg)) continue;
      const fields = Object.entries(l.fields)
        .filter(([k]) => !OMIT.has(k))
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
        .join(" ");
      const err = (l.fields.err as { message?: string } | undefined)?.message;
      out.push(`  +${sec(l.at)} s run ${l.run}: ${l.msg} ${fields}${err !== undefined ? ` err=${err}` : ""}`.slice(0, 300));
    }
  }
  return out.length > 60 ? [...out.slice(0, 59), `(${out.length - 59} more lines; CHAOS_KEEP=1 keeps the whole log)`] : out;
}
