/**
 * The real parts of the chaos suite (issue 12): a Mosquitto behind a TCP proxy, indicators and a
 * card reader on socat pseudo-terminals, the `simulated` GPIO backend's files, the built
 * `smartbin run` as a child process (under libfaketime when it is installed, so that its wall clock
 * can jump), a central subscriber with a persistent session, an operator for `replay`, another
 * process that holds the database's write lock, and a filler for the disk the database is on.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statfsSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { encodeYaohuaA9 } from "../../src/protocol/index.js";
import { startTcpProxy, type TcpProxy } from "../support/mqtt-tcp-proxy.js";
import { ROOT, SMARTBIN } from "../support/build.js";
import { startMosquitto, type MosquittoBroker } from "../support/mosquitto.js";
import { startOperator, type Operator } from "../support/operator.js";
import { FakeCardReader, FakeIndicator } from "../integration/harness.js";
import { BINS, visitCard, type BinId, type DayPlan } from "./script.js";
import type { Received } from "./truth.js";

export const STATION_ID = "st-chaos";

/** GPIO lines of the kitchen bin's door (simulated backend: one file per line). */
export const LINES = { lock: 17, closed: 27, button: 22, lamp: 23 } as const;

/** `open_timeout_s` of the kitchen door. */
export const DOOR_OPEN_TIMEOUT_S = 8;

/** `change_threshold_g` of both scales (the default). */
export const CHANGE_THRESHOLD_G = 40;

/** Rules of the chaos config, by bin (contract section 3). */
export const RULES = {
  kitchen: { category: "food_waste", pointsPerKg: "1.16", minNetG: 0 },
  recycle: { category: "recyclable", pointsPerKg: "2.5", minNetG: 100 },
} as const;

/** The station config of the chaos day. */
function configText(opts: { dbPath: string; brokerUrl: string; ports: Record<string, string>; collectors: string[] }): string {
  return `station:
  id: ${STATION_ID}
  time_zone: UTC
storage:
  path: ${opts.dbPath}
  min_free_mb: 8
mqtt:
  url: ${opts.brokerUrl}
  protocol_version: 5
  reconnect_max_s: 2
scales:
${[BINS.kitchen.scaleId, BINS.recycle.scaleId]
  .map((id) => `  - id: ${id}\n    port: ${opts.ports[id]}\n    protocol: yaohua-a9\n    unit: kg\n    stable_window_ms: 300\n    silence_timeout_s: 2\n`)
  .join("")}readers:
  - id: reader-1
    port: ${opts.ports["reader-1"]}
    protocol: em4100-ascii
gpio:
  backend: simulated
  simulated_dir: ./gpio
bins:
  - id: kitchen
    category: ${RULES.kitchen.category}
    scale: ${BINS.kitchen.scaleId}
    door:
      lock: { line: ${LINES.lock} }
      closed: { line: ${LINES.closed} }
      button: { line: ${LINES.button} }
      lamp: { line: ${LINES.lamp} }
      debounce_ms: 20
      open_timeout_s: ${DOOR_OPEN_TIMEOUT_S}
  - id: recycle
    category: ${RULES.recycle.category}
    scale: ${BINS.recycle.scaleId}
points:
  rules_version: "chaos-1"
  categories:
    ${RULES.kitchen.category}: { points_per_kg: ${RULES.kitchen.pointsPerKg}, min_net_g: ${RULES.kitchen.minNetG} }
    ${RULES.recycle.category}: { points_per_kg: ${RULES.recycle.pointsPerKg}, min_net_g: ${RULES.recycle.minNetG} }
session:
  idle_close_s: 1
  first_deposit_timeout_s: 6
  max_session_s: 40
cards:
  collectors: [${opts.collectors.map((c) => `"${c}"`).join(", ")}]
log:
  level: info
`;
}

/** One line of the station's JSON log, with the run it came from. */
export interface LogLine {
  run: number;
  /** Test wall-clock ms when read. */
  at: number;
  msg: string;
  fields: Record<string, unknown>;
}

