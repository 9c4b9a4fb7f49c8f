/**
 * toledo-continuous: the Mettler Toledo standard continuous output, emulated by many indicators.
 * Sources: shared/protocols/scales.md, section "toledo-continuous" (the layout, SWA decimal codes,
 * SWB bits 0-4, SWC bit 0, the checksum, 7E1); the manuals of indicators that send it, where
 * scales.md leaves a detail open:
 * - Mettler Toledo IND445 user manual, 5.2.2 and Rockwell 1771 Toledo scale interface module,
 *   appendix D: the checksum is the two's complement of the sum of the low 7 bits of every byte
 *   from STX through CR (so the parity bit never counts);
 * - Cardinal 225 manual, "Toledo (Type=2)": formats with and without the six tare digits ("8530"
 *   and "SHORT"), each with or without the checksum;
 * - Ohaus Defender 5000 manual, Toledo status bytes: SWC bits 0-2 are a unit code (000 lb/kg per
 *   SWB bit 4, 001 g, 010 t, 011 oz, 110 ton, 111 none) and bit 4 "expand data x10";
 * - Fairbanks FB2550 manual, Toledo data format: SWB bit 6 set while the indicator powers up;
 *   Rice Lake 880 manual, Toledo 8142 stream: SWB bit 2 "in/out-of-range".
 * SWA code 000 (XXXX00) is read as the six digits times 100 (the trailing zeros are not sent), as a
 * field parser of this frame does (a Rust one, with exponent 2 - (SWA & 7) and bytes masked to 7 bits).
 * What is not known is not guessed: SWB bit 2 is "out of range" (reported as underload when SWB also
 * says negative), and a frame with SWC's expand bit or a unit code without a unit we know is discarded.
 *
 * Frame: STX, SWA, SWB, SWC, six weight digits (no sign, no decimal point), six tare digits, CR, then
 * the checksum byte when the indicator is set to send it. SWA bits 0-2 place the decimal point
 * (000 XXXX00, 001 XXXXX0, 010 XXXXXX, 011 XXXXX.X, …, 111 X.XXXXX). SWB: bit 0 net, bit 1
 * negative, bit 2 out of range, bit 3 motion, bit 4 kg (else lb). The checksum byte may itself be a
 * control character (even STX or CR), so frames are cut by position from their STX, never as lines.
 */
import { z } from "zod";
import { CR, SPACE, STX, isDecimalDigit } from "../bytes.js";
import { defineProtocol, serialFormat, type CharacterFormat } from "../device-protocol.js";
import { type DisplayUnit, displayedToGrams, gramsToDisplayed } from "../grams.js";
import { COMPLETE, MORE, StxFramer, invalidVerdicts, type LayoutVerdict } from "../stx-framer.js";
import type { BufferedFramer, ScaleFrame } from "../types.js";

const SWA = 1;
const SWB = 2;
const SWC = 3;
const FIRST_DIGIT = 4;
const LAST_DIGIT = 9;
/** Where the short format (no tare) has its CR, and the long format its first tare digit. */
const SHORT_CR = 10;
const LONG_CR = 16;
/** The longest frame: STX, three status bytes, 6 + 6 digits, CR, checksum. */
export const TOLEDO_MAX_FRAME_BYTES = 18;

/** A device's frame options (the `checksum` and `character_format` config options). */
export interface ToledoOptions {
  /** Whether a checksum byte follows the CR (set on the indicator). */
  checksum: boolean;
  /**
   * `7E1`: bytes are read as their low 7 bits (a port opened 8N1 delivers the parity bit in bit 7);
   * `8N1`: a byte with bit 7 set breaks the frame.
   */
  characterFormat: CharacterFormat;
}

/** The byte as the layout reads it: its 7 data bits in 7E1. */
function dataBits(b: number, format: CharacterFormat): number {
  return format === "7E1" ? b & 0x7f : b;
}

/** The frame's length, once its byte 11 says which format it is: CR there is the short one. */
function frameLength(frame: Uint8Array, options: ToledoOptions): number {
  const short = dataBits(frame[SHORT_CR] ?? 0, options.characterFormat) === CR;
  return (short ? SHORT_CR + 1 : LONG_CR + 1) + (options.checksum ? 1 : 0);
}

/** True when byte `i` of the weight or tare digits is a digit, or a space before any digit. */
function digitOk(frame: Uint8Array, i: number, first: number, format: CharacterFormat): boolean {
  const b = dataBits(frame[i] ?? 0, format);
  if (isDecimalDigit(b)) return true;
  // Tolerated variant: spaces instead of leading zeros (scales.md preamble); the last is a digit.
  const last = first + 5;
  return b === SPACE && i < last && (i === first || dataBits(frame[i - 1] ?? 0, format) === SPACE);
}

