import { connect } from "mqtt";
import type { IClientOptions, IClientPublishOptions, IConnackPacket, MqttClient } from "mqtt";
import type { Logger } from "pino";

import { SmartbinError } from "../../errors.js";
import type { StoredEvent } from "../outbox/outbox.js";
import { DEFAULT_RECONNECT_BACKOFF, backoffDelayMs } from "../backoff.js";
import type { BackoffSettings } from "../backoff.js";
import type { PublisherOptions, PublisherStats } from "./publisher-types.js";
import { until, withTimeout } from "../../waits.js";
import { failureOf } from "../outbox/failure.js";

export type { PublisherOptions, PublisherOutbox, PublisherStats } from "./publisher-types.js";

/** The MQTT 5 content type of every event PUBLISH (contract.md section 4). */
export const CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json";

/** A connection that stayed up this long resets the reconnect backoff. */
const STABLE_CONNECTION_MS = 10_000;
/** PUBACKs marked in the database per transaction, at most. */
const MARK_BATCH = 200;
/** How long a PUBACK may wait to be marked with others. */
const MARK_DELAY_MS = 25;
/**
 * PUBACKs not yet marked in the database, at most, before sending pauses: while marks fail (storage
 * fault), the drain would otherwise go on through the whole backlog and hold every acked seq in
 * memory, for events that will be sent again anyway. Sending resumes once marks are written.
 */
const MAX_UNMARKED = MARK_BATCH * 4;
/** Retry delay after the outbox could not be read or marked. */
const STORAGE_RETRY_MS = 1000;

/** One connection attempt; all its state is dropped when it closes. */
interface Connection {
  readonly client: MqttClient;
  connected: boolean;
  closed: boolean;
  connectedAt: number;
  window: number;
  /** seq → event, awaiting PUBACK. */
  readonly inflight: Map<number, StoredEvent>;
  /** Read from the database, not yet sent, ascending. */
  buffer: StoredEvent[];
  /** The highest seq sent on this connection: nothing at or below it is sent again on it. */
  lastSentSeq: number;
  /** Why it closed, for the log. */
  reason: string | undefined;
}

/**
 * Drains the outbox to the broker (contract.md section 4, architecture.md "Decisions"):
 *
 * - events go to `P/S/events/<kind>`, QoS 1, not retained, payload the stored JSON text byte for
 *   byte, with MQTT 5 content type {@link CLOUDEVENTS_CONTENT_TYPE};
 * - strictly in `seq` order over each connection, at most `inflight` awaiting PUBACK, read from the
 *   database in pages (never the whole backlog);
 * - an event is marked published only on its PUBACK (marks are batched per tick);
 * - clean session and a new MQTT.js client per connection attempt with its own reconnect
 *   (`reconnectPeriod: 0`), so MQTT.js never replays its in-memory store: after a reconnect or a
 *   restart, the drain starts again from the lowest unpublished `seq` in the database, and no event
 *   is sent twice over one connection;
 * - `P/S/status` (retained, QoS 1): `{"state":"online", ...statusFields()}` on connect, will
 *   `{"state":"offline"}`, `{"state":"offline","reason":"shutdown"}` on {@link stop}.
 *
 * The broker being away never blocks or throws into the caller: {@link notify} and
 * {@link publishStatus} are fire-and-forget, and reconnects back off with full jitter.
 */
export class Publisher {
  private readonly opts: PublisherOptions;
  private readonly log: Logger;
  private readonly statusTopic: string;
  private readonly debugLogging: boolean;
  private readonly window: number;
  private readonly backoff: BackoffSettings;
  private conn: Connection | undefined;
  private started = false;
  private stopping = false;
  private stopped = false;
  private stopPromise: Promise<void> | undefined;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private storageRetryTimer: NodeJS.Timeout | undefined;
  /** A status change waiting for the end of the status interval. */
  private statusTimer: NodeJS.Timeout | undefined;
  /** When the online status was last sent (performance.now() ms), -Infinity before. */
  private statusSentAt = -Infinity;
  private link: "unknown" | "up" | "down" = "unknown";
  private toMark: number[] = [];
  private markScheduled = false;
  /** A failure to mark events published was logged, and no mark has succeeded since. */
  private markFailureLogged = false;
  private pumping = false;
  private readonly counters = { connections: 0, sent: 0, acked: 0, rejected: 0 };
  /** The options of every event PUBLISH: one object, read and never changed by MQTT.js. */
  private readonly eventPublishOptions: IClientPublishOptions;
  /** Event topic per kind, made once: a drain publishes thousands of events of a handful of kinds. */
  private readonly eventTopics = new Map<string, string>();

