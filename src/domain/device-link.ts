/**
 * A device's link as the station judges it (contract.md section 4, the alarm rules and
 * "No valid frames"): the port adapter says whether the port is open; the bytes say whether the
 * right device speaks the configured protocol. Pure functions over {@link DeviceLink}.
 *
 * - A device is `starting` until its port first opens or fails, `offline` while its port is
 *   closed or by the "no valid frames" rule, `online` otherwise.
 * - "No valid frames": offline with reason `no valid frames` when, over the last window
 *   (`silence_timeout_s` for scales, `no_valid_frames_s` for readers), it delivered at least
 *   {@link NO_VALID_FRAMES_MIN_BYTES} bytes ({@link POLLED_NO_VALID_FRAMES_MIN_BYTES} for a device the
 *   station polls) and not one valid frame. The window is judged only
 *   once the device has been open, or valid, for a whole window (a boot banner right after the
 *   port opens is not a verdict). Online again at its next valid frame.
 * - Alarms mark changes of the reported state: a clean start (starting -> online) is none; a
 *   device missing at start is `…_offline`; `…_online` follows an `…_offline`.
 * - A streaming device (a scale, a level sensor: `confirmByFrame`) whose port reopens after it was
 *   reported offline is online again only at its first valid frame: until then it is offline with
 *   reason {@link AWAITING_FRAME_REASON}, or `no valid frames` once the rule holds. So a path that
 *   now leads to another device (issue 9, item 4) is never reported back online: one
 *   `…_offline` for the outage, and its status says why it stays offline. A reader is online as
 *   soon as its port opens: it is quiet until a card is shown, and quiet is not offline.
 */
import type { DeviceLink, DeviceState, InvalidBytes, LineNoise } from "./station-types.js";

/** Contract section 4: at least this many bytes over the window, and not one valid frame. */
export const NO_VALID_FRAMES_MIN_BYTES = 64;

/**
 * The same minimum for a device the station polls (`ScaleSpec.polled`): it speaks only to answer, a
 * few bytes per request (MT-SICS `ES`: 4 bytes; a Modbus exception: 5; an RS-485 adapter's echo of
 * the request: 8), so at a `poll_ms` of 1 s a whole window of error answers stayed under 64 bytes and
 * the scale stayed online with its last weight. Any byte over the window, with not one valid frame,
 * is the verdict for it.
 */
export const POLLED_NO_VALID_FRAMES_MIN_BYTES = 1;

/** The reason text of the rule (contract section 4). */
export const NO_VALID_FRAMES_REASON = "no valid frames";

/** Why a reopened streaming device is still offline before its first valid frame. */
export const AWAITING_FRAME_REASON = "port reopened, no valid frame yet";

/** A link before anything is known. */
export const initialLink: DeviceLink = {
  port: "unknown",
  portReason: null,
  noValidFrames: false,
  openedMono: null,
  lastValidMono: null,
  invalid: [],
  discardedBytes: 0,
  reported: "unknown",
};

/** The state the status reports. */
export function linkState(link: DeviceLink): DeviceState {
  if (link.port === "unknown") return "starting";
  if (link.port === "closed" || link.noValidFrames || link.awaitingFrame === true) return "offline";
  return "online";
}

/** True when frames may be used (the port is open and the rule does not hold it offline). */
export function linkOnline(link: DeviceLink): boolean {
  return linkState(link) === "online";
}

/** Why the link is offline (for the alarm's `reason`), `null` when it is not. */
export function offlineReason(link: DeviceLink): string | null {
  if (link.port === "closed") return link.portReason ?? "port closed";
  if (link.noValidFrames) return NO_VALID_FRAMES_REASON;
  if (link.awaitingFrame === true) return AWAITING_FRAME_REASON;
  return null;
}

/**
 * The port opened (`open`) or closed/failed/went silent (`closed`, with the adapter's reason).
 *
 * @param opts.confirmByFrame the device streams (scales, level sensors): after an outage that was
 *   reported, it is online again only at its first valid frame
 */
export function portChanged(
  link: DeviceLink,
  state: "open" | "closed",
  mono: number,
  reason?: string,
  opts: { confirmByFrame?: boolean } = {},
): DeviceLink {
  if (state === "open") {
    const awaitingFrame = opts.confirmByFrame === true && link.reported === "offline";
    return { ...link, port: "open", portReason: null, openedMono: mono, invalid: [], discardedBytes: 0, awaitingFrame };
  }
  const { noise: _judgedOnTheOpenPort, ...rest } = link;
  return { ...rest, port: "closed", portReason: reason ?? "port closed", invalid: [], discardedBytes: 0 };
}

/** The noisy-line rule: windows of this many ms... */
export const NOISY_WINDOW_MS = 10_000;
/** ...with at least this many discarded bytes... */
export const NOISY_MIN_DISCARDED_BYTES = 256;
/** ...making at least this share of the window's bytes. */
export const NOISY_SHARE = 0.25;
/** At most one warning per device this often (ms). */
export const NOISY_WARN_EVERY_MS = 60_000;

