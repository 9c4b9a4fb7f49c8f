/**
 * mt-sics: the Mettler Toledo Standard Interface Command Set, levels 0 and 1, as balances, weigh
 * modules and indicators speak it (request/response: the station polls). Sources:
 * - shared/protocols/scales.md, section "mt-sics" (the commands `SI`, `S`, `Z`, `T`; the answers
 *   `S S`, `S D`, `S I`, `S +`, `S -`; the errors `ES`, `ET`, `EL`; units of any width; the example
 *   `S S     100.00 g`);
 * - the MT-SICS reference manual (Mettler Toledo 11780711, "MT-SICS Interface Commands"), 2.1
 *   "Command formats" (commands and responses are ASCII, each closed by CR LF; commands in upper
 *   case, units case-sensitive), 2.1.2.1 "Format of responses with weight value" (`ID␣Status␣
 *   WeightValue␣Unit`: the value right-aligned in 10 characters with its sign directly before the
 *   first digit), 2.1.3.2 "General error messages" (`ES` syntax error: the command was not
 *   recognised; `ET` transmission error: a faulty command, e.g. a parity error or an interface
 *   break; `EL` logical error: the command cannot be executed), and the level-0 commands `SI`
 *   ("send weight value immediately": `S S` stable, `S D` dynamic, `S I` command not executable now,
 *   `S +` overload, `S -` underload), `Z` (`Z A` zero done, `Z I`, `Z +`, `Z -`) and `T` (`T S
 *   <tare value> <unit>` tare done, `T I`, `T +`, `T -`);
 * - the operating instructions of the New Classic balances (MS, ML), "Basic information on data
 *   interchange" (`S I`: "balance is currently executing another command, e.g. taring, or time out
 *   as stability was not reached"; `S +` overload range, `S -` underload range);
 * - field drivers that read the same answers by splitting them at spaces (InstrumentKit's
 *   `mettler_toledo/mt_sics.py`: `ES`/`ET`/`EL` as general errors, `I`/`+`/`-` as the status), so
 *   the padding between the fields is read as any run of spaces, not as fixed columns.
 *
 * `SI` answers with the current net weight (the gross weight when nothing is tared), stable or not,
 * so a weight frame's mode is `net` and its stability is the balance's own (`S S` or `S D`). Zero and
 * tare answers (`Z …`, `T …`) are well-formed and carry no weight: `ignored`. Error answers, unknown
 * answers and units that are not weights (`PCS`, `%`) are `discarded`: counted, logged, and a device
 * that answers nothing else goes offline by the "no valid frames" rule. Weights in g, kg, t, mg, ct,
 * lb, oz, ozt, dwt and GN are converted to grams exactly; other units (taels, momme, tola…, whose
 * size differs by region) are discarded, never guessed.
 */
import { z } from "zod";
import { SPACE, asciiBytes } from "../bytes.js";
import { crLfLineFramer } from "../crlf-lines.js";
import { defineProtocol, serial8N1, type PortNeeds } from "../device-protocol.js";
import { type DisplayUnit, displayedToGrams } from "../grams.js";
import type { BufferedFramer, ScaleFrame } from "../types.js";
import { readDecimalField } from "./decimal-field.js";
import { displayedNumber } from "./displayed-number.js";

/** Longest answer line kept, terminator excluded (a weight answer is about 20 characters). */
export const MT_SICS_MAX_LINE_BYTES = 64;
/** The width of the weight value field (reference manual 2.1.2.1). */
const VALUE_FIELD = 10;

/** The request that asks for the weight immediately, stable or not (level 0 command `SI`). */
export const SI_REQUEST: Uint8Array = asciiBytes("SI\r\n");
/** Zero (level 0 command `Z`: zero once the weight is stable). */
export const ZERO_REQUEST: Uint8Array = asciiBytes("Z\r\n");
/** Tare (level 0 command `T`: tare once the weight is stable). */
export const TARE_REQUEST: Uint8Array = asciiBytes("T\r\n");

/** `poll_ms`: default, and the bounds of the config schema. */
export const MT_SICS_POLL_MS = { default: 200, min: 50, max: 10_000 } as const;

/**
 * The general error answers (reference manual 2.1.3.2), with what they mean: never a weight.
 */
const ERRORS: Readonly<Record<string, string>> = {
  ES: "syntax error: the balance did not recognise the command",
  ET: "transmission error: the balance received a faulty command (parity, interface break)",
  EL: "logical error: the balance cannot execute the command",
};

