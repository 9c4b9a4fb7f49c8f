/**
 * dyp-a02: the DYP-A02 / DFRobot A02YYUW (and A01NYUB) ultrasonic distance sensor's UART output.
 * Source of the layout: shared/protocols/level-sensors.md, "dyp-a02" (DFRobot A02YYUW wiki; ESPHome
 * `a02yyuw` component).
 *
 * 4 bytes, 9600 8N1, sensor to gateway, about every 100 ms in real-time mode: `FF`, `DATA_H`,
 * `DATA_L`, `SUM` with `SUM = (0xFF + DATA_H + DATA_L) & 0xFF`; distance `DATA_H * 256 + DATA_L`
 * millimetres. Example: `FF 07 A1 A7` is 1953 mm.
 *
 * Field reports this module follows:
 * - The start byte `FF` also occurs inside frames (`DATA_L` or `SUM` may be `FF`), and frames with a
 *   wrong sum happen on real lines: ESPHome's `a02yyuw` component logs "checksum failed" and drops
 *   the four bytes (esphome/esphome, esphome/components/a02yyuw/a02yyuw.cpp). Here a candidate
 *   whose sum is wrong gives up only its `FF`, and the bytes after it are read again for the next
 *   `FF`, so a frame that a stray `FF` opened early is still found.
 * - With nothing in range (no echo), the A02YYUW sends 0 mm (esphome/issues#6394, "Ultrasonic
 *   A02YYUW errors when no object in front of sensor"; DFRobot/pxt-maqueen#7: 0 when there is no
 *   obstacle within range): 0 is no reading, never "something touches the sensor".
 * - Readings in the blind zone are not distances: the A02YYUW's datasheet range is 30 to 4500 mm,
 *   and ESPHome's component logs "Invalid data read from sensor" for anything up to 280 mm (the
 *   A01NYUB's blind zone). Readings below `min_mm` or above `max_mm` are no reading.
 * - Single readings jump (a hand, a bag falling through): the station judges a bin on a median over
 *   several readings (src/domain/level-state.ts), never on one frame.
 */
import { z } from "zod";
import { defineProtocol, serial8N1 } from "../device-protocol.js";
import { COMPLETE, MORE, StxFramer, invalidVerdicts, type LayoutVerdict } from "../stx-framer.js";
import type { BufferedFramer, LevelFrame } from "../types.js";
import { byteSum } from "./byte-sum.js";

/** Length of one frame. */
export const DYP_A02_FRAME_BYTES = 4;
/** The frame's first byte. */
export const DYP_A02_START = 0xff;
/** Default `min_mm`: the A02YYUW's blind zone (datasheet: range 30 to 4500 mm). */
export const DYP_A02_MIN_MM = 30;
/** Default `max_mm`: the A02YYUW's range. */
export const DYP_A02_MAX_MM = 4500;

const FF_AFTER_START = "FF after the start byte (a frame boundary read in the wrong place)";
const VERDICTS = invalidVerdicts(["bad checksum", FF_AFTER_START]);

/** Limits of a usable distance (the protocol's options). */
export interface DypA02Limits {
  /** Readings below this (mm) are no reading (the blind zone). */
  minMm: number;
  /** Readings above this (mm) are no reading (beyond the range). */
  maxMm: number;
}

/**
 * Decodes one whole dyp-a02 frame.
 *
 * @param frame exactly 4 bytes, `FF` first
 * @returns `distance` in mm (no strength or temperature: the frame carries none); `no_reading` for
 *   0 mm (no echo) and for readings outside `limits`; `discarded` with the bytes and the reason for a
 *   wrong length, start byte or sum. Never throws.
 */
