/**
 * The event side of the publisher (publisher.ts): drains the outbox over the current connection in
 * seq order within the in-flight window, marks events published on their PUBACK (batched), and
 * publishes replays alongside (replay-queue.ts). An event the broker refuses, or one larger than the
 * broker's Maximum Packet Size, is held back (held-events.ts) and retried while later events go on.
 * The connection's life (connect, close, backoff) is the publisher's.
 */
import type { IClientPublishOptions } from "mqtt";
import type { Logger } from "pino";

import { SmartbinError } from "../../errors.js";
import type { BackoffSettings } from "../backoff.js";
import type { LoopBeat } from "../loop-beat.js";
import { failureOf } from "../outbox/failure.js";
import type { StoredEvent } from "../outbox/outbox.js";
import type { Connection } from "./connection.js";
import { HeldEvents, REASON_PACKET_TOO_LARGE } from "./held-events.js";
import { publishPacketSize, utf8Bytes } from "./packet-size.js";
import type { PublisherOutbox } from "./publisher-types.js";
import { ReplayQueue } from "./replay-queue.js";
import type { ReplayAdded } from "./replay-queue.js";

/** The MQTT 5 content type of every event PUBLISH (contract.md section 4). */
export const CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json";

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

/** What the drain needs of the publisher. */
export interface EventDrainDeps {
  outbox: PublisherOutbox;
  log: Logger;
  liveness: LoopBeat | undefined;
  /** True once the publisher stops. */
  stopping: () => boolean;
  /** The publisher's current connection, if any. */
  connection: () => Connection | undefined;
  /**
   * An event's PUBLISH failed without a reason code (not a refusal: the link failed under it): the
   * connection must close, and the event is resent in seq order on the next one.
   */
  onPublishFailed: (conn: Connection) => void;
  /** Retries of held-back events (held-events.ts); default {@link DEFAULT_HELD_RETRY}. */
  heldRetry?: BackoffSettings | undefined;
}

/** One per publisher; it outlives connections (marks are batched across them). */
export class EventDrain {
  /**
   * Event PUBLISH packets sent (`sent`: the drain's, resends and retries included; `replayed`),
   * acknowledged, and refused (`rejected`: each refusal by the broker, retries included, and each
   * time an event was not sent for being larger than the broker's Maximum Packet Size).
   */
  readonly counters = { sent: 0, acked: 0, rejected: 0, replayed: 0 };
  private readonly deps: EventDrainDeps;
  private readonly log: Logger;
  private protocolVersion: 4 | 5 = 5;
  private eventsPrefix = "";
  private toMark: number[] = [];
  private markScheduled = false;
  /** A failure to mark events published was logged, and no mark has succeeded since. */
  private markFailureLogged = false;
  private pumping = false;
  /** The pump takes turns between the drain and a replay, so neither starves the other. */
  private replayTurn = false;
  private readonly replays = new ReplayQueue();
  private storageRetryTimer: NodeJS.Timeout | undefined;
  /** After the publisher stopped: nothing more is written to the outbox. */
  private closed = false;
  /** The options of every event PUBLISH with MQTT 3.1.1: one object, read and never changed by MQTT.js. */
  private readonly plainPublishOptions: IClientPublishOptions = { qos: 1, retain: false };
  /** Event topic per kind, made once: a drain publishes thousands of events of a handful of kinds. */
  private eventTopics = new Map<string, string>();
  /** CloudEvents type per kind (`smartbin.<kind>.v1`), made once. */
  private readonly eventTypes = new Map<string, string>();
  /** Events held back: refused, or too large for this broker (held-events.ts). */
  private readonly held: HeldEvents;
  /** Held seqs due for a retry on `conn` (a retry round), ascending. */
  private due: { conn: Connection; seqs: number[] } | undefined;
  private heldRetryTimer: NodeJS.Timeout | undefined;
  /** The current connection's MQTT 5 Maximum Packet Size (CONNACK), bytes; undefined: none announced. */
  private maxPacketSize: number | undefined;

  constructor(deps: EventDrainDeps) {
    this.deps = deps;
    this.log = deps.log;
    this.held = new HeldEvents(deps.heldRetry);
  }

  /**
   * A connection is up (CONNACK): `maximumPacketSize` is the broker's MQTT 5 Maximum Packet Size
   * (MQTT 5.0 section 3.2.2.3.6), bytes, undefined when it announced none (and always with 3.1.1).
   * Events held back are sent again in seq order by this connection's drain.
   */
  connected(maximumPacketSize: number | undefined): void {
    this.maxPacketSize = maximumPacketSize;
    this.due = undefined;
    if (this.held.size > 0) {
      this.log.warn({ held_back: this.held.size, seqs: this.held.seqs().slice(0, 10) }, "events held back (refused by the broker, or too large for it) are retried on the new connection");
    }
  }

