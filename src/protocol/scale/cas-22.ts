/**
 * cas-22: the CAS 22-byte continuous frame (CI-100A/150A/200/400/600D/6000A, NT-200).
 * Source of every layout fact here: shared/protocols/scales.md, section "cas-22" (from the CAS
 * CI-400 and NT-200 manuals).
 *
 * `ST|US|OL` `,` `GS|NT` `,` device id (1 byte: ASCII `1`.., continuing past `9`, so id 13 is `=`),
 * lamp byte (1 byte) `,` data (8 bytes including the decimal point: 13.5 kg is `000013.5`), space,
 * unit (`kg`, `lb` or ` g`), CR LF. Lamp byte bits: 7 always 1, 6 stable, 5 model dependent,
 * 4 hold, 3 printer, 2 gross, 1 tare, 0 zero. `OL` is overload: no valid weight.
 *
 * The lamp byte has bit 7 set, so it is never a CR or LF and the frame can be read as a line; it is
 * not text, though, so the line is checked byte by byte rather than as ASCII.
 */
import { z } from "zod";
import { COMMA, CR, LF, MINUS, PLUS, POINT, SPACE, asciiBytes, isDecimalDigit } from "../bytes.js";
import { crLfLineFramer } from "../crlf-lines.js";
import { defineProtocol, serial8N1 } from "../device-protocol.js";
import { displayedToGrams } from "../grams.js";
import type { BufferedFramer, ScaleFrame } from "../types.js";
import { readDecimalField } from "./decimal-field.js";
import { displayedNumber } from "./displayed-number.js";

/** A frame without its CR LF. */
export const CAS22_LINE_BYTES = 20;
/** Longest line kept, terminator excluded: a frame and some, so a lost line end shows as one run. */
export const CAS22_MAX_LINE_BYTES = 48;
const DEVICE_ID = 6;
const LAMP = 7;
/** Highest device id: ASCII `1` (id 1) up to `~` (id 78). */
export const CAS22_MAX_DEVICE_ID = 0x7e - 0x30;

const LAMP_ALWAYS = 0x80;
const LAMP_STABLE = 0x40;
const LAMP_HOLD = 0x10;
const LAMP_GROSS = 0x04;
const LAMP_TARE = 0x02;

const COMMAS = [2, 5, 8];
const DATA = 9;
const DATA_END = 17;
const NOT_A_FRAME = "not an <H1>,<H2>,<id><lamp>,<data> <unit> frame";

/** Two upper-case ASCII letters as text, or undefined. */
function header(line: Uint8Array, at: number): string | undefined {
  const a = line[at] ?? 0;
  const b = line[at + 1] ?? 0;
  return a >= 0x41 && a <= 0x5a && b >= 0x41 && b <= 0x5a ? String.fromCharCode(a, b) : undefined;
}

/** The unit bytes 18-19: `kg`, `lb` or ` g` (either case), or undefined. */
function unitOf(line: Uint8Array): "kg" | "lb" | "g" | undefined {
  const a = (line[18] ?? 0) | 0x20;
  const b = (line[19] ?? 0) | 0x20;
  if (a === 0x6b && b === 0x67) return "kg";
  if (a === 0x6c && b === 0x62) return "lb";
  return line[18] === SPACE && b === 0x67 ? "g" : undefined;
}

/** True for an overload data field: spaces, signs, digits (often 9s), points. */
function isNoWeightField(line: Uint8Array): boolean {
  for (let i = DATA; i < DATA_END; i++) {
    const b = line[i] ?? 0;
    if (!isDecimalDigit(b) && b !== SPACE && b !== PLUS && b !== MINUS && b !== POINT) return false;
  }
  return true;
}

/**
 * Decodes one cas-22 line.
 *
 * @param line the line without its CR LF (20 bytes)
 * @param deviceId the device id the frames must carry (config `device_id`); undefined: any
 * @returns `weight` (`ST` stable, `US` unstable; `GS` gross, `NT` net) in integer grams, converted
 *   exactly from kg, lb or g and rounded half away from zero; `no_weight` (`overload`) for `OL`;
 *   `ignored` while the lamp byte says the display is held (bit 4: not the live weight);
 *   `discarded` with the line and the reason for anything else, including another device's id, a
 *   lamp byte without bit 7, and a header and stable lamp that disagree. Never throws.
 */
export function decodeCas22(line: Uint8Array, deviceId?: number): ScaleFrame {
  const discard = (reason: string): ScaleFrame => ({ kind: "discarded", bytes: line.slice(), reason });
  if (line.length !== CAS22_LINE_BYTES) return discard("wrong frame length");
  for (let i = 0; i < CAS22_LINE_BYTES; i++) {
    const b = line[i] ?? 0;
    // The lamp byte is binary, and the id byte is checked for what it is below.
    if (i !== LAMP && i !== DEVICE_ID && (b < 0x20 || b > 0x7e)) return discard(NOT_A_FRAME);
  }
  const h1 = header(line, 0);
  const h2 = header(line, 3);
  const unit = unitOf(line);
  if (h1 === undefined || h2 === undefined || unit === undefined || line[17] !== SPACE || COMMAS.some((c) => line[c] !== COMMA)) {
    return discard(NOT_A_FRAME);
  }
  if (h1 !== "ST" && h1 !== "US" && h1 !== "OL") return discard(`unknown status header ${JSON.stringify(h1)}`);
  if (h2 !== "GS" && h2 !== "NT") return discard(`unknown mode header ${JSON.stringify(h2)}`);
  // ASCII "1" is id 1, and the ids go on past "9" (scales.md: id 13 is "=").
  const id = (line[DEVICE_ID] ?? 0) - 0x30;
  if (id < 1 || id > CAS22_MAX_DEVICE_ID) return discard("bad device id byte");
  if (deviceId !== undefined && id !== deviceId) return discard(`frame of device id ${id}, not ${deviceId}`);
  const lamp = line[LAMP] ?? 0;
  if ((lamp & LAMP_ALWAYS) === 0) return discard("lamp byte without bit 7");

  if (h1 === "OL") return isNoWeightField(line) ? { kind: "no_weight", reason: "overload" } : discard("bad data field");
  const field = readDecimalField(line, DATA, DATA_END, "plus-or-minus");
  if (field === undefined) return discard("bad data field");
  const stable = h1 === "ST";
  if (stable !== ((lamp & LAMP_STABLE) !== 0)) return discard("status header and stable lamp disagree");
  if ((lamp & LAMP_HOLD) !== 0) return { kind: "ignored", reason: "display held (lamp bit 4)" };
  const grams = displayedToGrams(field.negative, field.digits, field.decimals, unit);
  return { kind: "weight", grams, stable, mode: h2 === "GS" ? "gross" : "net" };
}

