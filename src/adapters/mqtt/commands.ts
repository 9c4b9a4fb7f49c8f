/**
 * Commands on `P/S/cmd/<name>` and where their replies go (contract.md section 4, "Commands and
 * telemetry"). Only routing: payloads are parsed and validated by the application.
 */
import type { IPublishPacket } from "mqtt";

import type { IncomingCommand } from "./publisher-types.js";

/**
 * The command a PUBLISH carries, `undefined` when its topic is not `commandPrefix` + one
 * non-empty level (`P/S/cmd/status`; not `P/S/cmd/status/reply`, not `P/S/cmd/`).
 */
export function commandOf(commandPrefix: string, topic: string, payload: Buffer, packet: IPublishPacket): IncomingCommand | undefined {
  if (!topic.startsWith(commandPrefix)) return undefined;
  const name = topic.slice(commandPrefix.length);
  if (name === "" || name.includes("/")) return undefined;
  const cmd: IncomingCommand = { name, topic, payload };
  const props = packet.properties;
  if (props?.responseTopic !== undefined) cmd.responseTopic = props.responseTopic;
  if (props?.correlationData !== undefined) cmd.correlationData = props.correlationData;
  return cmd;
}

/** Where a reply goes, and the MQTT 5 properties it carries. */
export interface ReplyRoute {
  topic: string;
  correlationData?: Buffer;
}

/**
 * The route of the reply to `cmd`: with MQTT 5 and a usable response topic, that topic and the
 * correlation data (MQTT 5.0 section 4.10, request / response); otherwise `P/S/cmd/<name>/reply`.
 * A response topic that could not be published to (empty, with a wildcard, which MQTT 5.0 section
 * 3.3.2.3.5 forbids: a broker would close our connection for it, or a `$` topic) falls back to the
 * reply topic, and so does one in the station's own topics other than `P/S/cmd/<name>/reply` and
 * below it: the station may write its events and status, and a command sender must not make it
 * publish a reply there, where consumers expect CloudEvents. The same holds for another station's
 * topics under the same prefix (`P/<other>/events/…`, `status`, `telemetry`, `cmd/…`): a sender
 * must not make this station write into another station's streams. With MQTT 5 the fallback keeps
 * the correlation data, so the sender can still match the reply by it.
 */
export function replyRoute(cmd: IncomingCommand, commandPrefix: string, protocolVersion: 4 | 5): ReplyRoute {
  const replyTopic = `${commandPrefix}${cmd.name}/reply`;
  const response = cmd.responseTopic;
  const correlation = protocolVersion === 5 && cmd.correlationData !== undefined ? { correlationData: cmd.correlationData } : {};
  if (protocolVersion === 5 && response !== undefined && usableResponseTopic(response, commandPrefix, replyTopic)) {
    return { topic: response, ...correlation };
  }
  return { topic: replyTopic, ...correlation };
}

/** The levels below `P/<station>/` that are a station's own streams (contract.md section 4). */
const STATION_STREAMS = new Set(["events", "status", "telemetry", "cmd"]);

function usableResponseTopic(topic: string, commandPrefix: string, replyTopic: string): boolean {
  if (topic === "" || topic.startsWith("$") || /[+#\u0000]/.test(topic)) return false;
  // `P/S/`: the station's own topics (commandPrefix is `P/S/cmd/`).
  const own = commandPrefix.slice(0, -"cmd/".length);
  if (topic.startsWith(own)) return topic === replyTopic || topic.startsWith(`${replyTopic}/`);
  // `P/`: the prefix of every station (a station id has no `/`).
  const prefix = own.slice(0, own.slice(0, -1).lastIndexOf("/") + 1);
  if (prefix === "" || !topic.startsWith(prefix)) return true;
  const [station, stream] = topic.slice(prefix.length).split("/");
  return !(station !== undefined && station !== "" && stream !== undefined && STATION_STREAMS.has(stream));
}
