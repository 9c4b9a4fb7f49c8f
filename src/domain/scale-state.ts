/**
 * One scale's weighing state (contract.md section 2 "Sessions" and "Weights"), as pure functions
 * over plain data: stability over the window, the accepted weight, and the plausibility bounds.
 *
 * - A reading above `capacity_g`, or an indicator's overload / underload frame, is no valid
 *   weight: the window starts again, the scale is not stable and its accepted weight does not
 *   move while it lasts. So is a reading more than `change_threshold_g` below zero, as
 *   `underload`: a bin's gross weight cannot be negative, so the indicator was zeroed under a load
 *   since taken off (or its bin is off the platform), and the climb back to zero must never be
 *   weighed as a deposit. An indicator that flags underload itself does so the same way.
 * - The accepted weight changes only when a new stable value differs from it by at least
 *   `change_threshold_g` (a weight change); it is kept while the scale is offline.
 * - Going offline or coming back forgets the window.
 * - A switch between the indicator's gross and net display (its tare key) starts the window again
 *   and is counted in `tareChanges`: weights on either side are on different bases.
 */
import type { ScaleFrame } from "../protocol/types.js";
import { unreachable } from "./exhaustive.js";
import { initialLink, linkOnline } from "./device-link.js";
import { pushSample, slowestFramePeriodMs } from "./stability.js";
import type { ScaleSpec, ScaleState } from "./station-types.js";
import type { ScaleView } from "./types.js";

/** A scale before its port opened. */
export const initialScale: ScaleState = {
  link: initialLink,
  condition: "offline",
  samples: [],
  stable: false,
  acceptedG: null,
  mode: null,
  tareChanges: 0,
};

/** What one frame did to the scale. */
export interface ScaleFrameResult {
  scale: ScaleState;
  /** The frame was valid (a weight, a no-weight report, or a frame that carries nothing for us). */
  valid: boolean;
  /** The accepted weight moved (the first stable value counts). */
  weightChanged: boolean;
  /** The display switched between gross and net with this frame (a tare set or cleared). */
  tareChanged?: boolean;
}

/**
 * Applies one decoded frame read at `mono`. Frames are used only while the link is online; the
 * caller counts `discarded` frames.
 */
export function applyScaleFrame(scale: ScaleState, frame: ScaleFrame, mono: number, spec: ScaleSpec): ScaleFrameResult {
  switch (frame.kind) {
    case "weight": {
      if (!linkOnline(scale.link)) return { scale, valid: true, weightChanged: false };
      if (spec.capacityG !== null && frame.grams > spec.capacityG) {
        return { scale: withoutValidWeight(scale, "above_capacity"), valid: true, weightChanged: false };
      }
      if (frame.grams < -spec.changeThresholdG) {
        return { scale: withoutValidWeight(scale, "underload"), valid: true, weightChanged: false };
      }
      const slowFrames = nextSlowFrames(scale, mono, spec);
      const tareChanged = scale.mode !== null && frame.mode !== scale.mode;
      const { samples, result } = pushSample(
        tareChanged ? [] : scale.samples,
        { grams: frame.grams, indicatorStable: frame.stable, mono },
        spec.stability,
      );
      let acceptedG = scale.acceptedG;
      if (result.stable && (acceptedG === null || Math.abs(result.valueG - acceptedG) >= spec.changeThresholdG)) {
        acceptedG = result.valueG;
      }
      const tareChanges = scale.tareChanges + (tareChanged ? 1 : 0);
      const base = acceptedG !== scale.acceptedG ? { acceptedTareChanges: tareChanges } : {};
      return {
        scale: { ...scale, condition: "ok", samples, stable: result.stable, acceptedG, mode: frame.mode, tareChanges, ...base, ...slowFrames, lastWeightMono: mono, ...(scale.weightStale === true ? { weightStale: false } : {}) },
        valid: true,
        weightChanged: acceptedG !== scale.acceptedG,
        ...(tareChanged ? { tareChanged } : {}),
      };
    }
    case "no_weight":
      if (!linkOnline(scale.link)) return { scale, valid: true, weightChanged: false };
      return { scale: withoutValidWeight(scale, frame.reason), valid: true, weightChanged: false };
    case "ignored":
      // A frame with no weight (MT-SICS `S I` busy, `Z A`): the right device, speaking. Only that for a
      // whole `silence_timeout_s` after the last weight, and the weight the scale holds is no longer
      // current: no reading, so no session opens on its bin (a bag dropped meanwhile would be paid
      // to whoever holds a session when weights come back).
      if (linkOnline(scale.link) && scale.condition === "ok" && scale.lastWeightMono !== undefined && mono - scale.lastWeightMono >= spec.noValidFramesMs) {
        return { scale: { ...scale, condition: "no_reading", samples: [], stable: false, weightStale: true }, valid: true, weightChanged: false };
      }
      return { scale, valid: true, weightChanged: false };
    case "discarded":
      return { scale, valid: false, weightChanged: false };
    default:
      return unreachable(frame);
  }
}

