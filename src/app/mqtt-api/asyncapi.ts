/**
 * The AsyncAPI 3.0.0 document of the station's MQTT interface (docs/asyncapi.yaml), generated from
 * the zod schemas of payloads.ts and src/app/commands/schemas.ts with `z.toJSONSchema`, so no
 * payload is ever described twice. `npm run docs:asyncapi` writes it; test/docs/asyncapi.test.ts
 * fails when the committed file differs from what this produces.
 *
 * Bindings are the MQTT binding 0.2.0 (github.com/asyncapi/bindings, mqtt/README.md; the JSON
 * Schemas in @asyncapi/specs bindings/mqtt/0.2.0): server `clientId`, `cleanSession`, `lastWill`,
 * `keepAlive`, `sessionExpiryInterval`, `maximumPacketSize`; operation `qos`, `retain`,
 * `messageExpiryInterval`; message `contentType`, `correlationData`, `responseTopic`.
 * Operations are from the station's point of view: it sends events, status, telemetry and
 * replies, and receives commands.
 */
import { stringify } from "yaml";
import { z } from "zod";
import { COMMAND_NAMES, COMMAND_SCHEMAS, MAX_COMMAND_BYTES, type CommandName } from "../commands/schemas.js";
import {
  CLOUD_EVENT_SCHEMAS,
  COMMAND_REPLY_SCHEMAS,
  EVENT_KINDS,
  eventUserPropertiesSchema,
  onlineStatusSchema,
  shutdownStatusSchema,
  telemetrySchema,
  willStatusSchema,
  type EventKind,
} from "./payloads.js";
import { SAMPLE_COMMANDS, SAMPLE_ERROR_REPLIES, SAMPLE_EVENTS, SAMPLE_RESULTS, SAMPLE_STATUS, SAMPLE_TELEMETRY } from "./samples.js";

const BINDING_VERSION = "0.2.0";

/** Defaults of the config (src/config/schema.ts) that the document states. */
const DEFAULTS = { prefix: "smartbin", keepaliveS: 30, sessionExpiryS: 3600, telemetryIntervalS: 60 } as const;

/**
 * A zod schema as an AsyncAPI Schema Object: JSON Schema draft-07 (the AsyncAPI Schema format is
 * its superset), without `$schema`. `io: "input"` for what the station takes (commands), "output"
 * for what it emits.
 */
export function payloadJsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { target: "draft-07", io, unrepresentable: "throw" });
  return rest;
}

const ref = (path: string) => ({ $ref: path });

/** The message name of each thing on the wire. */
export const MESSAGE_NAMES = {
  event: (kind: EventKind) => `${kind}Event`,
  command: (name: CommandName) => `${name}Command`,
  reply: (name: CommandName) => `${name}Reply`,
} as const;

/** The zod schema of every message's payload, by message name (the document's `components.messages`). */
export function messageSchemas(): Record<string, z.ZodType> {
  const table: Record<string, z.ZodType> = {
    statusOnline: onlineStatusSchema,
    statusWill: willStatusSchema,
    statusShutdown: shutdownStatusSchema,
    telemetry: telemetrySchema,
  };
  for (const kind of EVENT_KINDS) table[MESSAGE_NAMES.event(kind)] = CLOUD_EVENT_SCHEMAS[kind];
  for (const name of COMMAND_NAMES) {
    table[MESSAGE_NAMES.command(name)] = COMMAND_SCHEMAS[name];
    table[MESSAGE_NAMES.reply(name)] = COMMAND_REPLY_SCHEMAS[name];
  }
  return table;
}

function eventMessage(kind: EventKind) {
  const samples: readonly unknown[] = SAMPLE_EVENTS[kind];
  return {
    name: MESSAGE_NAMES.event(kind),
    title: `smartbin.${kind}.v1`,
    summary: CLOUD_EVENT_SCHEMAS[kind].shape.data.description,
    contentType: "application/json",
    headers: payloadJsonSchema(eventUserPropertiesSchema, "output"),
    payload: payloadJsonSchema(CLOUD_EVENT_SCHEMAS[kind], "output"),
    correlationId: { description: "The CloudEvents id: the idempotency key (deduplicate by it).", location: "$message.payload#/id" },
    bindings: { mqtt: { contentType: "application/cloudevents+json", bindingVersion: BINDING_VERSION } },
    examples: samples.map((payload, i) => {
      const e = payload as { id: string; type: string; data: { seq: number } };
      return { name: `${kind}${i + 1}`, headers: { id: e.id, type: e.type, seq: String(e.data.seq) }, payload };
    }),
  };
}

