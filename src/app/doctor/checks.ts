/**
 * The doctor's checks other than serial ports and GPIO (issue 10, item 4): broker reachability,
 * TLS files, clock synchronisation, disk space, database integrity and backlog. Each is a function
 * of the config and what the probes report; none touches the machine itself.
 */
import path from "node:path";
import { expectedFault, messageChain } from "../../adapters/log/faults.js";
import { refusesCredentials } from "../../adapters/mqtt/connection.js";
import type { Config } from "../../config/schema.js";
import { TLS_FILE_KEYS, inspectTlsMaterial } from "../../config/tls-material.js";
import type { CheckResult, DoctorProbes } from "./types.js";

/** A certificate ending within this many days is a warning (renew it before it stops the link). */
export const CERT_WARN_DAYS = 30;
/** An oldest pending event older than this is a warning: events are not getting out. */
export const BACKLOG_WARN_S = 900;
const DAY_MS = 86_400_000;
const MIB = 1_048_576;

/** Broker: an MQTT CONNECT with the config's URL, credentials and TLS material (another client id). */
export async function checkBroker(config: Readonly<Config>, probes: DoctorProbes, timeoutMs: number): Promise<CheckResult> {
  const url = redactUrl(config.mqtt.url);
  const result = await probes.connectBroker(timeoutMs);
  const details = { url, protocol_version: config.mqtt.protocol_version };
  if (result.ok) return { name: "broker", level: "ok", message: `${url} accepted an MQTT ${config.mqtt.protocol_version === 5 ? "5" : "3.1.1"} connection in ${Math.round(result.ms)} ms`, details: { ...details, ms: result.ms } };
  if (result.stage === "timeout") {
    return { name: "broker", level: "fail", message: `${url}: no answer within ${timeoutMs / 1000} s: is the host reachable (firewall, 4G link)?`, details };
  }
  if (result.stage === "closed") {
    return { name: "broker", level: "fail", message: `${url} closed the connection before accepting it: is it an MQTT listener (mqtt:// vs mqtts://, port)?`, details };
  }
  return { name: "broker", level: "fail", message: `${url}: ${brokerAdvice(result.error)}`, details: { ...details, error: messageChain(result.error) } };
}

/** The reason a CONNECT failed, in words, with what to do. */
function brokerAdvice(error: unknown): string {
  const fault = expectedFault(error);
  const code = (error as { code?: unknown } | null)?.code;
  const reason = fault?.reason ?? "";
  switch (fault?.code ?? "") {
    case "ECONNREFUSED":
      return `${reason}: nothing listens there; is the broker running, and the port right?`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `${reason}: check the host in mqtt.url and the DNS`;
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `${reason}: check the network (route, firewall, 4G link)`;
  }
  if (refusesCredentials(error)) return `the broker refused the station's credentials (${messageChain(error)}): check mqtt.username and the password`;
  if (typeof code === "string" && /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO/.test(code)) return `TLS: ${messageChain(error)} (${code}): check mqtt.ca_file and the broker's certificate`;
  return messageChain(error);
}

/** One result per TLS file of the config: readable, PEM, and certificates not expired nor near it. */
export function checkTlsFiles(config: Readonly<Config>, probes: DoctorProbes): CheckResult[] {
  const results: CheckResult[] = [];
  for (const [key, kind] of TLS_FILE_KEYS) {
    const file = config.mqtt[key];
    if (file === undefined) continue;
    const name = `tls.${key}`;
    let bytes: Uint8Array;
    try {
      bytes = probes.readFile(file);
    } catch (err) {
      results.push({ name, level: "fail", message: `${file} cannot be read (${expectedFault(err)?.reason ?? messageChain(err)}): the station runs as its own user, which must read it`, details: { file } });
      continue;
    }
    const material = inspectTlsMaterial(bytes, kind);
    if (!material.ok) {
      results.push({ name, level: "fail", message: `${file}: ${material.problem}`, details: { file } });
      continue;
    }
    if (kind === "private_key") {
      results.push({ name, level: "ok", message: `${file}: a readable private key`, details: { file } });
      continue;
    }
    const now = probes.now().getTime();
    const soonest = [...material.certificates].sort((a, b) => a.validTo.getTime() - b.validTo.getTime())[0];
    if (soonest === undefined) continue;
    const days = (soonest.validTo.getTime() - now) / DAY_MS;
    const details = { file, certificates: material.certificates.length, valid_to: soonest.validTo.toISOString(), subject: soonest.subject };
    const who = `certificate ${soonest.subject || "(no subject)"}`;
    if (days <= 0) {
      results.push({ name, level: "fail", message: `${file}: ${who} expired on ${soonest.validTo.toISOString()}: renew it (events wait in the database meanwhile)`, details });
    } else if (days <= CERT_WARN_DAYS) {
      results.push({ name, level: "warn", message: `${file}: ${who} expires in ${Math.floor(days)} days (${soonest.validTo.toISOString()}): renew it before then`, details });
    } else {
      results.push({ name, level: "ok", message: `${file}: ${material.certificates.length} certificate(s), the first to expire on ${soonest.validTo.toISOString()}`, details });
    }
  }
  return results;
}

