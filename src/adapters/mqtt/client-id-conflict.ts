/**
 * Detection of a client id conflict: two gateways connecting with the same client id (a cloned SD
 * card), each taking the connection over from the other (contract.md section 4: three takeovers
 * within 60 s are a `client_id_conflict`; the status says so while it lasts).
 *
 * What counts as a takeover:
 *
 * - MQTT 5: the broker's DISCONNECT with reason code 0x8E "Session taken over" (MQTT 5.0 section
 *   3.14.2.1; section 3.1.4 says the server disconnects the existing client when a client with the
 *   same id connects). Unambiguous. But sending a DISCONNECT first is a MAY (MQTT 5.0 section
 *   4.13.2), and Mosquitto 2.0.11 does not: it just closes the socket (seen in
 *   test/adapters/mqtt-reconnect.test.ts). Such a close is judged as with 3.1.1.
 * - MQTT 3.1.1: the server just closes the existing network connection (MQTT 3.1.1 section 3.1.4,
 *   step 2), with no reason. The heuristic: a connection that had its CONNACK and was then closed
 *   by the broker cleanly (end of stream, without a socket error, a keepalive timeout, a DISCONNECT
 *   with another reason code, or our own doing). A network that fails shows as a socket error or a keepalive timeout, and a broker
 *   restart closes one connection and then refuses the next attempts, so neither makes three clean
 *   closes of established connections within 60 s. A broker that closes every established
 *   connection on its own (an ACL or a bridge misconfigured) does count: it is reported as a
 *   conflict, and its reconnects are slowed all the same, which is what that broker needs too.
 *
 * While the conflict lasts, every reconnect waits at least `minReconnectMs` (30 s), so the two
 * gateways no longer flap (each taking over about once a minute instead of in a tight loop). It ends
 * once one of our connections has stayed up `clearAfterMs` (60 s): the other gateway has gone.
 */
import type { ClientIdConflictSettings } from "./publisher-types.js";

/** contract.md section 4: three takeovers within 60 s; slowed to 30 s; over after 60 s up. */
export const DEFAULT_CLIENT_ID_CONFLICT: Readonly<ClientIdConflictSettings> = Object.freeze({
  takeovers: 3,
  windowMs: 60_000,
  clearAfterMs: 60_000,
  minReconnectMs: 30_000,
});

/** MQTT 5 DISCONNECT reason code "Session taken over" (MQTT 5.0 section 3.14.2.1). */
export const REASON_SESSION_TAKEN_OVER = 0x8e;

/**
 * The conflict's state machine, on a monotonic clock in ms (`performance.now()` in the publisher).
 * Pure: it calls nothing; the publisher reports the changes it returns.
 */
export class ClientIdConflictTracker {
  private readonly settings: ClientIdConflictSettings;
  /** Times of the takeovers within the window, oldest first. */
  private takeovers: number[] = [];
  private activeNow = false;

  constructor(settings: Partial<ClientIdConflictSettings> = {}) {
    this.settings = { ...DEFAULT_CLIENT_ID_CONFLICT, ...settings };
  }

  /** True while the conflict lasts. */
  get active(): boolean {
    return this.activeNow;
  }

  /** The floor of every reconnect wait, ms: `minReconnectMs` while active, else 0. */
  get minReconnectMs(): number {
    return this.activeNow ? this.settings.minReconnectMs : 0;
  }

  /** How long a connection must stay up to end the conflict, ms. */
  get clearAfterMs(): number {
    return this.settings.clearAfterMs;
  }

  /** A connection of ours was taken over at `now`. Returns `"began"` when this makes the conflict. */
  takenOver(now: number): "began" | null {
    this.takeovers = this.takeovers.filter((t) => now - t < this.settings.windowMs);
    this.takeovers.push(now);
    if (this.activeNow || this.takeovers.length < this.settings.takeovers) return null;
    this.activeNow = true;
    return "began";
  }

  /** A connection of ours has stayed up `clearAfterMs`. Returns `"ended"` when this ends the conflict. */
  stayedUp(): "ended" | null {
    this.takeovers = [];
    if (!this.activeNow) return null;
    this.activeNow = false;
    return "ended";
  }
}
