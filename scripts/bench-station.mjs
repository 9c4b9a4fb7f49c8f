// The measures of `npm run bench` that run the built `smartbin run` as a whole process against
// socat pseudo-terminals and a real Mosquitto (scripts/bench.mjs starts the broker and prints the
// tables):
//
//  - start-up: the time from spawning the process to its sd_notify READY=1 (sd_notify(3), sent
//    through the systemd-notify tool as under systemd: src/adapters/systemd/notify.ts), received on
//    a datagram socket of our own (socat UNIX-RECV, as test/support/notify-socket.ts does) given as
//    $NOTIFY_SOCKET; against scripts/bench-baseline.mjs with the same libraries, and with none;
//  - idle memory: the resident set of an idle station against the same baselines, and what each
//    library costs alone (a fresh process each, minus the bare one);
//  - an accelerated day: 10,000 deposits back to back (short timers, a scale streaming at about
//    500 Hz, a unique card per deposit), the resident set sampled from /proc/PID/status.
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import mqtt from "mqtt";
import { PROTOCOLS } from "../dist/protocol/registry.js";
import { STATION_LIBRARIES } from "./bench-baseline.mjs";
import { ROOT, exited, median, rssKb, sleep, which } from "./bench-common.mjs";

const SMARTBIN = join(ROOT, "bin/smartbin.js");
const BASELINE = join(ROOT, "scripts/bench-baseline.mjs");

/**
 * socat pseudo-terminal pairs in `dir`: the station opens `dir/NAME`, the bench writes to
 * `dir/NAME-host`. Without socat, the ports are paths that do not exist (the station then keeps
 * retrying them, which is still an idle station) and nothing can be written.
 */
async function openPtys(dir, names, { writable = false } = {}) {
  const socat = which("socat");
  const procs = [];
  const ports = {};
  const hosts = {};
  for (const name of names) {
    const dev = join(dir, name);
    ports[name] = dev;
    if (!socat) continue;
    procs.push(spawn(socat, [`pty,raw,echo=0,link=${dev}`, `pty,raw,echo=0,link=${dev}-host`], { stdio: "ignore" }));
    for (let i = 0; i < 100 && !(existsSync(dev) && existsSync(`${dev}-host`)); i++) await sleep(20);
    if (writable) hosts[name] = openSync(`${dev}-host`, "w");
  }
  return {
    present: Boolean(socat),
    ports,
    hosts,
    close: async () => {
      for (const fd of Object.values(hosts)) closeSync(fd);
      for (const p of procs) {
        p.kill("SIGTERM");
        await exited(p);
      }
    },
  };
}

/** The idle station of the memory and start-up measures: one yaohua-a9 scale, one em4100-ascii reader. */
function idleConfig(dir, url, ports) {
  const file = join(dir, "config.yaml");
  writeFileSync(
    file,
    `station: { id: st-bench }
storage: { path: ${join(dir, "station.db")} }
mqtt: { url: "${url}" }
log: { level: warn }
scales:
  - { id: scale-1, port: ${ports.scale}, protocol: yaohua-a9 }
readers:
  - { id: reader-1, port: ${ports.reader}, protocol: em4100-ascii }
bins:
  - { id: kitchen, category: food_waste, scale: scale-1 }
`,
  );
  return file;
}

/** Stops a child with SIGTERM and waits for it. */
async function stop(child) {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  await exited(child);
}

// ---------------------------------------------------------------- start-up

/**
 * Milliseconds from spawning `node ARGS` to the READY=1 datagram on a fresh notify socket; the child
 * is stopped (SIGTERM) once it is ready.
 */
async function timeToReady(args, dir, socat) {
  const path = join(mkdtempSync(join(dir, "notify-")), "notify");
  const listener = spawn(socat, ["-u", "-v", `UNIX-RECV:${path}`, "/dev/null"], { stdio: ["ignore", "ignore", "pipe"] });
  for (let i = 0; i < 200 && !existsSync(path); i++) await sleep(10);
  let text = "";
  let t1;
  const ready = new Promise((resolve) =>
    listener.stderr.on("data", (chunk) => {
      text += chunk;
      if (t1 === undefined && text.includes("READY=1")) {
        t1 = performance.now();
        resolve();
      }
    }),
  );
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, NOTIFY_SOCKET: path } });
  try {
    const timeout = sleep(30_000).then(() => {
      throw new Error(`bench: no READY=1 within 30 s from node ${args.join(" ")}`);
    });
    await Promise.race([ready, timeout]);
    return t1 - t0;
  } finally {
    await stop(child);
    await stop(listener);
  }
}

/**
 * Time to READY=1 of `smartbin run` (an existing database, as at a restart; the broker up; both
 * devices present), of the library baseline and of a bare Node process, interleaved: one warm-up
 * each (page cache), then `rounds` rounds. Null without socat or systemd-notify.
 */
