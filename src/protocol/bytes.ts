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

/**
 * Value of one ASCII hex digit (`0-9`, `A-F`, `a-f`), or -1 when the byte is not one.
 */
export function hexDigitValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return -1;
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

/** The string of some bytes read as ISO-8859-1 (every byte one character; never fails). */
export function latin1(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

/**
 * A byte accumulator with a fixed capacity, allocated once. `take()` returns a copy of the
 * contents and empties it, so values handed out never alias the framer's memory.
 */
export class BoundedBytes {
  private readonly data: Uint8Array;
  private used = 0;

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

  /** Appends one byte; the caller checks `full` first (a byte past capacity is a bug, dropped). */
  push(byte: number): void {
    if (this.used < this.capacity) this.data[this.used++] = byte;
  }

  /** A view of the current contents; valid only until the next mutation. */
  view(): Uint8Array {
    return this.data.subarray(0, this.used);
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