/**
 * The `smartbin run` child process, restarted as often as the day needs. Every stdout line is
 * parsed as JSON into {@link StationProcess.log}; a line that is not JSON is kept with msg `(text)`.
 */
export class StationProcess {
  readonly log: LogLine[] = [];
  /** Exits the suite did not cause (neither its SIGKILL nor its SIGTERM), with their code or signal. */
  readonly unexpectedExits: string[] = [];
  runs = 0;
  kills = 0;
  private child: ChildProcess | undefined;
  private expectingExit = false;
  private startedRun = 0;

  constructor(
    private readonly configFile: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Whether the process runs and has logged `station started`. */
  get started(): boolean {
    return this.child !== undefined && this.startedRun === this.runs;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts it; resolves once it logged `station started` (rejects after 30 s). */
  async start(): Promise<void> {
    if (this.child !== undefined) return;
    const run = ++this.runs;
    const child = spawn(process.execPath, [SMARTBIN, "run", "-c", this.configFile], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: this.env });
    this.child = child;
    this.expectingExit = false;
    let rest = "";
    child.stdout.on("data", (b: Buffer) => {
      const parts = (rest + b.toString("utf8")).split("\n");
      rest = parts.pop() ?? "";
      for (const text of parts) this.take(run, text);
    });
    child.stderr.on("data", (b: Buffer) => this.take(run, b.toString("utf8")));
    child.once("exit", (code, signal) => {
      if (this.child === child) this.child = undefined;
      // An exit before `station started` is start()'s failure, reported by its caller.
      if (!this.expectingExit && this.startedRun === run) this.unexpectedExits.push(`run ${run} exited by itself: ${signal ?? `code ${code}`}`);
    });
    const until = Date.now() + 30_000;
    while (this.startedRun !== run) {
      if (this.child !== child) throw new Error(`run ${run} exited before it started: ${this.tail(run)}`);
      if (Date.now() > until) throw new Error(`run ${run} did not start within 30 s: ${this.tail(run)}`);
      await sleep(20);
    }
  }

  private take(run: number, text: string): void {
    if (text.trim() === "") return;
    let line: LogLine;
    try {
      const json = JSON.parse(text) as Record<string, unknown>;
      line = { run, at: Date.now(), msg: typeof json.msg === "string" ? json.msg : "(no msg)", fields: json };
    } catch {
      line = { run, at: Date.now(), msg: "(text)", fields: { text } };
    }
    this.log.push(line);
    if (line.msg === "station started") this.startedRun = run;
  }

  private tail(run: number): string {
    return this.log
      .filter((l) => l.run === run)
      .slice(-8)
      .map((l) => (l.msg === "(text)" ? String(l.fields.text) : `${l.msg} ${JSON.stringify(l.fields.err ?? "")}`))
      .join(" | ");
  }

  /** SIGKILL, and waits for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.expectingExit = true;
    this.kills++;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await exited;
  }

  /** SIGTERM, and waits for the exit; returns its code (null when a signal ended it). */
  async stop(): Promise<number | null> {
    const child = this.child;
    if (child === undefined) return 0;
    this.expectingExit = true;
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}

/** The central system's subscriber: a persistent MQTT 5 session, every event PUBLISH kept. */
export class Central {
  readonly received: Received[] = [];
  /** When the first copy of each seq arrived (test ms); its keys are the seqs received. */
  private readonly firstAt = new Map<number, number>();
  /** The `replay` ranges asked so far, and when. */
  private readonly asked: Array<{ from: number; to: number; at: number }> = [];
  /**
   * When the subscription was in place again after each reconnect (test ms): at the CONNACK when
   * the broker kept the session, at the SUBACK when it had forgotten it (a kill), and routed
   * nothing to the central until then.
   */
  readonly resubscribedAt: number[] = [];
  private constructor(readonly client: MqttClient) {}

  static async start(url: string): Promise<Central> {
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 5,
      clientId: "chaos-central",
      clean: false,
      properties: { sessionExpiryInterval: 3600 },
      reconnectPeriod: 300,
    });
    const central = new Central(client);
    client.on("message", (topic, payload) => {
      if (!topic.includes("/events/")) return;
      const text = payload.toString("utf8");
      central.received.push({ topic, payload: text });
      try {
        const seq = (JSON.parse(text) as { data?: { seq?: unknown } }).data?.seq;
        if (typeof seq === "number") {
          if (!central.firstAt.has(seq)) central.firstAt.set(seq, Date.now());
        }
      } catch {
        // the checker reports it
      }
    });
    // A broker killed before it saved its state forgets the session: subscribe at every connect.
    const subscribe = () =>
      client.subscribe(`smartbin/${STATION_ID}/events/#`, { qos: 1 }, (err) => {
        if (!err) central.resubscribedAt.push(Date.now());
      });
    client.on("connect", (ack) => {
      if (ack.sessionPresent !== true) subscribe();
      else central.resubscribedAt.push(Date.now());
    });
    await client.subscribeAsync(`smartbin/${STATION_ID}/events/#`, { qos: 1 });
    return central;
  }

