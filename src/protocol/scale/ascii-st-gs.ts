/**
 * ascii-st-gs: the "ST,GS" line family (A&D, CAS, T-Scale, Liden, many Chinese indicators).
 * Sources of the layout: shared/protocols/scales.md, section "ascii-st-gs", and contract.md section 5
 * ("US is unstable, OL/LO mean no valid weight, TR frames are ignored, gross and net frames both give
 * the displayed weight; the family's field variants are accepted without options").
 *
 * `<H1>,<H2>,<weight><unit>` CR LF. H1: `ST` stable, `US` unstable, `OL` overload, `QT` counting,
 * `LO` out of range. H2: `GS` gross, `NT` net, `TR` tare. Weight: 7 to 9 characters including sign
 * and decimal point, padded with zeros or spaces, the sign possibly separated from the digits by
 * spaces; a space may follow a comma; unit `kg`, `g`, `lb`, `t` or `oz`, possibly padded with
 * spaces before or after. Overload frames may fill the digits with spaces or 9s. A frame without a
 * unit takes the scale's configured `unit` (contract.md section 5).
 *
 * Variants seen on real devices, all accepted by the same parser (no option):
 * - no comma after H2: T-Scale NHB, captured `ST,GS    20.7g  ` (no sign either, the unit followed by
 *   spaces; hex dumps in github.com/chumpon-asaneerat/NSerialCommTools, "Documents/LuckyTex
 *   Devices/TScaleNHB/NHB.txt"); Selleton SL-7515/7516 and Triner TS-700 manuals, "S1,S2 S3 Data S4"
 *   with the print example `ST, GS+ 5.12KG` (a space after the comma, the sign apart from the
 *   digits, the unit in capitals); Tiger TI-02-P manual §7.1: H2, then the sign (a space when
 *   positive) and 7 characters of weight;
 * - a comma between the weight and the unit: Tiger TI-02-P §7.1 (byte 14), A&D "CSV format"
 *   (FX-i / FX-700CT manuals: `ST,+0001.278, ct`);
 * - a space before the unit and no sign: T-Scale QHW, captured `ST,GS,   245.6 g` (same repository,
 *   "TScaleQHW/QHW2.txt"); sign then spaces: AWH-SA30 `ST,NT,+  1.234kg`
 *   (github.com/imTigger/webapp-hardware-bridge issue 4);
 * - a single header (H1 only): the A&D standard format, `ST,+00123.45  g` (GX-A/GF-A communication
 *   manual §7-2, EJ and EK-L manuals "Data format": headers ST, QT, US, OL; 9 characters of data
 *   with sign and point; a 3-character unit). Its weight is reported as `gross`, as yaohua-a9's is:
 *   the frame does not say, and only a change of mode means anything to the station (a tare). A&D's
 *   overload data `+9999999E+19` (AD-4212D, FX-i manuals) is an overload like any other.
 *
 * Ambiguous frames are discarded with the reason, never guessed:
 * - unit `t` in a frame without a GS/NT/TR header: indicators mean the tonne, but the A&D balances
 *   that write single-header frames list `t` as the tola (EJ manual, "Data format": "t: Weighing
 *   data 'tola'");
 * - a lone mode header (`GS,+0012.34kg`): no vendor manual or capture found sends one, and without a
 *   status header the frame cannot say whether it is stable, overloaded or a piece count;
 * - a comma after the weight with no unit after it, digits split by spaces, two signs, two points.
 */
import { z } from "zod";
import { COMMA, CR, LF, MINUS, PLUS, POINT, SPACE, asciiBytes, isDecimalDigit, latin1 } from "../bytes.js";
import { defineProtocol, serial8N1 } from "../device-protocol.js";
import { DISPLAY_UNITS, type DisplayUnit, displayedToGrams, gramsToDisplayed } from "../grams.js";
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

/** `E` of A&D's overload data `+9999999E+19`. */
const EXPONENT = 0x45;

/** Two ASCII letters as one number, upper-cased (`"st"` and `"ST"` both give `code("ST")`). */
function pairCode(a: number, b: number): number {
  return ((a & 0xdf) << 8) | (b & 0xdf);
}
function code(header: string): number {
  return pairCode(header.charCodeAt(0), header.charCodeAt(1));
}
const ST = code("ST");
const US = code("US");
const OL = code("OL");
const LO = code("LO");
const QT = code("QT");
const GS = code("GS");
const NT = code("NT");
const TR = code("TR");

