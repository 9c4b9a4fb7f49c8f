/**
 * The config mapped to the station machine's context, in one pure function. Every default is the
 * schema's (src/config/schema.ts, with the per-protocol ones such as `min_reads` from the protocol
 * modules of the device registry): nothing here invents a value.
 */
import { DEFAULT_MAX_NET_G, timeZoneSpelling, type Config } from "../config/schema.js";
import { compilePointsTable, localDay } from "../domain/points.js";
import { resolveStabilityOptions } from "../domain/stability.js";
import { secondsToMs } from "../domain/session.js";
import { CONTACTS, type StationContext } from "../domain/station-types.js";
import { findProtocol } from "../protocol/index.js";

/** Reader noise is logged at most once a minute per reader. */
export const NOISE_LOG_INTERVAL_MS = 60_000;

/**
 * The station machine's context of a validated config. A bin without `max_net_g` gets the lower of
 * {@link DEFAULT_MAX_NET_G} and its scale's `capacity_g` (contract.md section 2).
 *
 * @throws RangeError only for values the schema already refuses (a config that was not validated)
 */
export function contextFromConfig(config: Readonly<Config>): StationContext {
  const binOfScale = new Map(config.bins.map((b) => [b.scale, b.id]));
  const points = config.points;
  return {
    stationId: config.station.id,
    scales: config.scales.map((s) => {
      const codec = findProtocol("scale", s.protocol).configure(s);
      return {
        id: s.id,
        binId: binOfScale.get(s.id) ?? null,
        stability: resolveStabilityOptions({
          windowMs: s.stable_window_ms,
          minSamples: s.stable_min_samples,
          ...(s.stable_tolerance_divisions !== undefined && s.division_g !== undefined
            ? { toleranceDivisions: s.stable_tolerance_divisions, divisionG: s.division_g }
            : { toleranceG: s.stable_tolerance_g }),
        }),
        changeThresholdG: s.change_threshold_g,
        capacityG: s.capacity_g ?? null,
        noValidFramesMs: secondsToMs(s.silence_timeout_s),
        // The device registry says whether the protocol takes commands (MT-SICS `T`, `Z`; streaming ones
        // do not) and whether the station polls it.
        takesCommands: codec.commands !== undefined,
        polled: codec.port.poll !== undefined,
      };
    }),
    readers: config.readers.map((r) => ({
      id: r.id,
      repeatGapMs: r.repeat_gap_ms,
      // Filled in by the schema with the protocol module's default when the file has none.
      minReads: r.min_reads,
      noValidFramesMs: secondsToMs(r.no_valid_frames_s),
    })),
    levelSensors: config.level_sensors.map((l) => ({
      id: l.id,
      binId: l.bin,
      emptyMm: l.empty_mm,
      fullMm: l.full_mm,
      medianWindowMs: secondsToMs(l.median_window_s),
      noValidFramesMs: secondsToMs(l.silence_timeout_s),
      polled: findProtocol("level", l.protocol).configure(l).port.poll !== undefined,
    })),
    bins: config.bins.map((b) => ({
      binId: b.id,
      category: b.category,
      scaleId: b.scale,
      maxNetG:
        b.max_net_g ??
        Math.min(DEFAULT_MAX_NET_G, config.scales.find((s) => s.id === b.scale)?.capacity_g ?? DEFAULT_MAX_NET_G),
      fullG: b.full_g ?? null,
      door:
        b.door === undefined
          ? null
          : {
              hasButton: b.door.button !== undefined,
              hasLamp: b.door.lamp !== undefined,
              openTimeoutMs: secondsToMs(b.door.open_timeout_s),
              leftOpenMs: secondsToMs(b.door.left_open_s),
            },
    })),
    session: {
      idleCloseMs: secondsToMs(config.session.idle_close_s),
      firstDepositTimeoutMs: secondsToMs(config.session.first_deposit_timeout_s),
      maxSessionMs: secondsToMs(config.session.max_session_s),
      recoverTimeoutMs: secondsToMs(config.session.recover_timeout_s),
    },
    gpio: {
      doorMode: config.session.door_mode,
      fireDoors: config.station.fire_doors,
      contacts: CONTACTS.filter((c) => config.gpio.inputs[c] !== undefined),
      hasBuzzer: config.gpio.buzzer !== undefined,
    },
    localDay: stationLocalDay(config.station.time_zone),
    points: points?.categories
      ? compilePointsTable({
          rulesVersion: points.rules_version ?? "",
          categories: Object.fromEntries(
            Object.entries(points.categories).map(([c, r]) => [
              c,
              { pointsPerKg: r.points_per_kg, pointsPerDeposit: r.points_per_deposit, minNetG: r.min_net_g },
            ]),
          ),
          rounding: points.rounding,
          dailyCap: points.daily_cap ?? null,
        })
      : null,
    noiseLogIntervalMs: NOISE_LOG_INTERVAL_MS,
  };
}

/** `TZ` as the process found it, before {@link useStationTimeZone} set it. */
const STARTING_TZ = process.env.TZ;

/**
 * The day of an instant in this process's local zone (`TZ`, else /etc/localtime), from Date's
 * local-time getters: V8 computes those from ICU's time zone data alone, without the locale and
 * pattern data of `Intl.DateTimeFormat` (about 8 MiB resident once loaded; on Node 24 a bare
 * process measured 43.1 MiB, 51.8 MiB after one `formatToParts`, 43.8 MiB after `getDate()`).
 */
function processLocalDay(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${String(d.getFullYear()).padStart(4, "0")}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
}

/**
 * The daily cap's day in `station.time_zone`: `system` is the process's local zone (which
 * {@link useStationTimeZone} gives back at a reload to `system`); a named zone is the process's own
 * once {@link useStationTimeZone} made it so (the station does at start and at every reload), and goes
 * through `Intl` only while it is not (`monitor`, tests).
 */
export function stationLocalDay(zone: string): (epochMs: number) => string {
  if (zone === "system") return processLocalDay;
  const spelled = timeZoneSpelling(zone) ?? zone;
  return (t) => (process.env.TZ === spelled ? processLocalDay(t) : localDay(t, zone));
}

/**
 * Makes `station.time_zone` this process's local zone: `TZ` set to the name as `TZ` understands it
 * ({@link timeZoneSpelling}: `asia/shanghai` is written `Asia/Shanghai`, which `TZ` needs), or back
 * to what it was at start for `system`. Node resets its time zone cache when `TZ` is assigned, so
 * Date's local-time getters follow at once. Logs carry UTC timestamps and are not affected.
 */
export function useStationTimeZone(zone: string): void {
  const wanted = zone === "system" ? STARTING_TZ : (timeZoneSpelling(zone) ?? zone);
  if (process.env.TZ === wanted) return;
  if (wanted === undefined) delete process.env.TZ;
  else process.env.TZ = wanted;
}