/**
 * How a unit (as the balance writes it, case-sensitive) converts to grams: its value in `unit`
 * times `times`, with `shift` more decimals. Exact: a metric carat is 0.2 g, a troy ounce
 * 31.1034768 g, a pennyweight 1/20 of it (1.55517384 g), a grain 64.79891 mg (the 1959
 * international yard and pound agreement); lb and oz go through grams.ts.
 */
const WEIGHT_UNITS: Readonly<Record<string, { unit: DisplayUnit; times: bigint; shift: number }>> = {
  g: { unit: "g", times: 1n, shift: 0 },
  kg: { unit: "kg", times: 1n, shift: 0 },
  t: { unit: "t", times: 1n, shift: 0 },
  mg: { unit: "g", times: 1n, shift: 3 },
  ct: { unit: "g", times: 2n, shift: 1 },
  lb: { unit: "lb", times: 1n, shift: 0 },
  oz: { unit: "oz", times: 1n, shift: 0 },
  ozt: { unit: "g", times: 311_034_768n, shift: 7 },
  dwt: { unit: "g", times: 155_517_384n, shift: 8 },
  GN: { unit: "g", times: 6_479_891n, shift: 8 },
};
/** Units a balance shows that are no weight: piece counting and percent weighing. */
const NOT_WEIGHT_UNITS = new Set(["PCS", "pcs", "%"]);

/** At most this many space-separated fields are looked at (a weight answer has four). */
const MAX_FIELDS = 5;

/** The space-separated fields of a line, as [start, end) pairs (at most MAX_FIELDS). */
function fieldsOf(line: Uint8Array): number[] {
  const bounds: number[] = [];
  let i = 0;
  const n = line.length;
  while (i < n && bounds.length < 2 * MAX_FIELDS) {
    while (i < n && line[i] === SPACE) i++;
    if (i === n) break;
    const start = i;
    while (i < n && line[i] !== SPACE) i++;
    bounds.push(start, i);
  }
  return bounds;
}

function text(line: Uint8Array, bounds: number[], field: number): string {
  return String.fromCharCode(...line.subarray(bounds[2 * field] ?? 0, bounds[2 * field + 1] ?? 0));
}

/**
 * Decodes one MT-SICS answer line.
 *
 * @param line the line without its CR LF
 * @returns `weight` for `S S` (stable) and `S D` (dynamic) with a value and a weight unit, in integer
 *   grams (mode `net`: `SI` sends the net weight), rounded half away from zero; `no_weight` overload
 *   for `S +`, underload for `S -`; `ignored` for `S I` (command not executable now) and for the
 *   answers to `Z` and `T`; `discarded` with the line and the reason for the errors `ES`, `ET`, `EL`
 *   (the reason names the error), units that are not weights or unknown, and anything else. Never
 *   throws.
 */
export function decodeMtSics(line: Uint8Array): ScaleFrame {
  const discard = (reason: string): ScaleFrame => ({ kind: "discarded", bytes: line.slice(), reason });
  for (const b of line) if (b < 0x20 || b > 0x7e) return discard("non-printable byte in line");
  const bounds = fieldsOf(line);
  const count = bounds.length / 2;
  if (count === 0) return discard("blank line");
  const id = text(line, bounds, 0);
  const error = ERRORS[id];
  if (error !== undefined) return discard(count === 1 ? `MT-SICS error ${id} (${error})` : "not an MT-SICS answer");
  if (id === "Z" || id === "T") {
    return count >= 2 ? { kind: "ignored", reason: `answer to ${id === "Z" ? "zero" : "tare"} (${id} ${text(line, bounds, 1)})` } : discard("not an MT-SICS answer");
  }
  if (id !== "S" || count < 2) return discard("not an MT-SICS answer");
  const status = text(line, bounds, 1);
  switch (status) {
    case "I":
      return count === 2 ? { kind: "ignored", reason: "command not executable now (S I)" } : discard("not an MT-SICS answer");
    case "+":
      return count === 2 ? { kind: "no_weight", reason: "overload" } : discard("not an MT-SICS answer");
    case "-":
      return count === 2 ? { kind: "no_weight", reason: "underload" } : discard("not an MT-SICS answer");
    case "S":
    case "D":
      break;
    default:
      return discard(`unknown status ${JSON.stringify(status)}`);
  }
  if (count !== 4) return discard("not <S|D> <value> <unit>");
  const unitText = text(line, bounds, 3);
  if (NOT_WEIGHT_UNITS.has(unitText)) return discard(`not a weight (${unitText})`);
  const unit = WEIGHT_UNITS[unitText];
  if (unit === undefined) return discard(`unknown unit ${JSON.stringify(unitText)}`);
  const field = readDecimalField(line, bounds[4] ?? 0, bounds[5] ?? 0, "plus-or-minus");
  if (field === undefined) return discard("bad weight value");
  const digits = unit.times === 1n ? field.digits : BigInt(field.digits) * unit.times;
  const grams = displayedToGrams(field.negative, digits, field.decimals + unit.shift, unit.unit);
  return { kind: "weight", grams, stable: status === "S", mode: "net" };
}