export async function benchStartup({ url, work, rounds }) {
  const socat = which("socat");
  if (!socat || !which("systemd-notify")) return null;
  const dir = mkdtempSync(join(work, "startup-"));
  const ptys = await openPtys(dir, ["scale", "reader"]);
  const config = idleConfig(dir, url, ptys.ports);
  const kinds = {
    ours: [SMARTBIN, "run", "-c", config],
    libs: [BASELINE, join(dir, "baseline.db"), url],
    none: [BASELINE, join(dir, "none.db"), url, "--libs="],
  };
  const ms = { ours: [], libs: [], none: [] };
  try {
    for (const args of Object.values(kinds)) await timeToReady(args, dir, socat);
    for (let r = 0; r < rounds; r++) {
      for (const [kind, args] of Object.entries(kinds)) ms[kind].push(await timeToReady(args, dir, socat));
    }
  } finally {
    await ptys.close();
  }
  const m = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, median(v)]));
  return { rounds, ms, oursMs: m.ours, libsMs: m.libs, noneMs: m.none, ratio: m.ours / m.libs, ratios: ms.ours.map((o, i) => o / ms.libs[i]) };
}

// ---------------------------------------------------------------- idle memory

/** The median of 5 RSS samples of `node ARGS`, 400 ms apart, taken `settleMs` after its start. */
async function idleRss(args, settleMs) {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  await sleep(settleMs);
  const samples = [];
  for (let i = 0; i < 5; i++) {
    samples.push(rssKb(child.pid));
    await sleep(400);
  }
  await stop(child);
  return median(samples);
}

/**
 * Idle RSS of `smartbin run` (one scale and one reader on socat pseudo-terminals, connected to the
 * broker), of the library baseline and of a bare Node process, interleaved over `rounds` rounds;
 * then each library alone in a fresh process (`libRounds` rounds), priced as its median minus the
 * bare process's. (Left out of the baseline one at a time instead, each library's share came out
 * within the baseline's own spread of about 4 MiB, most of them negative: only MQTT.js stood out.)
 */
export async function benchIdleMemory({ url, work, rounds, libRounds, settleMs }) {
  const dir = mkdtempSync(join(work, "mem-"));
  const ptys = await openPtys(dir, ["scale", "reader"]);
  const config = idleConfig(dir, url, ptys.ports);
  const kb = { ours: [], libs: [], libsCompacted: [], none: [] };
  const perLib = Object.fromEntries(STATION_LIBRARIES.map((l) => [l, []]));
  try {
    for (let r = 0; r < rounds; r++) {
      kb.ours.push(await idleRss([SMARTBIN, "run", "-c", config], settleMs));
      kb.libs.push(await idleRss([BASELINE, join(dir, "baseline.db"), url], settleMs));
      kb.libsCompacted.push(await idleRss([BASELINE, join(dir, "compacted.db"), url, "--compact"], settleMs));
      kb.none.push(await idleRss([BASELINE, join(dir, "none.db"), url, "--libs="], settleMs));
    }
    for (let r = 0; r < libRounds; r++) {
      for (const lib of STATION_LIBRARIES) perLib[lib].push(await idleRss([BASELINE, join(dir, `${lib}.db`), url, `--libs=${lib}`], settleMs));
    }
  } finally {
    await ptys.close();
  }
  const m = Object.fromEntries(Object.entries(kb).map(([k, v]) => [k, median(v)]));
  return {
    rounds,
    kb,
    oursKb: m.ours,
    libsKb: m.libs,
    libsCompactedKb: m.libsCompacted,
    ratioCompacted: m.ours / m.libsCompacted,
    ratiosCompacted: kb.ours.map((o, i) => o / kb.libsCompacted[i]),
    noneKb: m.none,
    ratio: m.ours / m.libs,
    ratioNone: m.ours / m.none,
    ratios: kb.ours.map((o, i) => o / kb.libs[i]),
    ratiosNone: kb.ours.map((o, i) => o / kb.none[i]),
    libraries:
      libRounds === 0
        ? []
        : STATION_LIBRARIES.map((lib) => ({
            lib,
            kb: median(perLib[lib]),
            costKb: median(perLib[lib]) - m.none,
          })),
    ptys: ptys.present,
  };
}

// ---------------------------------------------------------------- an accelerated day

/** One deposit's weight, grams (the ascii-st-gs frames carry 10 g steps, up to 9999.99 kg). */
const DEPOSIT_G = 100;

/**
 * 10,000 deposits (`deposits`) back to back through the built `smartbin run`: a unique card per
 * deposit on an em4100-ascii reader (min_reads 1), then the bin's weight raised by 100 g on an
 * ascii-st-gs scale that streams its weight every 2 ms (stable after 15 ms, the session closed 5 ms
 * after the change), 5 ms after the card; the next card goes as soon as the station logs "deposit
 * recorded" (or 1.5 s later: a missed deposit, counted). Every deposit and alarm goes to Mosquitto
 * (QoS 1), where this process counts them. The station's RSS is read at the end of the first tenth
 * of the deposits and at the end, and every second in between.
 */
