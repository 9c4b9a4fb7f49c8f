/**
 * The MQTT.js options of one connection attempt and the topics of one set of connection settings
 * (contract.md section 4): the session rules live here.
 */
import type { IClientOptions } from "mqtt";

import type { PublisherConnectionSettings } from "./publisher-types.js";

/** contract.md section 2: `mqtt.session_expiry_s` defaults to an hour. */
export const DEFAULT_SESSION_EXPIRY_S = 3600;

/** The topics of a station under a prefix (contract.md section 4: `P/S/...`). */
export interface StationTopics {
  /** `P/S/status`, retained. */
  status: string;
  /** `P/S/telemetry`. */
  telemetry: string;
  /** `P/S/cmd/+`, subscribed at QoS 1 after every CONNACK. */
  commandFilter: string;
  /** `P/S/cmd/`: a topic starting with it, with one level after it, is a command. */
  commandPrefix: string;
  /** `P/S/events/`, followed by the event kind. */
  eventsPrefix: string;
}

/** The topics of station `stationId` under `topicPrefix`. */
export function stationTopics(topicPrefix: string, stationId: string): StationTopics {
  const base = `${topicPrefix}/${stationId}`;
  return {
    status: `${base}/status`,
    telemetry: `${base}/telemetry`,
    commandFilter: `${base}/cmd/+`,
    commandPrefix: `${base}/cmd/`,
    eventsPrefix: `${base}/events/`,
  };
}

/** What {@link clientOptions} needs besides the connection settings. */
export interface AttemptOptions {
  clientId: string;
  statusTopic: string;
  connectTimeoutMs: number;
  maximumPacketSize: number | undefined;
}

/**
 * MQTT.js options of one connection attempt:
 *
 * - MQTT 5: clean start OFF with Session Expiry Interval `sessionExpiryS` (MQTT 5.0 sections
 *   3.1.2.4 and 3.1.2.11.2), so QoS 1 commands sent while we are briefly away are queued by the
 *   broker and delivered after the reconnect; Maximum Packet Size announced when given (3.1.2.11.4).
 *   MQTT 3.1.1: clean session (MQTT 3.1.1 section 3.1.2.4), the subscription made again at every
 *   connect. Events never rely on the session: they are resent from the database (the client is
 *   new at every attempt, so its in-memory store never replays anything).
 * - `reconnectPeriod: 0`: the publisher reconnects itself, one new client per attempt.
 * - the will: `{"state":"offline"}` retained on the status topic, QoS 1.
 * - credentials and TLS: {@link credentialOptions}.
 */
export function clientOptions(s: PublisherConnectionSettings, a: AttemptOptions): IClientOptions {
  const v5 = s.protocolVersion === 5;
  return {
    protocolVersion: s.protocolVersion,
    clientId: a.clientId,
    clean: !v5,
    // Our own reconnect, one new client per attempt: MQTT.js must never replay its store.
    reconnectPeriod: 0,
    // A new client per attempt has no subscriptions to renew; the publisher subscribes at each CONNACK.
    resubscribe: false,
    connectTimeout: a.connectTimeoutMs,
    keepalive: s.keepaliveS ?? 30,
    // The keepalive runs on its own interval (a PINGREQ every keepalive, the connection closed
    // when its PINGRESP is late) instead of being re-armed on every packet sent or received:
    // MQTT.js's default clears and sets a timer per PUBLISH and per PUBACK, the largest
    // allocation of a backlog drain after logging (README "Performance").
    reschedulePings: false,
    // MQTT.js logs each packet through the `debug` package even when it is disabled (an argument
    // array per call, a dozen calls per event); we log what matters ourselves.
    log: noLog,
    // mqtt-packet otherwise makes a Buffer for each of the 65,536 two-byte numbers at the first
    // packet written and keeps them for good: 6.8 MB of heap in 65,554 objects (a heap snapshot
    // before and after connect), a tenth of an idle station. Each packet writes its few numbers
    // itself instead. The switch is mqtt-packet's, for the whole process.
    writeCache: false,
    will: { topic: a.statusTopic, payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: true },
    ...(v5
      ? {
          properties: {
            sessionExpiryInterval: s.sessionExpiryS ?? DEFAULT_SESSION_EXPIRY_S,
            ...(a.maximumPacketSize !== undefined ? { maximumPacketSize: a.maximumPacketSize } : {}),
          },
        }
      : {}),
    ...credentialOptions(s),
  };
}

/**
 * The MQTT.js options that say who connects and how TLS is checked: user name, password, CA,
 * client certificate and key, and `rejectUnauthorized: false` for `tlsInsecure`. The station and
 * `smartbin doctor` log in alike with them.
 */
export function credentialOptions(s: Pick<PublisherConnectionSettings, "username" | "password" | "ca" | "cert" | "key" | "tlsInsecure">): IClientOptions {
  return {
    ...(s.username !== undefined ? { username: s.username } : {}),
    ...(s.password !== undefined ? { password: s.password } : {}),
    ...(s.ca !== undefined ? { ca: s.ca } : {}),
    ...(s.cert !== undefined ? { cert: s.cert } : {}),
    ...(s.key !== undefined ? { key: s.key } : {}),
    ...(s.tlsInsecure === true ? { rejectUnauthorized: false } : {}),
  };
}

/** MQTT.js's `log` option: its per-packet debug lines are dropped. */
function noLog(): void {}

/** The broker URL without credentials, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username !== "" || u.password !== "") {
      u.username = "";
      u.password = "";
    }
    return u.toString();
  } catch {
    return "(invalid url)";
  }
}
