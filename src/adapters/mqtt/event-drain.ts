/**
 * The event side of the publisher (publisher.ts): drains the outbox over the current connection in
 * seq order within the in-flight window, marks events published on their PUBACK (batched), and
 * publishes replays alongside (replay-queue.ts). The connection's life (connect, close, backoff) is
 * the publisher's.
 */
import type { IClientPublishOptions } from "mqtt";
import type { Logger } from "pino";

import { SmartbinError } from "../../errors.js";
import type { LoopBeat } from "../loop-beat.js";
import { failureOf } from "../outbox/failure.js";
import type { StoredEvent } from "../outbox/outbox.js";
import type { Connection } from "./connection.js";
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
  /** The broker refused an event (an MQTT 5 PUBACK reason code): the connection must close, seq order must hold. */
  onRefused: (conn: Connection) => void;
}

/** One per publisher; it outlives connections (marks are batched across them). */
export class EventDrain {
  /** Event PUBLISH packets sent (`sent`: the drain's, resends included; `replayed`), acknowledged and refused. */
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

  constructor(deps: EventDrainDeps) {
    this.deps = deps;
    this.log = deps.log;
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

  /** The publisher stops: no more storage retries. */
  stopRetries(): void {
    clearTimeout(this.storageRetryTimer);
    this.storageRetryTimer = undefined;
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
    conn.replayInflight++;
    this.counters.replayed++;
    conn.client.publish(this.eventTopic(event.kind), event.payload, this.eventOptions(event), (err) => this.onReplayAck(conn, event, err));
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

  private send(conn: Connection, event: StoredEvent): void {
    conn.lastSentSeq = event.seq;
    conn.inflight.set(event.seq, event);
    this.counters.sent++;
    const topic = this.eventTopic(event.kind);
    // The hot path of a backlog drain: build the log record only when debug logging is on, asked
    // at each event (not once), so that SIGUSR2's switch reaches this line too.
    if (this.log.isLevelEnabled("debug")) this.log.debug({ seq: event.seq, id: event.id, topic }, "publishing event");
    // MQTT.js encodes a string payload as UTF-8: the stored JSON text goes out byte for byte.
    conn.client.publish(topic, event.payload, this.eventOptions(event), (err) => this.onAck(conn, event, err));
  }

  private onReplayAck(conn: Connection, event: StoredEvent, err: Error | undefined): void {
    if (conn.closed) return;
    conn.replayInflight--;
    if (err && !this.deps.stopping()) {
      // Order does not matter for a replay (consumers order by seq): go on, but say it once per connection.
      const level = conn.replayRefusalLogged ? "debug" : "warn";
      conn.replayRefusalLogged = true;
      this.log[level]({ seq: event.seq, id: event.id, reason: err.message }, "broker did not accept a replayed event");
    }
    this.pump(conn);
    this.beat(conn);
  }

  private onAck(conn: Connection, event: StoredEvent, err: Error | undefined): void {
    if (conn.closed || !conn.inflight.delete(event.seq)) return;
    if (err) {
      if (this.deps.stopping()) return;
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
      this.deps.onRefused(conn);
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
