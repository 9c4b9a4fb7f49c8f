import { connect } from "mqtt";
import type { IClientPublishOptions, IConnackPacket, IPublishPacket, MqttClient } from "mqtt";
import type { Logger } from "pino";

import { SmartbinError } from "../../errors.js";
import type { StoredEvent } from "../outbox/outbox.js";
import { DEFAULT_RECONNECT_BACKOFF, backoffDelayMs, describeDelay } from "../backoff.js";
import type { BackoffSettings } from "../backoff.js";
import type { IncomingCommand, PublisherConnectionSettings, PublisherOptions, PublisherStats } from "./publisher-types.js";
import { until, withTimeout } from "../../waits.js";
import { failureOf } from "../outbox/failure.js";
import { ClientIdConflictTracker, REASON_SESSION_TAKEN_OVER } from "./client-id-conflict.js";
import { commandOf, replyRoute } from "./commands.js";
import { clientOptions, redactUrl, stationTopics } from "./connect-options.js";
import type { StationTopics } from "./connect-options.js";
import { ReplayQueue } from "./replay-queue.js";

export type {
  ClientIdConflictSettings,
  IncomingCommand,
  PublisherConnectionSettings,
  PublisherOptions,
  PublisherOutbox,
  PublisherStats,
} from "./publisher-types.js";

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

/** MQTT 5 Message Expiry Interval is a four-byte integer, in seconds (MQTT 5.0 section 3.3.2.3.3). */
const MAX_EXPIRY_S = 0xffff_ffff;

/** One connection attempt; all its state is dropped when it closes. */
interface Connection {
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
  /** The broker said "Session taken over" (MQTT 5 DISCONNECT 0x8E). */
  takenOver: boolean;
  /** Ends a client id conflict once the connection has stayed up long enough. */
  stayTimer: NodeJS.Timeout | undefined;
  /** A replayed event was refused on it: further refusals are logged at debug. */
  replayRefusalLogged: boolean;
}

/**
 * Drains the outbox to the broker and carries the station's commands and telemetry (contract.md
 * section 4, architecture.md "Decisions"):
 *
 * - events go to `P/S/events/<kind>`, QoS 1, not retained, payload the stored JSON text byte for
 *   byte; with MQTT 5 also the content type {@link CLOUDEVENTS_CONTENT_TYPE} and the user properties
 *   `id`, `type` (`smartbin.<kind>.v1`) and `seq` (decimal) (MQTT 5.0 sections 3.3.2.3.9, 3.3.2.3.7);
 * - strictly in `seq` order over each connection, at most `inflight` awaiting PUBACK, read from the
 *   database in pages (never the whole backlog);
 * - an event is marked published only on its PUBACK (marks are batched per tick);
 * - a new MQTT.js client per connection attempt with its own reconnect (`reconnectPeriod: 0`), so
 *   MQTT.js never replays its in-memory store: after a reconnect or a restart, the drain starts
 *   again from the lowest unpublished `seq` in the database, and no event is sent twice over one
 *   connection. The broker session (MQTT 5: clean start off, session expiry; 3.1.1: clean session)
 *   serves the command subscription only (connect-options.ts);
 * - `P/S/status` (retained, QoS 1): `{"state":"online", ...statusFields()}` on connect, will
 *   `{"state":"offline"}`, `{"state":"offline","reason":"shutdown"}` on {@link stop};
 * - `P/S/cmd/+` subscribed at QoS 1 after every CONNACK, each command handed to `onCommand`;
 *   replies by {@link reply}, telemetry by {@link publishTelemetry}, replays by {@link replay};
 * - reconnects back off with full jitter up to the cap, each wait logged once at info with its
 *   length and reason; a client id conflict (client-id-conflict.ts) slows them to 30 s at least.
 *
 * The broker being away never blocks or throws into the caller: every method but {@link stop} and
 * {@link reconfigure} is fire-and-forget.
 */