function isLetter(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a));
}

function skipSpaces(line: Uint8Array, i: number, end: number): number {
  while (i < end && line[i] === SPACE) i++;
  return i;
}

/** The header of a code, for reasons (`"ST"`). */
function headerText(headerCode: number): string {
  return String.fromCharCode(headerCode >> 8, headerCode & 0xff);
}

const NOT_A_LINE = "not an <H1>,<H2>,<weight> line";
const BAD_WEIGHT = "bad weight field";

/**
 * Decodes one ST,GS line, in any of the variants the module's header lists.
 *
 * @param line the line's bytes without its terminator (CR, LF or CR LF)
 * @param unitless the unit of a frame that carries none (the scale's configured `unit`, contract.md
 *   section 5); undefined: such a frame is discarded (`missing unit`)
 * @returns `weight` (`ST` stable / `US` unstable; `GS` gross / `NT` net; no H2: gross) in integer
 *   grams, converted exactly from the line's unit and rounded half away from zero (1 lb =
 *   453.59237 g, 1 oz = 28.349523125 g, 1 t = 1,000,000 g); `no_weight` for `OL` (overload) and `LO`
 *   (underload); `ignored` for `QT` (counting) and `TR` (tare) lines; `discarded` with the line and
 *   the reason for anything else, ambiguous lines included. Never throws.
 */
export function decodeStGs(line: Uint8Array, unitless?: WeightUnit): ScaleFrame {
  const n = line.length;
  for (let k = 0; k < n; k++) {
    const b = line[k] ?? 0;
    if (b < 0x20 || b > 0x7e) return discarded(line, "non-printable byte in line");
  }
  // H1, then a comma (spaces allowed around it).
  let i = skipSpaces(line, 0, n);
  if (!isLetter(line[i]) || !isLetter(line[i + 1])) return discarded(line, NOT_A_LINE);
  const h1 = pairCode(line[i] ?? 0, line[i + 1] ?? 0);
  i = skipSpaces(line, i + 2, n);
  if (line[i] !== COMMA) return discarded(line, NOT_A_LINE);
  i = skipSpaces(line, i + 1, n);
  // H2 when two letters follow (its comma optional), except a unit ending the line: the unit of a
  // single-header frame whose digits are spaces (`OL,        kg`).
  let h2: number | undefined;
  let letters = i;
  while (isLetter(line[letters])) letters++;
  if (letters > i && !(skipSpaces(line, letters, n) === n && unitOf(line, i, letters) !== undefined)) {
    if (letters - i !== 2) return discarded(line, NOT_A_LINE);
    h2 = pairCode(line[i] ?? 0, line[i + 1] ?? 0);
    i = skipSpaces(line, letters, n);
    if (line[i] === COMMA) i++;
  }
  if (h1 !== ST && h1 !== US && h1 !== OL && h1 !== LO && h1 !== QT) {
    if (h1 === GS || h1 === NT || h1 === TR) {
      return discarded(line, `mode header ${JSON.stringify(headerText(h1))} without a status header`);
    }
    return discarded(line, `unknown status header ${JSON.stringify(headerText(h1))}`);
  }
  if (h2 !== undefined && h2 !== GS && h2 !== NT && h2 !== TR) {
    return discarded(line, `unknown mode header ${JSON.stringify(headerText(h2))}`);
  }

  // The rest: the weight field, then the unit (the trailing letters), padded with spaces, maybe a
  // comma between them.
  let end = n;
  while (end > i && line[end - 1] === SPACE) end--;
  let unitStart = end;
  while (unitStart > i && isLetter(line[unitStart - 1])) unitStart--;
  const hasUnit = unitStart < end;
  let fieldEnd = unitStart;
  while (fieldEnd > i && line[fieldEnd - 1] === SPACE) fieldEnd--;
  if (hasUnit && line[fieldEnd - 1] === COMMA) {
    fieldEnd--;
    while (fieldEnd > i && line[fieldEnd - 1] === SPACE) fieldEnd--;
  }
  const fieldStart = skipSpaces(line, i, fieldEnd);
  const unit = hasUnit ? unitOf(line, unitStart, end) : unitless;

  if (h1 === OL || h1 === LO) {
    // The digits are spaces or 9s (or A&D's `+9999999E+19`) and carry nothing; the unit, if any,
    // must still be a unit.
    for (let k = fieldStart; k < fieldEnd; k++) {
      const b = line[k] ?? 0;
      if (!(b === SPACE || b === PLUS || b === MINUS || b === POINT || b === EXPONENT || isDecimalDigit(b))) {
        return discarded(line, BAD_WEIGHT);
      }
    }
    if (hasUnit && unit === undefined) return discarded(line, unknownUnit(line, unitStart, end));
    return { kind: "no_weight", reason: h1 === OL ? "overload" : "underload" };
  }
  // Counting mode shows a piece count (often with a `pcs` unit), not a weight.
  if (h1 === QT) return { kind: "ignored", reason: "counting frame (QT)" };

  if (unit === undefined) return discarded(line, hasUnit ? unknownUnit(line, unitStart, end) : "missing unit");
  if (unit === "t" && hasUnit && h2 === undefined) {
    return discarded(line, 'ambiguous unit "t" without a GS/NT header (tonne on indicators, tola on A&D balances)');
  }
  const number = parseWeightField(line, fieldStart, fieldEnd);
  if (number === undefined) return discarded(line, BAD_WEIGHT);
  const grams = displayedToGrams(number.negative, number.digits, number.decimals, unit);
  if (h2 === TR) return { kind: "ignored", reason: "tare frame (TR)" };
  return { kind: "weight", grams, stable: h1 === ST, mode: h2 === NT ? "net" : "gross" };
}

