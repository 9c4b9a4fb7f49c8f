/**
 * Shared shapes of the protocol layer: framers turn serial bytes into frames, decoders turn one
 * whole frame into a typed value. Pure: no timers, no I/O, no wall clock.
 */

/** A value decoded from one weighing-indicator frame. Weights are integer grams. */
export type ScaleFrame =
  | {
      kind: "weight";
      /** Displayed weight converted to integer grams, rounded half away from zero. */
      grams: number;
      /** The indicator's own stability flag; `null` when the protocol carries none (yaohua-a9). */
      stable: boolean | null;
      /** Which value the indicator displays. */
      mode: "gross" | "net";
    }
  /** The indicator says it has no valid weight (overload `OL`, underload `LO`). */
  | { kind: "no_weight"; reason: "overload" | "underload" }
  /** A well-formed frame that carries nothing for us (e.g. a `TR` tare frame). */
  | { kind: "ignored"; reason: string }
  /** Bytes that could not be framed or decoded, with the reason. Counted and logged, never thrown. */
  | { kind: "discarded"; bytes: Uint8Array; reason: string };

/** A value decoded from one identification-reader frame. */
export type ReaderFrame =
  | { kind: "id"; cardId: string }
  /** A well-formed frame that is known noise (an EM4100 tag whose data bytes are all 00 or all FF). */
  | { kind: "noise"; bytes: Uint8Array; reason: string }
  | { kind: "discarded"; bytes: Uint8Array; reason: string };

/**
 * A value decoded from one fill-level sensor frame (shared/protocols/level-sensors.md). Distances
 * are integer millimetres from the sensor's face.
 */
export type LevelFrame =
  | {
      kind: "distance";
      /** Distance to the nearest surface, integer millimetres (tf-luna's centimetres times 10). */
      mm: number;
      /** The signal strength the sensor reports (tf-luna `Amp`); `null` when the frame carries none. */
      strength: number | null;
      /** The sensor's chip temperature in degrees C (tf-luna); `null` when the frame carries none. */
      temperatureC: number | null;
    }
  /**
   * A well-formed frame whose distance the sensor itself marks as unusable (no echo, out of range,
   * a signal too weak): counted as a sign of life, never used as a reading.
   */
  | { kind: "no_reading"; reason: string }
  /** A well-formed frame that carries nothing for us (a tf-luna `5A` command reply). */
  | { kind: "ignored"; reason: string }
  | { kind: "discarded"; bytes: Uint8Array; reason: string };

/**
 * A stateful framer for one serial stream. `push` takes the next chunk (any size, split anywhere)
 * and returns the frames completed so far, in order. It keeps only unread bytes, bounded in size,
 * and never throws on bad input.
 */
export interface Framer<T> {
  push(chunk: Uint8Array): T[];
}

/**
 * Weight units a scale may be configured with (config `scales[].unit`, contract.md section 2:
 * `g | kg | lb`), for frames that carry no unit.
 */
export const WEIGHT_UNITS = ["g", "kg", "lb"] as const;
/** One of {@link WEIGHT_UNITS}. */
export type WeightUnit = (typeof WEIGHT_UNITS)[number];

/** The `discarded` member shared by every frame union: unusable bytes and why. */
export type Discarded = { kind: "discarded"; bytes: Uint8Array; reason: string };

/**
 * A framer that also reports how many unread bytes it holds. The count is bounded per protocol (a
 * few hundred bytes at most), whatever the input; tests and device diagnostics read it.
 */
export interface BufferedFramer<T> extends Framer<T> {
  /** Bytes received but not yet returned in any frame or discarded value. */
  readonly bufferedBytes: number;
}
