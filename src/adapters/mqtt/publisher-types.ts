import type { Logger } from "pino";

import type { Outbox } from "../outbox/outbox.js";
import type { BackoffSettings } from "../backoff.js";
import type { LoopBeat } from "../loop-beat.js";

/**
 * What the publisher needs of the outbox (an {@link Outbox} fits; tests may pass a fake). `markSent`
 * is called with each page read, before any of it is sent (a fake without it never corrects times).
 * `heldPage` serves {@link Publisher.replay} (a fake without it cannot replay: the replay is logged
 * and dropped).
 */
export type PublisherOutbox = Pick<Outbox, "pendingAfter" | "markPublished"> & Partial<Pick<Outbox, "markSent" | "heldPage">>;

/**
 * How the publisher connects: everything a config reload may change ({@link Publisher.reconfigure}).
 * Times are in the unit their name says.
 */
export interface PublisherConnectionSettings {
  /** Broker URL (config `mqtt.url`): `mqtt://`, `mqtts://`, `ws://` or `wss://`. */
  url: string;
  /** `P` in the topics (config `mqtt.topic_prefix`). */
  topicPrefix: string;
  /** 5, or 4 for MQTT 3.1.1. */
  protocolVersion: 4 | 5;
  /**
   * Default `smartbin-<stationId>`. A fixed id makes the broker drop a stale connection of ours at
   * once (session takeover, MQTT 5.0 section 3.1.4), so its will cannot arrive after our new online
   * status; with MQTT 5 it also names the session that keeps our command subscription.
   */
  clientId?: string | undefined;
  username?: string | undefined;
  /** Config `mqtt.password`, or the first line of `mqtt.password_file`. Never logged. */
  password?: string | undefined;
  /** TLS material (PEM contents), for `mqtts://` and `wss://`. */
  ca?: Buffer | undefined;
  cert?: Buffer | undefined;
  key?: Buffer | undefined;
  /**
   * Config `mqtt.tls_insecure`: the broker's certificate is not verified (`rejectUnauthorized:
   * false`); a warning is logged at every successful connect. Default false.
   */
  tlsInsecure?: boolean | undefined;
  /**
   * MQTT 5 Session Expiry Interval, seconds (config `mqtt.session_expiry_s`, MQTT 5.0 section
   * 3.1.2.11.2): how long the broker keeps our session (the command subscription, and QoS 1
   * commands queued for us) after a disconnect. Default 3600. Not used with MQTT 3.1.1 (clean
   * session).
   */
  sessionExpiryS?: number | undefined;
  /** MQTT keepalive in seconds; default 30. */
  keepaliveS?: number | undefined;
}

/**
 * One PUBLISH received on `P/S/cmd/<name>` (contract.md section 4, "Commands and telemetry"),
 * handed to {@link PublisherOptions.onCommand} as received: nothing is parsed or validated here.
 */
export interface IncomingCommand {
  /** The topic's last level: `status`, `replay`, … (one level, never empty, never `reply`'s parent). */
  name: string;
  /** The full topic it arrived on. */
  topic: string;
  /** The payload bytes as received (a JSON object, if the sender follows the contract). */
  payload: Buffer;
  /** MQTT 5 Response Topic (MQTT 5.0 section 3.3.2.3.5), when the sender gave one. */
  responseTopic?: string;
  /** MQTT 5 Correlation Data (MQTT 5.0 section 3.3.2.3.6), when the sender gave it. */
  correlationData?: Buffer;
}

