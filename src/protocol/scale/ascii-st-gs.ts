/**
 * ascii-st-gs: the "ST,GS" line family (A&D, CAS, T-Scale, Liden, many Chinese indicators).
 * Source of every layout fact here: shared/protocols/scales.md, section "ascii-st-gs", and
 * contract.md section 5 ("US is unstable, OL/LO mean no valid weight, TR frames are ignored, gross
 * and net frames both give the displayed weight").
 *
 * `<H1>,<H2>,<weight><unit>` CR LF. H1: `ST` stable, `US` unstable, `OL` overload, `QT` counting,
 * `LO` out of range. H2: `GS` gross, `NT` net, `TR` tare. Weight: 7 to 9 characters including sign
 * and decimal point, padded with zeros or spaces, the sign possibly separated from the digits by
 * spaces; a space may follow a comma; unit `kg`, `g`, `lb`, `t` or `oz`, possibly padded with
 * spaces before or after. Overload frames may fill the digits with spaces or 9s. A frame without a
 * unit takes the scale's configured `unit` (contract.md section 5).
 */
import { z } from "zod";
import { CR, LF, asciiBytes, latin1 } from "../bytes.js";
import { defineProtocol, serial8N1 } from "../device-protocol.js";
import { type DisplayUnit, displayedToGrams, gramsToDisplayed, parseDisplayUnit } from "../grams.js";
import { LineFramer } from "../line-framer.js";
import type { BufferedFramer, ScaleFrame, WeightUnit } from "../types.js";
import { weightUnitOption } from "./unit-option.js";

/**
 * Longest line kept, terminator excluded. A normal line is 16 to 20 bytes; the margin admits
 * generous padding, and anything longer is not this protocol.
 */
export const ST_GS_MAX_LINE_BYTES = 64;

/** Longest weight field after trimming its padding: 9 characters (scales.md, ascii-st-gs). */
const MAX_WEIGHT_CHARS = 9;

/** Two 2-letter headers, each followed by a comma, spaces allowed around them; group 3 is the rest. */
const LINE = /^ *([A-Za-z]{2}) *, *([A-Za-z]{2}) *,(.*)$/;
/** Trailing unit letters and padding. */
const UNIT = /([A-Za-z]+) *$/;
/** A weight field without its surrounding padding: sign, spaces, digits with at most one point. */
const NUMBER = /^([+-]?) *([0-9]+)(?:\.([0-9]+))?$/;
/** What an overload/underload weight field may hold: spaces, sign, digits (often 9s), a point. */
const NO_WEIGHT_FIELD = /^[ +\-0-9.]*$/;

/**
 * Decodes one ST,GS line.
 *
 * @param line the line's bytes without its terminator (CR, LF or CR LF)
 * @param unitless the unit of a frame that carries none (the scale's configured `unit`, contract.md
 *   section 5); undefined: such a frame is discarded (`missing unit`)
 * @returns `weight` (`ST` stable / `US` unstable; `GS` gross / `NT` net) in integer grams, converted
 *   exactly from the line's unit and rounded half away from zero (1 lb = 453.59237 g,
 *   1 oz = 28.349523125 g, 1 t = 1,000,000 g); `no_weight` for `OL` (overload) and `LO`
 *   (underload); `ignored` for `QT` (counting) and `TR` (tare) lines; `discarded` with the line and
 *   the reason for anything else. Never throws.
 */
export function decodeStGs(line: Uint8Array, unitless?: WeightUnit): ScaleFrame {
  const discard = (reason: string): ScaleFrame => ({ kind: "discarded", bytes: line.slice(), reason });
  if (!line.every((b) => b >= 0x20 && b <= 0x7e)) return discard("non-printable byte in line");
  const m = LINE.exec(latin1(line));
  if (m === null) return discard("not an <H1>,<H2>,<weight> line");
  const h1 = (m[1] ?? "").toUpperCase();
  const h2 = (m[2] ?? "").toUpperCase();
  const rest = m[3] ?? "";
  if (h1 !== "ST" && h1 !== "US" && h1 !== "OL" && h1 !== "LO" && h1 !== "QT") {
    return discard(`unknown status header ${JSON.stringify(h1)}`);
  }
  if (h2 !== "GS" && h2 !== "NT" && h2 !== "TR") return discard(`unknown mode header ${JSON.stringify(h2)}`);

  const unitMatch = UNIT.exec(rest);
  const unitText = unitMatch?.[1];
  const field = (unitMatch === null ? rest : rest.slice(0, unitMatch.index)).trim();
  const unit = unitText === undefined ? unitless : parseDisplayUnit(unitText);

  switch (h1) {
    case "OL":
    case "LO":
      // The digits are spaces or 9s and carry nothing; the unit, if any, must still be a unit.
      if (!NO_WEIGHT_FIELD.test(field)) return discard("bad weight field");
      if (unitText !== undefined && unit === undefined) {
        return discard(`unknown unit ${JSON.stringify(unitText)}`);
      }
      return { kind: "no_weight", reason: h1 === "OL" ? "overload" : "underload" };
    case "QT":
      // Counting mode shows a piece count (often with a `pcs` unit), not a weight.
      return { kind: "ignored", reason: "counting frame (QT)" };
    case "ST":
    case "US":
      break;
  }

  if (unit === undefined) {
    return discard(unitText === undefined ? "missing unit" : `unknown unit ${JSON.stringify(unitText)}`);
  }
  const n = NUMBER.exec(field);
  if (n === null || field.length > MAX_WEIGHT_CHARS) return discard("bad weight field");
  const fraction = n[3] ?? "";
  const digits = BigInt((n[2] ?? "") + fraction);
  const grams = displayedToGrams(n[1] === "-", digits, fraction.length, unit);

  switch (h2) {
    case "TR":
      return { kind: "ignored", reason: "tare frame (TR)" };
    case "GS":
      return { kind: "weight", grams, stable: h1 === "ST", mode: "gross" };
    case "NT":
      return { kind: "weight", grams, stable: h1 === "ST", mode: "net" };
  }
}

