/**
 * ascii-line: readers and scanners in text mode (QR and barcode scanners, card readers set to
 * decimal or hex text). Sources: shared/protocols/readers.md, section "ascii-line" (one identifier
 * per line, CR, LF or CR LF, sometimes wrapped in STX/ETX, a configurable pattern), and contract.md
 * section 4 (`card_id` is the line without CR, LF, STX, ETX and surrounding spaces; with a
 * `pattern`, non-matching lines are discarded and the first capture group, if any, is the id).
 */
import { CR, ETX, LF, STX, SPACE, TAB, asciiBytes } from "../bytes.js";
import { LineFramer } from "../line-framer.js";
import type { BufferedFramer, ReaderFrame } from "../types.js";

/**
 * Longest line kept, in bytes: the terminator excluded, a leading STX and padding spaces included.
 * Room for a long QR payload; anything longer is not an identifier and is discarded in pieces of
 * this size.
 */
export const ASCII_LINE_MAX_BYTES = 256;

/** Strict UTF-8: a line with invalid UTF-8 is noise, not an id with replacement characters. */
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Prepares a configured pattern for repeated use: a string is compiled as a regular expression
 * source (no flags); a RegExp loses its `g` and `y` flags, whose `lastIndex` state would make every
 * other test of the same line fail. The pattern is not anchored implicitly: write `^…$` for a whole
 * line match.
 *
 * @throws SyntaxError when a string is not a valid regular expression (config validation should
 *   catch it first)
 */
export function compileIdPattern(pattern: string | RegExp): RegExp {
  if (typeof pattern === "string") return new RegExp(pattern);
  return new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ""));
}

function isSpace(b: number): boolean {
  return b === SPACE || b === TAB;
}

/**
 * Decodes one line into an id.
 *
 * @param line the line's bytes without CR/LF; a line ended by ETX keeps the ETX as its last byte
 * @param pattern optional (see `compileIdPattern`); the line must match it, and when it has a capture
 *   group, group 1 is the id (else the whole line is)
 * @returns `{kind: "id", cardId}` with the text between optional STX/ETX, surrounding spaces and tabs
 *   removed; or `discarded` with the reason: `empty line`, an ETX without its STX (a frame cut when
 *   the port opened), a stray STX/ETX or other control character inside, invalid UTF-8, no match for
 *   the pattern, or an empty capture. Never throws.
 */
export function decodeAsciiLine(line: Uint8Array, pattern?: RegExp): ReaderFrame {
  const discard = (reason: string): ReaderFrame => ({ kind: "discarded", bytes: line.slice(), reason });
  let start = 0;
  let end = line.length;
  while (start < end && isSpace(line[start] ?? 0)) start++;
  const wrapped = line[start] === STX;
  if (wrapped) start++;
  while (end > start && isSpace(line[end - 1] ?? 0)) end--;
  if (end > start && line[end - 1] === ETX) {
    if (!wrapped) return discard("ETX without STX (partial frame)");
    end--;
  }
  while (start < end && isSpace(line[start] ?? 0)) start++;
  while (end > start && isSpace(line[end - 1] ?? 0)) end--;
  if (start === end) return discard("empty line");
  const body = line.subarray(start, end);
  if (body.some((b) => b < 0x20 || b === 0x7f)) {
    const framing = body.some((b) => b === STX || b === ETX);
    return discard(framing ? "stray STX or ETX" : "control character in line");
  }
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return discard("invalid UTF-8");
  }
  if (pattern === undefined) return { kind: "id", cardId: text };
  const m = pattern.exec(text);
  if (m === null) return discard("does not match pattern");
  // With a capture group the id is group 1; without one the pattern only validates the line.
  const id = m.length > 1 ? m[1] : text;
  if (id === undefined || id === "") return discard("pattern captured an empty id");
  return { kind: "id", cardId: id };
}

/** Options of `encodeAsciiLine`. */
export interface AsciiLineEncoding {
  /** Wrap the id in STX ... ETX (default false). */
  stxEtx?: boolean;
  /** Line end (default CR LF). */
  lineEnd?: "\r\n" | "\r" | "\n";
}

/**
 * Encodes an id as a text-mode reader sends it: UTF-8, optionally STX/ETX-wrapped, then the line end
 * (for simulators and tests).
 *
 * @throws RangeError when `id` is empty or contains a control character (it could not round-trip)
 */
export function encodeAsciiLine(id: string, opts: AsciiLineEncoding = {}): Uint8Array {
  if (id === "" || /[\u0000-\u001f\u007f]/.test(id)) {
    throw new RangeError(`an id must be non-empty without control characters, got ${JSON.stringify(id)}`);
  }
  const body = new TextEncoder().encode(id);
  const end = asciiBytes(opts.lineEnd ?? "\r\n");
  const wrap = opts.stxEtx === true;
  const out = new Uint8Array(body.length + end.length + (wrap ? 2 : 0));
  let at = 0;
  if (wrap) out[at++] = STX;
  out.set(body, at);
  at += body.length;
  if (wrap) out[at++] = ETX;
  out.set(end, at);
  return out;
}

/**
 * A framer for a text-mode reader: lines ended by CR, LF, CR LF or ETX, each decoded with
 * `decodeAsciiLine`. An empty line (such as the CR LF after an ETX, or an LF split from its CR across
 * chunks) yields nothing; a STX starts a new frame and discards the partial line before it; a line
 * longer than `ASCII_LINE_MAX_BYTES` is discarded in bounded pieces.
 *
 * @param opts.pattern what a valid identifier looks like (see `compileIdPattern`)
 * @throws SyntaxError when `pattern` is a string that is not a valid regular expression
 */
export function createAsciiLineFramer(opts: { pattern?: string | RegExp } = {}): BufferedFramer<ReaderFrame> {
  const pattern = opts.pattern === undefined ? undefined : compileIdPattern(opts.pattern);
  return new LineFramer<ReaderFrame>({
    maxLineBytes: ASCII_LINE_MAX_BYTES,
    isTerminator: (b) => b === CR || b === LF || b === ETX,
    keepsTerminator: (b) => b === ETX,
    startByte: STX,
    decode: (line) => decodeAsciiLine(line, pattern),
  });
}
