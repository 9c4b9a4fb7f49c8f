/**
 * tf-luna: the Benewake TF-Luna time-of-flight lidar's UART output (and the TFmini family's
 * standard 9-byte frame). Source of the layout: shared/protocols/level-sensors.md, "tf-luna"
 * (Benewake TF-Luna product manual, "Serial data format").
 *
 * 115200 8N1 by default. Data frame of 9 bytes: `59 59 Dist_L Dist_H Amp_L Amp_H Temp_L Temp_H CHK`,
 * `CHK = (sum of bytes 0..7) & 0xFF`; distance in centimetres, signal strength `Amp`, temperature
 * `raw / 8 - 256` degrees C. Frames beginning `5A` are command replies (`5A LEN ID DATA… CHK`,
 * `LEN` the whole frame's length, `CHK` the low byte of the sum of the bytes before it). Example:
 * `59 59 64 00 2C 01 00 09 4C` is 100 cm at strength 300 (32 degrees C).
 *
 * Field reports this module follows:
 * - A weak or saturated signal gives no distance: the manual's readings with a strength below about
 *   100, or of 65535, are unreliable and dropped (`min_strength`, default 100). TFmini Plus firmware
 *   then sends distance 0 (ArduPilot/ardupilot#19884), older TFmini firmware 65535 (-1)
 *   (PX4/PX4-Autopilot#19075; opensensinglab/tfmini#2 shows 65535 cm below strength 20): both are
 *   no reading, whatever the strength says.
 * - `59 59` also occurs inside frames (a distance of 22873 cm is `59 59`), and frames with a wrong
 *   checksum happen (opensensinglab/tfmini#6: ERROR_SERIAL_BADCHECKSUM): a candidate whose checksum
 *   is wrong gives up only its first byte, and the bytes after it are read again.
 * - Command replies are well-formed frames that carry no distance: `ignored`, not garbage.
 */
import { z } from "zod";
import { defineProtocol, serial8N1 } from "../device-protocol.js";
import { COMPLETE, MORE, StxFramer, invalidVerdicts, type LayoutVerdict } from "../stx-framer.js";
import type { BufferedFramer, LevelFrame } from "../types.js";
import { byteSum } from "./byte-sum.js";

/** Length of a data frame. */
export const TF_LUNA_FRAME_BYTES = 9;
/** The header byte of a data frame (twice). */
export const TF_LUNA_HEADER = 0x59;
/** The first byte of a command reply. */
export const TF_LUNA_REPLY = 0x5a;
/** Shortest command reply: head, length, id, checksum. */
const REPLY_MIN_BYTES = 4;
/** Longest command reply the framer waits for (the manual's replies are 5 to 8 bytes). */
export const TF_LUNA_MAX_REPLY_BYTES = 16;
/** Default `min_strength` (level-sensors.md: readings weaker than about 100 are unreliable). */
export const TF_LUNA_MIN_STRENGTH = 100;
/** The strength the sensor reports when its receiver saturates: unreliable. */
const SATURATED = 0xffff;
/** A distance the TFmini family sends for "no distance" (-1 as an unsigned 16-bit value). */
const NO_DISTANCE = 0xffff;
/** Temperature the encoder writes: 25 degrees C, `(25 + 256) * 8`. */
const ENCODED_TEMPERATURE_RAW = (25 + 256) * 8;

const VERDICTS = invalidVerdicts(["bad checksum", "missing second header byte 59", "bad command reply length"]);

/**
 * Decodes one whole tf-luna frame.
 *
 * @param frame a 9-byte data frame (`59 59` …) or a command reply (`5A` …)
 * @param minStrength readings with a weaker signal are no reading
 * @returns `distance` (centimetres as mm, with strength and temperature); `no_reading` for a
 *   strength below `minStrength` or of 65535 and for a distance of 0 or 65535; `ignored` for a
 *   command reply; `discarded` with the bytes and the reason otherwise. Never throws.
 */
export function decodeTfLuna(frame: Uint8Array, minStrength: number = TF_LUNA_MIN_STRENGTH): LevelFrame {
  const discard = (reason: string): LevelFrame => ({ kind: "discarded", bytes: frame.slice(), reason });
  const n = frame.length;
  if (frame[0] === TF_LUNA_REPLY && n >= REPLY_MIN_BYTES) {
    if (frame[1] !== n) return discard("wrong command reply length");
    if (byteSum(frame, n - 1) !== frame[n - 1]) return discard("bad checksum");
    return { kind: "ignored", reason: `command reply (id ${(frame[2] ?? 0).toString(16).toUpperCase().padStart(2, "0")})` };
  }
  if (n !== TF_LUNA_FRAME_BYTES) return discard("wrong frame length");
  if (frame[0] !== TF_LUNA_HEADER || frame[1] !== TF_LUNA_HEADER) return discard("missing header 59 59");
  if (byteSum(frame, 8) !== frame[8]) return discard("bad checksum");
  const cm = (frame[2] ?? 0) | ((frame[3] ?? 0) << 8);
  const strength = (frame[4] ?? 0) | ((frame[5] ?? 0) << 8);
  const temperatureC = ((frame[6] ?? 0) | ((frame[7] ?? 0) << 8)) / 8 - 256;
  if (strength === SATURATED) return { kind: "no_reading", reason: "signal saturated (strength 65535)" };
  if (strength < minStrength) return { kind: "no_reading", reason: `signal too weak (strength ${strength} below min_strength ${minStrength})` };
  if (cm === 0 || cm === NO_DISTANCE) return { kind: "no_reading", reason: `no distance (${cm} cm)` };
  return { kind: "distance", mm: cm * 10, strength, temperatureC };
}

