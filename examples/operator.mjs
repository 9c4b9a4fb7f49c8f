#!/usr/bin/env node
// Sends one command to a smartbin-edge station and prints its reply.
//
// Written from docs/mqtt-api.md and docs/asyncapi.yaml alone (no project imports), as a starting
// point for an operator's tooling. Needs Node 22+ and the `mqtt` package (npm install mqtt).
//
//   node examples/operator.mjs <command> [json-args] --station <id> [options]
//
// The command goes to P/S/cmd/<command> (QoS 1) as {"command_id": ..., ...args}. With MQTT 5 the
// request carries a response topic (P/S/cmd/<command>/reply/<client id>) and correlation data
// (the command_id); with --protocol 4 (MQTT 3.1.1) the reply is awaited on P/S/cmd/<command>/reply
// and matched by command_id. The reply is printed on stdout as JSON.
//
// Exit status: 0 the reply is ok, 1 it is an error reply, 2 no reply in time (or no connection; a broker that refuses the connection ends it at once),
// 64 bad arguments. Sending again with the same --command-id is safe: the station answers a
// command_id it has seen in the last 24 hours with the same reply and does not run it twice.
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import mqtt from "mqtt";
import { BROKER_OPTIONS, UsageError, brokerSettings, connectAuth } from "./broker-options.mjs";

export const EXIT = { ok: 0, errorReply: 1, timeout: 2, usage: 64 };

export const USAGE = `usage: node examples/operator.mjs <command> [json-args] --station <id> [options]

  <command>            status | replay | tare | zero | set_cards | reload_config (any name is sent)
  [json-args]          the command's arguments as a JSON object, e.g. '{"from_seq": 18}'

options:
  --url <url>          broker URL (mqtt://, mqtts://, ws://, wss://); default mqtt://127.0.0.1:1883
  --prefix <p>         the station's mqtt.topic_prefix; default smartbin
  --station <id>       the station's station.id (required)
  --timeout <s>        seconds to wait for the reply; default 10
  --command-id <id>    the command_id (1-64 characters); default the one in [json-args], else a fresh one
  --expiry <s>         MQTT 5 message expiry of the command, seconds (the broker drops it later)
  --protocol <5|4>     MQTT 5 (default) or 4 (MQTT 3.1.1: the reply comes on P/S/cmd/<command>/reply)
  --client-id <id>     default smartbin-operator-<random>
  --username <u>, --password-file <f>, --ca <pem>, --cert <pem>, --key <pem>
  --help

exit status: 0 ok reply, 1 error reply, 2 no reply in time or the broker refused the connection, 64 bad arguments`;

export { UsageError, connectAuth };

const TOPIC_LEVEL = /^[^/+#\u0000]+$/;

/**
 * The operator's options from its arguments (without node and the script).
 *
 * @throws UsageError for a missing station or command, JSON args that are no object, a bad number
 */
export function parseOperatorArgs(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...BROKER_OPTIONS,
        timeout: { type: "string", default: "10" },
        "command-id": { type: "string" },
        expiry: { type: "string" },
      },
    });
  } catch (err) {
    throw new UsageError(err.message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return { help: true };
  const [name, json, ...rest] = positionals;
  if (name === undefined) throw new UsageError("missing <command>");
  if (!TOPIC_LEVEL.test(name)) throw new UsageError(`bad command name ${JSON.stringify(name)}: one topic level without / + #`);
  if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
  const broker = brokerSettings(v, "operator");
  let args = {};
  if (json !== undefined) {
    try {
      args = JSON.parse(json);
    } catch (err) {
      throw new UsageError(`[json-args] is not JSON: ${err.message}`);
    }
    if (args === null || typeof args !== "object" || Array.isArray(args)) throw new UsageError("[json-args] must be a JSON object");
  }
  // The station checks command_id (1 to 64 characters) and answers `invalid`: not checked here, so
  // that a malformed command can be sent on purpose.
  const commandId = v["command-id"] ?? (typeof args.command_id === "string" ? args.command_id : `op-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`);
  return {
    help: false,
    name,
    payload: { ...args, command_id: commandId },
    commandId,
    ...broker,
    timeoutS: positive(v.timeout, "--timeout"),
    expiryS: v.expiry === undefined ? undefined : Math.ceil(positive(v.expiry, "--expiry")),
  };
}

function positive(text, flag) {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number of seconds`);
  return n;
}

/** Sends the command, waits for its reply; resolves with the exit status. */
export async function runOperator(opts, out = process.stdout, err = process.stderr) {
  const base = `${opts.prefix}/${opts.station}/cmd/${opts.name}`;
  const replyTopic = opts.protocol === 5 ? `${base}/reply/${opts.clientId}` : `${base}/reply`;
  const client = mqtt.connect(opts.url, {
    protocolVersion: opts.protocol,
    clientId: opts.clientId,
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: opts.timeoutS * 1000,
    ...connectAuth(opts.auth),
  });
  let lastError = null;
  let refusedBy = null;
  try {
    const reply = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), opts.timeoutS * 1000);
      client.on("error", (e) => {
        if (lastError !== e.message) err.write(`operator: ${e.message}\n`);
        lastError = e.message;
        // The broker answered CONNACK with a refusal (a CONNACK return or reason code): trying
        // again changes nothing (a wrong protocol version, bad credentials, not authorised).
        if (typeof e.code === "number") {
          refusedBy = e.message;
          clearTimeout(timer);
          resolve(null);
        }
      });
      client.on("message", (topic, payload, packet) => {
        if (topic !== replyTopic) return;
        let reply;
        try {
          reply = JSON.parse(payload.toString("utf8"));
        } catch {
          return;
        }
        const correlation = packet.properties?.correlationData?.toString("utf8");
        if (correlation !== undefined ? correlation !== opts.commandId : reply?.command_id !== opts.commandId) return;
        clearTimeout(timer);
        resolve(reply);
      });
      client.once("connect", () => {
        client.subscribe(replyTopic, { qos: 1 }, (e) => {
          if (e) {
            err.write(`operator: cannot subscribe to ${replyTopic}: ${e.message}\n`);
            return;
          }
          const properties =
            opts.protocol === 5
              ? {
                  responseTopic: replyTopic,
                  correlationData: Buffer.from(opts.commandId, "utf8"),
                  contentType: "application/json",
                  ...(opts.expiryS !== undefined ? { messageExpiryInterval: opts.expiryS } : {}),
                }
              : undefined;
          client.publish(base, JSON.stringify(opts.payload), { qos: 1, ...(properties ? { properties } : {}) }, (pe) => {
            if (pe) err.write(`operator: publish refused: ${pe.message}\n`);
          });
        });
      });
    });
    if (reply === null) {
      if (refusedBy !== null) err.write(`operator: the broker refused the connection (${refusedBy}): nothing was sent\n`);
      else err.write(`operator: no reply to ${opts.name} (command_id ${opts.commandId}) within ${opts.timeoutS} s\n`);
      return EXIT.timeout;
    }
    out.write(`${JSON.stringify(reply, null, 2)}\n`);
    return reply.ok === true ? EXIT.ok : EXIT.errorReply;
  } finally {
    await client.endAsync(true);
  }
}

async function main() {
  let opts;
  try {
    opts = parseOperatorArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`operator: ${e.message}\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  return runOperator(opts);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