export async function benchDay({ url, work, deposits }) {
  if (!which("socat")) return null;
  const dir = mkdtempSync(join(work, "day-"));
  const ptys = await openPtys(dir, ["scale", "reader"], { writable: true });
  const scale = PROTOCOLS.scale.find((p) => p.name === "ascii-st-gs").configure({});
  const reader = PROTOCOLS.reader.find((p) => p.name === "em4100-ascii").configure({});
  const config = join(dir, "config.yaml");
  writeFileSync(
    config,
    `station: { id: st-bench-day }
storage: { path: ${join(dir, "station.db")} }
mqtt: { url: "${url}", topic_prefix: bench-day }
log: { level: info }
scales:
  - { id: scale-1, port: ${ptys.ports.scale}, protocol: ascii-st-gs, stable_window_ms: 15, silence_timeout_s: 60 }
readers:
  - { id: reader-1, port: ${ptys.ports.reader}, protocol: em4100-ascii, min_reads: 1 }
bins:
  - { id: kitchen, category: food_waste, scale: scale-1 }
points:
  rules_version: bench
  categories: { food_waste: { points_per_kg: 2 } }
session: { idle_close_s: 0.005, first_deposit_timeout_s: 1, max_session_s: 10 }
`,
  );
  let grams = 10_000;
  const write = (fd, bytes) => {
    try {
      writeSync(fd, bytes);
    } catch {
      // a pseudo-terminal the station has not drained yet: the next frame tries again
    }
  };
  const feeder = setInterval(() => write(ptys.hosts.scale, scale.encode({ grams, stable: true })), 2);

  const subscriber = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: `bench-day-${process.pid}` });
  let received = 0;
  const alarms = {};
  subscriber.on("message", (topic, payload) => {
    if (topic.endsWith("/deposit")) received++;
    else {
      const code = JSON.parse(payload.toString()).data?.code ?? "?";
      alarms[code] = (alarms[code] ?? 0) + 1;
    }
  });
  await subscriber.subscribeAsync(["bench-day/st-bench-day/events/deposit", "bench-day/st-bench-day/events/alarm"], { qos: 1 });

  const station = spawn(process.execPath, [SMARTBIN, "run", "-c", config], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  let recorded = 0;
  let started = false;
  let onDeposit = () => undefined;
  let rest = "";
  station.stdout.on("data", (chunk) => {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop();
    for (const line of lines) {
      if (line.includes('"msg":"deposit recorded"')) {
        recorded++;
        onDeposit();
      } else if (line.includes('"msg":"station started"')) started = true;
    }
  });
  const trace = [];
  const sampler = setInterval(() => trace.push({ at: recorded, kb: rssKb(station.pid) }), 1000);
  let firstTenthKb;
  let firstTenthAt = 0;
  let missed = 0;
  const t0 = performance.now();
  try {
    for (let i = 0; i < 300 && !started; i++) await sleep(50);
    if (!started) throw new Error("bench: the day's station did not start");
    await sleep(1000); // the scale online, its weight accepted
    for (let i = 0; i < deposits; i++) {
      const before = recorded;
      const done = new Promise((resolve) => (onDeposit = resolve));
      write(ptys.hosts.reader, reader.encode({ tag: (0x10_0000_0000 + i).toString(16).toUpperCase() }));
      // The card first: a weight accepted before the card is read is an unattributed change.
      await sleep(5);
      grams += DEPOSIT_G;
      await Promise.race([done, sleep(1500)]);
      if (recorded === before) missed++;
      if (i + 1 === Math.round(deposits / 10)) {
        firstTenthKb = rssKb(station.pid);
        firstTenthAt = trace.length;
      }
    }
    const finalKb = rssKb(station.pid);
    const seconds = (performance.now() - t0) / 1000;
    for (let i = 0; i < 100 && received < recorded; i++) await sleep(100);
    return {
      deposits,
      recorded,
      missed,
      published: received,
      seconds,
      firstTenthKb,
      finalKb,
      peakKb: Math.max(...trace.map((t) => t.kb), finalKb),
      // The peaks of the first tenth and of the rest: V8's young generation grows and shrinks with
      // the allocation rate, so a single reading can fall on either side of a swing.
      firstTenthPeakKb: Math.max(...trace.slice(0, firstTenthAt).map((t) => t.kb), firstTenthKb),
      restPeakKb: Math.max(...trace.slice(firstTenthAt).map((t) => t.kb), finalKb),
      ratio: finalKb / firstTenthKb,
      alarms,
      trace,
    };
  } finally {
    clearInterval(sampler);
    clearInterval(feeder);
    await stop(station);
    await subscriber.endAsync();
    await ptys.close();
  }
}