/** Why a candidate frame breaks the layout. */
const PROBLEMS = [
  "missing STX",
  "byte with bit 7 set (7E1 data read as 8N1?)",
  "bad weight digit",
  "bad tare digit or missing CR",
  "missing CR",
  "frame too long",
] as const;
type Problem = (typeof PROBLEMS)[number];
const INVALID = invalidVerdicts(PROBLEMS);

/** Why byte `i` (0-based) of a candidate frame is wrong, or undefined when it fits the layout. */
function byteProblem(frame: Uint8Array, i: number, options: ToledoOptions): Problem | undefined {
  const format = options.characterFormat;
  const b = dataBits(frame[i] ?? -1, format);
  if (i === 0) return b === STX ? undefined : "missing STX";
  if (b > 0x7f) return "byte with bit 7 set (7E1 data read as 8N1?)";
  if (i <= SWC) return undefined;
  if (i <= LAST_DIGIT) return digitOk(frame, i, FIRST_DIGIT, format) ? undefined : "bad weight digit";
  const length = frameLength(frame, options);
  if (i === SHORT_CR && length <= SHORT_CR + 2) return undefined;
  if (i < LONG_CR && length > LONG_CR) {
    return digitOk(frame, i, SHORT_CR, format) ? undefined : "bad tare digit or missing CR";
  }
  if (i === LONG_CR && length > LONG_CR) return b === CR ? undefined : "missing CR";
  return i === length - 1 && options.checksum ? undefined : "frame too long";
}

/** The value of six digit bytes (leading spaces as zeros). */
function digitsValue(frame: Uint8Array, first: number, format: CharacterFormat): number {
  let v = 0;
  for (let i = first; i < first + 6; i++) {
    const b = dataBits(frame[i] ?? SPACE, format);
    v = v * 10 + (b === SPACE ? 0 : b - 0x30);
  }
  return v;
}

/** The checksum byte that makes the low 7 bits of every byte from STX through it sum to 0 mod 128. */
function checksumOf(frame: Uint8Array, through: number): number {
  let sum = 0;
  for (let i = 0; i <= through; i++) sum += (frame[i] ?? 0) & 0x7f;
  return -sum & 0x7f;
}

/** The unit of SWC bits 0-2 (and SWB bit 4), or why there is none we can weigh in. */
function unitOf(swb: number, swc: number): { unit: DisplayUnit } | { problem: string } {
  const code = swc & 0x07;
  switch (code) {
    case 0:
      return { unit: swb & 0x10 ? "kg" : "lb" };
    case 1:
      return { unit: "g" };
    case 2:
      return { unit: "t" };
    case 3:
      return { unit: "oz" };
    case 6:
      return { problem: "unsupported unit (short ton, SWC code 110)" };
    case 7:
      return { problem: "no unit (SWC code 111)" };
    default:
      return { problem: `unknown unit code ${code.toString(2).padStart(3, "0")} in SWC` };
  }
}

/**
 * Decodes one whole toledo-continuous frame.
 *
 * @param frame STX to CR, plus the checksum byte when `options.checksum`: 17 or 18 bytes, or 11 or 12
 *   in the short format without tare
 * @returns `no_weight` when SWB says out of range (`underload` when it also says negative, else
 *   `overload`); `ignored` while SWB bit 6 says the indicator is powering up (no zero yet); else
 *   `weight`: the six digits at SWA's decimal position, in SWC's (or SWB's kg/lb) unit, converted
 *   exactly to integer grams rounded half away from zero, negative per SWB bit 1, `stable` unless
 *   SWB says motion, `net` per SWB bit 0. `discarded` with the frame and the reason for a broken
 *   layout, a bad checksum, a unit we cannot weigh in, or SWC's "expand x10" (its resolution is not
 *   in the frame). Never throws.
 */
export function decodeToledo(frame: Uint8Array, options: ToledoOptions): ScaleFrame {
  if (frame.length < SHORT_CR + 1 || frame.length !== frameLength(frame, options)) return discarded(frame, "wrong frame length");
  for (let i = 0; i < frame.length; i++) {
    const problem = byteProblem(frame, i, options);
    if (problem !== undefined) return discarded(frame, problem);
  }
  return readFrame(frame, options);
}

function discarded(frame: Uint8Array, reason: string): ScaleFrame {
  return { kind: "discarded", bytes: frame.slice(), reason };
}