/**
 * Weight frames in a row that must come this much further apart than the window allows before
 * {@link framesTooSlow} says so: one late frame (a pause of the indicator, a busy line) is no
 * pattern.
 */
export const SLOW_FRAMES_IN_A_ROW = 5;

/**
 * True when the scale's last {@link SLOW_FRAMES_IN_A_ROW} weight frames each came further apart than
 * its window can hold `minSamples` of (`slowestFramePeriodMs`): it can never be stable, so nothing
 * is weighed on its bin. The cure is a longer `stable_window_ms`: see {@link windowNeededMs}.
 */
export function framesTooSlow(scale: ScaleState): boolean {
  return (scale.slowFrames?.count ?? 0) >= SLOW_FRAMES_IN_A_ROW;
}

/**
 * The `stable_window_ms` that holds `minSamples` frames `periodMs` apart with one period to spare
 * (so a frame a little late still fits), rounded up to 100 ms.
 */
export function windowNeededMs(periodMs: number, minSamples: number): number {
  return Math.ceil((Math.max(2, minSamples) * periodMs) / 100) * 100;
}

/**
 * The scale's `slowFrames` after a weight frame read at `mono` (a spread into its next state): the
 * time since the previous sample of the window, when there is one, is compared with the slowest
 * period the window allows. No previous sample (the window was just started again) changes nothing.
 */
function nextSlowFrames(scale: ScaleState, mono: number, spec: ScaleSpec): { slowFrames?: ScaleState["slowFrames"] } {
  const previous = scale.samples[scale.samples.length - 1];
  if (previous === undefined || mono < previous.mono) return {};
  const periodMs = mono - previous.mono;
  if (periodMs > slowestFramePeriodMs(spec.stability)) return { slowFrames: { count: (scale.slowFrames?.count ?? 0) + 1, periodMs } };
  return scale.slowFrames === undefined ? {} : { slowFrames: undefined };
}

function withoutValidWeight(scale: ScaleState, condition: "overload" | "underload" | "above_capacity"): ScaleState {
  if (scale.condition === condition && scale.samples.length === 0 && !scale.stable) return scale;
  return { ...scale, condition, samples: [], stable: false };
}

/** The link changed online state: the window starts again; the accepted weight is kept. */
export function scaleLinkChanged(scale: ScaleState): ScaleState {
  const online = linkOnline(scale.link);
  return { ...scale, condition: online ? "no_reading" : "offline", samples: [], stable: false };
}

/** Overload, underload and above capacity: "no valid weight" (contract section 2 "Weights"); no session opens on it. */
export function noValidWeight(condition: ScaleState["condition"]): boolean {
  return condition === "overload" || condition === "underload" || condition === "above_capacity";
}

/** The scale as the session rules see it: online, stable, accepted weight. Never stable while offline. */
export function scaleView(scaleId: string, scale: ScaleState): ScaleView {
  const online = linkOnline(scale.link);
  return { scaleId, online, stable: online && scale.stable, acceptedG: scale.acceptedG };
}