export class Publisher {
  private readonly opts: PublisherOptions;
  private readonly log: Logger;
  private readonly debugLogging: boolean;
  private readonly window: number;
  private readonly backoff: BackoffSettings;
  /** The connection settings in use (the options', or the last {@link reconfigure}'s). */
  private settings: PublisherConnectionSettings;
  private topics: StationTopics;
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
  /** The pump takes turns between the drain and a replay, so neither starves the other. */
  private replayTurn = false;
  private readonly replays = new ReplayQueue();
  private readonly conflict: ClientIdConflictTracker;
  /** Resolved (true) at the next CONNACK, by {@link reconfigure}. */
  private readonly connectWaiters = new Set<(connected: boolean) => void>();
  private reconfiguring: Promise<unknown> = Promise.resolve();
  private readonly counters = { connections: 0, sent: 0, acked: 0, rejected: 0, replayed: 0, commandsReceived: 0 };
  /** The options of every event PUBLISH with MQTT 3.1.1: one object, read and never changed by MQTT.js. */
  private readonly plainPublishOptions: IClientPublishOptions = { qos: 1, retain: false };
  /** Event topic per kind, made once: a drain publishes thousands of events of a handful of kinds. */
  private eventTopics = new Map<string, string>();
  /** CloudEvents type per kind (`smartbin.<kind>.v1`), made once. */
  private readonly eventTypes = new Map<string, string>();

  constructor(opts: PublisherOptions) {
    this.opts = opts;
    this.log = opts.logger;
    this.settings = connectionSettingsOf(opts);
    this.topics = stationTopics(opts.topicPrefix, opts.stationId);
    this.debugLogging = this.log.isLevelEnabled("debug");
    this.window = Math.max(1, Math.floor(opts.inflight ?? 32));
    this.backoff = opts.reconnect ?? DEFAULT_RECONNECT_BACKOFF;
    this.conflict = new ClientIdConflictTracker(opts.conflict);
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
   * Publishes the reply `body` (JSON text) to the command `cmd` (contract.md section 4): with MQTT 5
   * and a response topic, to that topic with the command's correlation data (MQTT 5.0 section
   * 4.10); otherwise to `P/S/cmd/<name>/reply`. QoS 1, not retained. Dropped (logged at debug) while
   * disconnected: the sender retries with the same `command_id` and gets the stored reply. A reply
   * the broker refuses (MQTT 5 PUBACK reason code, e.g. 0x87 not authorized) is logged at warn.
   * Never throws.
   */
  reply(cmd: IncomingCommand, body: string): void {
    const conn = this.conn;
    const route = replyRoute(cmd, this.topics.commandPrefix, this.settings.protocolVersion);
    if (!conn?.connected || this.stopping) {
      this.log.debug({ command: cmd.name, topic: route.topic }, "reply dropped: not connected to the broker");
      return;
    }
    const options: IClientPublishOptions = {
      qos: 1,
      retain: false,
      ...(route.correlationData !== undefined ? { properties: { correlationData: route.correlationData } } : {}),
    };
    conn.client.publish(route.topic, body, options, (err) => {
      if (err && !conn.closed && !this.stopping) {
        this.log.warn({ command: cmd.name, topic: route.topic, reason: err.message }, "command reply not accepted by the broker");
      }
    });
  }

  /**
   * Publishes telemetry `body` (JSON text) on `P/S/telemetry`, QoS 0, not retained; with MQTT 5 its
   * Message Expiry Interval is twice `intervalS` (seconds; MQTT 5.0 section 3.3.2.3.3), so a broker
   * never hands a stale reading to a late subscriber (contract.md section 4). Dropped while
   * disconnected (telemetry is not durable). Never throws.
   */
  publishTelemetry(body: string, intervalS: number): void {
    const conn = this.conn;
    if (!conn?.connected || this.stopping) return;
    const expiry = Math.min(MAX_EXPIRY_S, Math.max(1, Math.ceil(2 * intervalS)));
    const options: IClientPublishOptions =
      this.settings.protocolVersion === 5
        ? { qos: 0, retain: false, properties: { messageExpiryInterval: expiry } }
        : { qos: 0, retain: false };
    conn.client.publish(this.topics.telemetry, body, options);
  }

