/**
 * wiegand: Wiegand 26 and 34 readers on two GPIO lines, D0 and D1. Source of every layout fact:
 * shared/protocols/readers.md, section "wiegand" (D0 pulses are 0 bits, D1 pulses 1 bits, pulses
 * tens of microseconds wide and about 1-2 ms apart, a gap of 20-50 ms ends a frame; W26: bit 1 even
 * parity over bits 1-13, bits 2-9 facility, bits 10-25 card, bit 26 odd parity over bits 14-26; W34:
 * even parity over the first 16 data bits, odd over the last 16; the 34-bit split is configuration;
 * a frame of the wrong length or parity is rejected, never guessed; example
 * `00101101000000001010001000` is facility 90, card 324).
 *
 * Two stages, both pure (time comes in with the edges):
 * 1. {@link splitWiegandFrames}: timestamped falling edges of D0 and D1 (from the GPIO adapter:
 *    gpiomon's kernel timestamps) become frames, one per run of edges without a gap of
 *    `frame_gap_ms`, each written as a **bit line**: `0`/`1` characters, then LF.
 * 2. The registry's byte framer reads bit lines ({@link createWiegandFramer}) and decodes each with
 *    {@link decodeWiegandBits}: length, parity, then the card id in the configured form
 *    (./card-id.ts). So a decoded card reaches the station exactly as a serial reader's frames do,
 *    and wrong frames are `discarded` values, counted like any reader's.
 */
import { z } from "zod";
import { CR, LF, latin1 } from "../bytes.js";
import { defineProtocol, serial8N1 } from "../device-protocol.js";
import { LineFramer } from "../line-framer.js";
import type { BufferedFramer, ReaderFrame } from "../types.js";
import { formatCardNumber, type CardForm } from "./card-id.js";

/**
 * Card id forms of a wiegand reader: those of ./card-id.ts over the frame's data bits (3 bytes for
 * W26, 4 for W34), and `facility_card`: "facility,card" unpadded as the frame itself splits it
 * (W26: 8 + 16 bits; W34: `w34_facility_bits` + the rest).
 */
export const WIEGAND_CARD_FORMATS = ["w26", "wiegand26", "dec10", "hex", "facility_card"] as const;
/** One of {@link WIEGAND_CARD_FORMATS} (config `readers[].card_id_format` of a wiegand reader). */
export type WiegandCardFormat = (typeof WIEGAND_CARD_FORMATS)[number];

/** Options of {@link decodeWiegandBits}. */
export interface WiegandOptions {
  /** Default `w26`. */
  format?: WiegandCardFormat;
  /** W34: how many of the 32 data bits are the facility code in the `facility_card` form; default 16. */
  w34FacilityBits?: number;
}

/** The longest bit line kept; longer runs of edges are discarded whole (`line too long`). */
export const WIEGAND_MAX_BITS = 64;

/** The data bits of a frame as bytes, most significant first (24 bits: 3 bytes, 32 bits: 4). */
function bytesOf(bits: string): Uint8Array {
  const out = new Uint8Array(bits.length / 8);
  for (let i = 0; i < bits.length; i++) if (bits.charCodeAt(i) === ONE) out[i >> 3]! |= 0x80 >> (i & 7);
  return out;
}
const ZERO = 0x30;
/** `~`: starts the bit line of a run of edges that is noise (see {@link splitWiegandFrames}). */
const NOISE_MARK = 0x7e;
const ONE = 0x31;

function ones(bits: string): number {
  let n = 0;
  for (let i = 0; i < bits.length; i++) if (bits.charCodeAt(i) === ONE) n++;
  return n;
}

/**
 * Decodes one frame written as bits (`0`/`1`, first bit first).
 *
 * @param line the bits; a line that starts with `~` is a run of edges {@link splitWiegandFrames} found
 *   too close together, discarded as noise
 * @returns `{kind: "id", cardId}`; `noise` when length and parity are right but the data bits are
 *   all 0 or all 1 (a line stuck or shorted, no card); or `discarded` with the reason: wrong length
 *   (not 26 or 34), a character other than 0/1, even (first) or odd (last) parity wrong, or a form
 *   the frame cannot give (`dec10` of a W26 frame). Never throws.
 */