/** What `encodeCas22` writes. */
export interface Cas22Reading {
  /** Integer grams, negative allowed; shown rounded half away from zero to the display step. */
  grams: number;
  /** `ST` and the stable lamp when true, `US` when false. */
  stable: boolean;
  /** `GS` with the gross lamp, or `NT` with the tare lamp. */
  mode: "gross" | "net";
  /** Display unit (default `kg`). */
  unit?: "kg" | "lb" | "g";
  /** Digits after the decimal point, 0..6 (default 2). */
  decimals?: number;
  /** Device id, 1..78 (default 1). */
  deviceId?: number;
}

/**
 * Encodes one cas-22 frame as scales.md describes it (the data zero-padded to eight characters, a
 * `-` first when negative), for simulators and tests. `decodeCas22` gives back `grams` rounded to
 * the display step.
 *
 * @throws RangeError when `grams` is not a safe integer, `decimals` is not 0..6, `deviceId` is not
 *   1..78, or the value does not fit eight characters
 */
export function encodeCas22(reading: Cas22Reading): Uint8Array {
  const { grams, stable, mode, unit = "kg", decimals = 2, deviceId = 1 } = reading;
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 6) {
    throw new RangeError(`cas-22 shows 0..6 decimals here, got ${decimals}`);
  }
  if (!Number.isInteger(deviceId) || deviceId < 1 || deviceId > CAS22_MAX_DEVICE_ID) {
    throw new RangeError(`cas-22 device ids are 1..${CAS22_MAX_DEVICE_ID}, got ${deviceId}`);
  }
  const { negative, text: number } = displayedNumber(grams, unit, decimals);
  const width = negative ? 7 : 8;
  if (number.length > width) throw new RangeError(`${grams} g in ${unit} does not fit cas-22's eight characters`);
  const data = `${negative ? "-" : ""}${number.padStart(width, "0")}`;
  const out = new Uint8Array(CAS22_LINE_BYTES + 2);
  out.set(asciiBytes(`${stable ? "ST" : "US"},${mode === "gross" ? "GS" : "NT"},`));
  out[DEVICE_ID] = 0x30 + deviceId;
  out[LAMP] = LAMP_ALWAYS | (stable ? LAMP_STABLE : 0) | (mode === "gross" ? LAMP_GROSS : LAMP_TARE);
  out.set(asciiBytes(`,${data} ${unit === "g" ? " g" : unit}`), LAMP + 1);
  out[CAS22_LINE_BYTES] = CR;
  out[CAS22_LINE_BYTES + 1] = LF;
  return out;
}

/**
 * A framer for a cas-22 stream: lines ended by CR, LF or CR LF, each decoded with `decodeCas22`. A
 * line cut by opening the port has the wrong length and is discarded; a line longer than
 * `CAS22_MAX_LINE_BYTES` is discarded in bounded pieces.
 *
 * @param opts.deviceId the device id the frames must carry; undefined: any
 */
export function createCas22Framer(opts: { deviceId?: number } = {}): BufferedFramer<ScaleFrame> {
  const { deviceId } = opts;
  return crLfLineFramer(CAS22_MAX_LINE_BYTES, (line) => decodeCas22(line, deviceId));
}

/**
 * The cas-22 registry entry (shared/protocols/scales.md, "cas-22"): option `device_id` (optional:
 * the id set on the indicator; frames of another id are then discarded, which shows a port that now
 * leads to another indicator); 8N1 at 9600 baud by default (scales.md gives no line settings; the
 * lamp byte needs 8 data bits). Its encoder writes a gross frame in kg with `decimals` (default 2)
 * and the configured id (or 1).
 */
export const cas22 = defineProtocol({
  name: "cas-22",
  kind: "scale",
  summary: "CAS 22-byte continuous frame with device id and lamp byte (CI-100A/150A/200/400/600D/6000A, NT-200)",
  source: "shared/protocols/scales.md, cas-22",
  port: serial8N1(9600),
  defaults: {},
  options: z.object({
    device_id: z
      .int()
      .min(1)
      .max(CAS22_MAX_DEVICE_ID)
      .optional()
      .describe(
        "Device id set on the CAS indicator (1 to 78; the frame carries it as one ASCII byte, id 1 as '1'). " +
          "When given, frames of another id are discarded. No default: any id.",
      )
      .meta({ examples: [1] }),
  }),
  createFramer: (options) => createCas22Framer({ deviceId: options.device_id }),
  decode: (line, options) => decodeCas22(line, options.device_id),
  encode: (sample, options) =>
    encodeCas22({ grams: sample.grams, stable: sample.stable, mode: "gross", decimals: sample.decimals ?? 2, deviceId: options.device_id }),
});