  /**
   * Notes a `replay` of `from`..`to` about to be asked, so that what it brings is told from what
   * came live. Returns the range, whose `to` the caller sets once the reply says how many came (a
   * replay up to the newest).
   */
  asking(from: number, to: number): { from: number; to: number; at: number } {
    const range = { from, to, at: Date.now() };
    this.asked.push(range);
    return range;
  }

  /** Seqs whose first copy arrived only after a `replay` covering them was asked: they never came live. */
  viaReplay(): number[] {
    return [...this.firstAt]
      .filter(([seq, at]) => this.asked.some((r) => seq >= r.from && seq <= r.to && r.at <= at))
      .map(([seq]) => seq)
      .sort((a, b) => a - b);
  }

  /** The highest seq received, 0 when none. */
  maxSeq(): number {
    let max = 0;
    for (const s of this.firstAt.keys()) max = Math.max(max, s);
    return max;
  }

  /** Missing seqs below the highest received, as inclusive ranges. */
  gaps(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const max = this.maxSeq();
    let from: number | null = null;
    for (let s = 1; s <= max; s++) {
      if (!this.firstAt.has(s)) from ??= s;
      else if (from !== null) {
        out.push([from, s - 1]);
        from = null;
      }
    }
    return out;
  }

  close(): Promise<void> {
    return this.client.endAsync(true);
  }
}

/** The simulated GPIO lines of the kitchen door: the test plays the door, the station writes the lock and lamp. */
export class DoorLines {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }
  set(line: number, level: 0 | 1): void {
    writeFileSync(join(this.dir, String(line)), `${level}\n`);
  }
  get(line: number): 0 | 1 | null {
    try {
      const c = readFileSync(join(this.dir, String(line)), "utf8").trim();
      return c === "1" ? 1 : c === "0" ? 0 : null;
    } catch {
      return null;
    }
  }
  get unlocked(): boolean {
    return this.get(LINES.lock) === 1;
  }
  get closed(): boolean {
    return this.get(LINES.closed) === 1;
  }
}

/** Holds the database's write lock from another process (BEGIN IMMEDIATE) for a while. */
export function holdDatabaseLock(dbPath: string, ms: number): Promise<void> {
  const script = `
    const Database = require("better-sqlite3");
    const db = new Database(process.argv[1], { timeout: 5000 });
    db.exec("BEGIN IMMEDIATE");
    process.stdout.write("held\\n");
    setTimeout(() => { db.exec("COMMIT"); db.close(); }, Number(process.argv[2]));
  `;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["-e", script, dbPath, String(ms)], { cwd: ROOT, stdio: ["ignore", "ignore", "ignore"] });
    child.once("exit", () => resolve());
    child.once("error", () => resolve());
  });
}

/**
 * Fills the file system of `dir` with `dir/chaos-filler` until `leaveBytes` are free (0: until
 * ENOSPC). Returns a function that removes the filler.
 */