/** `decodeToledo` of a frame whose layout is already checked byte by byte (the framer's). */
function readFrame(frame: Uint8Array, options: ToledoOptions): ScaleFrame {
  const discard = (reason: string): ScaleFrame => discarded(frame, reason);
  const format = options.characterFormat;
  if (options.checksum && dataBits(frame[frame.length - 1] ?? 0, format) !== checksumOf(frame, frame.length - 2)) {
    return discard("bad checksum");
  }
  const swa = dataBits(frame[SWA] ?? 0, format);
  const swb = dataBits(frame[SWB] ?? 0, format);
  const swc = dataBits(frame[SWC] ?? 0, format);
  if (swb & 0x04) return { kind: "no_weight", reason: swb & 0x02 ? "underload" : "overload" };
  if (swb & 0x40) return { kind: "ignored", reason: "indicator powering up (SWB bit 6)" };
  if (swc & 0x10) return discard("expanded display (SWC bit 4): resolution unknown");
  const unit = unitOf(swb, swc);
  if ("problem" in unit) return discard(unit.problem);
  // SWA code 0 is XXXX00 and 1 XXXXX0 (the digits times 100 or 10), 2 XXXXXX, 3..7 decimals 1..5.
  const code = swa & 0x07;
  // Six digits times at most 100: a safe integer, which displayedToGrams converts exactly.
  const digits = digitsValue(frame, FIRST_DIGIT, format) * (code < 2 ? 10 ** (2 - code) : 1);
  const grams = displayedToGrams((swb & 0x02) !== 0, digits, Math.max(0, code - 2), unit.unit);
  return { kind: "weight", grams, stable: (swb & 0x08) === 0, mode: swb & 0x01 ? "net" : "gross" };
}

/** What `encodeToledo` writes. */
export interface ToledoReading {
  /** Integer grams, negative allowed; shown rounded half away from zero to the display step. */
  grams: number;
  /** `kg` or `lb` (SWB bit 4), or `g`, `t`, `oz` (SWC code). */
  unit: "kg" | "lb" | "g" | "t" | "oz";
  /** Digits after the decimal point, -2..5: -2 and -1 are SWA codes 000 (XXXX00) and 001 (XXXXX0). */
  decimals: number;
  /** Clears SWB's motion bit. */
  stable: boolean;
  mode: "gross" | "net";
  /** Writes the checksum byte after the CR. */
  checksum: boolean;
  /** Tare in the same unit and step (default 0); `null` writes the short format without tare. */
  tareGrams?: number | null;
  /** Sets SWB's out-of-range bit (the digits still show `grams`). */
  outOfRange?: boolean;
}

const SWC_UNIT_CODE: Record<ToledoReading["unit"], number> = { kg: 0, lb: 0, g: 1, t: 2, oz: 3 };

/** Six digits of `grams` shown in `unit` at SWA code `code`, or a RangeError. */
function sixDigits(grams: number, unit: DisplayUnit, code: number): { negative: boolean; text: string } {
  const { negative, digits } = gramsToDisplayed(grams, unit, Math.max(0, code - 2));
  // Codes 000 and 001 step by 100 and 10 display units: round half away from zero to the step.
  const step = code < 2 ? 10n ** BigInt(2 - code) : 1n;
  const shown = (2n * digits + step) / (2n * step);
  const text = shown.toString();
  if (text.length > 6) throw new RangeError(`toledo-continuous shows six digits; ${grams} g needs ${text}`);
  return { negative: negative && shown !== 0n, text: text.padStart(6, "0") };
}

/**
 * Encodes one toledo-continuous frame as an indicator sends it (7-bit bytes: a 7E1 port adds the
 * parity bit), for simulators and tests. `decodeToledo` gives back `grams` rounded to the display
 * step. SWA, SWB and SWC have bit 5 set, as the Rice Lake 880 and Ohaus manuals show.
 *
 * @throws RangeError when `grams` or `tareGrams` is not a safe integer, `decimals` is not -2..5, or
 *   a value needs more than six digits
 */