  /** Events held back now (refused by the broker, or too large for it): they stay pending. */
  heldBack(): number {
    return this.held.size;
  }

  /** Where events go and how: `P/S/events/` and the protocol version of the settings in use. */
  route(eventsPrefix: string, protocolVersion: 4 | 5): void {
    this.eventsPrefix = eventsPrefix;
    this.protocolVersion = protocolVersion;
    this.eventTopics = new Map();
  }

  /** Queues a replay (replay-queue.ts) and sends what the window allows on `conn`. */
  addReplay(conn: Connection, fromSeq: number, toSeq: number | undefined): ReplayAdded {
    const added = this.replays.add(fromSeq, toSeq);
    this.pump(conn);
    return added;
  }

  /** Drops every replay, running or queued; returns how many there were. */
  dropReplays(): number {
    return this.replays.clear();
  }

  /** The publisher stops: no more storage retries, no more retries of held-back events. */
  stopRetries(): void {
    clearTimeout(this.storageRetryTimer);
    this.storageRetryTimer = undefined;
    clearTimeout(this.heldRetryTimer);
    this.heldRetryTimer = undefined;
  }

  /** The publisher has stopped: the last marks are written (call {@link flushMarks} first). */
  close(): void {
    this.closed = true;
  }

  /** Events awaiting PUBACK on `conn`: the drain's and replayed ones (both count in its window). */
  inFlight(conn: Connection): number {
    return conn.inflight.size + conn.replayInflight;
  }

  /**
   * Fills the window from the database: the drain in seq order, taking turns with a replay when one
   * runs. Memory stays flat whatever the backlog: at most one page (4 x window events, read with
   * `pendingAfter`) waits to be sent, at most one replay page, at most a window awaits PUBACK, and
   * at most {@link MAX_UNMARKED} acked seqs wait to be marked.
   */
  pump(conn: Connection): void {
    // Re-entrancy guard: a publish callback may run synchronously when the client fails.
    if (this.pumping) return;
    this.pumping = true;
    const idleBefore = this.inFlight(conn) === 0;
    try {
      while (conn.connected && !this.deps.stopping() && this.inFlight(conn) < conn.window) {
        const sent = this.sendHeldRetry(conn) || (this.replayTurn ? this.sendReplayed(conn) || this.sendNext(conn) : this.sendNext(conn) || this.sendReplayed(conn));
        if (!sent) break;
        if (this.replays.busy) this.replayTurn = !this.replayTurn;
      }
    } catch (err) {
      this.log.error({ err }, "cannot read events from the outbox; retrying");
      this.retryStorageLater();
    } finally {
      this.pumping = false;
      // A PUBACK is now awaited: from here the drain must progress (a later notify() does not count).
      if (idleBefore && this.inFlight(conn) > 0) this.deps.liveness?.beat("busy");
    }
  }

  /** Sends the drain's next event; false when there is none (or marks are behind). */
  private sendNext(conn: Connection): boolean {
    if (this.toMark.length >= MAX_UNMARKED) return false;
    if (conn.buffer.length === 0) {
      const page = this.deps.outbox.pendingAfter(conn.lastSentSeq, conn.window * 4);
      if (page.length === 0) return false;
      // Durably "sent" before any of it is handed over: never corrected after that (outbox.ts).
      this.deps.outbox.markSent?.(page);
      conn.buffer = page;
    }
    this.send(conn, conn.buffer.shift()!);
    return true;
  }

  /**
   * Sends the next held-back event due for a retry on `conn` (a retry round, {@link retryHeldLater}),
   * read again from the database; false when none is due. One no longer pending is forgotten.
   */
  private sendHeldRetry(conn: Connection): boolean {
    const due = this.due;
    if (due?.conn !== conn) return false;
    for (let seq = due.seqs.shift(); seq !== undefined; seq = due.seqs.shift()) {
      if (conn.inflight.has(seq) || !this.held.has(seq)) continue;
      const event = this.deps.outbox.pendingAfter(seq - 1, 1)[0];
      if (event?.seq !== seq) {
        this.held.release(seq);
        continue;
      }
      this.send(conn, event, true);
      return true;
    }
    this.due = undefined;
    return false;
  }

