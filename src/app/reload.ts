/**
 * What a configuration reload may change while the station runs (issue 10 item 3; contract section
 * 4 `reload_config`): one pure plan that SIGHUP and, later, the MQTT command share.
 *
 * - Applied at run time: scales, readers and level sensors (only devices whose settings changed are reopened; new
 *   ones are opened, removed ones closed), bins without door changes, points, session timers, role
 *   lists, the time zone and fire rule, the log level, the telemetry interval, and `mqtt`: the
 *   station connects with the new settings first, and goes back to the old ones (the whole reload
 *   rolled back) when the broker cannot be reached with them (contract section 4 `reload_config`).
 * - Refused, with the reason "needs a restart": `station.id` (in every topic and event),
 *   `station.clock_sync_marker`, `storage` (the open database), `gpio` (the claimed lines) and any
 *   door of a bin (its lines).
 */
import { isDeepStrictEqual } from "node:util";
import type { Config } from "../config/schema.js";

/** The plan of one reload. */
export type ReloadPlan =
  | { ok: false; refused: string[] }
  | {
      ok: true;
      /** Nothing differs: nothing to do. */
      unchanged: boolean;
      /** Ids of scales, readers and level sensors to stop and open again (settings changed), and of removed ones. */
      reopen: Set<string>;
      /** The config's role lists changed: they replace the lists in force. */
      cardsChanged: boolean;
      /** `mqtt` changed: the station reconnects with it, and rolls the reload back if the broker cannot be reached. */
      mqttChanged: boolean;
      /** Dotted keys that changed, for the log. */
      changed: string[];
    };

/** Keys whose change needs a restart, with why. */
const RESTART_ONLY: Array<[path: string, get: (c: Readonly<Config>) => unknown, why: string]> = [
  ["station.id", (c) => c.station.id, "it is in every topic and event"],
  ["station.clock_sync_marker", (c) => c.station.clock_sync_marker, "the clock check is set up at start"],
  ["storage", (c) => c.storage, "the database is open"],
  ["gpio", (c) => c.gpio, "its lines are claimed at start"],
  ["bins[].door", (c) => c.bins.filter((b) => b.door !== undefined).map((b) => [b.id, b.door]), "door lines are claimed at start"],
  ["readers[].d0_line/d1_line", (c) => c.readers.flatMap((r) => ("d0_line" in r ? [[r.id, r.d0_line, r.d1_line]] : [])), "Wiegand lines are claimed at start"],
];

/** Top-level keys applied at run time. */
const HOT: Array<[path: string, get: (c: Readonly<Config>) => unknown]> = [
  ["scales", (c) => c.scales],
  ["readers", (c) => c.readers],
  ["level_sensors", (c) => c.level_sensors],
  ["bins", (c) => c.bins],
  ["points", (c) => c.points],
  ["session", (c) => c.session],
  ["cards", (c) => c.cards],
  ["station.time_zone", (c) => c.station.time_zone],
  ["station.fire_doors", (c) => c.station.fire_doors],
  ["log.level", (c) => c.log.level],
  ["mqtt", (c) => c.mqtt],
  ["telemetry", (c) => c.telemetry],
];

/** Compares the running config with the new one. */
export function planReload(current: Readonly<Config>, next: Readonly<Config>): ReloadPlan {
  const refused = RESTART_ONLY.filter(([, get]) => !isDeepStrictEqual(get(current), get(next))).map(
    ([path, , why]) => `${path} changed: needs a restart (${why}); nothing was applied`,
  );
  if (refused.length > 0) return { ok: false, refused };
  const changed = HOT.filter(([, get]) => !isDeepStrictEqual(get(current), get(next))).map(([path]) => path);
  const reopen = new Set<string>();
  const devices = (c: Readonly<Config>) => new Map<string, unknown>([...c.scales.map((s) => [`scale ${s.id}`, s] as const), ...c.readers.map((r) => [`reader ${r.id}`, r] as const), ...c.level_sensors.map((l) => [`level ${l.id}`, l] as const)]);
  const before = devices(current);
  const after = devices(next);
  for (const [key, value] of before) {
    const id = key.slice(key.indexOf(" ") + 1);
    if (!after.has(key) || !isDeepStrictEqual(value, after.get(key))) reopen.add(id);
  }
  const cardLists = (c: Readonly<Config>) => [c.cards.collectors, c.cards.maintenance, c.cards.blocked];
  return {
    ok: true,
    unchanged: changed.length === 0,
    reopen,
    cardsChanged: !isDeepStrictEqual(cardLists(current), cardLists(next)),
    mqttChanged: changed.includes("mqtt"),
    changed,
  };
}
