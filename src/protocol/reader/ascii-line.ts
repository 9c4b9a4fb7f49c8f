/**
 * ascii-line: readers and scanners in text mode (QR and barcode scanners, card readers set to
 * decimal or hex text). Sources: shared/protocols/readers.md, section "ascii-line" (one identifier
 * per line, CR, LF or CR LF, sometimes wrapped in STX/ETX, a configurable pattern), and contract.md
 * section 4 (`card_id` is the line without CR, LF, STX, ETX and surrounding spaces; with a
 * `pattern`, non-matching lines are discarded and the first capture group, if any, is the id;
 * "Patterns are matched in time linear in the line's length, whatever the pattern").
 *
 * Patterns run on re2js, a pure-JavaScript port of RE2: an automaton, no backtracking, so a crafted
 * line cannot make `^(a|a)*$` take exponential time (issue 6, item 9). RE2 has no look-around and
 * no back-references; a pattern that uses them is refused, naming the feature.
 */
import { RE2JS, RE2JSSyntaxException } from "re2js";
import { z } from "zod";
import { CR, ETX, LF, STX, SPACE, TAB, asciiBytes, isWellFormedUtf8, latin1 } from "../bytes.js";
import { defineProtocol, serial8N1 } from "../device-protocol.js";
import { LineFramer } from "../line-framer.js";
import type { BufferedFramer, ReaderFrame } from "../types.js";

/**
 * Longest line kept, in bytes: the terminator excluded, a leading STX and padding spaces included.
 * Room for a long QR payload; a longer line is not an identifier and is discarded whole (in pieces
 * of this size, so memory stays bounded), never truncated and decoded (issue 6, item 9: "Lines
 * longer than 512 bytes are discarded, never truncated").
 */
export const ASCII_LINE_MAX_BYTES = 512;

/** Strict UTF-8: a line with invalid UTF-8 is noise, not an id with replacement characters. */
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A compiled id pattern: RE2 syntax, matched in time linear in the line's length. */
export type IdPattern = RE2JS;

/** Why a pattern cannot be used: what was expected instead, and the engine's reason. */
export interface IdPatternProblem {
  /** `a regular expression`, or one without the unsupported feature. */
  expected: string;
  /** The feature RE2 cannot run (`look-ahead "(?="`), or the syntax error. */
  reason: string;
}

/** Look-around constructs (RE2 has none: they cannot be matched in linear time), and their names. */
const LOOK_AROUND: ReadonlyArray<readonly [construct: string, feature: string]> = [
  ["(?=", "look-ahead"],
  ["(?!", "negative look-ahead"],
  ["(?<=", "look-behind"],
  ["(?<!", "negative look-behind"],
];

/**
 * The feature an RE2-class engine cannot run that starts `fragment` (where re2js's parser stopped:
 * its exception's `input` starts there), named with its construct; undefined for other errors.
 */
function unsupportedFeature(fragment: string): string | undefined {
  const look = LOOK_AROUND.find(([construct]) => fragment.startsWith(construct));
  if (look !== undefined) return `${look[1]} "${look[0]}"`;
  const backReference = /^\\(?:[1-9]|k)/.exec(fragment);
  return backReference === null ? undefined : `back-reference "${backReference[0]}"`;
}

function compile(source: string): { pattern: IdPattern } | { problem: IdPatternProblem } {
  try {
    return { pattern: RE2JS.compile(source) };
  } catch (err) {
    if (!(err instanceof RE2JSSyntaxException)) {
      return { problem: { expected: "a regular expression", reason: err instanceof Error ? err.message : String(err) } };
    }
    const fragment = err.input ?? "";
    const feature = unsupportedFeature(fragment);
    return {
      problem:
        feature === undefined
          ? { expected: "a regular expression", reason: `${err.error}: ${JSON.stringify(fragment)}` }
          : {
              expected: "a regular expression without look-around or back-references",
              reason: `${feature} cannot be matched in linear time`,
            },
    };
  }
}

/**
 * Why `source` cannot be an id pattern, or undefined when it can (config validation).
 *
 * @returns for look-ahead `(?=` `(?!`, look-behind `(?<=` `(?<!` and back-references `\1` `\k<…>`,
 *   a reason naming the feature; for other syntax errors, re2js's reason
 */
export function idPatternProblem(source: string): IdPatternProblem | undefined {
  const result = compile(source);
  return "problem" in result ? result.problem : undefined;
}

/**
 * Compiles a configured pattern (RE2 syntax, github.com/google/re2/wiki/Syntax: JavaScript's
 * without look-around and back-references). It is not anchored implicitly: write `^…$` for a whole
 * line match.
 *
 * @throws SyntaxError with the reason of {@link idPatternProblem} (config validation catches it first)
 */