  /**
   * Publishes again the held events with `fromSeq <= seq <= toSeq` (`toSeq` undefined: up to the
   * newest held event when the replay gets there), on their event topics, byte for byte with the
   * same properties as the first time; published or not, and marking nothing (contract.md section
   * 4, the `replay` command; its result comes from `Outbox.heldRange`). Paged through the database
   * (`heldPage`), within the in-flight window, taking turns with the normal drain.
   *
   * A replay asked while another runs is queued behind it (replay-queue.ts; at most 16 wait, a
   * further one is logged at warn and dropped). A disconnect drops every replay, running or queued:
   * it does not resume on the next connection (the central system, still missing events, asks
   * again); a replay asked while disconnected is dropped the same way. Never throws.
   */
  replay(fromSeq: number, toSeq: number | undefined): void {
    const conn = this.conn;
    if (this.opts.outbox.heldPage === undefined) {
      this.log.warn({ from_seq: fromSeq, to_seq: toSeq ?? null }, "replay not possible: this outbox cannot read held events");
      return;
    }
    if (!conn?.connected || this.stopping) {
      this.log.info({ from_seq: fromSeq, to_seq: toSeq ?? null }, "replay dropped: not connected to the broker");
      return;
    }
    const added = this.replays.add(fromSeq, toSeq);
    const fields = { from_seq: fromSeq, to_seq: toSeq ?? null };
    if (added === "full") this.log.warn(fields, "replay dropped: too many replays waiting");
    else if (added === "duplicate") this.log.info(fields, "replay already waiting");
    else this.log.info(fields, added === "started" ? "replaying events" : "replay queued behind another");
    this.pump(conn);
  }

