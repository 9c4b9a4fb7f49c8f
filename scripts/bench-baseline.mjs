// The memory and start-up baseline of `npm run bench`: a bare Node process that has loaded the
// libraries smartbin-edge uses and put each to the work an idle station gives it (a database open in
// WAL mode, a broker connection, the serial binding loaded, a logger, one schema, one YAML document,
// one command line, one UUID), then idles.
//
// Arguments: DB_PATH BROKER_URL [--libs=NAME,NAME,...] [--compact]. Without --libs it loads
// STATION_LIBRARIES; `--libs=` (empty) loads none (a bare Node process idling on a timer); `--libs=mqtt`
// one alone (how `npm run bench` prices each library). `--compact`: 2 s after start it compacts its
// heap once, as `smartbin run` does once settled (dist/adapters/heap.js), so that the
// bench can say what that compaction alone is worth.
//
// With $NOTIFY_SOCKET set it reports READY=1 the way the station does (src/adapters/systemd/notify.ts:
// the systemd-notify tool with --pid), once everything above is loaded and opened, so that the time to
// ready of `smartbin run` has a baseline that pays for the same child process.
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** What each library is asked to do, as an idle station asks it (all but mqtt are synchronous). */
const LIBRARIES = {
  async "better-sqlite3"(ctx) {
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(ctx.dbPath);
    db.pragma("journal_mode = WAL");
    ctx.closers.push(() => db.close());
  },
  async mqtt(ctx) {
    const { default: mqtt } = await import("mqtt");
    const client = mqtt.connect(ctx.url, { protocolVersion: 5 });
    client.on("error", () => undefined);
    ctx.closers.push(() => client.end(true));
  },
  async serialport() {
    // Loading it loads the native binding (@serialport/bindings-cpp), as the station's import does.
    const { SerialPort } = await import("serialport");
    void SerialPort;
  },
  async pino(ctx) {
    const { pino } = await import("pino");
    ctx.log = pino({ level: "warn" }, pino.destination({ dest: 1, sync: true }));
  },
  async zod() {
    const { z } = await import("zod");
    z.strictObject({ id: z.string().regex(/^[a-z0-9-]+$/), n: z.number().positive().default(1) }).parse({ id: "st-1" });
  },
  async yaml() {
    const { parseDocument } = await import("yaml");
    parseDocument("station: { id: st-1 }\n").toJS();
  },
  async commander() {
    const { Command } = await import("commander");
    new Command("x").option("-c, --config <file>").parse(["-c", "f"], { from: "user" });
  },
  async uuid() {
    const { v7 } = await import("uuid");
    v7();
  },
  async re2js() {
    const { RE2JS } = await import("re2js");
    RE2JS.compile("^[0-9A-F]{10}$").matches("0008844356");
  },
};

/**
 * The libraries `smartbin run` loads with the bench's config (one yaohua-a9 scale, one em4100-ascii
 * reader). re2js among them: the protocol registry loads every protocol, ascii-line's engine too
 * (protocol/ loads no module at run time: architecture.md, "Layers and the rule between them").
 */
export const STATION_LIBRARIES = ["serialport", "mqtt", "better-sqlite3", "pino", "zod", "yaml", "commander", "uuid", "re2js"];
/** Every library the bench can price alone. */
export const KNOWN_LIBRARIES = Object.keys(LIBRARIES);

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const [dbPath, url] = process.argv.slice(2);
  const libsArg = process.argv.find((a) => a.startsWith("--libs="))?.slice(7);
  const libs = libsArg === undefined ? STATION_LIBRARIES : libsArg.split(",").filter((x) => x !== "");
  const ctx = { dbPath, url, closers: [], log: undefined };
  for (const name of libs) {
    const load = LIBRARIES[name];
    if (load === undefined) throw new Error(`bench-baseline: unknown library ${name} (known: ${KNOWN_LIBRARIES.join(", ")})`);
    await load(ctx);
  }
  process.on("SIGTERM", () => {
    for (const close of ctx.closers) close();
    process.exit(0);
  });
  setInterval(() => {}, 1000);
  if (process.argv.includes("--compact")) {
    const { compactHeap } = await import("../dist/adapters/heap.js");
    setTimeout(compactHeap, 2000);
  }
  if (process.env.NOTIFY_SOCKET) {
    spawn("systemd-notify", [`--pid=${process.pid}`, "READY=1"], { stdio: "ignore" }).unref();
  }
}
