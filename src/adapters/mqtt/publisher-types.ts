import type { Logger } from "pino";

import type { Outbox } from "../outbox/outbox.js";
import type { BackoffSettings } from "../backoff.js";
import type { LoopBeat } from "../loop-beat.js";

/**
 * What the publisher needs of the outbox (an {@link Outbox} fits; tests may pass a fake). `markSent`
 * is called with each page read, before any of it is sent (a fake without it never corrects times).
 */
export type PublisherOutbox = Pick<Outbox, "pendingAfter" | "markPublished"> & Partial<Pick<Outbox, "markSent">>;

/** Options of `Publisher` (publisher.ts). Times are in the unit their name says. */
export interface PublisherOptions {
  outbox: PublisherOutbox;
  /** Broker URL (config `mqtt.url`): `mqtt://`, `mqtts://`, `ws://` or `wss://`. */
  url: string;
  /** `S` in the topics (config `station.id`). */
  stationId: string;
  /** `P` in the topics (config `mqtt.topic_prefix`). */
  topicPrefix: string;
  /** 5, or 4 for MQTT 3.1.1. */
  protocolVersion: 4 | 5;
  /**
   * Events published and not yet acknowledged, at most; default 32. Also capped by the broker's
   * MQTT 5 Receive Maximum (Mosquitto's default is 20).
   */
  inflight?: number;
  /**
   * Default `smartbin-<stationId>`. A fixed id makes the broker drop a stale connection of ours at
   * once (session takeover), so its will cannot arrive after our new online status.
   */
  clientId?: string;
  username?: string;
  password?: string;
  /** TLS material (PEM contents), for `mqtts://` and `wss://`. */
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** MQTT keepalive in seconds; default 30. */
  keepaliveS?: number;
  logger: Logger;
  /** Extra fields of the retained online status (devices, faults); `state` is always set by the publisher. */
  statusFields?: () => Record<string, unknown>;
  /** Reconnect backoff; default first retry within 1 s, at most 30 s apart, full jitter. */
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
}

/** Counters and state for tests and diagnostics. */
export interface PublisherStats {
  /** True while a connection is up (CONNACK received, not closed). */
  connected: boolean;
  /** Successful connections since start. */
  connections: number;
  /** Event PUBLISH packets handed to the client (resends included). */
  sent: number;
  /** Events acknowledged by PUBACK. */
  acked: number;
  /** Events the broker refused (MQTT 5 PUBACK with an error reason code). */
  rejected: number;
  /** Events currently awaiting PUBACK. */
  inflight: number;
  /** The in-flight window of the current connection (0 when not connected). */
  window: number;
}
