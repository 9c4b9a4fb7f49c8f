import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BoundedBytes, isWellFormedUtf8, latin1 } from "../../src/protocol/bytes.js";

describe("isWellFormedUtf8", () => {
  const fatal = new TextDecoder("utf-8", { fatal: true });
  const decodes = (bytes: Uint8Array): boolean => {
    try {
      fatal.decode(bytes);
      return true;
    } catch {
      return false;
    }
  };
  /** Lead and continuation bytes at the edges of the well-formed ranges (Unicode table 3-7). */
  const EDGES = [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff];

  it("accepts exactly what a fatal TextDecoder decodes", () => {
    const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...EDGES));
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 8 }), (xs) => {
        const bytes = Uint8Array.from(xs);
        expect(isWellFormedUtf8(bytes)).toBe(decodes(bytes));
      }),
      { numRuns: 20_000 },
    );
  });

  it("accepts every scalar value's encoding, and no surrogate's", () => {
    const encoder = new TextEncoder();
    for (let cp = 0; cp <= 0x10ffff; cp += cp < 0x800 ? 1 : 7) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      expect(isWellFormedUtf8(encoder.encode(String.fromCodePoint(cp)))).toBe(true);
    }
    expect(isWellFormedUtf8(Uint8Array.of(0xed, 0xa0, 0x80))).toBe(false); // U+D800 as CESU
    expect(isWellFormedUtf8(Uint8Array.of(0xf4, 0x90, 0x80, 0x80))).toBe(false); // past U+10FFFF
    expect(isWellFormedUtf8(Uint8Array.of(0xc0, 0xaf))).toBe(false); // overlong "/"
    expect(isWellFormedUtf8(Uint8Array.of(0xe2, 0x82))).toBe(false); // cut short
  });
});

describe("latin1", () => {
  it("maps every byte to one character, long inputs included", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(Array.from(latin1(all), (c) => c.charCodeAt(0))).toEqual(Array.from(all));
    const long = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7) & 0xff);
    const text = latin1(long);
    expect(text.length).toBe(long.length);
    expect(Array.from(text, (c) => c.charCodeAt(0))).toEqual(Array.from(long));
  });
});

describe("BoundedBytes", () => {
  it("appends in bulk up to its capacity, and hands out copies", () => {
    const b = new BoundedBytes(5);
    b.append(Uint8Array.of(1, 2, 3, 4), 1, 3);
    expect(Array.from(b.view())).toEqual([2, 3]);
    expect(b.room).toBe(3);
    b.append(Uint8Array.of(9, 9, 9, 9), 0, 4); // one more than fits: dropped
    expect(b.full).toBe(true);
    const taken = b.take();
    expect(Array.from(taken)).toEqual([2, 3, 9, 9, 9]);
    b.push(7);
    expect(Array.from(taken)).toEqual([2, 3, 9, 9, 9]);
  });

  it("reuses one view per length, which shows the current contents", () => {
    const b = new BoundedBytes(4);
    b.push(1);
    const first = b.view();
    expect(b.view()).toBe(first);
    b.clear();
    b.push(8);
    expect(Array.from(first)).toEqual([8]);
    b.push(9);
    expect(Array.from(b.view())).toEqual([8, 9]);
  });
});
