#!/usr/bin/env node
// npm run bench: smartbin-edge against bare baselines measured in the same run on the same machine.
// Every figure is a ratio (ours / baseline); nothing here asserts a wall-clock time.
//
//  1. commit latency: Outbox.append (one deposit event, its seq and row in one transaction) against a
//     bare better-sqlite3 insert in its own transaction with the same pragmas (WAL, synchronous=FULL).
//  2. drain rate: Publisher draining a 20,000-event backlog to Mosquitto against a bare MQTT.js QoS 1
//     loop with the same in-flight window that marks rows published in batches.
//  3. idle memory: resident set of `smartbin run` with one scale and one reader against a bare Node
//     process that has loaded the same libraries and connected to the broker.
//
// Needs a build (npm run bench builds first) and Mosquitto; uses socat pseudo-terminals when present.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import mqtt from "mqtt";
import { pino } from "pino";
import { Outbox } from "../dist/adapters/outbox/outbox.js";
import { Publisher } from "../dist/adapters/mqtt/publisher.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const silent = pino({ level: "silent" });
const work = mkdtempSync(join(tmpdir(), "smartbin-bench-"));
const quick = process.argv.includes("--quick");

const DEPOSIT = {
  bin_id: "kitchen",
  category: "food_waste",
  card_id: "0008844356",
  reader_id: "reader-1",
  gross_before_g: 12000,
  gross_after_g: 13250,
  net_g: 1250,
  points: 2,
  points_reason: "awarded",
  rules_version: "2026-11",
  started_at: "2026-11-29T14:36:21.002Z",
  ended_at: "2026-11-29T14:36:37.950Z",
};

function which(name) {
  for (const dir of [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/local/sbin", "/sbin"]) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startMosquitto() {
  const bin = which("mosquitto");
  if (!bin) throw new Error("bench: mosquitto is not installed (sudo apt-get install mosquitto)");
  const port = await freePort();
  const dir = mkdtempSync(join(work, "mosq-"));
  const conf = join(dir, "mosquitto.conf");
  const root = process.getuid?.() === 0;
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n${root ? "user root\n" : ""}`);
  const proc = spawn(bin, ["-c", conf], { stdio: "ignore" });
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const c = createConnection({ port, host: "127.0.0.1" }, () => (c.end(), resolve(true)));
      c.on("error", () => resolve(false));
    });
    if (ok) return { url: `mqtt://127.0.0.1:${port}`, stop: () => proc.kill("SIGTERM") };
    await sleep(50);
  }
  throw new Error("bench: mosquitto did not start");
}

// ---------------------------------------------------------------- 1. commit latency
function benchCommit() {
  const n = quick ? 100 : 400;
  const rounds = quick ? 3 : 5;
  const payload = JSON.stringify({
    specversion: "1.0",
    id: "01a227bc-8d6b-76f1-9312-7ebc6e2d33fd",
    source: "smartbin/st-001",
    type: "smartbin.deposit.v1",
    time: new Date().toISOString(),
    subject: "kitchen",
    datacontenttype: "application/json",
    data: { station_id: "st-001", seq: 1, ...DEPOSIT, clock_synced: true },
  });

  const bareDb = new Database(join(work, "bare.db"));
  bareDb.pragma("journal_mode = WAL");
  bareDb.pragma("synchronous = FULL");
  bareDb.exec("CREATE TABLE events (seq INTEGER PRIMARY KEY, id TEXT, payload TEXT)");
  const insert = bareDb.prepare("INSERT INTO events (id, payload) VALUES (?, ?)");
  const bareTx = bareDb.transaction((i) => insert.run(`id-${i}`, payload));

  const outbox = Outbox.open({ path: join(work, "ours.db"), stationId: "st-001", logger: silent, clockSynced: () => true });

  const bare = [];
  const ours = [];
  // Alternate rounds so that both see the same disk and cache conditions.
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      bareTx(r * n + i);
      bare.push(Number(process.hrtime.bigint() - t0) / 1e3);
    }
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      outbox.append("deposit", "kitchen", DEPOSIT);
      ours.push(Number(process.hrtime.bigint() - t0) / 1e3);
    }
  }
  bareDb.close();
  outbox.close();
  return { bareUs: median(bare), oursUs: median(ours), ratio: median(ours) / median(bare), n: n * rounds };
}

