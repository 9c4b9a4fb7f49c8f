/**
 * The doctor's real probes: the file system, serial ports (serialport, the station's own binding),
 * the broker (MQTT.js), the clock markers, the database (read-only, never created, never locked).
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync, readdirSync, realpathSync, statSync, statfsSync } from "node:fs";
import { userInfo } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { connect, type IClientOptions } from "mqtt";
import { connectionSettings } from "../broker-settings.js";
import { credentialOptions } from "../../adapters/mqtt/connect-options.js";
import { SerialPort } from "serialport";
import { quickCheckWithin } from "../../adapters/outbox/integrity.js";
import { lockHolderPid } from "../../adapters/outbox/lock.js";
import { readOutboxStatus } from "../../adapters/outbox/status-query.js";
import { findUsbPort } from "../../adapters/serial/usb-port.js";
import { startPollerWake } from "../../adapters/serial/poller-wake.js";
import type { Config } from "../../config/schema.js";
import type { PollRequest, SerialSettings } from "../../protocol/index.js";
import type { BrokerResult, DeviceReport, DoctorProbes, GpioChip, ListenResult, PathFacts } from "./types.js";

/** How long the doctor waits for quick_check on a large database. */
const QUICK_CHECK_LIMIT_MS = 60_000;
/** Newest alarms looked at for device reports. */
const ALARMS_SCANNED = 5_000;

/** The probes of this machine, for `config` (its broker settings and TLS material). */
export function systemProbes(config: Readonly<Config>): DoctorProbes {
  return {
    now: () => new Date(),
    stat,
    readWriteDenied: (p) => errnoOf(() => accessSync(p, constants.R_OK | constants.W_OK)),
    realpath: (p) => {
      try {
        return realpathSync(p);
      } catch {
        return null;
      }
    },
    readFile: (p) => readFileSync(p),
    findUsbPort: (usb) => findUsbPort(usb),
    listen,
    stationHolder: (dbPath) => {
      const pid = lockHolderPid(`${dbPath}.lock`);
      return pid === null ? null : { pid };
    },
    deviceReports,
    connectBroker: (timeoutMs) => connectBroker(config, timeoutMs),
    clockSynced,
    freeBytes: (p) => {
      const fs = statfsSync(existingAncestor(p));
      return fs.bavail * fs.bsize;
    },
    quickCheck: (dbPath) => {
      if (!existsSync(dbPath)) return { kind: "missing" };
      const r = quickCheckWithin(dbPath, QUICK_CHECK_LIMIT_MS);
      return r.kind === "timeout" ? { kind: "failed", error: `quick_check did not finish within ${QUICK_CHECK_LIMIT_MS / 1000} s` } : r;
    },
    backlog: (dbPath) => {
      const s = readOutboxStatus(dbPath, new Date());
      return { pending: s.pending, oldestPendingAgeS: s.oldest_pending_age_s, exists: existsSync(dbPath) };
    },
    gpioChips,
    identity,
  };
}

function stat(p: string): PathFacts {
  try {
    const s = statSync(p);
    return { kind: s.isCharacterDevice() ? "char" : s.isFile() ? "file" : s.isDirectory() ? "dir" : "other" };
  } catch (err) {
    return { error: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
}

function errnoOf(fn: () => void): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

/** Opens the port, keeps what arrives for `ms` (asking with `poll`'s request, when given), closes it. */
async function listen(portPath: string, serial: SerialSettings, ms: number, poll?: PollRequest): Promise<ListenResult> {
  const port = new SerialPort({ path: portPath, ...serial, autoOpen: false });
  const chunks: Uint8Array[] = [];
  port.on("error", () => undefined);
  const opened = await new Promise<Error | null>((resolve) => port.open((err) => resolve(err)));
  if (opened !== null) return { ok: false, error: opened };
  port.on("data", (chunk: Buffer) => chunks.push(Uint8Array.from(chunk)));
  // Node 26.4+ delivers serialport's reads only when something wakes the event loop (poller-wake.ts).
  const stopWake = startPollerWake();
  let asking: NodeJS.Timeout | undefined;
  if (poll !== undefined) {
    const request = Buffer.from(poll.request);
    // A write error (the adapter unplugged) shows as silence, as it does to the station.
    const ask = () => void port.write(request, () => undefined);
    ask();
    asking = setInterval(ask, Math.max(1, poll.everyMs));
  }
  await new Promise((resolve) => setTimeout(resolve, ms));
  clearInterval(asking);
  stopWake();
  await new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve()));
  return { ok: true, chunks };
}

