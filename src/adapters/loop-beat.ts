/**
 * The port through which a long-running loop tells the watchdog that it still turns (issue 10: a
 * process alive but stuck is restarted by systemd, one merely waiting is not). The serial device's
 * read-or-reopen loop and the publisher's drain-or-reconnect loop call it; `src/app/liveness.ts`
 * implements it.
 */
export interface LoopBeat {
  /**
   * The loop turned (made progress) and now waits. `waiting` says for what:
   *
   * - `"idle"`: for something whose absence is healthy or that comes by itself: bytes on an open
   *   port (a reader is quiet until a card is shown), a new event to drain, or a timer of its own
   *   (the backoff before a reopen or a reconnect). The loop counts as turning for as long as the
   *   event loop turns.
   * - `"busy"`: for an operation that must complete (a port opening or closing, a CONNACK, a
   *   PUBACK). The loop counts as stuck once it has waited longer than its limit without another beat.
   */
  beat(waiting: "idle" | "busy"): void;
}