/** What `encodeMtSics` writes. */
export interface MtSicsReading {
  /** Integer grams, negative allowed; shown rounded half away from zero to the display step. */
  grams: number;
  /** `S S` when true, `S D` when false. */
  stable: boolean;
  /** Display unit (default `kg`). */
  unit?: DisplayUnit;
  /** Digits after the decimal point, 0..5 (default 3). */
  decimals?: number;
}

/**
 * Encodes the answer to `SI` as the reference manual writes it (2.1.2.1): `S`, the status, the value
 * right-aligned in 10 characters with its sign directly before the first digit, the unit, CR LF. For
 * simulators and tests.
 *
 * @throws RangeError when `grams` is not a safe integer, `decimals` is not 0..5, or the value does
 *   not fit ten characters
 */
export function encodeMtSics(reading: MtSicsReading): Uint8Array {
  const { grams, stable, unit = "kg", decimals = 3 } = reading;
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 5) {
    throw new RangeError(`mt-sics shows 0..5 decimals here, got ${decimals}`);
  }
  const { negative, text: number } = displayedNumber(grams, unit, decimals);
  const value = `${negative ? "-" : ""}${number}`;
  if (value.length > VALUE_FIELD) throw new RangeError(`${grams} g in ${unit} does not fit mt-sics's ten characters`);
  return asciiBytes(`S ${stable ? "S" : "D"} ${value.padStart(VALUE_FIELD)} ${unit}\r\n`);
}

/** A framer for MT-SICS answers: CR LF lines (CR or LF alone also end one), each decoded with `decodeMtSics`. */
export function createMtSicsFramer(): BufferedFramer<ScaleFrame> {
  return crLfLineFramer(MT_SICS_MAX_LINE_BYTES, decodeMtSics);
}

/** What an MT-SICS device needs from its port: 8N1 at 9600 baud, and `SI` every `pollMs`. */
function mtSicsPort(pollMs: number): PortNeeds {
  return { ...serial8N1(9600), poll: { everyMs: pollMs, request: SI_REQUEST } };
}

const options = z.object({
  poll_ms: z
    .int()
    .min(MT_SICS_POLL_MS.min)
    .max(MT_SICS_POLL_MS.max)
    .default(MT_SICS_POLL_MS.default)
    .describe(
      "Milliseconds between two SI requests (send weight immediately) while the port is open. A balance that " +
        "does not answer is silent, and offline after silence_timeout_s.",
    ),
});

/**
 * The mt-sics registry entry (shared/protocols/scales.md, "mt-sics"): option `poll_ms` (default 200);
 * 8N1 at 9600 baud by default (the balances' factory setting); the station polls `SI` and can send
 * `Z` (zero) and `T` (tare). Its encoder writes the answer to `SI` in kg with `decimals` (default 3).
 */
export const mtSics = defineProtocol({
  name: "mt-sics",
  kind: "scale",
  summary: "Mettler Toledo MT-SICS, polled with SI (balances, weigh modules and indicators with MT-SICS level 0/1)",
  source: "shared/protocols/scales.md, mt-sics",
  port: mtSicsPort(MT_SICS_POLL_MS.default),
  defaults: {},
  options,
  portFor: (o) => mtSicsPort(o.poll_ms),
  commands: () => ({ zero: () => ZERO_REQUEST.slice(), tare: () => TARE_REQUEST.slice() }),
  createFramer: () => createMtSicsFramer(),
  decode: (line) => decodeMtSics(line),
  encode: (sample) => encodeMtSics({ grams: sample.grams, stable: sample.stable, decimals: sample.decimals ?? 3 }),
});
