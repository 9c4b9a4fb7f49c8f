/**
 * Closing a session into deposits (contract.md section 2 "Sessions", section 3 "Points"): each
 * covered bin's after weight is its scale's accepted weight (an offline scale counts with its last
 * one); a bin with `net_g >= change_threshold_g` yields one deposit, a bin whose weight fell none.
 * A net of 0 g is never a deposit, even with a `change_threshold_g` of 0.
 */
import { isoTime } from "./iso-time.js";
import { computePoints } from "./points.js";
import type { OpenSession, SessionContext } from "./session.js";
import type { CloseReason, DepositData, ScaleView, SessionEffect } from "./types.js";

export { isoTime } from "./iso-time.js";

/**
 * The effects of closing `session` at `at`: one `record_deposit` per bin with enough net weight,
 * in config order, then `session_closed` with the deposit count.
 */
export function closeSession(
  session: OpenSession,
  scales: ReadonlyMap<string, ScaleView>,
  ctx: Pick<SessionContext, "points" | "changeThresholdG">,
  reason: CloseReason,
  at: { mono: number; wall: number },
): SessionEffect[] {
  const startedAt = isoTime(session.startedWall);
  const endedAt = isoTime(at.wall);
  const rulesVersion = ctx.points?.rulesVersion ?? null;
  const effects: SessionEffect[] = [];
  for (const { bin, baselineG } of session.bins) {
    const afterG = scales.get(bin.scaleId)?.acceptedG ?? baselineG;
    const netG = afterG - baselineG;
    if (netG <= 0 || netG < ctx.changeThresholdG(bin.scaleId)) continue;
    const { points, reason: pointsReason } = computePoints({
      netG,
      category: bin.category,
      table: ctx.points,
    });
    const data: DepositData = {
      bin_id: bin.binId,
      category: bin.category,
      card_id: session.cardId,
      reader_id: session.readerId,
      gross_before_g: baselineG,
      gross_after_g: afterG,
      net_g: netG,
      points,
      points_reason: pointsReason,
      rules_version: rulesVersion,
      started_at: startedAt,
      ended_at: endedAt,
    };
    effects.push({ type: "record_deposit", data });
  }
  const deposits = effects.length;
  effects.push({ type: "session_closed", cardId: session.cardId, reason, deposits });
  return effects;
}
