/**
 * Reading back a stored open session (contract.md section 2 "Restart mid-session"). The row was
 * written by this program, but a database is an input like any other: a row that does not have
 * the shape is reported, never trusted.
 */
import { z } from "zod";
import type { PersistedSession, Role } from "../domain/station-types.js";

const persistedSessionSchema = z.strictObject({
  version: z.literal(1),
  session_id: z.string().min(1),
  card_id: z.string().min(1),
  reader_id: z.string().min(1),
  started_wall: z.number().finite(),
  bins: z.array(
    z.strictObject({ bin_id: z.string().min(1), baseline_g: z.number().int(), baseline_mode: z.enum(["gross", "net"]).optional() }),
  ),
  last_change_wall: z.number().finite().nullable(),
  // Written for every card that is not a resident's (session.ts `persisted`): without it here, a
  // collector's, maintenance or blocked card's session interrupted by a crash was never recovered.
  role: z.enum(["resident", "collector", "maintenance", "blocked"] as const satisfies readonly Role[]).optional(),
});

/** The session stored as `state`, or `null` when it does not have the shape of one. */
export function parsePersistedSession(state: unknown): PersistedSession | null {
  const parsed = persistedSessionSchema.safeParse(state);
  return parsed.success ? parsed.data : null;
}