export function decodeDypA02(frame: Uint8Array, limits: DypA02Limits = { minMm: DYP_A02_MIN_MM, maxMm: DYP_A02_MAX_MM }): LevelFrame {
  const discard = (reason: string): LevelFrame => ({ kind: "discarded", bytes: frame.slice(), reason });
  if (frame.length !== DYP_A02_FRAME_BYTES) return discard("wrong frame length");
  if (frame[0] !== DYP_A02_START) return discard("missing start byte FF");
  if (byteSum(frame, 3) !== frame[3]) return discard("bad checksum");
  const mm = (frame[1] ?? 0) * 256 + (frame[2] ?? 0);
  if (mm === 0) return { kind: "no_reading", reason: "no echo (0 mm: nothing in range)" };
  if (mm < limits.minMm) return { kind: "no_reading", reason: `${mm} mm is in the blind zone (below min_mm ${limits.minMm})` };
  if (mm > limits.maxMm) return { kind: "no_reading", reason: `${mm} mm is beyond the range (above max_mm ${limits.maxMm})` };
  return { kind: "distance", mm, strength: null, temperatureC: null };
}

/**
 * Encodes a distance as one dyp-a02 frame, as the sensor sends it (simulators and tests).
 *
 * @returns 4 bytes
 * @throws RangeError when `mm` is not an integer from 0 to 65535
 */
export function encodeDypA02(mm: number): Uint8Array {
  if (!Number.isInteger(mm) || mm < 0 || mm > 0xffff) throw new RangeError(`dyp-a02 sends 0..65535 mm, got ${mm}`);
  const frame = Uint8Array.of(DYP_A02_START, mm >> 8, mm & 0xff, 0);
  frame[3] = byteSum(frame, 3);
  return frame;
}

/**
 * A framer for a dyp-a02 stream: `FF`-synchronised 4-byte frames, each checked by its sum and decoded
 * with {@link decodeDypA02}. A candidate with a wrong sum gives up its `FF` only (the next bytes are
 * read again); bytes outside frames become `discarded` values. Memory: at most 256 + 4 bytes.
 * A candidate whose `DATA_H` is `FF` (65280 mm or more, far beyond any of these sensors' 4.5-7.5 m)
 * gives up its `FF` too: a steady 511 mm is `FF 01 FF FF`, and read from its second `FF` the stream
 * is `FF FF 01 FF`, whose sum is right too, so a port opened mid-frame would stay misaligned and
 * never read 511 mm.
 */
export function createDypA02Framer(limits?: DypA02Limits): BufferedFramer<LevelFrame> {
  return new StxFramer<LevelFrame>({
    maxFrameBytes: DYP_A02_FRAME_BYTES,
    startBytes: [DYP_A02_START],
    noStartReason: "no start byte (FF)",
    check(frame, length): LayoutVerdict {
      if (length >= 2 && frame[1] === DYP_A02_START) return VERDICTS[FF_AFTER_START];
      if (length < DYP_A02_FRAME_BYTES) return MORE;
      return byteSum(frame, 3) === frame[3] ? COMPLETE : VERDICTS["bad checksum"];
    },
    decode: (frame) => decodeDypA02(frame, limits),
  });
}

const millimetres = (what: string, fallback: number) =>
  z.int().min(0).max(0xffff).default(fallback).describe(what);

/**
 * The dyp-a02 registry entry (shared/protocols/level-sensors.md, "dyp-a02"): options `min_mm` and
 * `max_mm`, the usable range (defaults 30 and 4500: the A02YYUW's datasheet); 8N1 at 9600 baud.
 * Its encoder writes `mm` (and ignores `strength`: the frame has none).
 */
export const dypA02 = defineProtocol({
  name: "dyp-a02",
  kind: "level",
  summary: "DYP-A02 / DFRobot A02YYUW / A01NYUB ultrasonic distance sensor, UART output (4-byte FF frames, mm)",
  source: "shared/protocols/level-sensors.md, dyp-a02",
  port: serial8N1(9600),
  defaults: {},
  options: z.object({
    min_mm: millimetres(
      "Millimetres: shorter readings are the sensor's blind zone, no reading (A02YYUW datasheet: 30; A01NYUB: 280).",
      DYP_A02_MIN_MM,
    ),
    max_mm: millimetres("Millimetres: longer readings are beyond the sensor's range, no reading (A02YYUW: 4500).", DYP_A02_MAX_MM),
  }),
  createFramer: (options) => createDypA02Framer({ minMm: options.min_mm, maxMm: options.max_mm }),
  decode: (frame, options) => decodeDypA02(frame, { minMm: options.min_mm, maxMm: options.max_mm }),
  encode: (sample) => encodeDypA02(sample.mm),
});