/** Options of `Publisher` (publisher.ts). Times are in the unit their name says. */
export interface PublisherOptions extends PublisherConnectionSettings {
  outbox: PublisherOutbox;
  /** `S` in the topics (config `station.id`). */
  stationId: string;
  /**
   * Events published and not yet acknowledged, at most; default 32. Also capped by the broker's
   * MQTT 5 Receive Maximum (Mosquitto's default is 20), less two slots kept for the status and a
   * command reply.
   */
  inflight?: number;
  /**
   * MQTT 5 Maximum Packet Size announced in CONNECT, bytes (MQTT 5.0 section 3.1.2.11.4): the
   * broker never forwards a larger PUBLISH to us (it drops it), so an oversized command never
   * arrives. The station passes 262144 (256 KiB, contract.md section 4). Default: none announced.
   */
  maximumPacketSize?: number;
  logger: Logger;
  /** Extra fields of the retained online status (devices, faults); `state` is always set by the publisher. */
  statusFields?: () => Record<string, unknown>;
  /**
   * Reconnect backoff; default first retry within 1 s, at most 30 s apart, full jitter. The station
   * passes `reconnectBackoff(mqtt.reconnect_max_s)` (backoff.ts).
   */
  reconnect?: BackoffSettings;
  /** How long a connection attempt may wait for CONNACK; default 10 000. */
  connectTimeoutMs?: number;
  /** Upper bound of {@link Publisher.stop}; default 2500. */
  stopTimeoutMs?: number;
  /**
   * Status changes closer together than this (ms) are sent as one, the latest, at the end of the
   * interval: a flapping indicator (overload / ok at 25 Hz) must not cost 25 retained QoS 1
   * messages a second over a metered link. Default 1000.
   */
  statusMinIntervalMs?: number;
  /**
   * The drain-or-reconnect loop's beat for the systemd watchdog (src/app/liveness.ts): `busy` while a
   * CONNACK or a PUBACK is awaited, `idle` while connected with nothing in flight or waiting out the
   * reconnect backoff.
   */
  liveness?: LoopBeat;
  /**
   * Called for every PUBLISH received on `P/S/cmd/<name>` (one level below `cmd`), synchronously in
   * MQTT.js's message handler, before its PUBACK. Returning `false` says the command is not taken
   * (the station is shutting down): its PUBACK is withheld, so the broker keeps it in the session and
   * delivers it again at the next connection (MQTT 5.0 section 4.4); anything else is acknowledged.
   * A throw is caught and logged at error (and the command acknowledged): it never reaches MQTT.js.
   */
  onCommand?: (cmd: IncomingCommand) => boolean | void;
  /**
   * A client id conflict (a cloned SD card: another client connecting with our client id) began
   * (`true`, once) or ended (`false`, once). See client-id-conflict.ts for what counts.
   */
  onClientIdConflict?: (active: boolean) => void;
  /**
   * Retry rounds of events held back because the broker refused them or they are too large for it
   * (held-events.ts): default first after 30 s, doubling, at most 10 min apart. Tests shorten them.
   */
  heldRetry?: BackoffSettings;
  /** Conflict detection tuning (tests); the defaults are contract.md section 4's. */
  conflict?: Partial<ClientIdConflictSettings>;
}

/** When a client id conflict begins and ends; all in milliseconds. */
export interface ClientIdConflictSettings {
  /** Takeovers within {@link windowMs} that make a conflict; default 3. */
  takeovers: number;
  /** Default 60 000. */
  windowMs: number;
  /** A connection up this long ends the conflict; default 60 000. */
  clearAfterMs: number;
  /** While the conflict lasts, every reconnect waits at least this long; default 30 000. */
  minReconnectMs: number;
}

/** Counters and state for tests and diagnostics. */
export interface PublisherStats {
  /** True while a connection is up (CONNACK received, not closed). */
  connected: boolean;
  /** Successful connections since start. */
  connections: number;
  /** Event PUBLISH packets handed to the client (resends included, replays not). */
  sent: number;
  /** Events acknowledged by PUBACK. */
  acked: number;
  /**
   * Refusals: MQTT 5 PUBACKs with an error reason code (a retry refused again counts again), and
   * events not sent for being larger than the broker's Maximum Packet Size.
   */
  rejected: number;
  /** Events held back now (refused, or too large for the broker): pending, retried (held-events.ts). */
  heldBack: number;
  /** Events currently awaiting PUBACK (replayed ones included). */
  inflight: number;
  /** The in-flight window of the current connection (0 when not connected). */
  window: number;
  /** Events PUBLISHed again by {@link Publisher.replay}. */
  replayed: number;
  /** PUBLISH packets received on `P/S/cmd/<name>`. */
  commandsReceived: number;
  /** True once the broker has answered the current connection's command SUBSCRIBE (SUBACK). */
  commandsSubscribed: boolean;
  /** True while a client id conflict lasts (client-id-conflict.ts). */
  clientIdConflict: boolean;
}