export function decodeWiegandBits(line: Uint8Array, opts: WiegandOptions = {}): ReaderFrame {
  const discard = (reason: string): ReaderFrame => ({ kind: "discarded", bytes: line.slice(), reason });
  if (line[0] === NOISE_MARK) return discard(`edges closer than ${WIEGAND_MIN_EDGE_SPACING_US} µs (noise, not bits)`);
  for (const b of line) if (b !== ZERO && b !== ONE) return discard("not a bit line (only 0 and 1 expected)");
  const bits = latin1(line);
  const n = bits.length;
  if (n !== 26 && n !== 34) return discard(`wrong length: ${n} bits (expected 26 or 34)`);
  const half = n / 2; // 13 or 17: the parity bit and the first (last) half of the data
  if (ones(bits.slice(0, half)) % 2 !== 0) return discard(`W${n} even parity (first bit) wrong`);
  if (ones(bits.slice(half)) % 2 !== 1) return discard(`W${n} odd parity (last bit) wrong`);
  const data = bits.slice(1, n - 1);
  const count = ones(data);
  if (count === 0 || count === data.length) {
    return { kind: "noise", bytes: line.slice(), reason: `W${n} data bits all ${count === 0 ? 0 : 1}` };
  }
  const format = opts.format ?? "w26";
  if (format === "facility_card") {
    const facilityBits = n === 26 ? 8 : (opts.w34FacilityBits ?? 16);
    const facility = facilityBits === 0 ? 0 : parseInt(data.slice(0, facilityBits), 2);
    const card = facilityBits === data.length ? 0 : parseInt(data.slice(facilityBits), 2);
    return { kind: "id", cardId: `${facility},${card}` };
  }
  const id = formatCardNumber(bytesOf(data), format satisfies CardForm);
  return typeof id === "string" ? { kind: "id", cardId: id } : discard(`W${n}: ${id.problem}`);
}

/**
 * Writes a frame as a bit line with its parity bits (simulators and tests).
 *
 * @param cardHex the card number bytes in hex: 6 characters for a W26 frame, 8 for a W34 frame
 * @returns the bits and LF
 * @throws RangeError for any other `cardHex`
 */
export function encodeWiegand(cardHex: string): Uint8Array {
  if (!/^(?:[0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})$/.test(cardHex)) {
    throw new RangeError(`a wiegand card is 6 (W26) or 8 (W34) hex characters, got ${cardHex}`);
  }
  const data = BigInt(`0x${cardHex}`).toString(2).padStart(cardHex.length * 4, "0");
  const half = data.length / 2;
  const even = ones(data.slice(0, half)) % 2 === 0 ? "0" : "1";
  const odd = ones(data.slice(half)) % 2 === 0 ? "1" : "0";
  return new TextEncoder().encode(`${even}${data}${odd}\n`);
}

/** One falling edge: a pulse on D0 (a 0 bit) or D1 (a 1 bit), at a time in microseconds. */
export interface WiegandEdge {
  line: "d0" | "d1";
  /** Microseconds on one clock for both lines (gpiomon's kernel timestamps). */
  tUs: number;
}

/**
 * Edges closer than this (µs) in one frame are noise: the Wiegand interface's pulse interval is
 * 200 µs to 20 ms (readers.md: pulses about 1-2 ms apart), so two falling edges 100 µs apart are
 * interference, or both lines pulled at once, never two bits.
 */
export const WIEGAND_MIN_EDGE_SPACING_US = 100;

/**
 * Splits edges into frames: sorted by time (the two lines may come from two processes, so edges can
 * arrive out of order), a new frame starting after every gap longer than `gapUs`. Each frame is its
 * bit line (`0` for D0, `1` for D1, then LF), the registry framer's input; a frame two of whose edges
 * are closer than {@link WIEGAND_MIN_EDGE_SPACING_US} starts with `~`, and the decoder discards it as
 * noise. Length and parity are not judged here: the decoder does.
 *
 * @param edges the edges of one or more frames, in any order; not modified
 * @param gapUs the frame gap (`frame_gap_ms` × 1000)
 */