export function compileIdPattern(source: string): IdPattern {
  const result = compile(source);
  if ("problem" in result) throw new SyntaxError(`id pattern ${JSON.stringify(source)}: ${result.problem.reason}`);
  return result.pattern;
}

function isSpace(b: number): boolean {
  return b === SPACE || b === TAB;
}

/**
 * Decodes one line into an id.
 *
 * @param line the line's bytes without CR/LF; a line ended by ETX keeps the ETX as its last byte
 * @param pattern optional (see `compileIdPattern`); the line must match it, and when it has a capture
 *   group, group 1 is the id (else the whole line is). Matching is linear in the line's length.
 * @returns `{kind: "id", cardId}` with the text between optional STX/ETX, surrounding spaces and tabs
 *   removed; or `discarded` with the reason: `empty line`, an ETX without its STX (a frame cut when
 *   the port opened), a stray STX/ETX or other control character inside, invalid UTF-8, no match for
 *   the pattern, or an empty capture. Never throws.
 */
export function decodeAsciiLine(line: Uint8Array, pattern?: IdPattern): ReaderFrame {
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
  let ascii = true;
  for (let i = 0; i < body.length; i++) {
    const b = body[i] ?? 0;
    if (b < 0x20 || b === 0x7f) {
      const framing = body.includes(STX) || body.includes(ETX);
      return discard(framing ? "stray STX or ETX" : "control character in line");
    }
    if (b >= 0x80) ascii = false;
  }
  let text: string;
  if (ascii) {
    // ASCII is UTF-8 byte for character: no decoder needed (the common case, and the fast one).
    text = latin1(body);
  } else {
    // Checked first: a fatal decoder's exception per bad line would cost more than the check.
    if (!isWellFormedUtf8(body)) return discard("invalid UTF-8");
    try {
      text = utf8.decode(body);
    } catch {
      return discard("invalid UTF-8");
    }
  }
  if (pattern === undefined) return { kind: "id", cardId: text };
  const m = pattern.exec(text) as (string | undefined)[] | null;
  if (m === null) return discard("does not match pattern");
  // With a capture group the id is group 1; without one the pattern only validates the line.
  const id = pattern.groupCount() > 0 ? m[1] : text;
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
 * longer than `ASCII_LINE_MAX_BYTES` is discarded (`line too long`, in bounded pieces), never decoded.
 *
 * @param opts.pattern what a valid identifier looks like (see `compileIdPattern`)
 * @throws SyntaxError when `pattern` cannot be compiled (see `compileIdPattern`)
 */
export function createAsciiLineFramer(opts: { pattern?: string } = {}): BufferedFramer<ReaderFrame> {
  const pattern = opts.pattern === undefined ? undefined : compileIdPattern(opts.pattern);
  return new LineFramer<ReaderFrame>({
    maxLineBytes: ASCII_LINE_MAX_BYTES,
    isTerminator: (b) => b === CR || b === LF || b === ETX,
    keepsTerminator: (b) => b === ETX,
    startByte: STX,
    decode: (line) => decodeAsciiLine(line, pattern),
  });
}

/**
 * The ascii-line registry entry (shared/protocols/readers.md, "ascii-line"; contract.md section 4,
 * `card_id`): option `pattern`; 9600 baud by default (contract.md section 2; readers.md gives no line
 * settings for text-mode readers) and 8N1; `min_reads` 1 by default (contract.md section 2), since a
 * scanner sends a code once per scan. Its encoder writes `tag` as one CR LF line.
 */
export const asciiLine = defineProtocol({
  name: "ascii-line",
  kind: "reader",
  summary: "readers and scanners in text mode (QR and barcode scanners, card readers printing the id), one id per line",
  source: "shared/protocols/readers.md, ascii-line",
  port: serial8N1(9600),
  defaults: { minReads: 1 },
  options: z.object({
    pattern: z
      .string()
      .superRefine((source, ctx) => {
        const problem = idPatternProblem(source);
        if (problem !== undefined) {
          ctx.addIssue({
            code: "custom",
            message: `expected ${problem.expected}, found ${JSON.stringify(source)} (${problem.reason})`,
          });
        }
      })
      .optional()
      .describe(
        "Regular expression a valid identifier line must match, in RE2 syntax (JavaScript's without " +
          "look-around and back-references), matched in time linear in the line's length; other lines are " +
          "discarded, and the first capture group, if any, is the card id. Write ^...$ to match the whole line.",
      )
      .meta({ examples: ["^QR:([0-9]{6,20})$"] }),
  }),
  createFramer: (options) => createAsciiLineFramer(options),
  decode: (line, options) =>
    decodeAsciiLine(line, options.pattern === undefined ? undefined : compileIdPattern(options.pattern)),
  encode: (sample) => encodeAsciiLine(sample.tag),
});