/**
 * Encodes a measurement as one tf-luna data frame (simulators and tests): the distance rounded half
 * up to whole centimetres, the strength as given (default 1000), 25 degrees C.
 *
 * @returns 9 bytes
 * @throws RangeError when the distance is not 0..655340 mm or the strength not an integer 0..65535
 */
export function encodeTfLuna(sample: { mm: number; strength?: number }): Uint8Array {
  const { mm, strength = 1000 } = sample;
  const cm = Math.round(mm / 10);
  if (!Number.isFinite(mm) || cm < 0 || cm > 0xffff) throw new RangeError(`tf-luna sends 0..65535 cm, got ${mm} mm`);
  if (!Number.isInteger(strength) || strength < 0 || strength > 0xffff) throw new RangeError(`tf-luna strength is 0..65535, got ${strength}`);
  const t = ENCODED_TEMPERATURE_RAW;
  const frame = Uint8Array.of(TF_LUNA_HEADER, TF_LUNA_HEADER, cm & 0xff, cm >> 8, strength & 0xff, strength >> 8, t & 0xff, t >> 8, 0);
  frame[8] = byteSum(frame, 8);
  return frame;
}

/** Judges a candidate frame after its last byte (see StxLayout.check). */
function check(frame: Uint8Array, length: number): LayoutVerdict {
  if (frame[0] === TF_LUNA_REPLY) {
    const total = frame[1] ?? 0;
    if (length === 2) return total >= REPLY_MIN_BYTES && total <= TF_LUNA_MAX_REPLY_BYTES ? MORE : VERDICTS["bad command reply length"];
    if (length < total) return MORE;
    return byteSum(frame, total - 1) === frame[total - 1] ? COMPLETE : VERDICTS["bad checksum"];
  }
  if (length === 2) return frame[1] === TF_LUNA_HEADER ? MORE : VERDICTS["missing second header byte 59"];
  if (length < TF_LUNA_FRAME_BYTES) return MORE;
  return byteSum(frame, 8) === frame[8] ? COMPLETE : VERDICTS["bad checksum"];
}

/**
 * A framer for a tf-luna stream: data frames opened by `59 59` and command replies opened by `5A`,
 * each checked by its checksum and decoded with {@link decodeTfLuna}. A candidate that breaks gives
 * up its first byte only (the next bytes are read again); bytes outside frames become `discarded`
 * values. Memory: at most 256 + 16 bytes.
 */
export function createTfLunaFramer(minStrength: number = TF_LUNA_MIN_STRENGTH): BufferedFramer<LevelFrame> {
  return new StxFramer<LevelFrame>({
    maxFrameBytes: TF_LUNA_MAX_REPLY_BYTES,
    startBytes: [TF_LUNA_HEADER, TF_LUNA_REPLY],
    noStartReason: "no start byte (59 or 5A)",
    check,
    decode: (frame) => decodeTfLuna(frame, minStrength),
  });
}

/**
 * The tf-luna registry entry (shared/protocols/level-sensors.md, "tf-luna"): option `min_strength`
 * (default 100); 8N1 at 115200 baud (the TF-Luna's default). Its encoder writes `mm` in whole cm and
 * `strength` (default 1000).
 */
export const tfLuna = defineProtocol({
  name: "tf-luna",
  kind: "level",
  summary: "Benewake TF-Luna (and TFmini family) time-of-flight lidar, UART output (9-byte 59 59 frames, cm, strength)",
  source: "shared/protocols/level-sensors.md, tf-luna",
  port: serial8N1(115200),
  defaults: {},
  options: z.object({
    min_strength: z
      .int()
      .min(0)
      .max(65535)
      .default(TF_LUNA_MIN_STRENGTH)
      .describe("Weaker readings (signal strength Amp below this) are dropped as unreliable; 65535 is always dropped."),
  }),
  createFramer: (options) => createTfLunaFramer(options.min_strength),
  decode: (frame, options) => decodeTfLuna(frame, options.min_strength),
  encode: (sample) => encodeTfLuna(sample),
});