function commandMessage(name: CommandName) {
  return {
    name: MESSAGE_NAMES.command(name),
    title: `${name} command`,
    summary: COMMAND_SCHEMAS[name].description ?? `The ${name} command.`,
    description: `Published by an operator's system on \`{prefix}/{station_id}/cmd/${name}\`. With MQTT 5, set a response topic and correlation data: the reply goes there; without one, it goes to \`{prefix}/{station_id}/cmd/${name}/reply\`.`,
    contentType: "application/json",
    payload: payloadJsonSchema(COMMAND_SCHEMAS[name], "input"),
    correlationId: { description: "The command_id: a command_id seen in the last 24 hours gets the same reply again and is not executed twice.", location: "$message.payload#/command_id" },
    bindings: {
      mqtt: {
        correlationData: { type: "string", description: "MQTT 5 correlation data, any bytes: returned unchanged with the reply." },
        responseTopic: { type: "string", description: "MQTT 5 response topic: where the reply goes (else the reply channel)." },
        bindingVersion: BINDING_VERSION,
      },
    },
    examples: SAMPLE_COMMANDS[name].map((payload, i) => ({ name: `${name}${i + 1}`, payload })),
  };
}

function replyMessage(name: CommandName) {
  return {
    name: MESSAGE_NAMES.reply(name),
    title: `${name} reply`,
    summary: `The reply to ${name}: {command_id, ok: true, result} or {command_id, ok: false, error: {code, message}}.`,
    contentType: "application/json",
    payload: payloadJsonSchema(COMMAND_REPLY_SCHEMAS[name], "output"),
    correlationId: { description: "The request's command_id.", location: "$message.payload#/command_id" },
    bindings: {
      mqtt: {
        correlationData: { type: "string", description: "MQTT 5: the request's correlation data, unchanged." },
        bindingVersion: BINDING_VERSION,
      },
    },
    examples: [
      { name: `${name}Ok`, payload: { command_id: SAMPLE_COMMANDS[name][0]!.command_id, ok: true, result: SAMPLE_RESULTS[name] } },
      ...SAMPLE_ERROR_REPLIES.map((payload, i) => ({ name: `${name}Error${i + 1}`, payload })),
    ],
  };
}

const messageRefs = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, ref(`#/components/messages/${n}`)]));

