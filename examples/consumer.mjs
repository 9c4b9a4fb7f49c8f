#!/usr/bin/env node
// Follows one smartbin-edge station's events the way docs/mqtt-api.md asks a consumer to:
// deduplicates by `id`, orders and detects gaps by `data.seq`, and fills a gap with a `replay`
// command (MQTT 5 request/response; with --protocol 4 the reply topic P/S/cmd/replay/reply).
//
// Written from docs/mqtt-api.md and docs/asyncapi.yaml alone (no project imports), as a starting
// point for a ledger's ingestion. Needs Node 22+ and the `mqtt` package (npm install mqtt). A real
// consumer stores what it took (ids and seqs) with the events in its own database; this keeps them
// in memory.
//
//   node examples/consumer.mjs --station <id> [--url <url>] [--prefix <p>] [--once <s>]
//
// Prints one line per event (stdout; with --once, stderr) and, when it ends (--once elapsed, or
// Ctrl-C), a JSON summary on stdout: {"received", "duplicates", "gaps", "replayed", "missing"}:
// distinct events received, copies dropped, gaps detected (ranges of missing seqs that a replay
// was asked for), events received for those replays, and the seq ranges still missing.
// Exit status 0, or 64 for bad arguments.
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import mqtt from "mqtt";
import { BROKER_OPTIONS, UsageError, brokerSettings, connectAuth } from "./broker-options.mjs";

export const USAGE = `usage: node examples/consumer.mjs --station <id> [options]

options:
  --url <url>            broker URL (mqtt://, mqtts://, ws://, wss://); default mqtt://127.0.0.1:1883
  --prefix <p>           the station's mqtt.topic_prefix; default smartbin
  --station <id>         the station's station.id (required)
  --once <s>             run this many seconds, then print the summary and exit
  --from-seq <n>         the first seq expected (default: the first one received): earlier ones missing are a gap
  --grace <s>            how long a missing seq may be late before a replay is asked; default 2
  --protocol <5|4>       MQTT 5 (default) or 4 (MQTT 3.1.1)
  --client-id <id>       default smartbin-consumer-<random>
  --session-expiry <s>   MQTT 5: keep the session (and queue events) this long while away; default 0 (clean)
  --username <u>, --password-file <f>, --ca <pem>, --cert <pem>, --key <pem>
  --help`;

export { UsageError };

/**
 * The consumer's options from its arguments (without node and the script).
 *
 * @throws UsageError for a missing station, a bad number, an unexpected argument
 */
export function parseConsumerArgs(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        ...BROKER_OPTIONS,
        once: { type: "string" },
        "from-seq": { type: "string" },
        grace: { type: "string", default: "2" },
        "session-expiry": { type: "string", default: "0" },
      },
    });
  } catch (err) {
    throw new UsageError(err.message);
  }
  const v = parsed.values;
  if (v.help) return { help: true };
  const broker = brokerSettings(v, "consumer");
  const fromSeq = v["from-seq"] === undefined ? null : Number(v["from-seq"]);
  if (fromSeq !== null && !(Number.isSafeInteger(fromSeq) && fromSeq >= 1)) throw new UsageError("--from-seq must be an integer of at least 1");
  return {
    help: false,
    ...broker,
    onceS: v.once === undefined ? null : seconds(v.once, "--once", false),
    fromSeq,
    graceMs: seconds(v.grace, "--grace", true) * 1000,
    sessionExpiryS: Math.round(seconds(v["session-expiry"], "--session-expiry", true)),
  };
}

function seconds(text, flag, zeroOk) {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || (!zeroOk && n === 0)) throw new UsageError(`${flag} must be a ${zeroOk ? "non-negative" : "positive"} number of seconds`);
  return n;
}

/**
 * What has been taken of one station's events: ids (dedupe) and seqs (gaps). Pure; the caller
 * passes the time.
 */
export class SeqTracker {
  /** @param {{fromSeq?: number | null, graceMs?: number}} opts */
  constructor(opts = {}) {
    this.ids = new Set();
    /** Every seq at or below `contiguous` has been received (0: none yet). */
    this.contiguous = opts.fromSeq == null ? null : opts.fromSeq - 1;
    /** Seqs received above `contiguous`. */
    this.above = new Set();
    this.high = this.contiguous ?? 0;
    this.graceMs = opts.graceMs ?? 2000;
    /** seq -> when it was first seen missing (ms). */
    this.noticed = new Map();
    /** Seqs a replay was asked for and not received yet. */
    this.requested = new Set();
    this.received = 0;
    this.duplicates = 0;
    this.gaps = 0;
    this.replayed = 0;
  }

  /**
   * Takes one event; returns whether it was a duplicate (same id as one taken before) and whether
   * it filled a seq a replay was asked for.
   */
  accept(id, seq) {
    if (this.ids.has(id)) {
      this.duplicates++;
      return { duplicate: true, filled: false };
    }
    this.ids.add(id);
    this.received++;
    if (this.contiguous === null) this.contiguous = seq - 1;
    const filled = this.requested.delete(seq);
    if (filled) this.replayed++;
    this.noticed.delete(seq);
    if (seq > this.contiguous) this.above.add(seq);
    while (this.above.delete(this.contiguous + 1)) this.contiguous++;
    if (seq > this.high) this.high = seq;
    return { duplicate: false, filled };
  }

  /** The seqs missing between the first expected and the highest received, at most `limit`. */
  missingSeqs(limit = 100_000) {
    const out = [];
    if (this.contiguous === null) return out;
    for (let s = this.contiguous + 1; s < this.high && out.length < limit; s++) if (!this.above.has(s)) out.push(s);
    return out;
  }

