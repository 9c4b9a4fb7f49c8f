/**
 * `smartbin doctor` (contract.md section 1; issue 10, item 4): every check in order, one result
 * each, and how results become lines, JSON and an exit code. The checks see the machine only
 * through {@link DoctorProbes}; the real probes are in system-probes.ts.
 */
import { TIMESYNC_MARKER } from "../../adapters/clock-sync.js";
import { isSerialReader } from "../../config/device-schema.js";
import { formatWarning, type ConfigProblem } from "../../config/problems.js";
import type { Config } from "../../config/schema.js";
import { checkBacklog, checkBroker, checkClock, checkDatabase, checkDisk, checkTlsFiles } from "./checks.js";
import { checkGpio } from "./gpio-check.js";
import { checkSerialDevice, type RunningStation, type SerialDeviceEntry } from "./serial-check.js";
import type { CheckResult, DoctorProbes } from "./types.js";

/** How long each serial port is listened to when no station holds it. */
export const LISTEN_MS = 3_000;
/** How long the broker has to accept an MQTT CONNECT. */
export const BROKER_TIMEOUT_MS = 5_000;

/** Timing of the checks (tests shorten them). */
export interface DoctorTiming {
  listenMs?: number;
  brokerTimeoutMs?: number;
}

/**
 * Runs every check on a valid config. `file` and `warnings` are the config file as given and its
 * warnings (warnings.ts), reported as the `config` check. Serial ports are listened to together, so
 * the whole run takes about one listen plus the broker's answer.
 */
export async function runDoctor(
  config: Readonly<Config>,
  source: { file: string; warnings: readonly ConfigProblem[] },
  probes: DoctorProbes,
  timing: DoctorTiming = {},
): Promise<CheckResult[]> {
  const results: CheckResult[] = [...configResults(source.file, source.warnings)];
  const station = runningStation(config, probes);
  results.push(
    station === null
      ? { name: "station", level: "ok", message: "no station is running on this database: ports are opened and listened to" }
      : { name: "station", level: "ok", message: `a station is running (pid ${station.pid ?? "unknown"}): its ports are not opened; what it reports is shown instead`, details: { pid: station.pid } },
  );
  const devices: SerialDeviceEntry[] = [
    ...config.scales.map((item) => ({ kind: "scale" as const, item })),
    ...config.readers.filter(isSerialReader).map((item) => ({ kind: "reader" as const, item })),
    ...config.level_sensors.map((item) => ({ kind: "level" as const, item })),
  ];
  const listenMs = timing.listenMs ?? LISTEN_MS;
  const [serial, broker] = await Promise.all([
    Promise.all(devices.map((d) => checkSerialDevice(d, probes, station, listenMs))),
    checkBroker(config, probes, timing.brokerTimeoutMs ?? BROKER_TIMEOUT_MS),
  ]);
  results.push(...serial, checkGpio(config, probes), broker, ...checkTlsFiles(config, probes));
  const marker = (config as { station: { clock_sync_marker?: unknown } }).station.clock_sync_marker;
  results.push(
    checkClock(probes, typeof marker === "string" ? marker : TIMESYNC_MARKER),
    checkDisk(config, probes),
    checkDatabase(config, probes),
    checkBacklog(config, probes),
  );
  return results;
}

/** The config check: ok, or one warning line per config warning. */
function configResults(file: string, warnings: readonly ConfigProblem[]): CheckResult[] {
  if (warnings.length === 0) return [{ name: "config", level: "ok", message: `${file} is valid`, details: { file } }];
  return warnings.map((w) => ({
    name: "config",
    level: "warn",
    message: `${w.path} (line ${w.line}): ${w.message}`,
    details: { file, path: w.path, line: w.line, col: w.col, text: formatWarning(w) },
  }));
}

/** The station running on this config's database, with its device reports, or `null`. */
function runningStation(config: Readonly<Config>, probes: DoctorProbes): RunningStation | null {
  const dbPath = config.storage.path;
  if (dbPath === ":memory:") return null;
  const holder = probes.stationHolder(dbPath);
  if (holder === null) return null;
  return { pid: holder.pid, reports: probes.deviceReports(dbPath) };
}

/** The exit code (contract.md section 1): 1 if any check failed, else 0 (78 is decided before, for an invalid config). */
export function doctorExitCode(results: readonly CheckResult[]): 0 | 1 {
  return results.some((r) => r.level === "fail") ? 1 : 0;
}

/** `ok NAME: message`, one line (a message never holds a newline). */
export function formatResult(r: CheckResult): string {
  return `${r.level} ${r.name}: ${r.message.replace(/\s*\n\s*/g, " ")}`;
}

/** The `--json` object: the config file, every check, and the counts per level. */
export function doctorJson(file: string, results: readonly CheckResult[]): Record<string, unknown> {
  const count = (level: CheckResult["level"]) => results.filter((r) => r.level === level).length;
  return { config: file, checks: results, summary: { ok: count("ok"), warn: count("warn"), fail: count("fail") } };
}