  /** Sends a replay's next event; false when no replay runs. */
  private sendReplayed(conn: Connection): boolean {
    if (!this.replays.busy) return false;
    const outbox = this.deps.outbox;
    const event = this.replays.next((afterSeq, toSeq, limit) => {
      const page = outbox.heldPage?.(afterSeq, toSeq, limit) ?? [];
      // A replay may hand over a pending event before the drain does: it must never be corrected
      // afterwards either (a re-sent event is the same message, byte for byte). The cost: pending
      // unsynchronised events below the page keep their uncorrected times.
      outbox.markSent?.(page);
      return page;
    }, conn.window * 4);
    if (event === undefined) return false;
    const topic = this.eventTopic(event.kind);
    const options = this.eventOptions(event);
    const tooLarge = this.tooLarge(topic, event, options);
    if (tooLarge !== undefined) {
      // Sent, it would close the connection: skipped (the drain holds it back if still pending).
      this.logReplayRefusal(conn, event, tooLarge);
      return true;
    }
    conn.replayInflight++;
    this.counters.replayed++;
    conn.client.publish(topic, event.payload, options, (err) => this.onReplayAck(conn, event, err));
    return true;
  }

  private eventTopic(kind: string): string {
    let topic = this.eventTopics.get(kind);
    if (topic === undefined) {
      topic = `${this.eventsPrefix}${kind}`;
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
    if (this.protocolVersion !== 5) return this.plainPublishOptions;
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

  /**
   * Why `event` cannot be sent to this broker at all: its PUBLISH is larger than the Maximum Packet
   * Size the broker announced (packet-size.ts), which would make the broker close the connection
   * (MQTT 5.0 section 3.1.2.11.4). Undefined when it fits, or when no maximum was announced.
   */
  private tooLarge(topic: string, event: StoredEvent, options: IClientPublishOptions): string | undefined {
    const max = this.maxPacketSize;
    if (max === undefined) return undefined;
    // The hot path of a drain: a UTF-16 unit is at most 3 UTF-8 bytes, and the fixed header, the
    // packet id and the properties (content type, id, type, seq) take well under 1 KiB, so an event
    // this far below the maximum fits without counting its bytes.
    if (3 * (event.payload.length + topic.length) + 1024 < max) return undefined;
    const properties = options.properties as { contentType?: string; userProperties?: Record<string, string> } | undefined;
    const bytes = publishPacketSize(topic, utf8Bytes(event.payload), this.protocolVersion, properties);
    return bytes > max ? `larger than the broker's Maximum Packet Size (${bytes} > ${max} bytes)` : undefined;
  }

  /**
   * Publishes a drain's event. `retry`: a held-back event sent again by a retry round, below the
   * drain's place in the seq order (the one exception to seq order, README "MQTT topics and
   * payloads"); the drain's place does not move back.
   */
  private send(conn: Connection, event: StoredEvent, retry = false): void {
    if (!retry) conn.lastSentSeq = event.seq;
    const topic = this.eventTopic(event.kind);
    const options = this.eventOptions(event);
    const tooLarge = this.tooLarge(topic, event, options);
    if (tooLarge !== undefined) {
      this.counters.rejected++;
      this.holdBack(event, topic, REASON_PACKET_TOO_LARGE, tooLarge);
      return;
    }
    conn.inflight.set(event.seq, event);
    this.counters.sent++;
    // The hot path of a backlog drain: build the log record only when debug logging is on, asked
    // at each event (not once), so that SIGUSR2's switch reaches this line too.
    if (this.log.isLevelEnabled("debug")) this.log.debug({ seq: event.seq, id: event.id, topic, ...(retry ? { retry: true } : {}) }, "publishing event");
    // MQTT.js encodes a string payload as UTF-8: the stored JSON text goes out byte for byte.
    conn.client.publish(topic, event.payload, options, (err) => this.onAck(conn, event, err));
  }

  /**
   * Holds back an event the broker refused or cannot take: it stays pending, later events go on, and
   * it is retried (held-events.ts). Logged at error the first time (per event, per run), with the
   * retry policy; a retry refused again at debug.
   */
  private holdBack(event: StoredEvent, topic: string, reasonCode: number, reason: string): void {
    const result = this.held.hold({ seq: event.seq, id: event.id, kind: event.kind, topic, reasonCode, reason });
    const fields = { seq: event.seq, id: event.id, kind: event.kind, topic, reason_code: hex(reasonCode), reason, held_back: this.held.size };
    if (result === "new") {
      const failure = new SmartbinError("MQTT_PUBLISH_FAILED", "event held back", { seq: event.seq, id: event.id, reason_code: reasonCode });
      this.log.error(
        { ...fields, code: failure.code, retry: this.held.describe() },
        reasonCode === REASON_PACKET_TOO_LARGE
          ? "event held back: too large for this broker; it stays pending and is retried, later events go on"
          : "event held back: the broker refused it; it stays pending and is retried, later events go on",
      );
    } else {
      this.log.debug(fields, "a held-back event was refused again");
    }
    this.retryHeldLater();
  }

  /** Starts the retry rounds of held-back events, unless they run already. */
  private retryHeldLater(): void {
    if (this.heldRetryTimer !== undefined || this.held.size === 0 || this.deps.stopping()) return;
    const delay = this.held.nextRoundMs();
    this.heldRetryTimer = setTimeout(() => {
      this.heldRetryTimer = undefined;
      if (this.held.size === 0 || this.deps.stopping()) return;
      const conn = this.deps.connection();
      if (conn?.connected) {
        // Those above the drain's place are sent by the drain anyway; those in flight are awaited.
        const seqs = this.held.seqs().filter((seq) => seq <= conn.lastSentSeq && !conn.inflight.has(seq));
        this.log.debug({ held_back: this.held.size, retrying: seqs.length }, "retrying held-back events");
        this.due = { conn, seqs };
        this.pump(conn);
        this.beat(conn);
      }
      this.retryHeldLater();
    }, delay);
    this.heldRetryTimer.unref();
  }

  private onReplayAck(conn: Connection, event: StoredEvent, err: Error | undefined): void {
    if (conn.closed) return;
    conn.replayInflight--;
    if (err && !this.deps.stopping()) this.logReplayRefusal(conn, event, err.message);
    this.pump(conn);
    this.beat(conn);
  }

  /** Order does not matter for a replay (consumers order by seq): go on, but say it once per connection. */
  private logReplayRefusal(conn: Connection, event: StoredEvent, reason: string): void {
    const level = conn.replayRefusalLogged ? "debug" : "warn";
    conn.replayRefusalLogged = true;
    this.log[level]({ seq: event.seq, id: event.id, reason }, "broker did not accept a replayed event");
  }

  private onAck(conn: Connection, event: StoredEvent, err: Error | undefined): void {
    if (conn.closed || !conn.inflight.delete(event.seq)) return;
    if (err) {
      if (this.deps.stopping()) return;
      const reasonCode = refusalCodeOf(err);
      if (reasonCode === undefined) {
        // No PUBACK refused it: the link failed under it. Resend in seq order over a new connection.
        this.log.warn({ seq: event.seq, id: event.id, reason: err.message }, "publishing an event failed; reconnecting");
        conn.reason = `publishing event seq ${event.seq} failed: ${err.message}`;
        conn.sawError = true;
        this.deps.onPublishFailed(conn);
        return;
      }
      // Refused by the broker (an ACL, a quota): sent again it would be refused again, and closing
      // the connection would only resend it for ever while every later event waits behind it.
      this.counters.rejected++;
      this.holdBack(event, this.eventTopic(event.kind), reasonCode, err.message.replace(/^Publish error: /, ""));
      this.pump(conn);
      this.beat(conn);
      return;
    }
    const released = this.held.has(event.seq) ? this.held.release(event.seq) : undefined;
    if (released !== undefined) {
      this.log.info(
        { seq: event.seq, id: event.id, kind: event.kind, refusals: released.refusals, held_back: this.held.size },
        "a held-back event was accepted by the broker: it is marked published",
      );
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
    this.beat(conn);
  }

  /** The drain turned: it now awaits PUBACKs (busy) or waits for new events (idle). */
  beat(conn: Connection): void {
    if (conn.connected && !this.deps.stopping()) this.deps.liveness?.beat(this.inFlight(conn) > 0 ? "busy" : "idle");
  }

  /** Writes the batched PUBACKs to the outbox; on failure they are kept and retried. */
  flushMarks(): void {
    if (this.toMark.length === 0 || this.closed) return;
    const seqs = this.toMark;
    this.toMark = [];
    try {
      this.deps.outbox.markPublished(seqs);
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
    if (this.storageRetryTimer !== undefined || this.deps.stopping()) return;
    this.storageRetryTimer = setTimeout(() => {
      this.storageRetryTimer = undefined;
      this.flushMarks();
      if (this.deps.connection()?.connected) this.pump(this.deps.connection()!);
    }, STORAGE_RETRY_MS);
  }
}

/**
 * The MQTT 5 reason code of a PUBACK that refused an event (0x80 or more, MQTT 5.0 section 3.4.2.1:
 * MQTT.js puts it in the error's `code`), undefined for any other failure.
 */
export function refusalCodeOf(err: Error): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === "number" && code >= 0x80 && code <= 0xff ? code : undefined;
}

function hex(code: number): string {
  return `0x${code.toString(16).padStart(2, "0")}`;
}
