/**
 * One scale's accepted weight (contract.md section 2 "Sessions"): the stable value from a
 * {@link StabilityDetector}, kept until a new stable value differs from it by at least
 * `changeThresholdG` (a **weight change**). Pure: time comes in with each sample.
 */
import type { ScaleFrame } from "../protocol/types.js";
import { unreachable } from "./exhaustive.js";
import { StabilityDetector, type StabilityOptions, type WeightSample } from "./stability.js";
import type { ScaleView } from "./types.js";

export const DEFAULT_CHANGE_THRESHOLD_G = 40;

/** Options of a {@link ScaleTracker}: its scale id, the stability options and the change threshold. */
export type ScaleTrackerOptions = StabilityOptions & {
  /** Config `scales[].id`; stamped on every view. */
  scaleId: string;
  /** Stable values closer than this to the accepted weight are noise (default 40 g). */
  changeThresholdG?: number;
};

/** What one input did to the scale. */
export interface ScaleUpdate {
  /** The scale's view after the input. */
  view: ScaleView;
  /** The accepted weight changed (the first stable value counts): a weight change. */
  changed: boolean;
  /** Anything in the view changed; the runner sends a `scale` input to the session machine then. */
  viewChanged: boolean;
}

/**
 * Tracks one scale: online state, stability and accepted weight. Starts offline with no accepted
 * weight; the runner calls `setOnline(true)` once the port is open. Going offline keeps the accepted
 * weight (a session counts an offline scale with its last accepted weight) and forgets the window.
 */
export class ScaleTracker {
  readonly scaleId: string;
  readonly changeThresholdG: number;
  private readonly detector: StabilityDetector;
  private online = false;
  private stable = false;
  private acceptedG: number | null = null;

  /** @throws RangeError on out-of-range options (config validation prevents that at run time). */
  constructor(options: ScaleTrackerOptions) {
    const { scaleId, changeThresholdG = DEFAULT_CHANGE_THRESHOLD_G, ...stability } = options;
    this.scaleId = scaleId;
    if (!(Number.isFinite(changeThresholdG) && changeThresholdG >= 0)) {
      throw new RangeError(`changeThresholdG must be >= 0, got ${changeThresholdG}`);
    }
    this.changeThresholdG = changeThresholdG;
    this.detector = new StabilityDetector(stability);
  }

  /** A weight sample: judges stability and moves the accepted weight on a weight change. */
  push(sample: WeightSample): ScaleUpdate {
    const before = this.view();
    const result = this.detector.push(sample);
    this.stable = result.stable;
    let changed = false;
    if (result.stable) {
      const value = result.valueG;
      if (this.acceptedG === null || Math.abs(value - this.acceptedG) >= this.changeThresholdG) {
        changed = this.acceptedG !== value;
        this.acceptedG = value;
      }
    }
    return this.update(before, changed);
  }

  /** The indicator says it has no valid weight (`OL`/`LO`): not stable, the window starts again. */
  noWeight(): ScaleUpdate {
    const before = this.view();
    this.detector.reset();
    this.stable = false;
    return this.update(before, false);
  }

  /**
   * The port opened (`true`) or closed / the indicator went silent (`false`). Either way the window
   * starts again; the accepted weight is kept.
   */
  setOnline(online: boolean): ScaleUpdate {
    const before = this.view();
    if (online !== this.online) {
      this.online = online;
      this.detector.reset();
      this.stable = false;
    }
    return this.update(before, false);
  }

  /** Feeds one decoded frame read at `mono` (ms, monotonic); ignored and discarded frames change nothing. */
  pushFrame(frame: ScaleFrame, mono: number): ScaleUpdate {
    switch (frame.kind) {
      case "weight":
        return this.push({ grams: frame.grams, indicatorStable: frame.stable, mono });
      case "no_weight":
        return this.noWeight();
      case "ignored":
      case "discarded":
        return this.update(this.view(), false);
      default:
        return unreachable(frame);
    }
  }

  /** The scale as the session machine sees it (a fresh object); never stable while offline. */
  view(): ScaleView {
    const stable = this.online && this.stable;
    return { scaleId: this.scaleId, online: this.online, stable, acceptedG: this.acceptedG };
  }

  private update(before: ScaleView, changed: boolean): ScaleUpdate {
    const view = this.view();
    const viewChanged =
      view.online !== before.online || view.stable !== before.stable || view.acceptedG !== before.acceptedG;
    return { view, changed, viewChanged };
  }
}