export function encodeToledo(reading: ToledoReading): Uint8Array {
  const { grams, unit, decimals, stable, mode, checksum, tareGrams = 0, outOfRange = false } = reading;
  if (!Number.isInteger(decimals) || decimals < -2 || decimals > 5) {
    throw new RangeError(`toledo-continuous shows -2..5 decimals, got ${decimals}`);
  }
  const code = decimals + 2;
  const weight = sixDigits(grams, unit, code);
  const tare = tareGrams === null ? null : sixDigits(tareGrams, unit, code).text;
  const frame = new Uint8Array((tare === null ? SHORT_CR + 1 : LONG_CR + 1) + (checksum ? 1 : 0));
  frame[0] = STX;
  // SWA bits 3-4 = 01: display increments of 1 (Rice Lake 880, "display divisions").
  frame[SWA] = 0x20 | 0x08 | code;
  frame[SWB] =
    0x20 |
    (mode === "net" ? 0x01 : 0) |
    (weight.negative ? 0x02 : 0) |
    (outOfRange ? 0x04 : 0) |
    (stable ? 0 : 0x08) |
    (unit === "kg" ? 0x10 : 0);
  frame[SWC] = 0x20 | SWC_UNIT_CODE[unit];
  const digits = weight.text + (tare ?? "");
  for (let i = 0; i < digits.length; i++) frame[FIRST_DIGIT + i] = digits.charCodeAt(i);
  const cr = FIRST_DIGIT + digits.length;
  frame[cr] = CR;
  if (checksum) frame[cr + 1] = checksumOf(frame, cr);
  return frame;
}

/** True when some byte has bit 7 set (a 7E1 byte with its parity bit, as an 8N1 port hands it over). */
function hasBit7(chunk: Uint8Array): boolean {
  for (const b of chunk) if (b > 0x7f) return true;
  return false;
}

/**
 * A framer for a toledo-continuous stream: STX-synchronised frames cut by position (the short or
 * long format, by what byte 11 holds), each decoded with `decodeToledo`. Bytes outside frames (a
 * frame cut by opening the port, noise) become `discarded` values; memory stays bounded whatever
 * arrives. In 7E1 the framer works on the 7 data bits of each byte (the bytes it hands out too).
 */
export function createToledoFramer(options: ToledoOptions): BufferedFramer<ScaleFrame> {
  const framer = new StxFramer<ScaleFrame>({
    maxFrameBytes: TOLEDO_MAX_FRAME_BYTES,
    check(frame, length): LayoutVerdict {
      const problem = byteProblem(frame, length - 1, options);
      if (problem !== undefined) return INVALID[problem];
      return length > SHORT_CR && length === frameLength(frame, options) ? COMPLETE : MORE;
    },
    // `check` has passed every byte and the length: what is left is the checksum and the values.
    decode: (frame) => readFrame(frame, options),
  });
  if (options.characterFormat === "8N1") return framer;
  // The parity bit is dropped before framing: STX with even parity arrives as 0x82 on an 8N1 port.
  return {
    get bufferedBytes() {
      return framer.bufferedBytes;
    },
    push: (chunk) => framer.push(hasBit7(chunk) ? chunk.map((b) => b & 0x7f) : chunk),
  };
}

/** The config options, as written in the config. */
const optionsSchema = z.object({
  checksum: z
    .boolean()
    .default(true)
    .describe(
      "Whether the indicator sends the checksum byte after the CR (its continuous-output setting). The " +
        "checksum is verified; a frame without one, or with a wrong one, is discarded.",
    ),
  character_format: z
    .enum(["7E1", "8N1"])
    .default("7E1")
    .describe(
      "Character format the indicator is set to: 7E1 (7 data bits, even parity; the usual one) or 8N1. " +
        "The port is opened with it.",
    ),
});

const toFrameOptions = (o: z.output<typeof optionsSchema>): ToledoOptions => ({
  checksum: o.checksum,
  characterFormat: o.character_format,
});

/**
 * The toledo-continuous registry entry (shared/protocols/scales.md, "toledo-continuous"): options
 * `checksum` (default true) and `character_format` (default 7E1, "often 7 data bits, even parity";
 * the port is opened with it); 9600 baud by default. Its encoder writes a gross frame in kg with six
 * tare zeros, `decimals` (default 2) and the motion bit unless `stable`.
 */
export const toledoContinuous = defineProtocol({
  name: "toledo-continuous",
  kind: "scale",
  summary: "Mettler Toledo standard continuous output and its emulations (STX, status bytes SWA/SWB/SWC, 6+6 digits)",
  source: "shared/protocols/scales.md, toledo-continuous",
  port: serialFormat(9600, "7E1"),
  portFor: (options) => serialFormat(9600, options.character_format),
  defaults: {},
  options: optionsSchema,
  createFramer: (options) => createToledoFramer(toFrameOptions(options)),
  decode: (frame, options) => decodeToledo(frame, toFrameOptions(options)),
  encode: (sample, options) =>
    encodeToledo({
      grams: sample.grams,
      unit: "kg",
      decimals: sample.decimals ?? 2,
      stable: sample.stable,
      mode: "gross",
      checksum: options.checksum,
    }),
});