/** The whole document as a plain object. */
export function asyncApiDocument(): Record<string, unknown> {
  const parameters = {
    prefix: ref("#/components/parameters/prefix"),
    station_id: ref("#/components/parameters/station_id"),
  };
  const stationTopic = (rest: string) => `{prefix}/{station_id}/${rest}`;
  const qos1 = (retain: boolean) => ({ mqtt: { qos: 1, retain, bindingVersion: BINDING_VERSION } });

  const messages: Record<string, unknown> = {
    statusOnline: {
      name: "statusOnline",
      title: "Status: online",
      summary: onlineStatusSchema.description,
      contentType: "application/json",
      payload: payloadJsonSchema(onlineStatusSchema, "output"),
      examples: [{ name: "online", payload: SAMPLE_STATUS[0] }],
    },
    statusWill: {
      name: "statusWill",
      title: "Status: offline (the will)",
      summary: willStatusSchema.description,
      contentType: "application/json",
      payload: payloadJsonSchema(willStatusSchema, "output"),
      examples: [{ name: "will", payload: SAMPLE_STATUS[1] }],
    },
    statusShutdown: {
      name: "statusShutdown",
      title: "Status: offline (shutdown)",
      summary: shutdownStatusSchema.description,
      contentType: "application/json",
      payload: payloadJsonSchema(shutdownStatusSchema, "output"),
      examples: [{ name: "shutdown", payload: SAMPLE_STATUS[2] }],
    },
    telemetry: {
      name: "telemetry",
      title: "Telemetry",
      summary: telemetrySchema.description,
      contentType: "application/json",
      payload: payloadJsonSchema(telemetrySchema, "output"),
      examples: SAMPLE_TELEMETRY.map((payload, i) => ({ name: `telemetry${i + 1}`, payload })),
    },
  };
  for (const kind of EVENT_KINDS) messages[MESSAGE_NAMES.event(kind)] = eventMessage(kind);
  for (const name of COMMAND_NAMES) messages[MESSAGE_NAMES.command(name)] = commandMessage(name);
  for (const name of COMMAND_NAMES) messages[MESSAGE_NAMES.reply(name)] = replyMessage(name);

  const channels: Record<string, unknown> = {
    status: {
      address: stationTopic("status"),
      title: "Retained status",
      description:
        'Retained, QoS 1. `{"state":"online", ...}` at every connect and when devices, storage, doors or levels change (at most once a second); the will `{"state":"offline"}` when the connection is lost; `{"state":"offline","reason":"shutdown"}` at a clean shutdown.',
      parameters,
      messages: messageRefs(["statusOnline", "statusWill", "statusShutdown"]),
    },
  };
  for (const kind of EVENT_KINDS) {
    channels[`${kind}Events`] = {
      address: stationTopic(`events/${kind}`),
      title: `${kind} events`,
      description: `Durable events, QoS 1, not retained: CloudEvents 1.0 JSON (structured mode), type \`smartbin.${kind}.v1\`. At least once: order by data.seq, deduplicate by id. Later versions may add kinds on \`events/<kind>\`: subscribe to \`{prefix}/{station_id}/events/#\`.`,
      parameters,
      messages: messageRefs([MESSAGE_NAMES.event(kind)]),
    };
  }
  channels.telemetry = {
    address: stationTopic("telemetry"),
    title: "Telemetry",
    description: `QoS 0, not retained, every telemetry.interval_s (default ${DEFAULTS.telemetryIntervalS} s); with MQTT 5 it expires after twice the interval.`,
    parameters,
    messages: messageRefs(["telemetry"]),
  };
  channels.commands = {
    address: stationTopic("cmd/{name}"),
    title: "Commands",
    description: `From the operator's systems, QoS 1, not retained; the payload is the command named by the last topic level. At most ${MAX_COMMAND_BYTES} bytes (the station's MQTT 5 Maximum Packet Size). Who may publish here is the broker's ACL.`,
    parameters: { ...parameters, name: ref("#/components/parameters/name") },
    messages: messageRefs(COMMAND_NAMES.map(MESSAGE_NAMES.command)),
  };
  channels.replies = {
    address: stationTopic("cmd/{name}/reply"),
    title: "Command replies",
    description:
      "QoS 1, not retained. With MQTT 5 a reply goes to the request's response topic with its correlation data (any topic the requester may subscribe to); a request without a response topic (MQTT 3.1.1) is answered here.",
    parameters: { ...parameters, name: ref("#/components/parameters/name") },
    messages: messageRefs(COMMAND_NAMES.map(MESSAGE_NAMES.reply)),
  };

  const operations: Record<string, unknown> = {
    sendStatus: {
      action: "send",
      channel: ref("#/channels/status"),
      summary: "The station publishes its retained status.",
      bindings: qos1(true),
      messages: ["statusOnline", "statusWill", "statusShutdown"].map((m) => ref(`#/channels/status/messages/${m}`)),
    },
  };
  for (const kind of EVENT_KINDS) {
    operations[`send${kind[0]!.toUpperCase()}${kind.slice(1)}Event`] = {
      action: "send",
      channel: ref(`#/channels/${kind}Events`),
      summary: `The station publishes its ${kind} events (resent from its database until the broker acknowledges them).`,
      bindings: qos1(false),
      messages: [ref(`#/channels/${kind}Events/messages/${MESSAGE_NAMES.event(kind)}`)],
    };
  }
  operations.sendTelemetry = {
    action: "send",
    channel: ref("#/channels/telemetry"),
    summary: "The station publishes telemetry.",
    bindings: {
      mqtt: {
        qos: 0,
        retain: false,
        messageExpiryInterval: {
          type: "integer",
          description: "MQTT 5 message expiry, seconds: twice telemetry.interval_s.",
          default: 2 * DEFAULTS.telemetryIntervalS,
        },
        bindingVersion: BINDING_VERSION,
      },
    },
    messages: [ref("#/channels/telemetry/messages/telemetry")],
  };
  operations.receiveCommand = {
    action: "receive",
    channel: ref("#/channels/commands"),
    summary: "The station takes commands; each gets one reply.",
    bindings: qos1(false),
    messages: COMMAND_NAMES.map((n) => ref(`#/channels/commands/messages/${MESSAGE_NAMES.command(n)}`)),
    reply: {
      channel: ref("#/channels/replies"),
      messages: COMMAND_NAMES.map((n) => ref(`#/channels/replies/messages/${MESSAGE_NAMES.reply(n)}`)),
    },
  };
  operations.sendReply = {
    action: "send",
    channel: ref("#/channels/replies"),
    summary: "The station publishes command replies (to the MQTT 5 response topic when given).",
    bindings: qos1(false),
    messages: COMMAND_NAMES.map((n) => ref(`#/channels/replies/messages/${MESSAGE_NAMES.reply(n)}`)),
  };

  const serverBinding = (cleanSession: boolean) => ({
    mqtt: {
      clientId: "smartbin-st-001",
      cleanSession,
      lastWill: { topic: `${DEFAULTS.prefix}/st-001/status`, qos: 1, message: '{"state":"offline"}', retain: true },
      keepAlive: DEFAULTS.keepaliveS,
      sessionExpiryInterval: DEFAULTS.sessionExpiryS,
      maximumPacketSize: MAX_COMMAND_BYTES,
      bindingVersion: BINDING_VERSION,
    },
  });

  return {
    asyncapi: "3.0.0",
    info: {
      title: "smartbin-edge station MQTT API",
      version: "1.0.0",
      description:
        "What a smartbin-edge station publishes (retained status, durable CloudEvents, telemetry, command replies) and the commands it takes. Generated from the station's zod schemas by `npm run docs:asyncapi`; do not edit. The guide is docs/mqtt-api.md.",
      license: { name: "Apache-2.0", url: "https://www.apache.org/licenses/LICENSE-2.0" },
    },
    defaultContentType: "application/json",
    servers: {
      mqtt: {
        host: "broker.example.net:1883",
        protocol: "mqtt",
        protocolVersion: "5",
        description:
          "Plain MQTT (mqtt.url `mqtt://`). MQTT 5 by default: clean start off and a session expiry (mqtt.session_expiry_s), so commands sent while the station is briefly away still reach it; with MQTT 3.1.1 (mqtt.protocol_version: 4) a clean session and a new subscription at every connect. The client id is mqtt.client_id, default `smartbin-<station id>`.",
        security: [ref("#/components/securitySchemes/userPassword")],
        bindings: serverBinding(false),
      },
      mqtts: {
        host: "broker.example.net:8883",
        protocol: "secure-mqtt",
        protocolVersion: "5",
        description: "MQTT over TLS (mqtt.url `mqtts://`): the broker's CA from mqtt.ca_file, a client certificate from mqtt.cert_file and key_file; user name and password (mqtt.password_file) as well or instead.",
        security: [ref("#/components/securitySchemes/clientCertificate"), ref("#/components/securitySchemes/userPassword")],
        bindings: serverBinding(false),
      },
    },
    channels,
    operations,
    components: {
      parameters: {
        prefix: {
          description: "mqtt.topic_prefix: one or more topic levels (it may contain `/`).",
          default: DEFAULTS.prefix,
          examples: [DEFAULTS.prefix],
        },
        station_id: { description: "station.id: ^[a-z0-9][a-z0-9_-]{0,63}$.", examples: ["st-001"] },
        name: { description: "The command name.", enum: [...COMMAND_NAMES], examples: ["replay"] },
      },
      messages,
      securitySchemes: {
        userPassword: { type: "userPassword", description: "mqtt.username and the first line of mqtt.password_file." },
        clientCertificate: { type: "X509", description: "mqtt.cert_file and mqtt.key_file (mutual TLS)." },
      },
    },
  };
}

/** The document as the YAML text of docs/asyncapi.yaml. */
export function asyncApiYaml(): string {
  return "# Generated by `npm run docs:asyncapi` from src/app/mqtt-api/*.ts: do not edit.\n" + stringify(asyncApiDocument(), { aliasDuplicateObjects: false, lineWidth: 0 });
}
