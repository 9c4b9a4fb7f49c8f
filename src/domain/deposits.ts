/**
 * Closing a session into durable events (contract.md section 2 "Sessions", "Weights", "Restart
 * mid-session"; section 3 "Points"). Pure.
 *
 * Per covered bin, `net_g` = after - baseline, where after is its scale's accepted weight:
 * - `net_g >= change_threshold_g` (and > 0): one deposit; above the bin's `max_net_g` it earns 0
 *   points with `points_reason: "implausible"` and an `implausible_weight` alarm follows it;
 * - a fall of at least `change_threshold_g`: no deposit, a `negative_net` alarm with the grams;
 * - anything between: nothing (noise).
 * A recovered session's bins whose scales are not back yield one `session_interrupted` alarm.
 */
import { isoTime } from "./iso-time.js";
import { computePoints, type PointsResult } from "./points.js";
import type {
  BinSpec,
  CloseReason,
  CoveredBin,
  DepositEventData,
  DurableEvent,
  StationContext,
} from "./station-types.js";

export { isoTime } from "./iso-time.js";

/** The session being closed, as far as its events need it. */
export interface ClosingSession {
  readonly id: string;
  readonly cardId: string;
  readonly readerId: string;
  readonly startedWall: number;
}

/** The events of one covered bin at close: a deposit (and its implausible alarm), a negative_net alarm, or none. */
export function measureBin(
  session: ClosingSession,
  covered: CoveredBin,
  afterG: number,
  reason: CloseReason,
  endedWall: number,
  ctx: StationContext,
  card: { blocked?: boolean; earnedToday?: number } = {},
): DurableEvent[] {
  const found = binOf(covered, ctx);
  if (found === null) return [];
  const { bin, thresholdG } = found;
  const netG = afterG - covered.baselineG;
  if (netG < 0 && -netG >= thresholdG) {
    return [
      alarm(bin.binId, {
        code: "negative_net",
        bin_id: bin.binId,
        session_id: session.id,
        net_g: netG,
        message: `bin ${bin.binId}: weight fell by ${-netG} g during a session; no deposit`,
      }),
    ];
  }
  if (netG <= 0 || netG < thresholdG) return [];
  const { points, reason: pointsReason } = pointsFor(netG, bin, ctx, card);
  const data: DepositEventData = {
    bin_id: bin.binId,
    category: bin.category,
    card_id: session.cardId,
    reader_id: session.readerId,
    gross_before_g: covered.baselineG,
    gross_after_g: afterG,
    net_g: netG,
    points,
    points_reason: pointsReason,
    rules_version: ctx.points?.rulesVersion ?? null,
    started_at: isoTime(session.startedWall),
    ended_at: isoTime(endedWall),
    session_id: session.id,
    close_reason: reason,
  };
  const events: DurableEvent[] = [{ kind: "deposit", subject: bin.binId, data }];
  if (pointsReason === "implausible") {
    events.push(
      alarm(bin.binId, {
        code: "implausible_weight",
        bin_id: bin.binId,
        session_id: session.id,
        net_g: netG,
        max_net_g: bin.maxNetG,
        message: `bin ${bin.binId}: a deposit of ${netG} g is above max_net_g ${bin.maxNetG} g; recorded with 0 points`,
      }),
    );
  }
  return events;
}

/** A covered bin's spec and its scale's `change_threshold_g` (smaller changes are noise); `null` for an unknown bin. */
function binOf(covered: CoveredBin, ctx: StationContext): { bin: BinSpec; thresholdG: number } | null {
  const bin = ctx.bins.find((b) => b.binId === covered.binId);
  if (bin === undefined) return null;
  return { bin, thresholdG: ctx.scales.find((s) => s.id === bin.scaleId)?.changeThresholdG ?? 0 };
}

/**
 * Points with the plausibility bound. A weight the rule table cannot turn into a safe integer of
 * points (a config that slipped past validation) earns nothing rather than throwing.
 */
function pointsFor(netG: number, bin: BinSpec, ctx: StationContext, card: { blocked?: boolean; earnedToday?: number }): PointsResult {
  try {
    return computePoints({ netG, category: bin.category, table: ctx.points, maxNetG: bin.maxNetG, ...card });
  } catch {
    return { points: 0, reason: "implausible" };
  }
}

/**
 * A collector's session on one bin (contract section 2 "Roles"): the weight removed (at least the
 * scale's `change_threshold_g`) is one `collection` event (no points, no `negative_net`); weight that
 * rose is only logged by the caller (no event).
 */
export function collectionEvent(
  session: ClosingSession,
  covered: CoveredBin,
  afterG: number,
  reason: CloseReason,
  endedWall: number,
  ctx: StationContext,
): DurableEvent[] {
  const found = binOf(covered, ctx);
  if (found === null) return [];
  const { bin, thresholdG } = found;
  const removedG = covered.baselineG - afterG;
  if (removedG <= 0 || removedG < thresholdG) return [];
  return [
    {
      kind: "collection",
      subject: bin.binId,
      data: {
        bin_id: bin.binId,
        card_id: session.cardId,
        removed_g: removedG,
        gross_before_g: covered.baselineG,
        gross_after_g: afterG,
        rules_version: ctx.points?.rulesVersion ?? null,
        session_id: session.id,
        started_at: isoTime(session.startedWall),
        ended_at: isoTime(endedWall),
        close_reason: reason,
      },
    },
  ];
}

/** A maintenance session's audit event (contract section 2 "Roles"; subject: the station id). */
export function maintenanceEvent(session: ClosingSession, reason: CloseReason, endedWall: number, ctx: StationContext): DurableEvent {
  return {
    kind: "maintenance",
    subject: ctx.stationId,
    data: {
      card_id: session.cardId,
      session_id: session.id,
      started_at: isoTime(session.startedWall),
      ended_at: isoTime(endedWall),
      close_reason: reason,
    },
  };
}

/**
 * The `tare_changed` alarm of a bin whose indicator switched between its gross and net display
 * during the session (its tare key): no deposit, since the weights before and after are on
 * different bases (data: `bin_id`, `session_id`, `gross_before_g` and `gross_after_g` as displayed).
 */
export function tareChangedAlarm(session: ClosingSession, covered: CoveredBin, afterG: number, ctx: StationContext): DurableEvent {
  const bin = ctx.bins.find((b) => b.binId === covered.binId);
  return alarm(covered.binId, {
    code: "tare_changed",
    bin_id: covered.binId,
    ...(bin !== undefined ? { device_id: bin.scaleId } : {}),
    session_id: session.id,
    gross_before_g: covered.baselineG,
    gross_after_g: afterG,
    message: `bin ${covered.binId}: the indicator switched between gross and net (tare) during the session; no deposit measured`,
  });
}

/** The `session_interrupted` alarm of a recovered session for the bins whose scales did not come back. */
export function interruptedAlarm(session: ClosingSession, missing: readonly CoveredBin[], stationId: string): DurableEvent {
  const binIds = missing.map((b) => b.binId);
  return alarm(stationId, {
    code: "session_interrupted",
    session_id: session.id,
    card_id: session.cardId,
    bin_ids: binIds,
    baselines_g: Object.fromEntries(missing.map((b) => [b.binId, b.baselineG])),
    message: `session interrupted by a restart: the scales of ${binIds.join(", ")} did not come back in time; no deposit measured there`,
  });
}

function alarm(subject: string, data: Extract<DurableEvent, { kind: "alarm" }>["data"]): DurableEvent {
  return { kind: "alarm", subject, data };
}