  /** The missing seqs as inclusive ranges `[from, to]`. */
  missingRanges() {
    return toRanges(this.missingSeqs());
  }

  /**
   * The ranges to ask a replay for now: seqs missing for at least the grace time and not asked
   * for yet. Marks them asked and counts each range as a gap.
   */
  dueReplays(nowMs) {
    const due = [];
    for (const s of this.missingSeqs()) {
      const since = this.noticed.get(s);
      if (since === undefined) this.noticed.set(s, nowMs);
      else if (nowMs - since >= this.graceMs && !this.requested.has(s)) due.push(s);
    }
    const ranges = toRanges(due);
    for (const s of due) this.requested.add(s);
    this.gaps += ranges.length;
    return ranges;
  }

  summary() {
    return { received: this.received, duplicates: this.duplicates, gaps: this.gaps, replayed: this.replayed, missing: this.missingRanges() };
  }
}

/** Sorted integers as inclusive ranges: [1,2,3,7] -> [[1,3],[7,7]]. */
export function toRanges(sorted) {
  const out = [];
  for (const s of sorted) {
    const last = out.at(-1);
    if (last !== undefined && s === last[1] + 1) last[1] = s;
    else out.push([s, s]);
  }
  return out;
}

/** Runs until `stop` resolves (or --once elapses); resolves with the summary. */
export async function runConsumer(opts, io = { out: process.stdout, err: process.stderr }, stop = new Promise(() => undefined)) {
  const station = `${opts.prefix}/${opts.station}`;
  const replayTopic = `${station}/cmd/replay`;
  const replyTopic = opts.protocol === 5 ? `${replayTopic}/reply/${opts.clientId}` : `${replayTopic}/reply`;
  const lines = opts.onceS === null ? io.out : io.err;
  const tracker = new SeqTracker({ fromSeq: opts.fromSeq, graceMs: opts.graceMs });
  const pending = new Map(); // command_id -> range asked
  const client = mqtt.connect(opts.url, {
    protocolVersion: opts.protocol,
    clientId: opts.clientId,
    clean: opts.protocol === 4 || opts.sessionExpiryS === 0,
    ...(opts.protocol === 5 && opts.sessionExpiryS > 0 ? { properties: { sessionExpiryInterval: opts.sessionExpiryS } } : {}),
    reconnectPeriod: 1000,
    ...connectAuth(opts.auth),
  });
  let lastError = null;
  client.on("error", (e) => {
    if (lastError !== e.message) io.err.write(`consumer: ${e.message}\n`);
    lastError = e.message;
  });
  client.on("connect", () => {
    lastError = null;
    client.subscribe({ [`${station}/events/#`]: { qos: 1 }, [`${station}/status`]: { qos: 1 }, [replyTopic]: { qos: 1 } }, (e) => {
      if (e) io.err.write(`consumer: subscribe failed: ${e.message}\n`);
    });
  });
  client.on("message", (topic, payload, packet) => {
    let body;
    try {
      body = JSON.parse(payload.toString("utf8"));
    } catch {
      io.err.write(`consumer: not JSON on ${topic}\n`);
      return;
    }
    if (topic === `${station}/status`) {
      io.err.write(`status: ${JSON.stringify(body)}\n`);
      return;
    }
    if (topic === replyTopic) {
      const id = packet.properties?.correlationData?.toString("utf8") ?? body.command_id;
      const range = pending.get(id);
      if (range === undefined) return;
      pending.delete(id);
      io.err.write(`replay ${range[0]}..${range[1]}: ${JSON.stringify(body.ok ? body.result : body.error)}\n`);
      return;
    }
    const seq = body?.data?.seq;
    if (typeof body?.id !== "string" || !Number.isSafeInteger(seq)) {
      io.err.write(`consumer: no id or data.seq in an event on ${topic}\n`);
      return;
    }
    const { duplicate, filled } = tracker.accept(body.id, seq);
    const note = duplicate ? " (duplicate, dropped)" : filled ? " (replayed)" : "";
    lines.write(`seq ${seq} ${body.type} ${body.subject} ${body.id}${note}\n`);
  });

  const askReplays = () => {
    if (!client.connected) return;
    for (const [from, to] of tracker.dueReplays(Date.now())) {
      const commandId = `replay-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
      pending.set(commandId, [from, to]);
      io.err.write(`gap: seq ${from}..${to} missing; asking replay (${commandId})\n`);
      const properties = opts.protocol === 5 ? { responseTopic: replyTopic, correlationData: Buffer.from(commandId, "utf8"), contentType: "application/json" } : undefined;
      client.publish(replayTopic, JSON.stringify({ command_id: commandId, from_seq: from, to_seq: to }), { qos: 1, ...(properties ? { properties } : {}) });
    }
  };
  const ticker = setInterval(askReplays, Math.max(100, Math.min(500, opts.graceMs / 2)));
  const ended = opts.onceS === null ? stop : Promise.race([stop, new Promise((resolve) => setTimeout(resolve, opts.onceS * 1000))]);
  await ended;
  clearInterval(ticker);
  await client.endAsync(true);
  const summary = tracker.summary();
  io.out.write(`${JSON.stringify(summary)}\n`);
  return summary;
}

async function main() {
  let opts;
  try {
    opts = parseConsumerArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`consumer: ${e.message}\n\n${USAGE}\n`);
    return 64;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const stop = new Promise((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await runConsumer(opts, undefined, stop);
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
