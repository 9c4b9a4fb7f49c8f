import { connect } from "mqtt";
import type { IClientPublishOptions, IConnackPacket, IPublishPacket, MqttClient } from "mqtt";
import type { Logger } from "pino";

import { DEFAULT_RECONNECT_BACKOFF, backoffDelayMs, describeDelay } from "../backoff.js";
import type { BackoffSettings } from "../backoff.js";
import type { IncomingCommand, PublisherConnectionSettings, PublisherOptions, PublisherStats } from "./publisher-types.js";
import { until, withTimeout } from "../../waits.js";
import { ClientIdConflictTracker, REASON_SESSION_TAKEN_OVER } from "./client-id-conflict.js";
import { commandOf, replyRoute } from "./commands.js";
import { clientOptions, redactUrl, stationTopics } from "./connect-options.js";
import type { StationTopics } from "./connect-options.js";
import { newConnection, refusesCredentials } from "./connection.js";
import type { Connection, PendingReply } from "./connection.js";
import { EventDrain } from "./event-drain.js";
import type { ReplayAdded } from "./replay-queue.js";

export { CLOUDEVENTS_CONTENT_TYPE } from "./event-drain.js";
export type {
  ClientIdConflictSettings,
  IncomingCommand,
  PublisherConnectionSettings,
  PublisherOptions,
  PublisherOutbox,
  PublisherStats,
} from "./publisher-types.js";

/** A connection that stayed up this long resets the reconnect backoff. */
const STABLE_CONNECTION_MS = 10_000;
/** MQTT 5 Message Expiry Interval is a four-byte integer, in seconds (MQTT 5.0 section 3.3.2.3.3). */
const MAX_EXPIRY_S = 0xffff_ffff;
/** Replies held while disconnected, at most (the oldest go first). */
const MAX_HELD_REPLIES = 32;
/** A held reply older than this (ms) is not sent: its sender has given up and asks again. */
const HELD_REPLY_MS = 60_000;


/** How long "connected to broker" waits for the command subscription's SUBACK before it is logged anyway, ms. */
export const SUBACK_WAIT_MS = 5000;