export function splitWiegandFrames(edges: readonly WiegandEdge[], gapUs: number): Uint8Array[] {
  const sorted = [...edges].sort((a, b) => a.tUs - b.tUs);
  const runs: Uint8Array[] = [];
  let bits = "";
  let closest = Infinity;
  let last = -Infinity;
  const end = () => {
    if (bits === "") return;
    runs.push(new TextEncoder().encode(`${closest < WIEGAND_MIN_EDGE_SPACING_US ? "~" : ""}${bits}\n`));
    bits = "";
    closest = Infinity;
  };
  for (const e of sorted) {
    if (e.tUs - last > gapUs) end();
    else closest = Math.min(closest, e.tUs - last);
    bits += e.line === "d0" ? "0" : "1";
    last = e.tUs;
  }
  end();
  return runs;
}

/**
 * A framer for bit lines (what {@link splitWiegandFrames} writes; ended by LF, or CR, CR LF), each decoded with
 * {@link decodeWiegandBits}; a line longer than {@link WIEGAND_MAX_BITS} is discarded whole.
 */
export function createWiegandFramer(opts: WiegandOptions = {}): BufferedFramer<ReaderFrame> {
  return new LineFramer<ReaderFrame>({
    maxLineBytes: WIEGAND_MAX_BITS,
    isTerminator: (b) => b === LF || b === CR,
    keepsTerminator: () => false,
    startByte: undefined,
    decode: (line) => decodeWiegandBits(line, opts),
  });
}

/** The wiegand options as the config validates them. */
const wiegandOptions = z.object({
  frame_gap_ms: z
    .number()
    .min(5)
    .max(1000)
    .default(25)
    .describe(
      "Milliseconds without a pulse that end a frame (readers send pulses 1-2 ms apart and pause 20-50 ms " +
        "between frames).",
    ),
  card_id_format: z
    .enum(WIEGAND_CARD_FORMATS)
    .default("w26")
    .describe(
      "How frames are written as card_id: w26 = facility,card zero-padded 3+5 (093,07589), of the last 24 data " +
        "bits, equal to the w26 of the same EM4100 tag through em4100-ascii; wiegand26 = the same unpadded " +
        "(93,7589); dec10 = the 32 data bits of a W34 frame as 10-digit decimal (W26 frames have no dec10 form " +
        "and are discarded); hex = the data bits in hex (6 characters for W26, 8 for W34); facility_card = " +
        "facility,card as the frame splits it (W26 8+16 bits, W34 w34_facility_bits + the rest).",
    ),
  w34_facility_bits: z
    .int()
    .min(0)
    .max(32)
    .default(16)
    .describe("Wiegand 34: how many of the 32 data bits are the facility code, for card_id_format facility_card."),
});

/**
 * A wiegand reader's `frame_gap_ms` (its default when unset), for the app that gathers its edges.
 *
 * @param item the reader's config item
 * @throws z.ZodError when the item's options are invalid (the config schema refuses such a file first)
 */
export function wiegandFrameGapMs(item: Readonly<Record<string, unknown>>): number {
  return wiegandOptions.parse(item).frame_gap_ms;
}

/**
 * The wiegand registry entry (shared/protocols/readers.md, "wiegand"): a reader on two GPIO lines
 * (`transport: "gpio"`: no port, no serial settings; the `port` below is never opened; the config
 * item names its lines, `d0_line` and `d1_line`, as a serial item names its port). Options
 * `frame_gap_ms`, `card_id_format` (default `w26`), `w34_facility_bits`;
 * `min_reads` 1, since a Wiegand reader sends one frame per presentation. Its framer reads bit lines;
 * its encoder writes the bit line of `tag` (card number hex, 6 or 8 characters).
 */
export const wiegand = defineProtocol({
  name: "wiegand",
  kind: "reader",
  summary: "Wiegand 26/34 readers on two GPIO lines (d0_line, d1_line) instead of a port",
  source: "shared/protocols/readers.md, wiegand",
  transport: "gpio",
  port: serial8N1(9600),
  defaults: { minReads: 1 },
  options: wiegandOptions,
  createFramer: (o) => createWiegandFramer({ format: o.card_id_format, w34FacilityBits: o.w34_facility_bits }),
  decode: (line, o) => decodeWiegandBits(line, { format: o.card_id_format, w34FacilityBits: o.w34_facility_bits }),
  encode: (sample) => encodeWiegand(sample.tag),
});