/** Clock: the timesyncd marker (or timedatectl); unsynced or unknown is a warning. */
export function checkClock(probes: DoctorProbes, marker: string): CheckResult {
  const { synced, source } = probes.clockSynced(marker);
  const details = { source, marker };
  if (synced === true) return { name: "clock", level: "ok", message: `synchronised (${source})`, details };
  const what = synced === false ? "not synchronised" : "synchronisation unknown";
  return {
    name: "clock",
    level: "warn",
    message: `${what} (${source}): events are marked clock_synced false; enable NTP (sudo timedatectl set-ntp true) and check the network`,
    details,
  };
}

/** Disk: free space of the database's file system against `storage.min_free_mb` (and twice it). */
export function checkDisk(config: Readonly<Config>, probes: DoctorProbes): CheckResult {
  const dbPath = config.storage.path;
  if (dbPath === ":memory:") return { name: "disk", level: "ok", message: "in-memory database: no disk used" };
  const folder = path.dirname(dbPath);
  const free = probes.freeBytes(folder);
  const floor = config.storage.min_free_mb * MIB;
  const freeMb = Math.floor(free / MIB);
  const details = { folder, free_bytes: free, min_free_mb: config.storage.min_free_mb };
  if (free < floor) return { name: "disk", level: "fail", message: `${freeMb} MiB free under ${folder}, below storage.min_free_mb (${config.storage.min_free_mb}): no new sessions open; free some space`, details };
  if (free < 2 * floor) return { name: "disk", level: "warn", message: `${freeMb} MiB free under ${folder}, below twice storage.min_free_mb: published events are pruned early; free some space`, details };
  return { name: "disk", level: "ok", message: `${freeMb} MiB free under ${folder}`, details };
}

/** Database: SQLite's quick_check, read-only, without the station's lock; none yet is fine. */
export function checkDatabase(config: Readonly<Config>, probes: DoctorProbes): CheckResult {
  const dbPath = config.storage.path;
  if (dbPath === ":memory:") return { name: "database", level: "ok", message: "in-memory database (tests only: events do not survive)" };
  const result = probes.quickCheck(dbPath);
  switch (result.kind) {
    case "missing":
      return { name: "database", level: "ok", message: `no database yet at ${dbPath} (the station creates it at its first start)`, details: { path: dbPath } };
    case "ok":
      return { name: "database", level: "ok", message: `${dbPath} passes SQLite's quick_check`, details: { path: dbPath } };
    case "damaged":
      return {
        name: "database",
        level: "fail",
        message: `${dbPath} is damaged (${result.problems[0] ?? "quick_check failed"}): restart the station, which moves it aside and salvages what it can`,
        details: { path: dbPath, problems: result.problems },
      };
    case "failed":
      return { name: "database", level: "fail", message: `${dbPath} cannot be checked: ${result.error}`, details: { path: dbPath } };
  }
}

/** Backlog: events waiting for the broker, and how old the oldest is. */
export function checkBacklog(config: Readonly<Config>, probes: DoctorProbes): CheckResult {
  const dbPath = config.storage.path;
  if (dbPath === ":memory:") return { name: "backlog", level: "ok", message: "in-memory database: nothing held" };
  let backlog;
  try {
    backlog = probes.backlog(dbPath);
  } catch (err) {
    return { name: "backlog", level: "fail", message: `cannot read ${dbPath}: ${messageChain(err)}`, details: { path: dbPath } };
  }
  const details = { pending: backlog.pending, oldest_pending_age_s: backlog.oldestPendingAgeS };
  if (!backlog.exists || backlog.pending === 0) return { name: "backlog", level: "ok", message: "no event waits for the broker", details };
  const age = backlog.oldestPendingAgeS ?? 0;
  const text = `${backlog.pending} event(s) wait for the broker, the oldest for ${formatAge(age)}`;
  if (age >= BACKLOG_WARN_S) return { name: "backlog", level: "warn", message: `${text}: see the broker check; they go out in order once it is reached`, details };
  return { name: "backlog", level: "ok", message: text, details };
}

/** `42 s`, `12 min`, `3 h 20 min`, `2 d 4 h`. */
function formatAge(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

/** The URL without user info (a password may be written there). */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.toString().replace(/\/$/, "");
  } catch {
    return url;
  }
}
