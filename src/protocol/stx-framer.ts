/**
 * The framing loop shared by the fixed-layout binary protocols that start every frame with STX
 * (yaohua-a9, em4100-ascii). style.md "Protocol code": keep only unread bytes, bound them,
 * resynchronise by scanning for the next start byte, turn garbage into `discarded` values.
 */
import { BoundedBytes, STX } from "./bytes.js";
import type { BufferedFramer, Discarded } from "./types.js";

/** What a layout says about the candidate frame after one more byte. */
export type LayoutVerdict =
  /** Plausible so far; wait for the next byte. */
  | { kind: "more" }
  /** The candidate is a whole frame: hand it to the decoder. */
  | { kind: "complete" }
  /** The candidate cannot be a frame; `reason` says why (the byte just added broke it). */
  | { kind: "invalid"; reason: string };

/** One protocol's frame layout and decoder, as the STX framer needs them. */
export interface StxLayout<T> {
  /** The longest frame, in bytes, STX and ETX included. */
  readonly maxFrameBytes: number;
  /**
   * Judges the candidate `frame[0..length)` (frame[0] is STX) after its last byte was added. It
   * must answer `complete` or `invalid` by `maxFrameBytes`.
   */
  check(frame: Uint8Array, length: number): LayoutVerdict;
  /** Decodes one whole frame (a copy the result may keep). */
  decode(frame: Uint8Array): T;
}

/** Reason given to bytes that arrive while no frame is open. */
export const NO_START_BYTE = "no start byte (STX)";

/**
 * Unread junk is held up to this many bytes, then discarded as one value. Holding it (rather than
 * discarding per push) makes the discarded values depend only on the byte stream, never on how it
 * was split into chunks.
 */
export const MAX_DISCARD_BYTES = 256;

/**
 * A framer for STX-started fixed-layout frames. Bytes before a STX, and a broken candidate frame
 * together with the non-STX bytes after it, become one `discarded` value each, emitted when the
 * next STX arrives or when `MAX_DISCARD_BYTES` have gathered. Memory: at most
 * `MAX_DISCARD_BYTES + maxFrameBytes` bytes. Never throws on input.
 */
export class StxFramer<T> implements BufferedFramer<T | Discarded> {
  private readonly candidate: BoundedBytes;
  private readonly junk = new BoundedBytes(MAX_DISCARD_BYTES);
  private junkReason = NO_START_BYTE;

  constructor(private readonly layout: StxLayout<T>) {
    this.candidate = new BoundedBytes(layout.maxFrameBytes);
  }

  get bufferedBytes(): number {
    return this.candidate.length + this.junk.length;
  }

  push(chunk: Uint8Array): (T | Discarded)[] {
    const out: (T | Discarded)[] = [];
    for (const byte of chunk) this.feed(byte, out);
    return out;
  }

  private feed(byte: number, out: (T | Discarded)[]): void {
    if (this.candidate.length === 0) {
      if (byte === STX) {
        this.flushJunk(out);
        this.candidate.push(byte);
      } else {
        this.addJunk(byte, NO_START_BYTE, out);
      }
      return;
    }
    this.candidate.push(byte);
    const verdict: LayoutVerdict = this.candidate.full
      ? this.finalVerdict()
      : this.layout.check(this.candidate.view(), this.candidate.length);
    switch (verdict.kind) {
      case "more":
        return;
      case "complete":
        out.push(this.layout.decode(this.candidate.take()));
        return;
      case "invalid": {
        // Resynchronise: the STX that opened the candidate is junk; every later byte is read again,
        // since one of them may be the STX of a real frame (a port opened mid-frame, noise).
        const rest = this.candidate.take().subarray(1);
        this.addJunk(STX, verdict.reason, out);
        for (const b of rest) this.feed(b, out);
        return;
      }
    }
  }

  /** A layout must decide by its maximum length; one that does not is treated as broken framing. */
  private finalVerdict(): LayoutVerdict {
    const verdict = this.layout.check(this.candidate.view(), this.candidate.length);
    return verdict.kind === "more" ? { kind: "invalid", reason: "frame too long" } : verdict;
  }

  private addJunk(byte: number, reasonIfFirst: string, out: (T | Discarded)[]): void {
    if (this.junk.length === 0) this.junkReason = reasonIfFirst;
    this.junk.push(byte);
    if (this.junk.full) this.flushJunk(out);
  }

  private flushJunk(out: (T | Discarded)[]): void {
    if (this.junk.length === 0) return;
    out.push({ kind: "discarded", bytes: this.junk.take(), reason: this.junkReason });
  }
}