  constructor(opts: PublisherOptions) {
    this.opts = opts;
    this.log = opts.logger;
    this.statusTopic = `${opts.topicPrefix}/${opts.stationId}/status`;
    this.debugLogging = this.log.isLevelEnabled("debug");
    this.window = Math.max(1, Math.floor(opts.inflight ?? 32));
    this.backoff = opts.reconnect ?? DEFAULT_RECONNECT_BACKOFF;
    this.eventPublishOptions = {
      qos: 1,
      retain: false,
      ...(opts.protocolVersion === 5 ? { properties: { contentType: CLOUDEVENTS_CONTENT_TYPE } } : {}),
    };
  }

  /** Starts connecting (in the background) and draining. Idempotent; no effect after stop. */
  start(): void {
    if (this.started || this.stopping) return;
    this.started = true;
    this.connect();
  }

  /** A new event was appended: send it (and anything before it) if connected. Never throws. */
  notify(): void {
    const conn = this.conn;
    if (conn?.connected) this.pump(conn);
  }

  /**
   * Re-publishes the retained online status with the current `statusFields()` (after a device or
   * storage change), at most once per `statusMinIntervalMs`: a change within the interval is sent
   * at its end, with the fields as they are then. Dropped while disconnected: the next connection
   * publishes a fresh one.
   */
  publishStatus(): void {
    if (this.statusTimer !== undefined || this.stopping) return;
    const wait = this.statusSentAt + (this.opts.statusMinIntervalMs ?? 1000) - performance.now();
    if (wait > 0) {
      this.statusTimer = setTimeout(() => {
        this.statusTimer = undefined;
        this.publishStatus();
      }, wait);
      return;
    }
    const conn = this.conn;
    if (conn?.connected) this.sendOnlineStatus(conn);
  }

  /**
   * Stops: waits briefly for in-flight events to be acknowledged, publishes the retained
   * `{"state":"offline","reason":"shutdown"}`, disconnects cleanly (so the broker discards the
   * will) and flushes the published marks. Resolves within `stopTimeoutMs` (about 2.5 s) even
   * when the broker is away. Unacknowledged events stay pending in the outbox. Idempotent.
   */
  stop(): Promise<void> {
    this.stopPromise ??= this.shutdown();
    return this.stopPromise;
  }

  /** Counters and state, for tests and diagnostics. */
  stats(): PublisherStats {
    const conn = this.conn;
    return {
      connected: conn?.connected ?? false,
      ...this.counters,
      inflight: conn?.inflight.size ?? 0,
      window: conn?.connected ? conn.window : 0,
    };
  }