/**
 * Drains the outbox to the broker and carries the station's commands and telemetry (contract.md
 * section 4, architecture.md "Decisions"):
 *
 * - events go to `P/S/events/<kind>`, QoS 1, not retained, payload the stored JSON text byte for
 *   byte; with MQTT 5 also the content type {@link CLOUDEVENTS_CONTENT_TYPE} and the user properties
 *   `id`, `type` (`smartbin.<kind>.v1`) and `seq` (decimal) (MQTT 5.0 sections 3.3.2.3.9, 3.3.2.3.7);
 * - strictly in `seq` order over each connection, at most `inflight` awaiting PUBACK, read from the
 *   database in pages (never the whole backlog); the one exception: an event the broker refuses
 *   (MQTT 5 PUBACK reason code) or that is larger than its Maximum Packet Size is held back,
 *   pending, and retried later on the same connection while later events go on (held-events.ts);
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
  private readonly window: number;
  private readonly backoff: BackoffSettings;
  /** The connection settings in use (the options', or the last {@link reconfigure}'s). */
  private settings: PublisherConnectionSettings;
  private topics: StationTopics;
  private conn: Connection | undefined;
  private started = false;
  private stopping = false;
  private stopPromise: Promise<void> | undefined;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** A status change waiting for the end of the status interval. */
  private statusTimer: NodeJS.Timeout | undefined;
  /** When the online status was last sent (performance.now() ms), -Infinity before. */
  private statusSentAt = -Infinity;
  private link: "unknown" | "up" | "down" = "unknown";
  private readonly conflict: ClientIdConflictTracker;
  /** Resolved (true) at the next CONNACK, by {@link reconfigure}. */
  private readonly connectWaiters = new Set<(connected: boolean) => void>();
  private reconfiguring: Promise<unknown> = Promise.resolve();
  /** Replies to commands that came before a disconnect, sent at the next connection. */
  private heldReplies: PendingReply[] = [];
  private readonly counters = { connections: 0, commandsReceived: 0 };
  private readonly drain: EventDrain;

  constructor(opts: PublisherOptions) {
    this.opts = opts;
    this.log = opts.logger;
    this.settings = connectionSettingsOf(opts);
    this.topics = stationTopics(opts.topicPrefix, opts.stationId);
    this.window = Math.max(1, Math.floor(opts.inflight ?? 32));
    this.backoff = opts.reconnect ?? DEFAULT_RECONNECT_BACKOFF;
    this.conflict = new ClientIdConflictTracker(opts.conflict);
    this.drain = new EventDrain({
      outbox: opts.outbox,
      log: this.log,
      liveness: opts.liveness,
      stopping: () => this.stopping,
      connection: () => this.conn,
      onPublishFailed: (conn) => this.onClose(conn),
      heldRetry: opts.heldRetry,
    });
    this.drain.route(this.topics.eventsPrefix, this.settings.protocolVersion);
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
    if (conn?.connected) this.drain.pump(conn);
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
   * 4.10); otherwise to `P/S/cmd/<name>/reply`. QoS 1, not retained. While disconnected (a reload
   * that switched brokers and back, a link that dropped), or when the link drops before its PUBACK,
   * it is held and sent at the next connection,
   * {@link MAX_HELD_REPLIES} at most and not after {@link HELD_REPLY_MS}; the sender may also retry
   * with the same `command_id` and get the stored reply. A reply
   * the broker refuses (MQTT 5 PUBACK reason code, e.g. 0x87 not authorized) is logged at warn.
   * Never throws.
   */
  reply(cmd: IncomingCommand, body: string): void {
    // The prefix the command came in on (`P/S/cmd/`), not the current one: a reload_config that
    // changed topic_prefix answers where its sender listens.
    const route = replyRoute(cmd, cmd.topic.slice(0, cmd.topic.length - cmd.name.length), this.settings.protocolVersion);
    const conn = this.conn;
    if (!conn?.connected || this.stopping) {
      // A reply whose command came just before a disconnect (a reload switching brokers, a link
      // that dropped): kept briefly and sent at the next connection, a few at most.
      if (this.stopping) return;
      this.holdReply({ name: cmd.name, route, body, at: performance.now() });
      return;
    }
    this.sendReply(conn, { name: cmd.name, route, body, at: performance.now() });
  }

  /** Keeps a reply for the next connection, {@link MAX_HELD_REPLIES} at most (the oldest go first). */
  private holdReply(reply: PendingReply): void {
    this.heldReplies.push(reply);
    if (this.heldReplies.length > MAX_HELD_REPLIES) this.heldReplies.shift();
    this.log.debug({ command: reply.name, topic: reply.route.topic }, "reply held until the broker is connected again");
  }

  /**
   * Publishes a reply on `conn`, QoS 1. Until its PUBACK it is in `conn.replies`: a connection that
   * closes first hands it to the held replies ({@link forget}), so a reply in flight when the link
   * drops is sent again at the next connection (the sender may see it twice; it matches by
   * `command_id`).
   */
  private sendReply(conn: Connection, reply: PendingReply): void {
    const { name, route, body } = reply;
    const options: IClientPublishOptions = {
      qos: 1,
      retain: false,
      ...(route.correlationData !== undefined ? { properties: { correlationData: route.correlationData } } : {}),
    };
    conn.replies.add(reply);
    conn.client.publish(route.topic, body, options, (err) => {
      // Not in the set: its connection closed first and it is held for the next one.
      if (!conn.replies.delete(reply)) return;
      if (err && !conn.closed && !this.stopping) {
        this.log.warn({ command: name, topic: route.topic, reason: err.message }, "command reply not accepted by the broker");
      }
    });
  }

  /** Sends the replies held while disconnected that are not too old (at a new connection). */
  private sendHeldReplies(conn: Connection): void {
    const held = this.heldReplies.splice(0);
    const oldest = performance.now() - HELD_REPLY_MS;
    for (const r of held) if (r.at >= oldest) this.sendReply(conn, r);
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
   * again); a replay asked while disconnected is not taken. Never throws.
   *
   * @returns what became of it: `started` or `queued` (it will be published), `duplicate` (the same
   *   range already waits), or not taken: `full` (too many wait), `disconnected`, `unsupported`
   *   (an outbox that cannot read held events)
   */
  replay(fromSeq: number, toSeq: number | undefined): ReplayAdded | "disconnected" | "unsupported" {
    const conn = this.conn;
    const fields = { from_seq: fromSeq, to_seq: toSeq ?? null };
    if (this.opts.outbox.heldPage === undefined) {
      this.log.warn(fields, "replay not possible: this outbox cannot read held events");
      return "unsupported";
    }
    if (!conn?.connected || this.stopping) {
      this.log.info(fields, "replay not taken: not connected to the broker");
      return "disconnected";
    }
    const added = this.drain.addReplay(conn, fromSeq, toSeq);
    if (added === "full") this.log.warn(fields, "replay not taken: too many replays waiting");
    else if (added === "duplicate") this.log.info(fields, "replay already waiting");
    else this.log.info(fields, added === "started" ? "replaying events" : "replay queued behind another");
    return added;
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
      ...this.drain.counters,
      inflight: conn === undefined ? 0 : this.drain.inFlight(conn),
      heldBack: this.drain.heldBack(),
      window: conn?.connected ? conn.window : 0,
      commandsSubscribed: conn?.connected === true && conn.commandsSubscribed,
      clientIdConflict: this.conflict.active,
    };
  }

  private async switchSettings(next: PublisherConnectionSettings, timeoutMs: number): Promise<boolean> {
    if (this.stopping) return false;
    const previous = this.settings;
    await this.leaveStatus(next);
    if (this.stopping) return false;
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

  /**
   * Before a switch to `next` that leaves this broker or this status topic (another URL, another
   * `topic_prefix`): the retained `{"state":"offline","reason":"reconfigured"}` on the status topic
   * left behind, over the current connection (waited for up to 1 s), so that it does not say
   * "online" for good. The new connection publishes its own status; a switch rolled back publishes
   * "online" here again.
   */
  private async leaveStatus(next: PublisherConnectionSettings): Promise<void> {
    const conn = this.conn;
    const oldTopic = this.topics.status;
    if (conn === undefined || !conn.connected) return;
    if (next.url === this.settings.url && stationTopics(next.topicPrefix, this.opts.stationId).status === oldTopic) return;
    const offline = JSON.stringify({ state: "offline", reason: "reconfigured" });
    await withTimeout(
      new Promise<void>((resolve) => {
        conn.client.publish(oldTopic, offline, { qos: 1, retain: true }, () => resolve());
      }),
      1000,
    );
  }

  private useSettings(next: PublisherConnectionSettings): void {
    this.settings = { ...next };
    this.topics = stationTopics(next.topicPrefix, this.opts.stationId);
    this.drain.route(this.topics.eventsPrefix, next.protocolVersion);
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
    // Replies not yet acknowledged: sent again at the next connection (not at a shutdown).
    if (!this.stopping) for (const reply of conn.replies) this.holdReply(reply);
    conn.replies.clear();
    if (this.conn === conn) this.conn = undefined;
    const dropped = this.drain.dropReplays();
    if (dropped > 0 && !this.stopping) this.log.info({ replays: dropped }, "replays dropped with the connection (the central system asks again)");
    this.drain.flushMarks();
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
    const conn = newConnection(client);
    this.conn = conn;
    client.on("connect", (connack) => this.onConnect(conn, connack));
    // MQTT.js emits 'message' and then calls handleMessage, whose callback sends the PUBACK of a
    // QoS 1 PUBLISH; an error given to it sends none (mqtt 5.x, lib/handlers/publish.ts). A command
    // the station does not take (its connection already dropped, a shutdown begun) is thus never
    // acknowledged: the broker keeps it and delivers it again at the next connection.
    const notTaken = new WeakSet<IPublishPacket>();
    client.on("message", (topic, payload, packet) => {
      if (!this.onMessage(conn, topic, payload, packet)) notTaken.add(packet);
    });
    client.handleMessage = (packet, callback) => {
      if (conn.closed || notTaken.has(packet)) callback(new Error("command not taken: no PUBACK, the broker delivers it again"));
      else callback();
    };
    // Kept for the client's whole life: an 'error' without a listener would crash the process.
    client.on("error", (err) => {
      conn.reason = err.message;
      conn.sawError = true;
      if (refusesCredentials(err)) conn.credentialsRefused = true;
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
    // "connected to broker" is logged at the SUBACK: an operator who sends a command on seeing that
    // line finds the subscription in place. Logged when the SUBSCRIBE is only sent, a command could
    // reach a busy broker before it (it reads the two connections in any order) and, on a first
    // connection with no subscription held for the station yet, reach no one.
    // A broker that never answers the SUBSCRIBE still gets the line, SUBACK_WAIT_MS later, with a warning.
    let announce = this.link !== "up";
    const connected = (subscribed: boolean) => {
      if (!announce || conn.closed || this.stopping) return;
      announce = false;
      this.log.info({ url: redactUrl(this.settings.url), window: conn.window, session_present: connack.sessionPresent, commands_subscribed: subscribed }, "connected to broker");
      if (!subscribed) this.log.warn({ topic: this.topics.commandFilter, wait_ms: SUBACK_WAIT_MS }, "the broker has not answered the command subscription (no SUBACK): commands may not arrive");
    };
    this.subscribeCommands(conn, () => connected(true));
    if (announce) setTimeout(() => connected(false), SUBACK_WAIT_MS).unref();
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
    this.drain.connected(connack.properties?.maximumPacketSize);
    this.sendOnlineStatus(conn);
    this.sendHeldReplies(conn);
    this.drain.pump(conn);
    this.drain.beat(conn);
  }

  /**
   * `P/S/cmd/+` at QoS 1 after every CONNACK: with 3.1.1 the clean session forgot it; with MQTT 5
   * the session may hold it already, and subscribing again only replaces it. MQTT 5 Retain Handling
   * 2 (MQTT 5.0 section 3.8.3.1): a retained message on a command topic (commands are never
   * retained, but anyone may publish one) is not executed again at every connect. And Retain As
   * Published (same section): a command published retained while the station is connected keeps
   * its RETAIN flag on the way to it, so it is ignored too (without it the broker clears the flag,
   * MQTT 3.1.1 section 3.3.1.3, and the station could not tell). `subscribed` is called at the
   * SUBACK (granted or refused), not when the connection closed first.
   */
  private subscribeCommands(conn: Connection, subscribed: () => void): void {
    const v5 = this.settings.protocolVersion === 5;
    conn.client.subscribe(this.topics.commandFilter, { qos: 1, ...(v5 ? { rh: 2, rap: true } : {}) }, (err, granted) => {
      if (conn.closed || this.stopping) return;
      conn.commandsSubscribed = true;
      subscribed();
      const refused = err !== null && err !== undefined ? err.message : granted?.some((g) => g.qos >= 0x80) ? `reason code 0x${(granted.find((g) => g.qos >= 0x80)?.qos ?? 0).toString(16)}` : undefined;
      if (refused !== undefined) {
        this.log.warn({ topic: this.topics.commandFilter, reason: refused }, "command subscription refused by the broker: no commands will arrive");
      }
    });
  }

  /** Hands a command over; false when it is not taken (no PUBACK then, see {@link connect}). */
  private onMessage(conn: Connection, topic: string, payload: Buffer, packet: IPublishPacket): boolean {
    if (conn.closed) return false;
    const cmd = commandOf(this.topics.commandPrefix, topic, payload, packet);
    if (cmd === undefined) return true;
    if (payload.length === 0) {
      // An empty message is how a retained one is cleared (MQTT 3.1.1 section 3.3.1.3), as the
      // warning below asks; it reaches the subscribers too, and is no command to answer.
      this.log.debug({ command: cmd.name, retain: packet.retain }, "an empty message on a command topic ignored");
      return true;
    }
    if (packet.retain) {
      // A retained command is handed to every new subscription (MQTT 3.1.1 section 3.3.1.3; MQTT 5
      // subscribes with Retain Handling 2 and never gets one): run at every connect of every
      // station that has not seen its id, it would replay an old set_cards for ever. Not run, not
      // answered; the warning is said once per connection.
      if (!conn.retainedWarned) {
        conn.retainedWarned = true;
        this.log.warn({ command: cmd.name, topic }, "a retained command ignored: commands must not be retained (clear it by publishing an empty retained message on its topic)");
      }
      return true;
    }
    try {
      if (this.opts.onCommand?.(cmd) === false) {
        this.log.debug({ command: cmd.name }, "command not taken (the station is stopping): not acknowledged, the broker delivers it again");
        return false;
      }
    } catch (err) {
      this.log.error({ err, command: cmd.name }, "command handler failed");
    }
    this.counters.commandsReceived++;
    this.log.debug({ command: cmd.name, bytes: payload.length }, "command received");
    return true;
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
      this.onAttemptFailed(conn.reason ?? "connection closed", conn.credentialsRefused);
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

  private onAttemptFailed(reason: string, credentialsRefused = false): void {
    if (this.link !== "down") {
      const url = redactUrl(this.settings.url);
      // Reached, and refused: "unreachable" would send the technician after the network.
      if (credentialsRefused) this.log.error({ url, reason }, "the broker refused the station's credentials: check mqtt.username and the password; retrying with backoff");
      else this.log.warn({ url, reason }, "broker unreachable; retrying with backoff");
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
    this.drain.stopRetries();
    clearTimeout(this.statusTimer);
    this.reconnectTimer = undefined;
    this.statusTimer = undefined;
    for (const waiter of [...this.connectWaiters]) waiter(false);
    this.drain.dropReplays();
    const deadline = performance.now() + (this.opts.stopTimeoutMs ?? 2500);
    const left = (cap: number) => Math.max(0, Math.min(cap, deadline - performance.now()));
    const conn = this.conn;
    if (conn !== undefined) {
      if (conn.connected) {
        // Acks still on their way spare a resend at the next start.
        await until(() => conn.inflight.size === 0 || !conn.connected, left(1000));
        this.drain.flushMarks();
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
    this.drain.flushMarks();
    this.drain.close();
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