export function fillDisk(dir: string, leaveBytes: number): () => void {
  const file = join(dir, "chaos-filler");
  const fd = openSync(file, "w");
  const chunk = new Uint8Array(256 * 1024).fill(0x5a);
  try {
    for (;;) {
      const s = statfsSync(dir);
      const free = s.bavail * s.bsize;
      if (free <= leaveBytes) break;
      const n = leaveBytes === 0 ? chunk.length : Math.min(chunk.length, free - leaveBytes);
      writeSync(fd, chunk, 0, n);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    closeSync(fd);
  }
  return () => rmSync(file, { force: true });
}

/** Everything running for a chaos day. */
export interface Rig {
  dir: string;
  dbPath: string;
  broker: MosquittoBroker;
  proxy: TcpProxy;
  scales: Record<BinId, FakeIndicator>;
  reader: FakeCardReader;
  door: DoorLines;
  station: StationProcess;
  central: Central;
  operator: Operator;
  /** Writes the station's wall-clock offset (seconds); `null` when libfaketime is not installed. */
  setClockOffset: ((offsetS: number) => void) | null;
  /** A device by id: a scale id or `reader-1`. */
  device(id: string): FakeIndicator | FakeCardReader;
  dispose(): Promise<void>;
}

/**
 * Starts the rig: broker, proxy, devices, door lines (closed, button released), central, operator;
 * the station is configured but not started. `dbDir` holds the database (a small tmpfs when the
 * suite runs in its own mount namespace).
 */
export async function startRig(opts: { dir: string; dbDir: string; plan: DayPlan; libfaketime: string | undefined }): Promise<Rig> {
  mkdirSync(join(opts.dir, "broker"));
  const broker = await startMosquitto({ dir: join(opts.dir, "broker") });
  const proxy = await startTcpProxy(broker.port);
  const scales = {
    kitchen: await FakeIndicator.start(BINS.kitchen.initialG),
    recycle: await FakeIndicator.start(BINS.recycle.initialG),
  };
  for (const s of Object.values(scales)) s.encode = (grams) => encodeYaohuaA9({ grams, unit: "kg", decimals: 3 });
  const reader = await FakeCardReader.start();
  const door = new DoorLines(join(opts.dir, "gpio"));
  door.set(LINES.closed, 1);
  door.set(LINES.button, 0);
  const dbPath = join(opts.dbDir, "station.db");
  const collectors = opts.plan.visits.filter((v) => v.role === "collector").map((v) => visitCard(v).cardId);
  const configFile = join(opts.dir, "config.yaml");
  writeFileSync(
    configFile,
    configText({
      dbPath,
      brokerUrl: proxy.url,
      ports: { [BINS.kitchen.scaleId]: scales.kitchen.pty.devicePath, [BINS.recycle.scaleId]: scales.recycle.pty.devicePath, "reader-1": reader.pty.devicePath },
      collectors,
    }),
  );
  const clockFile = join(opts.dir, "faketime");
  let env: NodeJS.ProcessEnv = { ...process.env };
  let setClockOffset: Rig["setClockOffset"] = null;
  if (opts.libfaketime !== undefined) {
    writeFileSync(clockFile, "+0\n");
    env = { ...env, LD_PRELOAD: opts.libfaketime, FAKETIME_TIMESTAMP_FILE: clockFile, FAKETIME_NO_CACHE: "1", FAKETIME_DONT_FAKE_MONOTONIC: "1" };
    setClockOffset = (s) => writeFileSync(clockFile, `${s >= 0 ? "+" : ""}${Math.round(s)}\n`);
  }
  const station = new StationProcess(configFile, env);
  const central = await Central.start(broker.url);
  const operator = await startOperator(broker.url, { station: STATION_ID });
  return {
    dir: opts.dir,
    dbPath,
    broker,
    proxy,
    scales,
    reader,
    door,
    station,
    central,
    operator,
    setClockOffset,
    device: (id) => (id === BINS.kitchen.scaleId ? scales.kitchen : id === BINS.recycle.scaleId ? scales.recycle : reader),
    async dispose() {
      await station.kill().catch(() => undefined);
      await operator.close().catch(() => undefined);
      await central.close().catch(() => undefined);
      for (const s of Object.values(scales)) await s.stop().catch(() => undefined);
      await reader.stop().catch(() => undefined);
      await proxy.close().catch(() => undefined);
      await broker.dispose().catch(() => undefined);
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
