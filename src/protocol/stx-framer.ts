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
   * must answer `complete` or `invalid` by `maxFrameBytes`. `frame` is a view of the framer's buffer
   * (`frame.length === length`), valid only during the call. Called once per byte of a candidate, so
   * it should not allocate (return shared verdicts: {@link MORE}, {@link COMPLETE}, {@link invalidVerdicts}).
   */
  check(frame: Uint8Array, length: number): LayoutVerdict;
  /**
   * Decodes one whole frame. `frame` is a view of the framer's buffer, valid only during the call:
   * a result that keeps bytes copies them (as every decoder does for `discarded` and `noise`, since
   * its callers may pass any array).
   */
  decode(frame: Uint8Array): T;
  /**
   * The bytes that open a candidate frame; absent: STX alone. Binary layouts that start with
   * another byte (dyp-a02's `FF`, tf-luna's `59` and `5A`) name theirs.
   */
  readonly startBytes?: readonly number[];
  /** Reason given to bytes outside frames; absent: {@link NO_START_BYTE}. */
  readonly noStartReason?: string;
}

/** The `more` verdict, shared (verdicts are read, never changed). */
export const MORE: LayoutVerdict = Object.freeze({ kind: "more" });
/** The `complete` verdict, shared. */
export const COMPLETE: LayoutVerdict = Object.freeze({ kind: "complete" });

/** An `invalid` verdict per reason, made once (for layouts whose reasons are a fixed set). */
export function invalidVerdicts<R extends string>(reasons: readonly R[]): Readonly<Record<R, LayoutVerdict>> {
  const verdicts = {} as Record<R, LayoutVerdict>;
  for (const reason of reasons) verdicts[reason] = Object.freeze({ kind: "invalid", reason });
  return verdicts;
}

/** Reason given to bytes that arrive while no frame is open. */
export const NO_START_BYTE = "no start byte (STX)";

/**
 * Unread junk is held up to this many bytes, then discarded as one value. Holding it (rather than
 * discarding per push) makes the discarded values depend only on the byte stream, never on how it
 * was split into chunks.
 */
export const MAX_DISCARD_BYTES = 256;

/** `STARTS[b]` is 1 for STX alone: the start table of layouts that name no start bytes. */
const STX_STARTS = startTable([STX]);

/** A 256-entry table, 1 at each start byte (one lookup per byte while scanning). */
function startTable(bytes: readonly number[]): Uint8Array {
  const table = new Uint8Array(256);
  for (const b of bytes) table[b & 0xff] = 1;
  return table;
}

/**
 * A framer for STX-started fixed-layout frames (or frames opened by the layout's `startBytes`).
 * Bytes before a STX, and a broken candidate frame
 * together with the non-STX bytes after it, become one `discarded` value each, emitted when the
 * next STX arrives or when `MAX_DISCARD_BYTES` have gathered. Memory: at most
 * `MAX_DISCARD_BYTES + maxFrameBytes` bytes. Never throws on input.
 *
 * Speed (issue 9, Performance): bytes outside a frame are scanned for the next STX and set aside in
 * one copy; inside a frame each byte costs one `check`, on a view made once per length; a whole
 * frame is decoded in the buffer, not copied out first.
 */
export class StxFramer<T> implements BufferedFramer<T | Discarded> {
  private readonly candidate: BoundedBytes;
  private readonly junk = new BoundedBytes(MAX_DISCARD_BYTES);
  private junkReason: string;
  private readonly starts: Uint8Array;
  private readonly noStart: string;

  constructor(private readonly layout: StxLayout<T>) {
    this.candidate = new BoundedBytes(layout.maxFrameBytes);
    this.starts = layout.startBytes === undefined ? STX_STARTS : startTable(layout.startBytes);
    this.noStart = layout.noStartReason ?? NO_START_BYTE;
    this.junkReason = this.noStart;
  }

  get bufferedBytes(): number {
    return this.candidate.length + this.junk.length;
  }

  push(chunk: Uint8Array): (T | Discarded)[] {
    const out: (T | Discarded)[] = [];
    this.feed(chunk, out);
    return out;
  }

  private feed(bytes: Uint8Array, out: (T | Discarded)[]): void {
    const { candidate, layout, starts } = this;
    const n = bytes.length;
    let i = 0;
    while (i < n) {
      if (candidate.length === 0) {
        let stx = i;
        while (stx < n && starts[bytes[stx] ?? 0] === 0) stx++;
        this.addJunk(bytes, i, stx, this.noStart, out);
        if (stx === n) return;
        this.flushJunk(out);
        candidate.push(bytes[stx] ?? STX);
        i = stx + 1;
        continue;
      }
      candidate.push(bytes[i++] ?? 0);
      const verdict: LayoutVerdict = candidate.full
        ? this.finalVerdict()
        : layout.check(candidate.view(), candidate.length);
      switch (verdict.kind) {
        case "more":
          continue;
        case "complete":
          out.push(layout.decode(candidate.view()));
          candidate.clear();
          continue;
        case "invalid": {
          // Resynchronise: the start byte that opened the candidate is junk; every later byte is read
          // again, since one of them may start a real frame (a port opened mid-frame, noise).
          const taken = candidate.take();
          this.addJunk(taken, 0, 1, verdict.reason, out);
          this.feed(taken.subarray(1), out);
          continue;
        }
      }
    }
  }

  /** A layout must decide by its maximum length; one that does not is treated as broken framing. */
  private finalVerdict(): LayoutVerdict {
    const verdict = this.layout.check(this.candidate.view(), this.candidate.length);
    return verdict.kind === "more" ? { kind: "invalid", reason: "frame too long" } : verdict;
  }

  /**
   * Sets `bytes[from, to)` aside as junk; the reason is `reasonIfFirst` when the junk was empty.
   * Junk is discarded in pieces of `MAX_DISCARD_BYTES`.
   */
  private addJunk(bytes: Uint8Array, from: number, to: number, reasonIfFirst: string, out: (T | Discarded)[]): void {
    const { junk } = this;
    while (from < to) {
      if (junk.length === 0) this.junkReason = reasonIfFirst;
      const next = Math.min(to, from + junk.room);
      junk.append(bytes, from, next);
      from = next;
      if (junk.full) this.flushJunk(out);
    }
  }

  private flushJunk(out: (T | Discarded)[]): void {
    if (this.junk.length === 0) return;
    out.push({ kind: "discarded", bytes: this.junk.take(), reason: this.junkReason });
  }
}
