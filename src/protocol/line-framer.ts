/**
 * The framing loop shared by the text-line protocols (ascii-st-gs, ascii-line). style.md
 * "Protocol code": keep only unread bytes, bound them, resynchronise at the next line end, turn
 * garbage into `discarded` values.
 */
import { BoundedBytes, SPACE, TAB } from "./bytes.js";
import type { BufferedFramer, Discarded } from "./types.js";

/** One line protocol's terminators, bounds and decoder, as the line framer needs them. */
export interface LineLayout<T> {
  /** The longest line kept, in bytes, without its terminator. Longer lines are discarded. */
  readonly maxLineBytes: number;
  /**
   * True for a byte that ends a line (CR, LF; ETX for ascii-line). A pure function of the byte: the
   * framer asks it once per byte value, when it is made.
   */
  isTerminator(byte: number): boolean;
  /** True for a terminator that stays the last byte of the line handed to `decode` (ETX). Pure, as above. */
  keepsTerminator(byte: number): boolean;
  /**
   * A byte that starts a new frame wherever it appears (STX for ascii-line); non-blank bytes
   * before it in the same line are a partial frame and are discarded. Undefined: none.
   */
  readonly startByte: number | undefined;
  /**
   * True for a stream whose lines have no start marker, so that a port opened mid-line cannot be
   * told from a whole line (ohaus): the bytes before the first line end are discarded
   * ({@link PARTIAL_FIRST_LINE}), never decoded. Default false.
   */
  readonly firstLineMayBePartial?: boolean;
  /**
   * Decodes one line (never empty; without its terminator unless `keepsTerminator`). `line` is a
   * view into the pushed chunk or the framer's buffer, valid only during the call: a result that
   * keeps bytes copies them (as every decoder does for `discarded`, since its callers may pass any
   * array).
   */
  decode(line: Uint8Array): T;
}

/** Reason for the pieces of a line longer than `maxLineBytes`. */
export const LINE_TOO_LONG = "line too long";
/** Reason for non-blank bytes before a start byte in the same line. */
export const PARTIAL_BEFORE_START = "partial line before STX";
/** Reason for the bytes before the first line end, with `firstLineMayBePartial`. */
export const PARTIAL_FIRST_LINE = "partial first line (the port opened mid-line)";

/** What a byte is to the framer, looked up once per byte (see `LineFramer.classes`). */
const PLAIN = 0;
const ENDS_LINE = 1;
const ENDS_LINE_KEPT = 2;
const STARTS_FRAME = 3;

/**
 * A framer for terminated lines. CR, LF and CR LF all end a line: an empty line (zero bytes between
 * terminators, such as the LF of a CR LF, even split across chunks) yields nothing. A line longer
 * than `maxLineBytes` is discarded in pieces of `maxLineBytes` up to its terminator, so endless
 * bytes without a line end cost bounded memory. Never throws on input.
 *
 * Speed (issue 9, Performance: a line protocol is decoded at thousands of times a 115200-baud line's
 * byte rate): each byte costs one table lookup; a line that starts and ends inside one chunk is
 * decoded in place, and only the unfinished line at a chunk's end is copied into the buffer.
 */
export class LineFramer<T> implements BufferedFramer<T | Discarded> {
  private readonly line: BoundedBytes;
  /** The current line already overflowed: everything up to its terminator is discarded. */
  private overlong = false;
  /** No line end seen yet, and the layout says the first line may be partial. */
  private atFirstLine: boolean;
  /** PLAIN, ENDS_LINE, ENDS_LINE_KEPT or STARTS_FRAME per byte value, from the layout. */
  private readonly classes = new Uint8Array(256);

  constructor(private readonly layout: LineLayout<T>) {
    // One extra byte for a kept terminator.
    this.line = new BoundedBytes(layout.maxLineBytes + 1);
    this.atFirstLine = layout.firstLineMayBePartial === true;
    for (let b = 0; b < 256; b++) {
      if (layout.isTerminator(b)) this.classes[b] = layout.keepsTerminator(b) ? ENDS_LINE_KEPT : ENDS_LINE;
      else if (b === layout.startByte) this.classes[b] = STARTS_FRAME;
    }
  }

  get bufferedBytes(): number {
    return this.line.length;
  }

  push(chunk: Uint8Array): (T | Discarded)[] {
    const out: (T | Discarded)[] = [];
    const { classes, line, layout } = this;
    const max = layout.maxLineBytes;
    const n = chunk.length;
    // chunk[from, i) are plain bytes of the current line, not yet copied into `line`.
    let from = 0;
    for (let i = 0; i < n; i++) {
      const kind = classes[chunk[i] ?? 0];
      if (kind === PLAIN) continue;
      if (kind === STARTS_FRAME) {
        this.addPlain(chunk, from, i, out);
        if (this.overlong) this.discardLine(LINE_TOO_LONG, out);
        else if (!isBlank(line.view())) this.discardLine(PARTIAL_BEFORE_START, out);
        line.clear();
        this.overlong = false;
        line.push(chunk[i] ?? 0);
        from = i + 1;
        continue;
      }
      const end = kind === ENDS_LINE_KEPT ? i + 1 : i;
      if (line.length === 0 && !this.overlong && !this.atFirstLine && i - from <= max) {
        // The whole line is in this chunk and fits: decode it where it is.
        if (end > from) out.push(layout.decode(chunk.subarray(from, end)));
      } else {
        this.addPlain(chunk, from, i, out);
        if (kind === ENDS_LINE_KEPT) line.push(chunk[i] ?? 0);
        this.endLine(out);
        this.atFirstLine = false;
      }
      from = i + 1;
    }
    this.addPlain(chunk, from, n, out);
    return out;
  }

  /**
   * Appends the plain bytes `chunk[from, to)` to the current line. Whenever the line holds
   * `maxLineBytes` and another byte comes, the line so far is discarded as one piece.
   */
  private addPlain(chunk: Uint8Array, from: number, to: number, out: (T | Discarded)[]): void {
    const { line } = this;
    const max = this.layout.maxLineBytes;
    while (from < to) {
      if (line.length >= max) {
        this.discardLine(LINE_TOO_LONG, out);
        this.overlong = true;
      }
      const next = Math.min(to, from + max - line.length);
      line.append(chunk, from, next);
      from = next;
    }
  }

  private endLine(out: (T | Discarded)[]): void {
    if (this.overlong) {
      this.discardLine(LINE_TOO_LONG, out);
      this.overlong = false;
    } else if (this.atFirstLine) {
      this.discardLine(PARTIAL_FIRST_LINE, out);
    } else if (this.line.length > 0) {
      out.push(this.layout.decode(this.line.view()));
      this.line.clear();
    }
  }

  private discardLine(reason: string, out: (T | Discarded)[]): void {
    if (this.line.length > 0) out.push({ kind: "discarded", bytes: this.line.take(), reason });
  }
}

/** True when every byte is a space or a tab (or there are none). */
export function isBlank(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b !== SPACE && b !== TAB) return false;
  }
  return true;
}
