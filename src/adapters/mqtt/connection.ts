/** The state of one connection attempt of the publisher (publisher.ts), shared with its drain (event-drain.ts). */
import type { MqttClient } from "mqtt";

import type { StoredEvent } from "../outbox/outbox.js";
import type { ReplyRoute } from "./commands.js";

/** One connection attempt; all its state is dropped when it closes. */
export interface Connection {
  readonly client: MqttClient;
  connected: boolean;
  closed: boolean;
  connectedAt: number;
  window: number;
  /** seq → event, awaiting PUBACK (the drain's; replayed events are only counted). */
  readonly inflight: Map<number, StoredEvent>;
  /** Replayed events awaiting PUBACK. */
  replayInflight: number;
  /** Read from the database, not yet sent, ascending. */
  buffer: StoredEvent[];
  /** The highest seq sent on this connection: nothing at or below it is sent again on it. */
  lastSentSeq: number;
  /** Why it closed, for the log. */
  reason: string | undefined;
  /** MQTT.js reported an error on it (socket error, keepalive or CONNACK timeout, refused CONNACK). */
  sawError: boolean;
  /** The broker refused the CONNECT for its credentials ({@link refusesCredentials}). */
  credentialsRefused: boolean;
  /** The broker said "Session taken over" (MQTT 5 DISCONNECT 0x8E). */
  takenOver: boolean;
  /** Ends a client id conflict once the connection has stayed up long enough. */
  stayTimer: NodeJS.Timeout | undefined;
  /** A replayed event was refused on it: further refusals are logged at debug. */
  replayRefusalLogged: boolean;
  /** A retained command was ignored on it (said once per connection). */
  retainedWarned: boolean;
  /** The broker answered its command SUBSCRIBE (SUBACK, granted or refused). */
  commandsSubscribed: boolean;
  /**
   * Command replies published on it and not yet acknowledged (PUBACK): when it closes first, they
   * are held and sent again at the next connection (publisher.ts `reply`).
   */
  replies: Set<PendingReply>;
}

/** A command reply on its way: the command's name, where it goes, the JSON text, when it was first sent (`performance.now()`). */
export interface PendingReply {
  name: string;
  route: ReplyRoute;
  body: string;
  at: number;
}

/** A connection attempt's state before its CONNACK. */
export function newConnection(client: MqttClient): Connection {
  return {
    client,
    connected: false,
    closed: false,
    connectedAt: 0,
    window: 0,
    inflight: new Map(),
    replayInflight: 0,
    buffer: [],
    lastSentSeq: 0,
    reason: undefined,
    sawError: false,
    credentialsRefused: false,
    takenOver: false,
    stayTimer: undefined,
    replayRefusalLogged: false,
    retainedWarned: false,
    commandsSubscribed: false,
    replies: new Set(),
  };
}

/**
 * True for an MQTT.js error that is the broker refusing the station's credentials: CONNACK reason
 * code 0x86 (bad user name or password) or 0x87 (not authorized) in MQTT 5 (section 3.2.2.2), return
 * code 4 or 5 in MQTT 3.1.1 (section 3.2.2.3). MQTT.js puts the code in the error's `code`.
 */
export function refusesCredentials(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 0x86 || code === 0x87 || code === 4 || code === 5;
}
