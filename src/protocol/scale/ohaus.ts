/**
 * ohaus: the Ohaus print format (Defender 3000 / 5000, Navigator, Ranger and similar), in continuous
 * print mode. Sources: shared/protocols/scales.md, section "ohaus"; the Ohaus Defender 3000
 * indicator manual, 5.2 "Output Format" (fields and widths: polarity 1, space 1, weight 7, space 1,
 * unit 5, stability 1, legend 3, CR LF; "leading zero blanking"; legend `G`, `NET`, `T`); the Ohaus
 * RS232 interface manual's output examples (`*****192.21_g`, `*******0.01_g_?`, `*` and `_` for
 * spaces), which show a wider weight field than seven characters.
 *
 * `<polarity><space><weight right-justified><space><unit><stability><legend>` CR LF. Polarity is a
 * space or `-`; stability is `?` when unstable, a space when stable; the legend is `G` gross, `N` or
 * `NET` net, `T` tare, `PT` preset tare, or absent (scales.md's plain examples print none: the
 * displayed weight, read as gross). Real lines differ in their widths (scales.md's examples have a
 * 10-character weight field, the RS232 manual's 9, the Defender 5000 up to 11), so the line is read
 * by its fields, not its columns, with one rule from the layout: the weight field, from the third
 * character to the end of the number, is 7 to 11 characters wide. A partial line (a port opened
 * mid-line) lacks those leading columns and is discarded; and since a line cut right after its `-`
 * would still have them, the framer also discards everything before the first line end it sees.
 */
import { z } from "zod";
import { MINUS, POINT, SPACE, asciiBytes, isDecimalDigit, latin1 } from "../bytes.js";
import { crLfLineFramer } from "../crlf-lines.js";
import { defineProtocol, serial8N1 } from "../device-protocol.js";
import { type DisplayUnit, displayedToGrams } from "../grams.js";
import type { BufferedFramer, ScaleFrame } from "../types.js";
import { readDecimalField } from "./decimal-field.js";
import { displayedNumber } from "./displayed-number.js";

/** Longest line kept, terminator excluded (a Defender 5000 line is 23 characters). */
export const OHAUS_MAX_LINE_BYTES = 64;
/** The weight field's width: 7 on the Defender 3000, up to 11 on the 5000 (scales.md, ohaus). */
const MIN_FIELD = 7;
const MAX_FIELD = 11;

const NOT_A_LINE = "not a <polarity> <weight> <unit> line";
const QUESTION = 0x3f;

function isUnitByte(b: number | undefined): boolean {
  return b !== undefined && ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x25);
}
function isUpperLetter(b: number | undefined): boolean {
  return b !== undefined && b >= 0x41 && b <= 0x5a;
}
function skipSpaces(line: Uint8Array, i: number): number {
  while (line[i] === SPACE) i++;
  return i;
}

/** The fields of a line, as positions, or undefined when it is not `<polarity> <weight> <unit>…`. */
interface Fields {
  /** End of the number: the weight field is `line[2, numberEnd)`. */
  numberEnd: number;
  unitStart: number;
  unitEnd: number;
  unstable: boolean;
  legendStart: number;
  legendEnd: number;
}

/**
 * Polarity (space or `-`), a space, the padded number, spaces, the unit (1 to 5 letters or `%`),
 * then the stability mark and the legend (1 to 3 capitals), each optional and padded.
 */
function fieldsOf(line: Uint8Array): Fields | undefined {
  const n = line.length;
  if ((line[0] !== SPACE && line[0] !== MINUS) || line[1] !== SPACE) return undefined;
  let i = skipSpaces(line, 2);
  const numberStart = i;
  while (isDecimalDigit(line[i] ?? 0)) i++;
  if (i === numberStart) return undefined;
  if (line[i] === POINT) {
    const fraction = ++i;
    while (isDecimalDigit(line[i] ?? 0)) i++;
    if (i === fraction) return undefined;
  }
  const numberEnd = i;
  if (line[i] !== SPACE) return undefined;
  const unitStart = skipSpaces(line, i);
  i = unitStart;
  while (isUnitByte(line[i])) i++;
  const unitEnd = i;
  if (unitEnd === unitStart || unitEnd - unitStart > 5) return undefined;
  i = skipSpaces(line, i);
  const unstable = line[i] === QUESTION;
  if (unstable) i = skipSpaces(line, i + 1);
  const legendStart = i;
  while (isUpperLetter(line[i])) i++;
  const legendEnd = i;
  if (legendEnd - legendStart > 3) return undefined;
  return skipSpaces(line, i) === n ? { numberEnd, unitStart, unitEnd, unstable, legendStart, legendEnd } : undefined;
}

/** The units Ohaus prints that are weights, as printed (lower case: `G` would be a legend). */
const WEIGHT_UNITS: Readonly<Record<string, DisplayUnit>> = { g: "g", kg: "kg", t: "t", lb: "lb", oz: "oz" };
/** Units that are not weights (scales.md: "Count units (PCS) and percentages are not weights"). */
const NOT_WEIGHT_UNITS = new Set(["PCS", "pcs", "%"]);

