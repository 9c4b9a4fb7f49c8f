/**
 * The protocol layer's public face: a framer per configured device protocol (contract.md section
 * 5), the decoders, and the encoders that simulators and tests use to produce device bytes.
 * Pure: no timers, no I/O, no Node imports.
 */
import { createStGsFramer } from "./scale/ascii-st-gs.js";
import { createYaohuaA9Framer } from "./scale/yaohua-a9.js";
import { createAsciiLineFramer } from "./reader/ascii-line.js";
import { createEm4100Framer, type Em4100CardFormat } from "./reader/em4100-ascii.js";
import type {
  BufferedFramer,
  ReaderFrame,
  ReaderProtocol,
  ScaleFrame,
  ScaleProtocol,
  WeightUnit,
} from "./types.js";

export * from "./types.js";
export { displayedToGrams, gramsToDisplayed, type DisplayUnit } from "./grams.js";
export { toHex } from "./bytes.js";
export {
  A9_FRAME_BYTES,
  createYaohuaA9Framer,
  decodeYaohuaA9,
  encodeYaohuaA9,
  type A9ChecksumStyle,
  type A9Reading,
} from "./scale/yaohua-a9.js";
export {
  ST_GS_MAX_LINE_BYTES,
  createStGsFramer,
  decodeStGs,
  encodeStGs,
  type StGsReading,
} from "./scale/ascii-st-gs.js";
export {
  EM4100_CARD_FORMATS,
  EM4100_FRAME_BYTES,
  EM4100_RAW_CHECKSUM_FRAME_BYTES,
  createEm4100Framer,
  decodeEm4100,
  encodeEm4100,
  formatCardId,
  type Em4100CardFormat,
  type Em4100Variant,
} from "./reader/em4100-ascii.js";
export {
  ASCII_LINE_MAX_BYTES,
  compileIdPattern,
  createAsciiLineFramer,
  decodeAsciiLine,
  encodeAsciiLine,
  type AsciiLineEncoding,
} from "./reader/ascii-line.js";

/** Options of a scale framer (config `scales[]`). */
export interface ScaleFramerOptions {
  /** The unit configured on the indicator; used only by protocols whose frames carry none (yaohua-a9). */
  unit: WeightUnit;
}

/** Options of a reader framer (config `readers[]`); each protocol ignores the options it has no use for. */
export interface ReaderFramerOptions {
  /** ascii-line: what a valid identifier looks like; with a capture group, group 1 is the id. */
  pattern?: string | RegExp;
  /** em4100-ascii: how to write `cardId` (default `dec10`, contract.md section 4). */
  format?: Em4100CardFormat;
}

/**
 * A fresh framer for one scale's byte stream.
 *
 * @param protocol a name from `SCALE_PROTOCOLS` (contract.md section 5)
 * @returns a framer whose `push` never throws and whose buffer stays bounded
 */
export function createScaleFramer(
  protocol: ScaleProtocol,
  opts: ScaleFramerOptions,
): BufferedFramer<ScaleFrame> {
  switch (protocol) {
    case "yaohua-a9":
      return createYaohuaA9Framer({ unit: opts.unit });
    case "ascii-st-gs":
      return createStGsFramer();
    default:
      return unknownProtocol(protocol);
  }
}

/**
 * A fresh framer for one reader's byte stream.
 *
 * @param protocol a name from `READER_PROTOCOLS` (contract.md section 5)
 * @returns a framer whose `push` never throws and whose buffer stays bounded
 * @throws SyntaxError when `opts.pattern` is a string that is not a valid regular expression
 */
export function createReaderFramer(
  protocol: ReaderProtocol,
  opts: ReaderFramerOptions = {},
): BufferedFramer<ReaderFrame> {
  switch (protocol) {
    case "em4100-ascii":
      return createEm4100Framer({ format: opts.format });
    case "ascii-line":
      return createAsciiLineFramer({ pattern: opts.pattern });
    default:
      return unknownProtocol(protocol);
  }
}

/** Compile-time exhaustiveness; at run time (an unchecked cast upstream) a clear error. */
function unknownProtocol(protocol: never): never {
  throw new RangeError(`unknown device protocol: ${String(protocol)}`);
}
