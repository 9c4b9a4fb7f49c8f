/**
 * The chaos suite's plan of a station day (issue 12), fixed by the seed: the visits the simulation
 * plays (residents with bags, collectors emptying bins, disturbances) and the fault schedule (kills
 * of `smartbin run`, the broker stopped or killed, connections cut, serial devices unplugged, garbage
 * on the lines, the wall clock jumped, the database locked by another process, the disk filled).
 * Timing of a run can still change what each fault meets; the plan itself cannot change.
 */
import { randomStream } from "./random.js";

/** How long a run plays, and how many kills it makes at least. */
export interface Profile {
  name: string;
  /** How long the day is played (ms), before the final drain and check. */
  durationMs: number;
  /** Kills of `smartbin run` planned in the day (at least this many are made). */
  kills: number;
}

export const PROFILES: Record<string, Profile> = {
  /** CI: at most 5 minutes with setup and the final check, at least 10 kills. */
  short: { name: "short", durationMs: 170_000, kills: 14 },
  /** A quick look while working on the suite (not a proof: too few kills). */
  smoke: { name: "smoke", durationMs: 45_000, kills: 4 },
  /** By hand: at least 50 kills. */
  long: { name: "long", durationMs: 900_000, kills: 60 },
};

/** The station's bins as the chaos config declares them. */
export const BINS = {
  /** A door bin (simulated GPIO lines), food waste. */
  kitchen: { scaleId: "scale-kitchen", door: true, initialG: 12_000 },
  /** A bin without a door, recyclables. */
  recycle: { scaleId: "scale-recycle", door: false, initialG: 5_000 },
} as const;
export type BinId = keyof typeof BINS;

/** One planned visit. */
export interface VisitPlan {
  n: number;
  role: "resident" | "collector";
  binId: BinId;
  /** Resident: the bags, grams each (one or two goes). */
  bags: number[];
  /** Collector: the gross weight the bin is emptied down to (grams). */
  emptyToG: number;
  /** Pause before the visit (ms). */
  pauseMs: number;
  /** A disturbance on a bin during the pause (grams, signed), or none. */
  disturbance: { binId: BinId; deltaG: number } | null;
}

/** What a kill waits for before it strikes. */
export type KillMode =
  /** At its planned instant. */
  | "now"
  /** The kitchen door unlocked (a session with a door unlocked). */
  | "door_unlocked"
  /** A bag weighed (stable for 300 ms), the session still open: it must be recovered and credited. */
  | "mid_session"
  /** About when a session closes after a bag (the deposit's commit). */
  | "commit"
  /** Just after the broker came back (the backlog draining). */
  | "drain";

export interface KillPlan {
  /** Ms into the day. */
  at: number;
  mode: KillMode;
  /** Delay after the condition (ms). */
  delayMs: number;
  /** How long the station stays down (ms). */
  downMs: number;
}

export type FaultKind =
  | "broker_stop"
  | "broker_kill"
  | "proxy_cut"
  | "serial_unplug"
  | "garbage"
  | "clock_jump"
  | "db_lock"
  | "disk_floor"
  | "disk_full";

export interface FaultPlan {
  /** Ms into the day. */
  at: number;
  kind: FaultKind;
  /** How long it lasts (ms; 0 for instant faults). */
  durationMs: number;
  /** serial_unplug and garbage: which device (a scale id or `reader-1`). */
  device: string;
  /** clock_jump: the new offset of the wall clock from the true one, seconds. */
  offsetS: number;
  /** garbage: the burst's length in bytes. */
  bytes: number;
}

export interface DayPlan {
  seed: number;
  profile: Profile;
  visits: VisitPlan[];
  kills: KillPlan[];
  faults: FaultPlan[];
}

const DEVICES = [BINS.kitchen.scaleId, BINS.recycle.scaleId, "reader-1"];

/** The plan of the day for `seed` and `profile`. */
export function planDay(seed: number, profile: Profile): DayPlan {
  const script = randomStream(seed, "script");
  const visits: VisitPlan[] = [];
  // More visits than a day can play (about 4 s each): the player stops at the profile's duration.
  const count = Math.ceil(profile.durationMs / 2000) + 10;
  for (let n = 0; n < count; n++) {
    const role = script.chance(0.12) ? "collector" : "resident";
    const binId = script.pick(["kitchen", "recycle"] as const);
    const bags = [script.int(150, 4000)];
    if (script.chance(0.25)) bags.push(script.int(150, 3000));
    visits.push({
      n,
      role,
      binId,
      bags,
      emptyToG: script.int(800, 2500),
      pauseMs: script.int(300, 2500),
      disturbance: script.chance(0.1) ? { binId: script.pick(["kitchen", "recycle"] as const), deltaG: script.pick([-1, 1]) * script.int(100, 900) } : null,
    });
  }

  const killer = randomStream(seed, "kills");
  const kills: KillPlan[] = [];
  const gap = profile.durationMs / (profile.kills + 1);
  for (let i = 0; i < profile.kills; i++) {
    kills.push({
      at: Math.round(gap * (i + 0.5 + killer.float() * 0.8)),
      mode: killer.weighted([
        [3, "now"],
        [2, "door_unlocked"],
        [2, "mid_session"],
        [2, "commit"],
        [1, "drain"],
      ] as const),
      delayMs: killer.int(0, 400),
      downMs: killer.int(200, 3000),
    });
  }

  const faulter = randomStream(seed, "faults");
  const faults: FaultPlan[] = [];
  let offsetS = 0;
  for (let at = faulter.int(2000, 6000); at < profile.durationMs - 5000; at += faulter.int(3000, 9000)) {
    const kind = faulter.weighted([
      [2, "broker_stop"],
      [2, "broker_kill"],
      [2, "proxy_cut"],
      [3, "serial_unplug"],
      [3, "garbage"],
      [2, "clock_jump"],
      [2, "db_lock"],
      [1, "disk_floor"],
      [1, "disk_full"],
    ] as const);
    if (kind === "clock_jump") {
      // Back and forth around the true time: up to two days ahead, up to a day behind.
      offsetS = faulter.chance(0.5) ? -faulter.int(60, 86_400) : faulter.int(60, 172_800);
    }
    const durationMs = {
      broker_stop: faulter.int(2000, 9000),
      broker_kill: faulter.int(1000, 9000),
      proxy_cut: 0,
      serial_unplug: faulter.int(500, 4000),
      garbage: 0,
      clock_jump: 0,
      db_lock: faulter.int(1000, 8000),
      disk_floor: faulter.int(3000, 9000),
      disk_full: faulter.int(2000, 6000),
    }[kind];
    faults.push({ at, kind, durationMs, device: faulter.pick(DEVICES), offsetS, bytes: faulter.int(8, 400) });
  }
  return { seed, profile, visits, kills, faults };
}

/** The card id a visit shows, as the em4100-ascii reader reports it (`dec10`: the card number, ten digits). */
export function visitCard(plan: Pick<VisitPlan, "n" | "role">): { tagHex: string; cardId: string } {
  // Distinct last four digits per visit: `session opened` logs only the last four (privacy.ts).
  const number = (plan.role === "collector" ? 9_000_000 : 5_000_000) + plan.n;
  return { tagHex: "10" + number.toString(16).toUpperCase().padStart(8, "0"), cardId: String(number).padStart(10, "0") };
}
