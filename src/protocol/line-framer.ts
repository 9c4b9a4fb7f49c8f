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
  /** True for a byte that ends a line (CR, LF; ETX for ascii-line). */
  isTerminator(byte: number): boolean;
  /** True for a terminator that stays the last byte of the line handed to `decode` (ETX). */
  keepsTerminator(byte: number): boolean;
  /**
   * A byte that starts a new frame wherever it appears (STX for ascii-line); non-blank bytes
   * before it in the same line are a partial frame and are discarded. Undefined: none.
   */
  readonly startByte: number | undefined;
  /** Decodes one line (never empty; without its terminator unless `keepsTerminator`). */
  decode(line: Uint8Array): T;
}

/** Reason for the pieces of a line longer than `maxLineBytes`. */
export const LINE_TOO_LONG = "line too long";
/** Reason for non-blank bytes before a start byte in the same line. */
export const PARTIAL_BEFORE_START = "partial line before STX";

/**
 * A framer for terminated lines. CR, LF and CR LF all end a line: an empty line (zero bytes between
 * terminators, such as the LF of a CR LF, even split across chunks) yields nothing. A line longer
 * than `maxLineBytes` is discarded in pieces of `maxLineBytes` up to its terminator, so endless
 * bytes without a line end cost bounded memory. Never throws on input.
 */
export class LineFramer<T> implements BufferedFramer<T | Discarded> {
  private readonly line: BoundedBytes;
  /** The current line already overflowed: everything up to its terminator is discarded. */
  private overlong = false;

  constructor(private readonly layout: LineLayout<T>) {
    // One extra byte for a kept terminator.
    this.line = new BoundedBytes(layout.maxLineBytes + 1);
  }

  get bufferedBytes(): number {
    return this.line.length;
  }

  push(chunk: Uint8Array): (T | Discarded)[] {
    const out: (T | Discarded)[] = [];
    for (const byte of chunk) this.feed(byte, out);
    return out;
  }

  private feed(byte: number, out: (T | Discarded)[]): void {
    const { layout, line } = this;
    if (layout.isTerminator(byte)) {
      if (layout.keepsTerminator(byte)) line.push(byte);
      this.endLine(out);
      return;
    }
    if (byte === layout.startByte) {
      if (this.overlong) this.discardLine(LINE_TOO_LONG, out);
      else if (!isBlank(line.view())) this.discardLine(PARTIAL_BEFORE_START, out);
      line.clear();
      this.overlong = false;
    } else if (line.length >= layout.maxLineBytes) {
      this.discardLine(LINE_TOO_LONG, out);
      this.overlong = true;
    }
    line.push(byte);
  }

  private endLine(out: (T | Discarded)[]): void {
    if (this.overlong) {
      this.discardLine(LINE_TOO_LONG, out);
      this.overlong = false;
    } else if (this.line.length > 0) {
      out.push(this.layout.decode(this.line.take()));
    }
  }

  private discardLine(reason: string, out: (T | Discarded)[]): void {
    if (this.line.length > 0) out.push({ kind: "discarded", bytes: this.line.take(), reason });
  }
}

/** True when every byte is a space or a tab (or there are none). */
export function isBlank(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === SPACE || b === TAB);
}