// ---------------------------------------------------------------- 2. drain rate
async function fillBacklog(path, count) {
  const outbox = Outbox.open({ path, stationId: "st-bench", logger: silent, clockSynced: () => true });
  // Filling is not what is measured: skip the per-commit flush (bench-only reach into the adapter).
  outbox["db"].pragma("synchronous = OFF");
  for (let i = 0; i < count; i++) outbox.append("deposit", "kitchen", DEPOSIT);
  outbox.close();
}

async function drainOurs(url, count) {
  const path = join(work, `drain-ours-${Date.now()}.db`);
  await fillBacklog(path, count);
  const outbox = Outbox.open({ path, stationId: "st-bench", logger: silent });
  const publisher = new Publisher({
    outbox,
    url,
    stationId: "st-bench",
    topicPrefix: "bench",
    protocolVersion: 5,
    inflight: 32,
    logger: silent,
    clientId: `bench-ours-${process.pid}`,
  });
  const t0 = performance.now();
  publisher.start();
  let window = 0;
  // Watch the cheap counters while draining; read the database only to confirm the end.
  for (;;) {
    const stats = publisher.stats();
    window = Math.max(window, stats.window);
    if (stats.acked >= count && outbox.status().pending === 0) break;
    await sleep(5);
  }
  const seconds = (performance.now() - t0) / 1000;
  await publisher.stop();
  outbox.close();
  return { rate: count / seconds, window };
}