/** What `encodeStGs` writes. */
export interface StGsReading {
  /** `ST` when true, `US` when false. */
  stable: boolean;
  /** `GS` or `NT`. */
  mode: "gross" | "net";
  /** Integer grams, negative allowed. */
  grams: number;
  /** Display unit (default `kg`). */
  unit?: DisplayUnit;
  /** Digits after the decimal point (default 2; 0 writes no point). */
  decimals?: number;
}

/**
 * Encodes one ST,GS line as the indicators in scales.md's examples write it: sign, the value
 * zero-padded to 7 characters including the point, the unit, CR LF (`ST,GS,+0012.34kg\r\n`).
 * For simulators and tests; `decodeStGs` round-trips it to `grams` rounded to the display step.
 *
 * @throws RangeError when `grams` is not a safe integer, `decimals` is not 0..6, or the value does
 *   not fit 7 characters
 */
export function encodeStGs(reading: StGsReading): Uint8Array {
  const { stable, mode, grams, unit = "kg", decimals = 2 } = reading;
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 6) {
    throw new RangeError(`decimals must be 0..6, got ${decimals}`);
  }
  const { negative, digits } = gramsToDisplayed(grams, unit, decimals);
  const text = digits.toString().padStart(decimals + 1, "0");
  const number = decimals === 0 ? text : `${text.slice(0, -decimals)}.${text.slice(-decimals)}`;
  if (number.length > 7) throw new RangeError(`${grams} g in ${unit} does not fit 7 characters: ${number}`);
  const header = `${stable ? "ST" : "US"},${mode === "gross" ? "GS" : "NT"},`;
  const line = `${header}${negative ? "-" : "+"}${number.padStart(7, "0")}${unit}`;
  const bytes = asciiBytes(line);
  const out = new Uint8Array(bytes.length + 2);
  out.set(bytes);
  out[bytes.length] = CR;
  out[bytes.length + 1] = LF;
  return out;
}

/**
 * A framer for an ST,GS stream: lines ended by CR, LF or CR LF, each decoded with `decodeStGs`.
 * A line cut by opening the port fails to decode and is discarded; empty lines yield nothing; a
 * line longer than `ST_GS_MAX_LINE_BYTES` is discarded in bounded pieces.
 *
 * @param opts.unit the unit of frames that carry none (undefined: they are discarded)
 */
export function createStGsFramer(opts: { unit?: WeightUnit } = {}): BufferedFramer<ScaleFrame> {
  const { unit } = opts;
  return new LineFramer<ScaleFrame>({
    maxLineBytes: ST_GS_MAX_LINE_BYTES,
    isTerminator: (b) => b === CR || b === LF,
    keepsTerminator: () => false,
    startByte: undefined,
    decode: (line) => decodeStGs(line, unit),
  });
}

/**
 * The ascii-st-gs registry entry (shared/protocols/scales.md, "ascii-st-gs"; contract.md section 5):
 * option `unit`, used only by frames without a unit; 9600 baud by default (contract.md section 2;
 * scales.md gives no line settings for this family) and 8N1. Its encoder writes a gross frame in
 * the configured unit with `decimals` (default 2), `ST` when stable, else `US`.
 */
export const asciiStGs = defineProtocol({
  name: "ascii-st-gs",
  kind: "scale",
  summary: "the ST,GS,+0012.34kg line family (A&D, CAS, T-Scale, Liden and many others)",
  source: "shared/protocols/scales.md, ascii-st-gs",
  port: serial8N1(9600),
  defaults: {},
  options: z.object({
    unit: weightUnitOption(
      "Unit (g, kg or lb) of the ascii-st-gs frames that carry none; a frame's own unit always wins.",
    ),
  }),
  createFramer: (options) => createStGsFramer(options),
  decode: (line, options) => decodeStGs(line, options.unit),
  encode: (sample, options) =>
    encodeStGs({ stable: sample.stable, mode: "gross", grams: sample.grams, unit: options.unit, decimals: sample.decimals ?? 2 }),
});
