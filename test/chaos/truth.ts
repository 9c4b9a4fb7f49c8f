/**
 * What the chaos suite knows (issue 12): the ground truth the simulation recorded while it played a
 * station day, and what a central subscriber received. The invariant checker (checker.ts) compares
 * the two. Pure data, no I/O, so that the checker can be tested on hand-made cases.
 */

/** A bag dropped into a bin, or weight taken out of it, by the simulation. */
export interface WeightMove {
  binId: string;
  /** Grams added (a resident's bag, > 0) or removed (a collector, < 0). */
  deltaG: number;
  /** Wall-clock ms (the test's clock) when the weight changed on the indicator. */
  at: number;
  /**
   * The bin's scale was unplugged when the weight moved, or was unplugged before the station could
   * have weighed it, or had not yet been seen again after it was plugged back in: the contract counts
   * a scale that went offline during a session with its last accepted weight (section 2), so the
   * station may or may not see this weight. The checker accepts either.
   */
  uncertain?: boolean;
}

/**
 * One visit of the station day: a card shown at the reader, then bags dropped (residents) or bins
 * emptied (collectors). Every visit uses its own card id, so events map to visits by `card_id`.
 */
export interface Visit {
  /** Index in the script (0-based). */
  n: number;
  cardId: string;
  role: "resident" | "collector";
  /** The bin the visitor went to. */
  binId: string;
  /** Whether that bin has a door. */
  door: boolean;
  /**
   * Whether the station confirmed the visit, so that the visitor moved weight: for a door bin, its
   * lock output read unlocked; for a bin without a door, the station logged `session opened` for
   * this card with that bin among the session's bins (a bin whose scale is offline is not covered).
   * An unconfirmed visitor walks away without moving any weight.
   */
  confirmed: boolean;
  /** The session id the station logged for this card (`session opened`), when the simulation saw it. */
  sessionId?: string;
  /** Weight moved during the visit (empty when not confirmed). */
  moves: WeightMove[];
  /**
   * Kills of the station between the card and the end of the visit. A visitor moves no weight after
   * a kill: a session recovered at the restart closes as soon as its scales are back (contract
   * section 2), so later weight belongs to no session.
   */
  killsDuring: number;
  /**
   * A kill struck during the visit while another process held the database's write lock: the
   * README ("Busy") says a SIGKILL in that window can lose the session opened then, so a lost
   * award of this visit is counted (`lostInBusyWindow`), not a violation. Doubles still are.
   */
  killedWhileBusy?: boolean;
  /** Wall-clock ms the visit began and ended (the test's clock). */
  startedAt: number;
  endedAt: number;
}

/** Weight that changed on a bin outside any visit (a cat, wind, a bag thrown on the lid). */
export interface Disturbance {
  binId: string;
  deltaG: number;
  at: number;
}

/** The points rule of a bin's category, as written in the config (`points_per_kg` as its decimal text). */
export interface Rule {
  category: string;
  /** The decimal as written, e.g. "1.16" (contract section 3: computed exactly, never through floats). */
  pointsPerKg: string;
  minNetG: number;
}

/** A sample of a door's lines while the station process was running and had logged `station started`. */
export interface DoorSample {
  binId: string;
  /** Test wall-clock ms. */
  at: number;
  /** The closed input: true when the door is closed. */
  closed: boolean;
  /** The lock output: true when unlocked. */
  unlocked: boolean;
  /** Whether a visit of this bin was in progress (from card to end of visit). */
  inVisit: boolean;
}

/** Everything the simulation recorded. */
export interface Truth {
  stationId: string;
  visits: Visit[];
  disturbances: Disturbance[];
  /** Rule per bin id. */
  rules: Record<string, Rule>;
  /** Door sample stream per door bin, in time order. */
  doorSamples: DoorSample[];
  /** `open_timeout_s` of the doors, in ms: an unlocked closed door is locked again after it. */
  doorOpenTimeoutMs: number;
  /**
   * The highest seq in the station's database after its final stop: every seq from 1 to it must have
   * reached the central subscriber (after `replay`). Absent: the highest seq received stands for it.
   */
  lastSeq?: number;
  /**
   * `change_threshold_g` of the scales, grams: a visit's weight in (or out of) a bin below it owes
   * no deposit or collection (contract section 2, "Sessions"). Default 1: every gram is owed.
   */
  changeThresholdG?: number;
  /** Rows left in the database's `open_sessions` after the final clean stop (every session closed: 0). */
  storedSessionsLeft?: number;
  /**
   * Seqs that reached the central subscriber only through `replay`, with the (test) time the
   * station marked each published (the broker's PUBACK), `null` when it never did.
   */
  replayOnly?: Array<{ seq: number; publishedAt: number | null }>;
  /** When the broker was killed (test ms): it loses what it had acknowledged and not yet saved. */
  brokerKills?: number[];
  /**
   * When the central subscriber's subscription was in place again after each reconnect (test ms):
   * at the CONNACK when the broker kept its session, at the SUBACK when a kill made it forget it.
   * Between a kill and the next of these, the broker routes the central nothing.
   */
  centralResubscribed?: number[];
}

/** One event PUBLISH the central subscriber received (duplicates included), in arrival order. */
export interface Received {
  topic: string;
  /** The payload as received (UTF-8). */
  payload: string;
}

/** What the checker found. */
export interface Verdict {
  violations: string[];
  /** Counts for the report: events, deposits, collections, alarms by code, duplicates, replayed… */
  stats: Record<string, number>;
}
