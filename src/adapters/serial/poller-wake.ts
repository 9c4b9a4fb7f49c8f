/**
 * A workaround for serialport's native poller on Node 26.4 and newer (upstream:
 * serialport/bindings-cpp#239 "deliver poller events with MakeCallback", open at the time of writing;
 * the cause is nodejs/node#62969; reports in serialport/node-serialport#3148). The poller's
 * "readable" callback runs outside `MakeCallback`, so the promise continuation that then reads the
 * port waits until something else turns the event loop: a station with little else to do reads its
 * indicator in bursts seconds apart, and a stability window (which needs its samples spread over
 * the window) is never stable. A no-op interval timer turns the loop, and so drains those
 * continuations, every {@link POLLER_WAKE_MS} ms while a device runs. Remove this file once the
 * pinned `@serialport/bindings-cpp` delivers its events with `MakeCallback`.
 */

/** How often the loop is turned, in ms: the longest a read may wait for it. */
export const POLLER_WAKE_MS = 10;

/**
 * True on the Node versions whose serialport reads need the wake: 26.4 and newer.
 *
 * @param version a Node version without the `v` (`process.versions.node`)
 */
export function pollerNeedsWake(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major > 26 || (major === 26 && minor >= 4);
}

/**
 * Starts the wake when this Node needs it; returns the function that stops it. The timer is unref'd:
 * it never keeps the process alive by itself.
 */
export function startPollerWake(needed: boolean = pollerNeedsWake()): () => void {
  if (!needed) return () => undefined;
  const timer = setInterval(() => undefined, POLLER_WAKE_MS);
  timer.unref();
  return () => clearInterval(timer);
}