  /**
   * Switches to new connection settings (a config reload): drops the current connection (a clean
   * DISCONNECT, so the will is not published), connects with `next`, and resolves true at its
   * CONNACK within `timeoutMs` (retrying with backoff meanwhile). Otherwise it goes back to the
   * previous settings, reconnects with them, and resolves false. Replays are dropped; events
   * awaiting PUBACK are resent from the database. Calls are serialised: a second one starts once
   * the first has resolved. Resolves false at once after {@link stop}. Never rejects.
   */
  reconfigure(next: PublisherConnectionSettings, timeoutMs: number): Promise<boolean> {
    const run = this.reconfiguring.then(() => this.switchSettings(next, timeoutMs));
    this.reconfiguring = run.catch(() => undefined);
    return run.catch((err: unknown) => {
      this.log.error({ err }, "reconfiguring the broker connection failed");
      return false;
    });
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
      inflight: conn === undefined ? 0 : conn.inflight.size + conn.replayInflight,
      window: conn?.connected ? conn.window : 0,
      clientIdConflict: this.conflict.active,
    };
  }

  private async switchSettings(next: PublisherConnectionSettings, timeoutMs: number): Promise<boolean> {
    if (this.stopping) return false;
    const previous = this.settings;
    this.started = true;
    this.useSettings(next);
    this.restartConnection();
    if (await this.nextConnack(timeoutMs)) {
      this.log.info({ url: redactUrl(next.url) }, "connected with the new broker settings");
      return true;
    }
    if (this.stopping) return false;
    this.log.warn(
      { url: redactUrl(next.url), timeout_ms: timeoutMs },
      "no connection with the new broker settings in time: back to the previous ones",
    );
    this.useSettings(previous);
    this.restartConnection();
    return false;
  }

  private useSettings(next: PublisherConnectionSettings): void {
    this.settings = { ...next };
    this.topics = stationTopics(next.topicPrefix, this.opts.stationId);
    this.eventTopics = new Map();
  }

  /** Drops the current connection, if any (without reconnecting it), and connects anew at once. */
  private restartConnection(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.attempt = 0;
    const conn = this.conn;
    if (conn !== undefined) this.retire(conn);
    this.link = "unknown";
    this.connect();
  }

  /** Closes `conn` for good, with a DISCONNECT when it is up (the broker then discards the will). */
  private retire(conn: Connection): void {
    const wasConnected = conn.connected;
    this.forget(conn);
    if (wasConnected) {
      for (const id of Object.keys(conn.client.outgoing)) conn.client.removeOutgoingMessage(Number(id));
      conn.client.end(false);
      setTimeout(() => conn.client.end(true), 500).unref();
    } else {
      setImmediate(() => conn.client.end(true));
    }
  }

  /** Drops every trace of `conn` in the publisher's state. */
  private forget(conn: Connection): void {
    conn.closed = true;
    conn.connected = false;
    clearTimeout(conn.stayTimer);
    conn.inflight.clear();
    conn.replayInflight = 0;
    conn.buffer = [];
    if (this.conn === conn) this.conn = undefined;
    const dropped = this.replays.clear();
    if (dropped > 0 && !this.stopping) this.log.info({ replays: dropped }, "replays dropped with the connection (the central system asks again)");
    this.flushMarks();
  }

  /** Resolves true at the next CONNACK, false after `ms` or at stop. */
  private nextConnack(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.connectWaiters.delete(done);
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), ms);
      this.connectWaiters.add(done);
    });
  }

  private connect(): void {
    this.reconnectTimer = undefined;
    if (this.stopping) return;
    this.opts.liveness?.beat("busy");
    const s = this.settings;
    const options = clientOptions(s, {
      clientId: s.clientId ?? `smartbin-${this.opts.stationId}`,
      statusTopic: this.topics.status,
      connectTimeoutMs: this.opts.connectTimeoutMs ?? 10_000,
      maximumPacketSize: this.opts.maximumPacketSize,
    });
    let client: MqttClient;
    try {
      client = connect(s.url, options);
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
      replayInflight: 0,
      buffer: [],
      lastSentSeq: 0,
      reason: undefined,
      sawError: false,
      takenOver: false,
      stayTimer: undefined,
      replayRefusalLogged: false,
    };
    this.conn = conn;
    client.on("connect", (connack) => this.onConnect(conn, connack));
    client.on("message", (topic, payload, packet) => this.onMessage(conn, topic, payload, packet));
    // Kept for the client's whole life: an 'error' without a listener would crash the process.
    client.on("error", (err) => {
      conn.reason = err.message;
      conn.sawError = true;
      this.log.debug({ err: err.message }, "mqtt client error");
    });
    client.on("disconnect", (packet) => {
      const code = packet.reasonCode ?? 0;
      conn.reason = `broker sent DISCONNECT, reason code 0x${code.toString(16).padStart(2, "0")}`;
      if (code === REASON_SESSION_TAKEN_OVER) {
        conn.takenOver = true;
        conn.reason = "session taken over by another client with our client id (DISCONNECT 0x8e)";
      }
    });
    client.on("close", () => this.onClose(conn));
  }

  private onConnect(conn: Connection, connack: IConnackPacket): void {
    if (conn.closed || this.stopping) return;
    conn.connected = true;
    conn.connectedAt = performance.now();
    // The broker's MQTT 5 Receive Maximum (MQTT 5.0 section 3.2.2.3.3) bounds our QoS 1 in flight;
    // keep two slots for the status and a command reply.
    const receiveMax = connack.properties?.receiveMaximum;
    conn.window = receiveMax === undefined ? this.window : Math.max(1, Math.min(this.window, receiveMax - 2));
    this.counters.connections++;
    if (this.link !== "up") {
      this.log.info({ url: redactUrl(this.settings.url), window: conn.window, session_present: connack.sessionPresent }, "connected to broker");
    }
    if (this.settings.tlsInsecure === true) {
      this.log.warn({ url: redactUrl(this.settings.url) }, "the broker's TLS certificate was NOT verified (mqtt.tls_insecure): anyone on the path can pose as the broker");
    }
    this.link = "up";
    conn.stayTimer = setTimeout(() => {
      if (!conn.connected || this.conflict.stayedUp() !== "ended") return;
      this.log.info("client id conflict over: the connection has stayed up");
      this.callConflict(false);
    }, this.conflict.clearAfterMs);
    conn.stayTimer.unref();
    for (const waiter of [...this.connectWaiters]) waiter(true);
    this.subscribeCommands(conn);
    this.sendOnlineStatus(conn);
    this.pump(conn);
    this.beatDrain(conn);
  }

  /**
   * `P/S/cmd/+` at QoS 1 after every CONNACK: with 3.1.1 the clean session forgot it; with MQTT 5
   * the session may hold it already, and subscribing again only replaces it. MQTT 5 Retain Handling
   * 2 (MQTT 5.0 section 3.8.3.1): a retained message on a command topic (commands are never
   * retained, but anyone may publish one) is not executed again at every connect.
   */
  private subscribeCommands(conn: Connection): void {
    const v5 = this.settings.protocolVersion === 5;
    conn.client.subscribe(this.topics.commandFilter, { qos: 1, ...(v5 ? { rh: 2 } : {}) }, (err, granted) => {
      if (conn.closed || this.stopping) return;
      const refused = err !== null && err !== undefined ? err.message : granted?.some((g) => g.qos >= 0x80) ? `reason code 0x${(granted.find((g) => g.qos >= 0x80)?.qos ?? 0).toString(16)}` : undefined;
      if (refused !== undefined) {
        this.log.warn({ topic: this.topics.commandFilter, reason: refused }, "command subscription refused by the broker: no commands will arrive");
      }
    });
  }

  private onMessage(conn: Connection, topic: string, payload: Buffer, packet: IPublishPacket): void {
    if (conn.closed) return;
    const cmd = commandOf(this.topics.commandPrefix, topic, payload, packet);
    if (cmd === undefined) return;
    this.counters.commandsReceived++;
    if (this.debugLogging) this.log.debug({ command: cmd.name, bytes: payload.length }, "command received");
    try {
      this.opts.onCommand?.(cmd);
    } catch (err) {
      this.log.error({ err, command: cmd.name }, "command handler failed");
    }
  }

  private onClose(conn: Connection): void {
    if (conn.closed) return;
    const wasConnected = conn.connected;
    this.forget(conn);
    // Release the client (socket, stores, timers); its pending callbacks then fire with errors and
    // are ignored (the connection is closed), as is its own 'close' event.
    setImmediate(() => conn.client.end(true));
    if (this.stopping) return;
    if (wasConnected) {
      if (performance.now() - conn.connectedAt >= STABLE_CONNECTION_MS) this.attempt = 0;
      // A takeover without a reason (MQTT 3.1.1 always; Mosquitto 2.0 with MQTT 5 too): a clean close
      // of an established connection by the broker counts as one (client-id-conflict.ts says why).
      const takenOver = conn.takenOver || (!conn.sawError && conn.reason === undefined);
      if (takenOver) this.onTakenOver();
      this.log.warn({ reason: conn.reason ?? "connection closed by the broker" }, "disconnected from broker");
      this.link = "down";
      this.scheduleReconnect(conn.reason ?? "connection closed by the broker");
    } else {
      this.onAttemptFailed(conn.reason ?? "connection closed");
    }
  }

  private onTakenOver(): void {
    if (this.conflict.takenOver(performance.now()) !== "began") return;
    this.log.error(
      { client_id: this.settings.clientId ?? `smartbin-${this.opts.stationId}` },
      "client id conflict: another client keeps connecting with this station's client id (a cloned SD card?); reconnects slowed",
    );
    this.callConflict(true);
  }

  private callConflict(active: boolean): void {
    try {
      this.opts.onClientIdConflict?.(active);
    } catch (err) {
      this.log.error({ err }, "client id conflict handler failed");
    }
  }

  private onAttemptFailed(reason: string): void {
    if (this.link !== "down") {
      this.log.warn({ url: redactUrl(this.settings.url), reason }, "broker unreachable; retrying with backoff");
      this.link = "down";
    } else {
      this.log.debug({ reason }, "connection attempt failed");
    }
    this.scheduleReconnect(reason);
  }

  /** Waits (backoff with full jitter; at least the conflict's floor) and connects again; the wait is logged once, at info. */
  private scheduleReconnect(reason: string): void {
    if (this.stopping || this.reconnectTimer !== undefined) return;
    this.opts.liveness?.beat("idle");
    const delay = Math.max(backoffDelayMs(this.attempt, this.backoff), this.conflict.minReconnectMs);
    this.attempt++;
    this.log.info(
      { delay_ms: delay, reason, ...(this.conflict.active ? { client_id_conflict: true } : {}) },
      `reconnecting to the broker in ${describeDelay(delay)}`,
    );
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private inFlight(conn: Connection): number {
    return conn.inflight.size + conn.replayInflight;
  }

  /**
   * Fills the window from the database: the drain in seq order, taking turns with a replay when one
   * runs. Memory stays flat whatever the backlog: at most one page (4 x window events, read with
   * `pendingAfter`) waits to be sent, at most one replay page, at most a window awaits PUBACK, and
   * at most {@link MAX_UNMARKED} acked seqs wait to be marked.
   */
  private pump(conn: Connection): void {
    // Re-entrancy guard: a publish callback may run synchronously when the client fails.
    if (this.pumping) return;
    this.pumping = true;
    const idleBefore = this.inFlight(conn) === 0;
    try {
      while (conn.connected && !this.stopping && this.inFlight(conn) < conn.window) {
        const sent = this.replayTurn ? this.sendReplayed(conn) || this.sendNext(conn) : this.sendNext(conn) || this.sendReplayed(conn);
        if (!sent) break;
        if (this.replays.busy) this.replayTurn = !this.replayTurn;
      }
    } catch (err) {
      this.log.error({ err }, "cannot read events from the outbox; retrying");
      this.retryStorageLater();
    } finally {
      this.pumping = false;
      // A PUBACK is now awaited: from here the drain must progress (a later notify() does not count).
      if (idleBefore && this.inFlight(conn) > 0) this.opts.liveness?.beat("busy");
    }
  }

  /** Sends the drain's next event; false when there is none (or marks are behind). */
  private sendNext(conn: Connection): boolean {
    if (this.toMark.length >= MAX_UNMARKED) return false;
    if (conn.buffer.length === 0) {
      const page = this.opts.outbox.pendingAfter(conn.lastSentSeq, conn.window * 4);
      if (page.length === 0) return false;
      // Durably "sent" before any of it is handed over: never corrected after that (outbox.ts).
      this.opts.outbox.markSent?.(page);
      conn.buffer = page;
    }
    this.send(conn, conn.buffer.shift()!);
    return true;
  }

  /** Sends a replay's next event; false when no replay runs. */
  private sendReplayed(conn: Connection): boolean {
    if (!this.replays.busy) return false;
    const outbox = this.opts.outbox;
    const event = this.replays.next((afterSeq, toSeq, limit) => {
      const page = outbox.heldPage?.(afterSeq, toSeq, limit) ?? [];
      // A replay may hand over a pending event before the drain does: it must never be corrected
      // afterwards either (a re-sent event is the same message, byte for byte). The cost: pending
      // unsynchronised events below the page keep their uncorrected times.
      outbox.markSent?.(page);
      return page;
    }, conn.window * 4);
    if (event === undefined) return false;
    conn.replayInflight++;
    this.counters.replayed++;
    conn.client.publish(this.eventTopic(event.kind), event.payload, this.eventOptions(event), (err) => this.onReplayAck(conn, event, err));
    return true;
  }

  private eventTopic(kind: string): string {
    let topic = this.eventTopics.get(kind);
    if (topic === undefined) {
      topic = `${this.topics.eventsPrefix}${kind}`;
      this.eventTopics.set(kind, topic);
    }
    return topic;
  }

  /**
   * The PUBLISH options of an event. MQTT 5: content type and the user properties `id`, `type`,
   * `seq` (contract.md section 4), so brokers and bridges can route and deduplicate without parsing
   * the payload. On the drain's hot path: three small objects per event, the type string cached.
   */
  private eventOptions(event: StoredEvent): IClientPublishOptions {
    if (this.settings.protocolVersion !== 5) return this.plainPublishOptions;
    let type = this.eventTypes.get(event.kind);
    if (type === undefined) {
      type = `smartbin.${event.kind}.v1`;
      this.eventTypes.set(event.kind, type);
    }
    return {
      qos: 1,
      retain: false,
      properties: { contentType: CLOUDEVENTS_CONTENT_TYPE, userProperties: { id: event.id, type, seq: String(event.seq) } },
    };
  }

  private send(conn: Connection, event: StoredEvent): void {
    conn.lastSentSeq = event.seq;
    conn.inflight.set(event.seq, event);
    this.counters.sent++;
    const topic = this.eventTopic(event.kind);
    // The hot path of a backlog drain: build the log record only when debug logging is on.
    if (this.debugLogging) this.log.debug({ seq: event.seq, id: event.id, topic }, "publishing event");
    // MQTT.js encodes a string payload as UTF-8: the stored JSON text goes out byte for byte.
    conn.client.publish(topic, event.payload, this.eventOptions(event), (err) => this.onAck(conn, event, err));
  }

  private onReplayAck(conn: Connection, event: StoredEvent, err: Error | undefined): void {
    if (conn.closed) return;
    conn.replayInflight--;
    if (err && !this.stopping) {
      // Order does not matter for a replay (consumers order by seq): go on, but say it once per connection.
      const level = conn.replayRefusalLogged ? "debug" : "warn";
      conn.replayRefusalLogged = true;
      this.log[level]({ seq: event.seq, id: event.id, reason: err.message }, "broker did not accept a replayed event");
    }
    this.pump(conn);
    this.beatDrain(conn);
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
      conn.sawError = true;
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
    if (conn.connected && !this.stopping) this.opts.liveness?.beat(this.inFlight(conn) > 0 ? "busy" : "idle");
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
    conn.client.publish(this.topics.status, payload, { qos: 1, retain: true }, (err) => {
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
    for (const waiter of [...this.connectWaiters]) waiter(false);
    this.replays.clear();
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
            conn.client.publish(this.topics.status, offline, { qos: 1, retain: true }, () => resolve());
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
      clearTimeout(conn.stayTimer);
      conn.client.end(true);
    }
    this.flushMarks();
    this.stopped = true;
    this.conn = undefined;
    this.log.info({ ...this.counters }, "publisher stopped");
  }
}

/** The connection settings among the publisher's options. */
function connectionSettingsOf(o: PublisherOptions): PublisherConnectionSettings {
  return {
    url: o.url,
    topicPrefix: o.topicPrefix,
    protocolVersion: o.protocolVersion,
    clientId: o.clientId,
    username: o.username,
    password: o.password,
    ca: o.ca,
    cert: o.cert,
    key: o.key,
    tlsInsecure: o.tlsInsecure,
    sessionExpiryS: o.sessionExpiryS,
    keepaliveS: o.keepaliveS,
  };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
