/**
 * The Mosquitto ACL of docs/mqtt-api.md, taken from the document itself, in a real Mosquitto with
 * MQTT 5 clients: a station publishes and reads only its own topics, only the operator sends any
 * command, the ledger sends only `replay`, and a reply reaches the operator's response topic
 * (examples/operator.mjs over MQTT 5: response topic and correlation data).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ROOT } from "../support/build.js";
import { startMosquitto, type MosquittoBroker } from "../support/mosquitto.js";
import { describeWithTool } from "../support/require-tool.js";

const doc = readFileSync(join(ROOT, "docs/mqtt-api.md"), "utf8");
const aclText = /\*\*Mosquitto\*\*[\s\S]*?```text\n([\s\S]*?)```/.exec(doc)?.[1];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeWithTool("mosquitto", "the Mosquitto ACL of docs/mqtt-api.md", () => {
  let dir = "";
  let url = "";
  let broker: MosquittoBroker | undefined;
  const clients: mqtt.MqttClient[] = [];

  beforeAll(async () => {
    expect(aclText, "the Mosquitto ACL block of docs/mqtt-api.md").toBeDefined();
    dir = mkdtempSync(join(tmpdir(), "smartbin-acl-"));
    writeFileSync(join(dir, "acl"), aclText!);
    // Anonymous access without a password file: the user name a client gives is taken as it is,
    // which is enough to exercise the ACL (a real broker authenticates it).
    broker = await startMosquitto({ dir, settings: [`acl_file ${join(dir, "acl")}`] });
    url = broker.url;
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  async function client(username: string): Promise<{ c: mqtt.MqttClient; got: Array<{ topic: string; body: string; correlation?: string }> }> {
    const c = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: `acl-${username}-${clients.length}`, username, clean: true, reconnectPeriod: 0 });
    clients.push(c);
    const got: Array<{ topic: string; body: string; correlation?: string }> = [];
    c.on("message", (topic, payload, packet) => {
      const correlation = packet.properties?.correlationData?.toString("utf8");
      got.push({ topic, body: payload.toString("utf8"), ...(correlation !== undefined ? { correlation } : {}) });
    });
    return { c, got };
  }

  /**
   * The SUBACK's granted QoS. Mosquitto grants a filter the ACL does not cover and checks read
   * access on every message it would deliver, so what counts is what arrives.
   */
  async function subscribeCode(c: mqtt.MqttClient, filter: string): Promise<number> {
    const granted = await c.subscribeAsync(filter, { qos: 1 });
    return granted[0]!.qos;
  }

  it("a station reads its own commands only, publishes under its own topics only", async () => {
    const station = await client("st-001");
    const ledger = await client("ledger");
    expect(await subscribeCode(station.c, "smartbin/st-001/cmd/+")).toBe(1);
    await subscribeCode(station.c, "smartbin/st-002/cmd/+");
    expect(await subscribeCode(ledger.c, "smartbin/+/events/#")).toBe(1);
    expect(await subscribeCode(ledger.c, "smartbin/+/status")).toBe(1);
    await station.c.publishAsync("smartbin/st-001/events/deposit", "own", { qos: 1 });
    await station.c.publishAsync("smartbin/st-002/events/deposit", "forged", { qos: 1 }).catch(() => undefined);
    await station.c.publishAsync("smartbin/st-001/status", "status", { qos: 1, retain: true });
    const operator = await client("operator");
    await operator.c.publishAsync("smartbin/st-002/cmd/status", "for st-002", { qos: 1 });
    await operator.c.publishAsync("smartbin/st-001/cmd/status", "for st-001", { qos: 1 });
    await sleep(300);
    expect(ledger.got.map((m) => `${m.topic} ${m.body}`).sort()).toEqual(["smartbin/st-001/events/deposit own", "smartbin/st-001/status status"]);
    expect(station.got.map((m) => m.body)).toEqual(["for st-001"]);
  });

  it("only the operator sends any command; the ledger sends replay only; a station none", async () => {
    const station = await client("st-001");
    await subscribeCode(station.c, "smartbin/st-001/cmd/+");
    const ledger = await client("ledger");
    const other = await client("st-002");
    const operator = await client("operator");
    await ledger.c.publishAsync("smartbin/st-001/cmd/tare", "ledger-tare", { qos: 1 }).catch(() => undefined);
    await ledger.c.publishAsync("smartbin/st-001/cmd/replay", "ledger-replay", { qos: 1 });
    await other.c.publishAsync("smartbin/st-001/cmd/set_cards", "station-cmd", { qos: 1 }).catch(() => undefined);
    await operator.c.publishAsync("smartbin/st-001/cmd/tare", "operator-tare", { qos: 1 });
    await sleep(300);
    expect(station.got.map((m) => m.body).sort()).toEqual(["ledger-replay", "operator-tare"]);
  });

  it("examples/operator.mjs gets the station's reply on its MQTT 5 response topic, with its correlation data", async () => {
    const station = await client("st-001");
    await subscribeCode(station.c, "smartbin/st-001/cmd/+");
    station.c.on("message", (topic, payload, packet) => {
      const body = JSON.parse(payload.toString("utf8")) as { command_id: string };
      const responseTopic = packet.properties?.responseTopic;
      if (responseTopic === undefined) return;
      void station.c.publishAsync(responseTopic, JSON.stringify({ command_id: body.command_id, ok: true, result: { topic } }), {
        qos: 1,
        properties: { correlationData: packet.properties!.correlationData! },
      });
    });
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const args = [join(ROOT, "examples/operator.mjs"), "status", "--url", url, "--station", "st-001", "--username", "operator", "--client-id", "op-1", "--command-id", "c-acl", "--timeout", "10"];
      execFile(process.execPath, args, (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : -1, stdout, stderr }));
    });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ command_id: "c-acl", ok: true, result: { topic: "smartbin/st-001/cmd/status" } });
  }, 20_000);
});
