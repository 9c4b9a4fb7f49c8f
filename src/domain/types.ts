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
export type PointsReason = "blocked_card" | "implausible" | "no_rule" | "below_minimum" | "daily_cap" | "awarded";