/** The outcome of one chunk for the noisy-line rule. */
export interface NoiseVerdict {
  noise: LineNoise;
  /** The line became noisy or clean (the status changes). */
  changed: boolean;
  /** A warning to give now (rate-limited), with the window's figures. */
  warn: { bytes: number; discarded: number } | null;
}

/**
 * The noisy-line rule (issue 9, "Bad input": a line flooded with garbage is reported, status and a
 * rate-limited warning, not silent): at the end of each {@link NOISY_WINDOW_MS} window, the line
 * is noisy when at least {@link NOISY_MIN_DISCARDED_BYTES} bytes and {@link NOISY_SHARE} of its
 * bytes were discarded, even while valid frames still come (a bad cable, a missing ground, a
 * motor's interference), and clean again after a window below that. A window is judged by the
 * first chunk after it ends; a port that closes forgets the judgement.
 */
export function lineNoiseJudged(noise: LineNoise | undefined, chunk: { bytes: number; discardedBytes: number; mono: number }): NoiseVerdict {
  let n: LineNoise = noise ?? { windowStart: chunk.mono, bytes: 0, discarded: 0, noisy: null, warnedMono: null };
  let changed = false;
  let warn: NoiseVerdict["warn"] = null;
  if (chunk.mono - n.windowStart >= NOISY_WINDOW_MS) {
    const isNoisy = n.discarded >= NOISY_MIN_DISCARDED_BYTES && n.discarded >= NOISY_SHARE * n.bytes;
    // A framer discards bytes it held when it gives up on them, which can be in a later window than
    // their arrival: the figures shown never claim more discarded bytes than arrived.
    const noisy = isNoisy ? { bytes: n.bytes, discarded: Math.min(n.discarded, n.bytes) } : null;
    changed = (noisy === null) !== (n.noisy === null);
    let warnedMono = n.warnedMono;
    if (noisy !== null && (warnedMono === null || chunk.mono - warnedMono >= NOISY_WARN_EVERY_MS)) {
      warn = noisy;
      warnedMono = chunk.mono;
    }
    n = { windowStart: chunk.mono, bytes: 0, discarded: 0, noisy, warnedMono };
  }
  return { noise: { ...n, bytes: n.bytes + chunk.bytes, discarded: n.discarded + chunk.discardedBytes }, changed, warn };
}

/** The outcome of one chunk for the link. */
export interface ChunkVerdict {
  link: DeviceLink;
  /** The rule has just taken the device offline: warn once, with `discardedBytes`. */
  wentInvalid: boolean;
}

/**
 * One chunk of `bytes` bytes arrived at `mono`, of which `validFrames` frames were valid and
 * `discardedBytes` bytes were discarded (noise and undecodable frames).
 */
export function chunkArrived(
  link: DeviceLink,
  chunk: { bytes: number; validFrames: number; discardedBytes: number; mono: number },
  windowMs: number,
  minBytes: number = NO_VALID_FRAMES_MIN_BYTES,
): ChunkVerdict {
  if (chunk.validFrames > 0) {
    if (
      link.lastValidMono === chunk.mono &&
      !link.noValidFrames &&
      link.awaitingFrame !== true &&
      link.invalid.length === 0 &&
      link.discardedBytes === 0
    ) {
      return { link, wentInvalid: false };
    }
    return {
      link: { ...link, noValidFrames: false, awaitingFrame: false, lastValidMono: chunk.mono, invalid: [], discardedBytes: 0 },
      wentInvalid: false,
    };
  }
  const second = Math.floor(chunk.mono / 1000);
  const oldest = Math.floor((chunk.mono - windowMs) / 1000);
  const invalid: InvalidBytes[] = [];
  for (const b of link.invalid) if (b.second > oldest) invalid.push(b);
  const last = invalid[invalid.length - 1];
  if (last !== undefined && last.second === second) invalid[invalid.length - 1] = { second, bytes: last.bytes + chunk.bytes };
  else invalid.push({ second, bytes: chunk.bytes });
  const discardedBytes = link.discardedBytes + chunk.discardedBytes;
  let noValidFrames = link.noValidFrames;
  let wentInvalid = false;
  if (!noValidFrames) {
    const since = Math.max(link.openedMono ?? chunk.mono, link.lastValidMono ?? -Infinity);
    let total = 0;
    for (const b of invalid) total += b.bytes;
    if (chunk.mono - since >= windowMs && total >= minBytes) {
      noValidFrames = true;
      wentInvalid = true;
    }
  }
  return { link: { ...link, invalid, discardedBytes, noValidFrames }, wentInvalid };
}

/** An alarm to raise for a change of the reported state, if any. */
export type LinkAlarm = { state: "offline"; reason: string } | { state: "online" } | null;

/**
 * Compares the link's state with what was last reported; returns the link with the new report and
 * the alarm it calls for. `starting` is never reported.
 */
export function reportLink(link: DeviceLink): { link: DeviceLink; alarm: LinkAlarm } {
  const state = linkState(link);
  if (state === "starting" || state === link.reported) return { link, alarm: null };
  const was = link.reported;
  const next = { ...link, reported: state };
  if (state === "offline") return { link: next, alarm: { state: "offline", reason: offlineReason(link) ?? "offline" } };
  return { link: next, alarm: was === "offline" ? { state: "online" } : null };
}
