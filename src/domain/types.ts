/**
 * Shapes shared by the station's rules (contract.md section 2 "Sessions", section 3 "Points").
 * Pure data: the domain knows nothing of serial ports, SQLite or MQTT.
 *
 * Time: every input carries `mono` (milliseconds on a monotonic clock; all timers use it) and
 * `wall` (milliseconds since the Unix epoch; used only to stamp `started_at`/`ended_at`).
 */

/** What one scale looks like to the session machine after stability detection. */
export interface ScaleView {
  scaleId: string;
  /** False while the port is missing or a streaming indicator has gone silent. */
  online: boolean;
  /** True when the last window of samples is stable (see StabilityDetector). */
  stable: boolean;
  /** The accepted weight in integer grams, `null` until the first stable value. */
  acceptedG: number | null;
}

/** A bin as the session machine sees it (config `bins[]`). */
export interface BinSpec {
  binId: string;
  category: string;
  scaleId: string;
}

/** Session timing settings (config `session`), in seconds, fractions allowed. */
export interface SessionSettings {
  idleCloseS: number;
  firstDepositTimeoutS: number;
  maxSessionS: number;
}

/** Inputs of the session machine. */
export type SessionInput =
  /** A presentation (already de-duplicated by repeat_gap_ms) from any reader. */
  | { type: "identified"; cardId: string; readerId: string; mono: number; wall: number }
  /** A scale's view changed (new accepted weight, stability or online state). */
  | { type: "scale"; view: ScaleView; mono: number; wall: number }
  /** Time passes; the runner sends ticks often (every 100 ms or so). */
  | { type: "tick"; mono: number; wall: number }
  /** Close any open session now (shutdown, end of the demo). */
  | { type: "flush"; mono: number; wall: number };

/** The data of one deposit, before the outbox adds station_id, seq, id and time. */
export interface DepositData {
  bin_id: string;
  category: string;
  card_id: string;
  reader_id: string;
  gross_before_g: number;
  gross_after_g: number;
  net_g: number;
  points: number;
  points_reason: PointsReason;
  rules_version: string | null;
  /** RFC 3339 UTC with milliseconds. */
  started_at: string;
  ended_at: string;
}

/** contract.md section 3: the first that applies. */
export type PointsReason = "blocked_card" | "no_rule" | "below_minimum" | "daily_cap" | "awarded";

/** Why a session closed (for logs). */
export type CloseReason = "idle" | "first_deposit_timeout" | "max_session" | "other_identification" | "flush";

/** Effects of the session machine, executed by the app's runner. */
export type SessionEffect =
  | { type: "session_opened"; cardId: string; readerId: string; binIds: string[] }
  /** No bin could be served (no online scale with an accepted weight). */
  | { type: "session_refused"; cardId: string; readerId: string; reason: "no_ready_bin" }
  | { type: "session_closed"; cardId: string; reason: CloseReason; deposits: number }
  /** Record one durable deposit event; the runner commits it before anything else about it. */
  | { type: "record_deposit"; data: DepositData };