/** A `discarded` result holding a copy of the line (the framer's buffer is reused). */
function discarded(line: Uint8Array, reason: string): ScaleFrame {
  return { kind: "discarded", bytes: line.slice(), reason };
}

/** A run of up to three letters as one number, lower-cased (for looking units up without a string). */
function letterKey(line: Uint8Array, from: number, to: number): number {
  let key = to - from;
  for (let k = from; k < to; k++) key = (key << 8) | ((line[k] ?? 0) | 0x20);
  return key;
}

/** Every display unit (grams.ts, the single list) by `letterKey`. */
const UNITS_BY_KEY = new Map<number, DisplayUnit>(
  DISPLAY_UNITS.map((u) => {
    const bytes = asciiBytes(u);
    return [letterKey(bytes, 0, bytes.length), u];
  }),
);

/** The display unit written in `line[from, to)` (letters), any case, or undefined. */
function unitOf(line: Uint8Array, from: number, to: number): DisplayUnit | undefined {
  return to - from <= 3 ? UNITS_BY_KEY.get(letterKey(line, from, to)) : undefined;
}

function unknownUnit(line: Uint8Array, from: number, to: number): string {
  return `unknown unit ${JSON.stringify(latin1(line.subarray(from, to)))}`;
}

/**
 * A weight field `line[from, to)` (padding already trimmed): an optional sign, optional spaces,
 * digits, optionally a point and more digits; 9 characters at most.
 */
function parseWeightField(
  line: Uint8Array,
  from: number,
  to: number,
): { negative: boolean; digits: number; decimals: number } | undefined {
  if (to - from > MAX_WEIGHT_CHARS || from >= to) return undefined;
  let i = from;
  const sign = line[i];
  const negative = sign === MINUS;
  if (sign === PLUS || sign === MINUS) i = skipSpaces(line, i + 1, to);
  let digits = 0;
  let count = 0;
  while (i < to && isDecimalDigit(line[i] ?? 0)) {
    digits = digits * 10 + ((line[i] ?? 0x30) - 0x30);
    count++;
    i++;
  }
  if (count === 0) return undefined;
  let decimals = 0;
  if (i < to && line[i] === POINT) {
    i++;
    while (i < to && isDecimalDigit(line[i] ?? 0)) {
      digits = digits * 10 + ((line[i] ?? 0x30) - 0x30);
      decimals++;
      i++;
    }
    if (decimals === 0) return undefined;
  }
  return i === to ? { negative, digits, decimals } : undefined;
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