/** The baseline: read rows in pages, publish QoS 1 with a fixed window, mark published in batches of 100. */
async function drainBare(url, count, window) {
  const path = join(work, `drain-bare-${Date.now()}.db`);
  await fillBacklog(path, count);
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  const page = db.prepare("SELECT seq, kind, payload FROM events WHERE published_at IS NULL AND seq > ? ORDER BY seq LIMIT ?");
  const mark = db.prepare("UPDATE events SET published_at = ? WHERE seq = ?");
  const markBatch = db.transaction((seqs) => {
    const now = new Date().toISOString();
    for (const s of seqs) mark.run(now, s);
  });
  // Timed from the connection attempt, as the publisher's drain is.
  const t0 = performance.now();
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, clean: true, clientId: `bench-bare-${process.pid}`, reconnectPeriod: 0 });
  await new Promise((resolve, reject) => {
    let last = 0;
    let inflight = 0;
    let acked = 0;
    let buffer = [];
    let toMark = [];
    const pump = () => {
      while (inflight < window) {
        if (buffer.length === 0) {
          buffer = page.all(last, window * 4);
          if (buffer.length === 0) return;
        }
        const row = buffer.shift();
        last = row.seq;
        inflight++;
        client.publish(`bench/st-bench/events/${row.kind}`, row.payload, { qos: 1, properties: { contentType: "application/cloudevents+json" } }, (err) => {
          if (err) return reject(err);
          inflight--;
          acked++;
          toMark.push(row.seq);
          if (toMark.length >= 100 || acked === count) {
            markBatch(toMark);
            toMark = [];
          }
          if (acked === count) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  const seconds = (performance.now() - t0) / 1000;
  await client.endAsync();
  db.close();
  return { rate: count / seconds };
}

async function benchDrain(url) {
  const count = quick ? 4000 : 20000;
  const ours = [];
  const bare = [];
  let window = 0;
  // Warm up both paths (JIT, broker, page cache) so that neither pays for being first.
  const warm = await drainOurs(url, 2000);
  await drainBare(url, 2000, warm.window);
  for (let r = 0; r < (quick ? 1 : 3); r++) {
    const o = await drainOurs(url, count);
    window = o.window;
    ours.push(o.rate);
    bare.push((await drainBare(url, count, window)).rate);
  }
  return { count, window, oursRate: median(ours), bareRate: median(bare), ratio: median(ours) / median(bare) };
}

// ---------------------------------------------------------------- 3. idle memory
function rssKb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}

async function measureIdleRss(args, settleMs) {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  await sleep(settleMs);
  const samples = [];
  for (let i = 0; i < 5; i++) {
    samples.push(rssKb(child.pid));
    await sleep(400);
  }
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  return median(samples);
}

async function benchMemory(url) {
  const dir = mkdtempSync(join(work, "mem-"));
  const ptys = [];
  let scalePort = join(dir, "no-scale");
  let readerPort = join(dir, "no-reader");
  const socat = which("socat");
  if (socat) {
    for (const name of ["scale", "reader"]) {
      const dev = join(dir, name);
      ptys.push(spawn(socat, [`pty,raw,echo=0,link=${dev}`, `pty,raw,echo=0,link=${dev}-host`], { stdio: "ignore" }));
      for (let i = 0; i < 100 && !existsSync(dev); i++) await sleep(20);
    }
    scalePort = join(dir, "scale");
    readerPort = join(dir, "reader");
  }
  const config = join(dir, "config.yaml");
  writeFileSync(
    config,
    `station: { id: st-bench }
storage: { path: ${join(dir, "station.db")} }
mqtt: { url: "${url}" }
log: { level: warn }
scales:
  - { id: scale-1, port: ${scalePort}, protocol: yaohua-a9 }
readers:
  - { id: reader-1, port: ${readerPort}, protocol: em4100-ascii }
bins:
  - { id: kitchen, category: food_waste, scale: scale-1 }
`,
  );
  const settle = quick ? 2000 : 5000;
  try {
    const ours = await measureIdleRss([join(ROOT, "bin/smartbin.js"), "run", "-c", config], settle);
    const bare = await measureIdleRss([join(ROOT, "scripts/bench-baseline.mjs"), join(dir, "baseline.db"), url], settle);
    return { oursKb: ours, bareKb: bare, ratio: ours / bare, ptys: Boolean(socat) };
  } finally {
    for (const p of ptys) p.kill("SIGTERM");
  }
}

// ---------------------------------------------------------------- main
const broker = await startMosquitto();
try {
  const commit = benchCommit();
  const drain = await benchDrain(broker.url);
  const memory = await benchMemory(broker.url);
  const rows = [
    ["commit one deposit event (median latency)", `${commit.oursUs.toFixed(0)} µs`, `${commit.bareUs.toFixed(0)} µs`, commit.ratio, "≤ 1.50", commit.ratio <= 1.5],
    [`drain ${drain.count} events, QoS 1, window ${drain.window} (rate)`, `${drain.oursRate.toFixed(0)}/s`, `${drain.bareRate.toFixed(0)}/s`, drain.ratio, "≥ 0.80", drain.ratio >= 0.8],
    [`idle RSS, 1 scale + 1 reader${memory.ptys ? "" : " (ports missing)"}`, `${(memory.oursKb / 1024).toFixed(1)} MiB`, `${(memory.bareKb / 1024).toFixed(1)} MiB`, memory.ratio, "≤ 1.25", memory.ratio <= 1.25],
  ];
  console.log("| measure | smartbin-edge | bare baseline | ratio | target |");
  console.log("|---|---|---|---|---|");
  for (const [what, ours, bare, ratio, target, ok] of rows) {
    console.log(`| ${what} | ${ours} | ${bare} | ${ratio.toFixed(2)} | ${target} ${ok ? "met" : "MISSED"} |`);
  }
} finally {
  broker.stop();
  rmSync(work, { recursive: true, force: true });
}

