/**
 * Byte-level helpers shared by the framers: control bytes, ASCII hex digits, and a fixed-capacity
 * byte accumulator. Pure; Uint8Array only (no Buffer, no Node imports).
 */

/** Start of text: the first byte of STX/ETX-framed protocols. */
export const STX = 0x02;
/** End of text: the last byte of STX/ETX-framed protocols. */
export const ETX = 0x03;
/** Line feed, a line end. */
export const LF = 0x0a;
/** Carriage return, a line end (alone or before LF). */
export const CR = 0x0d;
/** ASCII space, the padding of text protocols. */
export const SPACE = 0x20;
/** Horizontal tab, trimmed like a space around text ids. */
export const TAB = 0x09;
/** `+`, `-`, `.` and `,`: the signs, decimal point and field separator of text weights. */
export const PLUS = 0x2b;
export const MINUS = 0x2d;
export const POINT = 0x2e;
export const COMMA = 0x2c;

/** The value of each byte as an ASCII hex digit, -1 for the others (one lookup per byte in framers). */
const HEX_VALUES = Int8Array.from({ length: 256 }, (_, b) => {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  return -1;
});

/**
 * Value of one ASCII hex digit (`0-9`, `A-F`, `a-f`), or -1 when the byte is not one (or not a byte).
 */
export function hexDigitValue(byte: number): number {
  return HEX_VALUES[byte] ?? -1;
}

/** True for an ASCII hex digit, either case. */
export function isHexDigit(byte: number): boolean {
  return hexDigitValue(byte) >= 0;
}

/** True for an ASCII decimal digit `0-9`. */
export function isDecimalDigit(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

/** The upper-case ASCII hex digit of a nibble (0..15): nibble + 0x30 if <= 9, else + 0x37. */
export function hexDigitByte(nibble: number): number {
  return nibble <= 9 ? 0x30 + nibble : 0x37 + nibble;
}

/** Space-separated upper-case hex of some bytes (`"02 2B 30"`), for logs and tests. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).toUpperCase().padStart(2, "0")).join(" ");
}

/** Bytes of an ASCII/Latin-1 string, one byte per UTF-16 code unit (callers pass ASCII only). */
export function asciiBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** Bytes turned into a string per call of `String.fromCharCode`, well under engines' argument limits. */
const CHARS_PER_CALL = 4096;

/** The string of some bytes read as ISO-8859-1 (every byte one character; never fails). */
export function latin1(bytes: Uint8Array): string {
  // One call per piece rather than one concatenation per byte (decoders call this once per line).
  if (bytes.length <= CHARS_PER_CALL) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  let s = "";
  for (let at = 0; at < bytes.length; at += CHARS_PER_CALL) {
    s += String.fromCharCode.apply(null, bytes.subarray(at, at + CHARS_PER_CALL) as unknown as number[]);
  }
  return s;
}

/**
 * True when `bytes` is well-formed UTF-8: exactly the sequences of the Unicode Standard's table 3-7
 * ("Well-Formed UTF-8 Byte Sequences"), so no overlong forms, no surrogates, nothing past U+10FFFF.
 * These are the inputs a fatal `TextDecoder("utf-8")` decodes without throwing, checked without the
 * cost of a thrown exception per bad line.
 */
export function isWellFormedUtf8(bytes: Uint8Array): boolean {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i] ?? 0;
    if (b < 0x80) {
      i++;
      continue;
    }
    // The range of the second byte, and how many continuation bytes (80..BF) follow it.
    let lo = 0x80;
    let hi = 0xbf;
    let more: number;
    if (b >= 0xc2 && b <= 0xdf) more = 0;
    else if (b >= 0xe0 && b <= 0xef) {
      more = 1;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      more = 2;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else return false;
    const second = bytes[i + 1];
    if (second === undefined || second < lo || second > hi) return false;
    i += 2;
    for (; more > 0; more--, i++) {
      const c = bytes[i];
      if (c === undefined || c < 0x80 || c > 0xbf) return false;
    }
  }
  return true;
}

/**
 * A byte accumulator with a fixed capacity, allocated once. `take()` returns a copy of the
 * contents and empties it, so values handed out never alias the framer's memory.
 */
export class BoundedBytes {
  private readonly data: Uint8Array;
  private used = 0;
  /** `data.subarray(0, n)` at index n, made on first use. */
  private readonly views: (Uint8Array | undefined)[] = [];

  constructor(readonly capacity: number) {
    this.data = new Uint8Array(capacity);
  }

  /** Bytes held. */
  get length(): number {
    return this.used;
  }

  /** True when no further byte fits. */
  get full(): boolean {
    return this.used >= this.capacity;
  }

  /** Bytes that still fit. */
  get room(): number {
    return this.capacity - this.used;
  }

  /** Appends one byte; the caller checks `full` first (a byte past capacity is a bug, dropped). */
  push(byte: number): void {
    if (this.used < this.capacity) this.data[this.used++] = byte;
  }

  /**
   * Appends `src[from, to)` in one copy; the caller checks `room` first (bytes past capacity are a
   * bug, dropped).
   */
  append(src: Uint8Array, from: number, to: number): void {
    const n = Math.min(to - from, this.capacity - this.used);
    if (n <= 0) return;
    this.data.set(src.subarray(from, from + n), this.used);
    this.used += n;
  }

  /**
   * A view of the current contents; valid only until the next mutation. Views are made once per
   * length and reused, so a framer may ask for one per byte without allocating.
   */
  view(): Uint8Array {
    const views = this.views;
    return (views[this.used] ??= this.data.subarray(0, this.used));
  }

  /** A copy of the contents, then empties the accumulator. */
  take(): Uint8Array {
    const out = this.data.slice(0, this.used);
    this.used = 0;
    return out;
  }

  /** Empties the accumulator (the bytes are dropped). */
  clear(): void {
    this.used = 0;
  }
}