/** The newest `…_offline`/`…_online` alarm per subject, from the outbox (read-only; empty on any trouble). */
function deviceReports(dbPath: string): Map<string, DeviceReport> {
  const reports = new Map<string, DeviceReport>();
  if (!existsSync(dbPath)) return reports;
  let db: Database.Database | undefined;
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true, timeout: 2000 });
    const rows = db
      .prepare<[number], { subject: string; time: string; payload: string }>("SELECT subject, time, payload FROM events WHERE kind = 'alarm' ORDER BY seq DESC LIMIT ?")
      .all(ALARMS_SCANNED);
    for (const row of rows) {
      if (reports.has(row.subject)) continue;
      const data = (JSON.parse(row.payload) as { data?: { code?: unknown; reason?: unknown } }).data;
      const code = typeof data?.code === "string" ? data.code : "";
      if (!/_(offline|online)$/.test(code)) continue;
      reports.set(row.subject, { code, time: row.time, ...(typeof data?.reason === "string" ? { reason: data.reason } : {}) });
    }
  } catch {
    // No verdict from the database: the serial check says the station holds the port and nothing more.
  } finally {
    db?.close();
  }
  return reports;
}

/** An MQTT CONNECT with the config's settings, a client id of its own (never taking over the station's), no will. */
function connectBroker(config: Readonly<Config>, timeoutMs: number): Promise<BrokerResult> {
  const m = config.mqtt;
  const started = performance.now();
  return new Promise((resolve) => {
    let lastError: unknown;
    let done = false;
    let options: IClientOptions;
    try {
      options = {
        protocolVersion: m.protocol_version,
        clientId: `${m.client_id ?? `smartbin-${config.station.id}`}-doctor-${process.pid}`,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: timeoutMs,
        // The station's own: the password from mqtt.password_file, TLS files, tls_insecure.
        ...credentialOptions(connectionSettings(config)),
      };
    } catch (err) {
      resolve({ ok: false, error: err, stage: "connect" });
      return;
    }
    const client = connect(m.url, options);
    const finish = (result: BrokerResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      client.end(true);
      resolve(result);
    };
    const timer = setTimeout(() => finish({ ok: false, error: lastError, stage: lastError === undefined ? "timeout" : "connect" }), timeoutMs + 500);
    client.on("connect", () => finish({ ok: true, ms: performance.now() - started }));
    client.on("error", (err) => {
      lastError = err;
      finish({ ok: false, error: err, stage: "connect" });
    });
    client.on("close", () => finish(lastError === undefined ? { ok: false, error: undefined, stage: "closed" } : { ok: false, error: lastError, stage: "connect" }));
  });
}

/** The timesyncd marker, else `timedatectl show -p NTPSynchronized --value` (timedatectl(1)). */
function clockSynced(marker: string): { synced: boolean | null; source: string } {
  if (existsSync(marker)) return { synced: true, source: `${marker} present` };
  try {
    const answer = execFileSync("timedatectl", ["show", "-p", "NTPSynchronized", "--value"], { encoding: "utf8", timeout: 3000, stdio: ["ignore", "pipe", "ignore"] }).trim();
    if (answer === "yes") return { synced: true, source: "timedatectl: NTPSynchronized=yes" };
    if (answer === "no") return { synced: false, source: "timedatectl: NTPSynchronized=no" };
  } catch {
    // no timedatectl, or no systemd to ask
  }
  return { synced: false, source: `${marker} absent, timedatectl gave no answer` };
}

function existingAncestor(p: string): string {
  let dir = path.resolve(p);
  while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

function gpioChips(): GpioChip[] {
  let names: string[];
  try {
    names = readdirSync("/dev").filter((n) => /^gpiochip\d+$/.test(n));
  } catch {
    return [];
  }
  return names.sort().map((n) => {
    const p = `/dev/${n}`;
    return { path: p, denied: errnoOf(() => accessSync(p, constants.R_OK | constants.W_OK)) };
  });
}

/** The user and its group names (from /etc/group; numeric ids where a group has no name there). */
function identity(): { user: string; groups: string[] } {
  const user = userInfo().username;
  const gids = process.getgroups?.() ?? [];
  const names = new Map<number, string>();
  try {
    for (const line of readFileSync("/etc/group", "utf8").split("\n")) {
      const [name, , gid] = line.split(":");
      if (name && gid) names.set(Number(gid), name);
    }
  } catch {
    // names stay numeric
  }
  return { user, groups: gids.map((g) => names.get(g) ?? String(g)) };
}
