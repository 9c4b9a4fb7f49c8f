/**
 * Events held back by the drain (event-drain.ts): the broker refused them (an MQTT 5 PUBACK reason
 * code of 0x80 or more, such as 0x87 "Not authorized" from an ACL), or they are larger than the
 * Maximum Packet Size the broker announced (packet-size.ts). Such an event would be refused again at
 * once, and closing the connection to keep seq order would only resend it for ever while every later
 * event waits: so it is held back, later events go on, and it is retried (README "MQTT topics and
 * payloads", the one exception to seq order).
 *
 * The event itself stays pending in the database, the only copy that counts: this is the
 * bookkeeping (what was refused, why, how often) and the retry schedule, no payloads, and it is lost
 * on a restart (the first connection after it sends the event again in seq order, and it is held
 * back again if still refused). Pure: the drain passes the time and owns the timer.
 */
import { backoffCapMs, type BackoffSettings } from "../backoff.js";

/** MQTT 5 reason code 0x95 "Packet too large" (MQTT 5.0 section 2.4): the station's own verdict, before sending. */
export const REASON_PACKET_TOO_LARGE = 0x95;

/** Retries of held-back events: the first round 30 s after a refusal, then doubling, at most 10 min apart. */
export const DEFAULT_HELD_RETRY: Readonly<BackoffSettings> = Object.freeze({ startMs: 30_000, maxMs: 600_000 });

/**
 * The most events kept in the bookkeeping. An ACL that denies a whole kind (every deposit) would
 * otherwise add one entry per event for as long as it lasts; past this many the oldest entry is
 * forgotten. Forgetting loses nothing: the event stays pending in the database and is sent again at
 * the next connection (in seq order), only not by the retry rounds on this one.
 */
export const MAX_HELD_EVENTS = 10_000;

/** One held-back event. */
export interface HeldEvent {
  seq: number;
  id: string;
  kind: string;
  topic: string;
  /** The MQTT 5 reason code: the PUBACK's, or {@link REASON_PACKET_TOO_LARGE}. */
  reasonCode: number;
  /** For a human: `Not authorized`, `larger than the broker's Maximum Packet Size (…)`. */
  reason: string;
  /** Refusals so far (the first included). */
  refusals: number;
}

/** What {@link HeldEvents.hold} made of a refusal: a new one (log it at error) or a retry refused again. */
export type HoldResult = "new" | "again";

/** The held-back events of one publisher, and when to retry them. */
export class HeldEvents {
  private readonly held = new Map<number, HeldEvent>();
  private round = 0;
  private readonly retry: BackoffSettings;
  private readonly max: number;

  constructor(retry: BackoffSettings = DEFAULT_HELD_RETRY, max = MAX_HELD_EVENTS) {
    this.retry = retry;
    this.max = max;
  }

  /** Events held back now. */
  get size(): number {
    return this.held.size;
  }

  has(seq: number): boolean {
    return this.held.has(seq);
  }

  /** Records a refusal of `event`. */
  hold(event: Omit<HeldEvent, "refusals">): HoldResult {
    const known = this.held.get(event.seq);
    if (known !== undefined) {
      known.refusals++;
      known.reasonCode = event.reasonCode;
      known.reason = event.reason;
      return "again";
    }
    this.held.set(event.seq, { ...event, refusals: 1 });
    // The oldest held first (a Map keeps insertion order): it is still pending in the database.
    for (const oldest of this.held.keys()) {
      if (this.held.size <= this.max) break;
      this.held.delete(oldest);
    }
    return "new";
  }

  /** The event was accepted (or is pending no more): forgotten; the retry schedule restarts once none is held. */
  release(seq: number): HeldEvent | undefined {
    const known = this.held.get(seq);
    this.held.delete(seq);
    if (this.held.size === 0) this.round = 0;
    return known;
  }

  /** The held seqs, ascending. */
  seqs(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  /** The wait before the next retry round, ms: `startMs`, doubling at each round, at most `maxMs`. */
  nextRoundMs(): number {
    return backoffCapMs(this.round++, this.retry);
  }

  /** The retry policy, for the log: `at each new connection and after 30 s, doubling to at most 10 min`. */
  describe(): string {
    return `at each new connection and after ${seconds(this.retry.startMs)}, doubling to at most ${seconds(this.retry.maxMs)}`;
  }
}

function seconds(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${Math.round(ms / 100) / 10} s`;
}