/**
 * Decodes one Ohaus print line.
 *
 * @param line the line without its CR LF
 * @returns `weight` (`stable` unless the line has `?`; `gross` for a `G` or absent legend, `net` for
 *   `N`/`NET`) in integer grams, converted exactly from g, kg, t, lb or oz and rounded half away from
 *   zero; `ignored` for a tare line (`T`, `PT`) and for counts (`PCS`) and percentages (`%`);
 *   `discarded` with the line and the reason for anything else, a partial line included. Never
 *   throws.
 */
export function decodeOhaus(line: Uint8Array): ScaleFrame {
  const discard = (reason: string): ScaleFrame => ({ kind: "discarded", bytes: line.slice(), reason });
  for (const b of line) if (b < 0x20 || b > 0x7e) return discard("non-printable byte in line");
  const f = fieldsOf(line);
  if (f === undefined) return discard(NOT_A_LINE);
  if (f.numberEnd - 2 < MIN_FIELD) return discard("weight field too narrow (a partial line?)");
  if (f.numberEnd - 2 > MAX_FIELD) return discard("weight field too wide");
  const legend = f.legendEnd > f.legendStart ? latin1(line.subarray(f.legendStart, f.legendEnd)) : undefined;
  switch (legend) {
    case undefined:
    case "G":
    case "N":
    case "NET":
      break;
    case "T":
    case "PT":
      return { kind: "ignored", reason: `tare line (${legend})` };
    default:
      return discard(`unknown legend ${JSON.stringify(legend)}`);
  }
  const unitText = latin1(line.subarray(f.unitStart, f.unitEnd));
  if (NOT_WEIGHT_UNITS.has(unitText)) return { kind: "ignored", reason: `not a weight (${unitText})` };
  const unit = WEIGHT_UNITS[unitText];
  if (unit === undefined) return discard(`unknown unit ${JSON.stringify(unitText)}`);
  const field = readDecimalField(line, 2, f.numberEnd, "none");
  if (field === undefined) return discard(NOT_A_LINE);
  const grams = displayedToGrams(line[0] === MINUS, field.digits, field.decimals, unit);
  const mode = legend === "N" || legend === "NET" ? "net" : "gross";
  return { kind: "weight", grams, stable: !f.unstable, mode };
}

/** What `encodeOhaus` writes. */
export interface OhausReading {
  /** Integer grams, negative allowed; shown rounded half away from zero to the display step. */
  grams: number;
  /** Without `?` when true. */
  stable: boolean;
  /** Legend `G` or `NET`. */
  mode: "gross" | "net";
  /** Display unit (default `kg`). */
  unit?: DisplayUnit;
  /** Digits after the decimal point, 0..5 (default 2). */
  decimals?: number;
}

/**
 * Encodes one line in the Defender 3000's default output format (its manual, 5.2): polarity,
 * space, the weight right-justified in 7 with leading zeros blanked, space, the unit in 5,
 * stability, the legend in 3, CR LF. For simulators and tests; `decodeOhaus` gives back `grams`
 * rounded to the display step.
 *
 * @throws RangeError when `grams` is not a safe integer, `decimals` is not 0..5, or the value does
 *   not fit seven characters
 */
export function encodeOhaus(reading: OhausReading): Uint8Array {
  const { grams, stable, mode, unit = "kg", decimals = 2 } = reading;
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 5) {
    throw new RangeError(`ohaus shows 0..5 decimals here, got ${decimals}`);
  }
  const { negative, text: number } = displayedNumber(grams, unit, decimals);
  if (number.length > MIN_FIELD) throw new RangeError(`${grams} g in ${unit} does not fit ohaus's seven characters`);
  const line = `${negative ? "-" : " "} ${number.padStart(MIN_FIELD)} ${unit.padEnd(5)}${stable ? " " : "?"}${mode === "gross" ? "G  " : "NET"}`;
  return asciiBytes(`${line}\r\n`);
}

/**
 * A framer for an Ohaus continuous-print stream: lines ended by CR, LF or CR LF, each decoded with
 * `decodeOhaus`, except the bytes before the first line end, which are discarded (the port may have
 * opened mid-line). A line longer than `OHAUS_MAX_LINE_BYTES` is discarded in bounded pieces.
 */
export function createOhausFramer(): BufferedFramer<ScaleFrame> {
  return crLfLineFramer(OHAUS_MAX_LINE_BYTES, decodeOhaus, { firstLineMayBePartial: true });
}

/**
 * The ohaus registry entry (shared/protocols/scales.md, "ohaus"): no options (the line carries its
 * unit, stability and legend); 8N1 at 9600 baud by default (the Defender 3000's standard setting).
 * The indicator must be set to continuous print. Its encoder writes a gross line in kg with
 * `decimals` (default 2), `?` unless `stable`.
 */
export const ohaus = defineProtocol({
  name: "ohaus",
  kind: "scale",
  summary: "Ohaus print format in continuous print mode (Defender 3000/5000, Navigator, Ranger and similar)",
  source: "shared/protocols/scales.md, ohaus",
  port: serial8N1(9600),
  defaults: {},
  options: z.object({}),
  createFramer: () => createOhausFramer(),
  decode: (line) => decodeOhaus(line),
  encode: (sample) => encodeOhaus({ grams: sample.grams, stable: sample.stable, mode: "gross", decimals: sample.decimals ?? 2 }),
});
