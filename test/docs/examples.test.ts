/**
 * examples/consumer.mjs and examples/operator.mjs (issue 11, "Done when"): their argument
 * handling and exit codes as processes, the consumer's dedupe and gap bookkeeping, and both tools
 * against a broker with a stand-in for the station that follows docs/mqtt-api.md (MQTT 3.1.1: the
 * embedded aedes broker; the end-to-end test against a running station is the integrator's).
 */
import { execFile, spawn } from "node:child_process";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../src/app/demo/broker.js";
import { SAMPLE_EVENTS } from "../../src/app/mqtt-api/samples.js";
import { ROOT } from "../support/build.js";

const CONSUMER = join(ROOT, "examples/consumer.mjs");
const OPERATOR = join(ROOT, "examples/operator.mjs");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runTool(file: string, args: string[], timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [file, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

interface Tracker {
  accept(id: string, seq: number): { duplicate: boolean; filled: boolean };
  dueReplays(nowMs: number): Array<[number, number]>;
  summary(): { received: number; duplicates: number; gaps: number; replayed: number; missing: Array<[number, number]> };
}
interface ConsumerModule {
  SeqTracker: new (opts?: { fromSeq?: number | null; graceMs?: number }) => Tracker;
  parseConsumerArgs(argv: string[]): Record<string, unknown>;
  UsageError: new (message: string) => Error;
}
interface OperatorModule {
  parseOperatorArgs(argv: string[]): Record<string, unknown>;
  UsageError: new (message: string) => Error;
}
// Plain ESM without types: imported through a variable, typed here by what the tests use.
const consumerPath: string = CONSUMER;
const operatorPath: string = OPERATOR;
const consumer = (await import(consumerPath)) as ConsumerModule;
const operator = (await import(operatorPath)) as OperatorModule;

describe("operator: arguments", () => {
  it("builds the command payload from the name and JSON args, command_id from --command-id or the args", () => {
    expect(operator.parseOperatorArgs(["replay", '{"from_seq": 3}', "--station", "st-001", "--command-id", "c-1"])).toMatchObject({
      name: "replay",
      payload: { from_seq: 3, command_id: "c-1" },
      prefix: "smartbin",
      url: "mqtt://127.0.0.1:1883",
      protocol: 5,
      timeoutS: 10,
    });
    expect(operator.parseOperatorArgs(["status", '{"command_id": "mine"}', "--station", "s", "--prefix", "city/north/"])).toMatchObject({
      commandId: "mine",
      prefix: "city/north",
    });
  });

  it.each([
    [["--station", "s"], /missing <command>/],
    [["status"], /missing --station/],
    [["status", "{nope", "--station", "s"], /not JSON/],
    [["status", "[1]", "--station", "s"], /JSON object/],
    [["cmd/x", "--station", "s"], /bad command name/],
    [["status", "--station", "s", "--timeout", "0"], /--timeout/],
    [["status", "--station", "s", "--protocol", "3"], /--protocol/],
    [["status", "--station", "s", "--bogus"], /bogus/],
  ])("%j is a usage error", (argv, message) => {
    expect(() => operator.parseOperatorArgs(argv)).toThrow(message);
  });

  it("exits 64 with the usage for bad arguments, 0 for --help, 2 when no reply comes", async () => {
    const bad = await runTool(OPERATOR, ["status"]);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toMatch(/missing --station[\s\S]*usage:/);
    expect((await runTool(OPERATOR, ["--help"])).code).toBe(0);
    const none = await runTool(OPERATOR, ["status", "--station", "s", "--url", "mqtt://127.0.0.1:9", "--timeout", "0.5"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no reply to status/);
  });
});

describe("consumer: arguments and bookkeeping", () => {
  it("reads its options", () => {
    expect(consumer.parseConsumerArgs(["--station", "st-001", "--once", "5", "--from-seq", "1", "--grace", "0.5"])).toMatchObject({
      station: "st-001",
      onceS: 5,
      fromSeq: 1,
      graceMs: 500,
      protocol: 5,
      sessionExpiryS: 0,
    });
    expect(() => consumer.parseConsumerArgs([])).toThrow(/missing --station/);
    expect(() => consumer.parseConsumerArgs(["--station", "s", "--once", "0"])).toThrow(/--once/);
    expect(() => consumer.parseConsumerArgs(["--station", "s", "--from-seq", "0"])).toThrow(/--from-seq/);
    expect(() => consumer.parseConsumerArgs(["--station", "s", "extra"])).toThrow(consumer.UsageError);
  });

  it("drops duplicates by id, finds gaps by seq after the grace time, counts what the replay filled", () => {
    const t = new consumer.SeqTracker({ graceMs: 1000 });
    t.accept("a", 5);
    t.accept("b", 6);
    expect(t.accept("a", 5)).toEqual({ duplicate: true, filled: false });
    t.accept("e", 9);
    t.accept("g", 12);
    expect(t.dueReplays(0)).toEqual([]); // noticed, still within the grace time
    t.accept("f", 10); // a late one: no longer missing
    expect(t.dueReplays(1000)).toEqual([
      [7, 8],
      [11, 11],
    ]);
    expect(t.dueReplays(5000)).toEqual([]); // asked once
    expect(t.accept("c", 7)).toEqual({ duplicate: false, filled: true });
    expect(t.summary()).toEqual({ received: 6, duplicates: 1, gaps: 2, replayed: 1, missing: [[8, 8], [11, 11]] });
  });

  it("with --from-seq, seqs missing before the first received are a gap too", () => {
    const t = new consumer.SeqTracker({ fromSeq: 1, graceMs: 0 });
    t.accept("x", 4);
    t.dueReplays(0);
    expect(t.dueReplays(0)).toEqual([[1, 3]]);
  });

  it("exits 64 for bad arguments and prints the summary alone on stdout with --once", async () => {
    expect((await runTool(CONSUMER, [])).code).toBe(64);
    const run = await runTool(CONSUMER, ["--station", "s", "--url", "mqtt://127.0.0.1:9", "--once", "0.5"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ received: 0, duplicates: 0, gaps: 0, replayed: 0, missing: [] });
  });
});

describe("both tools against a broker and a stand-in station (MQTT 3.1.1 reply topics)", () => {
  let broker: EmbeddedBroker | undefined;
  let station: mqtt.MqttClient | undefined;
  afterEach(async () => {
    await station?.endAsync(true);
    await broker?.close();
  });

  /** Events seq 1..6 of the deposit sample, with new ids. */
  const events = [1, 2, 3, 4, 5, 6].map((seq) => {
    const e = structuredClone(SAMPLE_EVENTS.deposit[0]!);
    e.id = `01a227bc-8d6b-76f1-9312-${String(seq).padStart(12, "0")}`;
    e.data.seq = seq;
    return e;
  });

  it("the consumer dedupes, asks replay for a gap and gets it; the operator prints a reply and exits by it", async () => {
    broker = await startEmbeddedBroker();
    const url = broker.url;
    station = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: "smartbin-st-001" });
    const commands: Array<{ topic: string; body: { command_id: string; from_seq?: number; to_seq?: number } }> = [];
    await station.subscribeAsync("smartbin/st-001/cmd/+", { qos: 1 });
    const publishEvent = (e: (typeof events)[number]) => station!.publishAsync("smartbin/st-001/events/deposit", JSON.stringify(e), { qos: 1 });
    station.on("message", (topic, payload) => {
      const body = JSON.parse(payload.toString("utf8")) as (typeof commands)[number]["body"];
      commands.push({ topic, body });
      const name = topic.split("/").at(-1)!;
      if (name === "replay") {
        const replayed = events.filter((e) => e.data.seq >= body.from_seq! && e.data.seq <= (body.to_seq ?? Infinity));
        void Promise.all(replayed.map(publishEvent)).then(() =>
          station!.publishAsync(`${topic}/reply`, JSON.stringify({ command_id: body.command_id, ok: true, result: { count: replayed.length, first_held_seq: 1 } }), { qos: 1 }),
        );
      } else {
        const reply = name === "status" ? { command_id: body.command_id, ok: true, result: { backlog: 0 } } : { command_id: body.command_id, ok: false, error: { code: "unknown_command", message: name } };
        void station!.publishAsync(`${topic}/reply`, JSON.stringify(reply), { qos: 1 });
      }
    });

    // The retained status tells when the consumer has subscribed (it prints it on stderr).
    await station.publishAsync("smartbin/st-001/status", JSON.stringify({ state: "offline" }), { qos: 1, retain: true });
    const child = spawn(process.execPath, [CONSUMER, "--url", url, "--station", "st-001", "--protocol", "4", "--once", "6", "--grace", "0.3", "--client-id", "ledger-test"]);
    const run: Run = { code: -1, stdout: "", stderr: "" };
    child.stdout.on("data", (d: Buffer) => (run.stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (run.stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child.on("exit", (code) => resolve(void (run.code = code ?? -1))));
    for (let waited = 0; !run.stderr.includes("status:") && waited < 5000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    // Seq 1, 2, 2 again (a resend), then 5 and 6: 3 and 4 were lost.
    for (const e of [events[0]!, events[1]!, events[1]!, events[4]!, events[5]!]) await publishEvent(e);
    await exited;
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout), run.stderr).toEqual({ received: 6, duplicates: 1, gaps: 1, replayed: 2, missing: [] });
    expect(commands.map((c) => [c.topic, c.body.from_seq, c.body.to_seq])).toEqual([["smartbin/st-001/cmd/replay", 3, 4]]);
    expect(run.stderr).toMatch(/gap: seq 3\.\.4 missing/);

    const ok = await runTool(OPERATOR, ["status", "--url", url, "--station", "st-001", "--protocol", "4", "--command-id", "c-9"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ command_id: "c-9", ok: true, result: { backlog: 0 } });
    // MQTT 5 against a 3.1.1-only broker: refused at CONNACK, so it stops at once, not at the timeout.
    const started = Date.now();
    const wrongVersion = await runTool(OPERATOR, ["status", "--url", url, "--station", "st-001", "--protocol", "5", "--timeout", "20"]);
    expect(wrongVersion.code).toBe(2);
    expect(wrongVersion.stderr).toMatch(/the broker refused the connection/);
    expect(Date.now() - started).toBeLessThan(10_000);
    const refused = await runTool(OPERATOR, ["frobnicate", "{}", "--url", url, "--station", "st-001", "--protocol", "4"]);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, error: { code: "unknown_command" } });
  }, 30_000);
});