  private connect(): void {
    this.reconnectTimer = undefined;
    if (this.stopping) return;
    this.opts.liveness?.beat("busy");
    const o = this.opts;
    const options: IClientOptions = {
      protocolVersion: o.protocolVersion,
      clientId: o.clientId ?? `smartbin-${o.stationId}`,
      clean: true,
      // Our own reconnect, one new client per attempt: MQTT.js must never replay its store.
      reconnectPeriod: 0,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      keepalive: o.keepaliveS ?? 30,
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
      will: { topic: this.statusTopic, payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: true },
      ...(o.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}),
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
      ...(o.cert !== undefined ? { cert: o.cert } : {}),
      ...(o.key !== undefined ? { key: o.key } : {}),
    };
    let client: MqttClient;
    try {
      client = connect(o.url, options);
    } catch (err) {
      // A malformed URL: reported like an unreachable broker, retried with backoff.
      this.onAttemptFailed(errorMessage(err));
      return;
    }
    const conn: Connection = {
      client,
      connected: false,
      closed: false,
      connectedAt: 0,
      window: 0,
      inflight: new Map(),
      buffer: [],
      lastSentSeq: 0,
      reason: undefined,
    };
    this.conn = conn;
    client.on("connect", (connack) => this.onConnect(conn, connack));
    // Kept for the client's whole life: an 'error' without a listener would crash the process.
    client.on("error", (err) => {
      conn.reason = err.message;
      this.log.debug({ err: err.message }, "mqtt client error");
    });
    client.on("disconnect", (packet) => {
      conn.reason = `broker sent DISCONNECT, reason code ${packet.reasonCode ?? 0}`;
    });
    client.on("close", () => this.onClose(conn));
  }

  private onConnect(conn: Connection, connack: IConnackPacket): void {
    if (conn.closed || this.stopping) return;
    conn.connected = true;
    conn.connectedAt = performance.now();
    // The broker's MQTT 5 Receive Maximum bounds our QoS 1 in flight; keep one slot for the status.
    const receiveMax = connack.properties?.receiveMaximum;
    conn.window = receiveMax === undefined ? this.window : Math.max(1, Math.min(this.window, receiveMax - 1));
    this.counters.connections++;
    if (this.link !== "up") {
      this.log.info({ url: redactUrl(this.opts.url), window: conn.window }, "connected to broker");
    }
    this.link = "up";
    this.sendOnlineStatus(conn);
    this.pump(conn);
    this.beatDrain(conn);
  }

  private onClose(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    const wasConnected = conn.connected;
    conn.connected = false;
    conn.inflight.clear();
    conn.buffer = [];
    if (this.conn === conn) this.conn = undefined;
    this.flushMarks();
    // Release the client (socket, stores, timers); its pending callbacks then fire with errors and
    // are ignored (the connection is closed), as is its own 'close' event.
    setImmediate(() => conn.client.end(true));
    if (this.stopping) return;
    if (wasConnected) {
      if (performance.now() - conn.connectedAt >= STABLE_CONNECTION_MS) this.attempt = 0;
      this.log.warn({ reason: conn.reason ?? "connection closed" }, "disconnected from broker");
      this.link = "down";
      this.scheduleReconnect();
    } else {
      this.onAttemptFailed(conn.reason ?? "connection closed");
    }
  }

  private onAttemptFailed(reason: string): void {
    if (this.link !== "down") {
      this.log.warn({ url: redactUrl(this.opts.url), reason }, "broker unreachable; retrying with backoff");
      this.link = "down";
    } else {
      this.log.debug({ reason }, "connection attempt failed");
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopping || this.reconnectTimer !== undefined) return;
    this.opts.liveness?.beat("idle");
    const delay = backoffDelayMs(this.attempt, this.backoff);
    this.attempt++;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /**
   * Fills the window from the database, in seq order. Memory stays flat whatever the backlog: at
   * most one page (4 x window events, read with `pendingAfter`) waits to be sent, at most a window
   * awaits PUBACK, and at most {@link MAX_UNMARKED} acked seqs wait to be marked.
   */
  private pump(conn: Connection): void {
    // Re-entrancy guard: a publish callback may run synchronously when the client fails.
    if (this.pumping) return;
    this.pumping = true;
    const idleBefore = conn.inflight.size === 0;
    try {
      while (conn.connected && !this.stopping && conn.inflight.size < conn.window && this.toMark.length < MAX_UNMARKED) {
        if (conn.buffer.length === 0) {
          const page = this.opts.outbox.pendingAfter(conn.lastSentSeq, conn.window * 4);
          if (page.length === 0) break;
          // Durably "sent" before any of it is handed over: never corrected after that (outbox.ts).
          this.opts.outbox.markSent?.(page);
          conn.buffer = page;
        }
        this.send(conn, conn.buffer.shift()!);
      }
    } catch (err) {
      this.log.error({ err }, "cannot read pending events from the outbox; retrying");
      this.retryStorageLater();
    } finally {
      this.pumping = false;
      // A PUBACK is now awaited: from here the drain must progress (a later notify() does not count).
      if (idleBefore && conn.inflight.size > 0) this.opts.liveness?.beat("busy");
    }
  }

  private send(conn: Connection, event: StoredEvent): void {
    conn.lastSentSeq = event.seq;
    conn.inflight.set(event.seq, event);
    this.counters.sent++;
    let topic = this.eventTopics.get(event.kind);
    if (topic === undefined) {
      topic = `${this.opts.topicPrefix}/${this.opts.stationId}/events/${event.kind}`;
      this.eventTopics.set(event.kind, topic);
    }
    // The hot path of a backlog drain: build the log record only when debug logging is on.
    if (this.debugLogging) this.log.debug({ seq: event.seq, id: event.id, topic }, "publishing event");
    // MQTT.js encodes a string payload as UTF-8: the stored JSON text goes out byte for byte.
    conn.client.publish(topic, event.payload, this.eventPublishOptions, (err) => this.onAck(conn, event, err));
  }

  private onAck(conn: Connection, event: StoredEvent, err: Error | undefined): void {
    if (conn.closed || !conn.inflight.delete(event.seq)) return;
    if (err) {
      if (this.stopping) return;
      this.counters.rejected++;
      const failure = new SmartbinError(
        "MQTT_PUBLISH_FAILED",
        "broker did not accept event",
        { seq: event.seq, id: event.id },
        { cause: err },
      );
      this.log.warn(
        { seq: event.seq, id: event.id, reason: err.message, code: failure.code },
        failure.message,
      );
      // Seq order must hold: resend from the database over a new connection, after a backoff.
      conn.reason = `event seq ${event.seq} refused: ${err.message}`;
      this.onClose(conn);
      return;
    }
    this.counters.acked++;
    this.toMark.push(event.seq);
    // Each mark is a flushed transaction (several ms on SD cards): batch them. A mark lost to a power
    // cut only means the event is sent again, which at-least-once delivery allows.
    if (this.toMark.length >= MARK_BATCH) {
      this.flushMarks();
    } else if (!this.markScheduled) {
      this.markScheduled = true;
      setTimeout(() => {
        this.markScheduled = false;
        this.flushMarks();
      }, MARK_DELAY_MS);
    }
    this.pump(conn);
    this.beatDrain(conn);
  }

  /** The drain turned: it now awaits PUBACKs (busy) or waits for new events (idle). */
  private beatDrain(conn: Connection): void {
    if (conn.connected && !this.stopping) this.opts.liveness?.beat(conn.inflight.size > 0 ? "busy" : "idle");
  }

  /** Writes the batched PUBACKs to the outbox; on failure they are kept and retried. */
  private flushMarks(): void {
    if (this.toMark.length === 0 || this.stopped) return;
    const seqs = this.toMark;
    this.toMark = [];
    try {
      this.opts.outbox.markPublished(seqs);
      this.markFailureLogged = false;
    } catch (err) {
      this.toMark = seqs.concat(this.toMark);
      // Said once per streak: a database held by another process (busy) is waited out, and shows
      // on the status; anything else is an error. A lost mark only means an event is sent again.
      if (!this.markFailureLogged) {
        const busy = failureOf(err) === "busy";
        this.log[busy ? "warn" : "error"]({ err, count: seqs.length }, busy ? "database busy: marking events published waits" : "cannot mark events published; retrying");
        this.markFailureLogged = true;
      }
      this.retryStorageLater();
    }
  }

  private retryStorageLater(): void {
    if (this.storageRetryTimer !== undefined || this.stopping) return;
    this.storageRetryTimer = setTimeout(() => {
      this.storageRetryTimer = undefined;
      this.flushMarks();
      if (this.conn?.connected) this.pump(this.conn);
    }, STORAGE_RETRY_MS);
  }

  private sendOnlineStatus(conn: Connection): void {
    this.statusSentAt = performance.now();
    let fields: Record<string, unknown> = {};
    try {
      fields = this.opts.statusFields?.() ?? {};
    } catch (err) {
      this.log.warn({ err }, "status fields failed; publishing the bare status");
    }
    const { state: _state, ...rest } = fields;
    const payload = JSON.stringify({ state: "online", ...rest });
    conn.client.publish(this.statusTopic, payload, { qos: 1, retain: true }, (err) => {
      if (err && !conn.closed && !this.stopping) {
        this.log.warn({ reason: err.message }, "online status not accepted by the broker");
      }
    });
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.storageRetryTimer);
    clearTimeout(this.statusTimer);
    this.reconnectTimer = undefined;
    this.storageRetryTimer = undefined;
    this.statusTimer = undefined;
    const deadline = performance.now() + (this.opts.stopTimeoutMs ?? 2500);
    const left = (cap: number) => Math.max(0, Math.min(cap, deadline - performance.now()));
    const conn = this.conn;
    if (conn !== undefined) {
      if (conn.connected) {
        // Acks still on their way spare a resend at the next start.
        await until(() => conn.inflight.size === 0 || !conn.connected, left(1000));
        this.flushMarks();
      }
      if (conn.connected) {
        const offline = JSON.stringify({ state: "offline", reason: "shutdown" });
        await withTimeout(
          new Promise<void>((resolve) => {
            conn.client.publish(this.statusTopic, offline, { qos: 1, retain: true }, () => resolve());
          }),
          left(1000),
        );
      }
      if (conn.connected) {
        // A clean DISCONNECT makes the broker discard the will; end(false) would wait for every
        // unacknowledged message, so those are dropped first (they stay pending in the outbox).
        for (const id of Object.keys(conn.client.outgoing)) conn.client.removeOutgoingMessage(Number(id));
        await withTimeout(
          new Promise<void>((resolve) => {
            conn.client.end(false, () => resolve());
          }),
          left(500),
        );
      }
      conn.closed = true;
      conn.connected = false;
      conn.client.end(true);
    }
    this.flushMarks();
    this.stopped = true;
    this.conn = undefined;
    this.log.info({ ...this.counters }, "publisher stopped");
  }
}

/** MQTT.js's `log` option: its per-packet debug lines are dropped. */
function noLog(): void {}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The broker URL without credentials, for logs. */
function redactUrl(url: string): string {
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
