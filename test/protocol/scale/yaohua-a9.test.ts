import { describe, expect, it } from "vitest";
import { toHex } from "../../../src/protocol/bytes.js";
import { displayedToGrams, gramsToDisplayed } from "../../../src/protocol/grams.js";
import {
  A9_FRAME_BYTES,
  createYaohuaA9Framer,
  decodeYaohuaA9,
  encodeYaohuaA9,
} from "../../../src/protocol/scale/yaohua-a9.js";
import { MAX_DISCARD_BYTES, NO_START_BYTE } from "../../../src/protocol/stx-framer.js";
import type { ScaleFrame, WeightUnit } from "../../../src/protocol/types.js";
import { ascii, concat, discardedBytes, flood, hex, normalize } from "../fixtures.js";

/** scales.md, yaohua-a9, Examples. */
const PLUS_20_00 = "02 2B 30 30 32 30 30 30 32 31 42 03";
const MINUS_1_5 = "02 2D 30 30 30 30 31 35 31 31 38 03";
const PLUS_4_139 = "02 2B 30 30 34 31 33 39 33 31 37 03";

/** Builds a frame from its 8-character body (sign, six digits, decimals) with a correct checksum. */
function a9(body: string): Uint8Array {
  let x = 0;
  for (const c of body) x ^= c.charCodeAt(0);
  const check = x.toString(16).toUpperCase().padStart(2, "0");
  return concat(hex("02"), ascii(body + check), hex("03"));
}

const weight = (grams: number): ScaleFrame => ({ kind: "weight", grams, stable: null, mode: "gross" });

describe("decodeYaohuaA9", () => {
  it("decodes the manual's examples", () => {
    expect(decodeYaohuaA9(hex(PLUS_20_00), "kg")).toEqual(weight(20000));
    expect(decodeYaohuaA9(hex(MINUS_1_5), "kg")).toEqual(weight(-1500));
    expect(decodeYaohuaA9(hex(PLUS_4_139), "kg")).toEqual(weight(4139));
  });

  it("uses the configured unit", () => {
    expect(decodeYaohuaA9(hex(PLUS_20_00), "lb")).toEqual(weight(9072));
    expect(decodeYaohuaA9(hex(PLUS_20_00), "g")).toEqual(weight(20));
    expect(decodeYaohuaA9(hex(MINUS_1_5), "lb")).toEqual(weight(-680)); // 1.5 lb = 680.388555 g
  });

  it("converts exactly: 0.5005 kg is 501 g, -0.0025 kg is -3 g", () => {
    expect(decodeYaohuaA9(a9("+0050054"), "kg")).toEqual(weight(501));
    expect(decodeYaohuaA9(a9("-0000254"), "kg")).toEqual(weight(-3));
    expect(decodeYaohuaA9(a9("+9999990"), "kg")).toEqual(weight(999_999_000));
  });

  it("accepts both checksum styles and lower-case hex", () => {
    expect(decodeYaohuaA9(hex("02 2B 30 30 32 30 30 30 32 31 3B 03"), "kg")).toEqual(weight(20000)); // "1;"
    expect(decodeYaohuaA9(hex("02 2B 30 30 32 30 30 30 32 31 62 03"), "kg")).toEqual(weight(20000)); // "1b"
  });

  it("tolerates spaces instead of leading zeros, and a negative zero is 0", () => {
    expect(decodeYaohuaA9(a9("+  20002"), "kg")).toEqual(weight(20000));
    expect(decodeYaohuaA9(a9("+     53"), "kg")).toEqual(weight(5));
    expect(decodeYaohuaA9(a9("-0000002"), "kg")).toEqual(weight(0));
  });

  it.each([
    ["wrong frame length", hex(PLUS_20_00).subarray(0, 11)],
    ["missing STX", concat(hex("03"), hex(PLUS_20_00).subarray(1))],
    ["bad sign byte", a9(" 0020002")],
    ["bad digit byte", a9("+0A20002")],
    ["bad digit byte", a9("+20 0002")], // a space after a digit
    ["bad digit byte", a9("+      2")], // six spaces: the last digit is not a digit
    ["bad decimals byte", a9("+0020005")],
    ["bad checksum character", hex("02 2B 30 30 32 30 30 30 32 31 47 03")],
    ["missing ETX", hex("02 2B 30 30 32 30 30 30 32 31 42 0D")],
    ["bad checksum", hex("02 2B 30 30 32 30 30 30 32 31 43 03")],
    ["bad checksum", hex("02 2B 30 30 32 30 30 31 32 31 42 03")], // a digit changed
  ] as const)("discards (%s)", (reason, frame) => {
    expect(decodeYaohuaA9(frame, "kg")).toEqual({ kind: "discarded", bytes: frame, reason });
  });
});

describe("encodeYaohuaA9", () => {
  it("writes the manual's examples byte for byte", () => {
    expect(toHex(encodeYaohuaA9({ grams: 20000, unit: "kg", decimals: 2 }))).toBe(PLUS_20_00);
    expect(toHex(encodeYaohuaA9({ grams: -1500, unit: "kg", decimals: 1 }))).toBe(MINUS_1_5);
    expect(toHex(encodeYaohuaA9({ grams: 4139, unit: "kg", decimals: 3 }))).toBe(PLUS_4_139);
  });

  it("writes the +0x30 checksum style", () => {
    const frame = encodeYaohuaA9({ grams: 20000, unit: "kg", decimals: 2, checksum: "plus30" });
    expect(toHex(frame)).toBe("02 2B 30 30 32 30 30 30 32 31 3B 03");
  });

  it("writes zero and values that round to zero with a plus sign", () => {
    expect(toHex(encodeYaohuaA9({ grams: 0, unit: "kg", decimals: 2 })).slice(0, 5)).toBe("02 2B");
    expect(toHex(encodeYaohuaA9({ grams: -4, unit: "kg", decimals: 2 })).slice(0, 5)).toBe("02 2B");
  });

  it("refuses what the display cannot show", () => {
    expect(() => encodeYaohuaA9({ grams: 1_000_000, unit: "kg", decimals: 3 })).toThrow(RangeError);
    expect(() => encodeYaohuaA9({ grams: 1, unit: "kg", decimals: 5 })).toThrow(RangeError);
    expect(() => encodeYaohuaA9({ grams: 1, unit: "kg", decimals: -1 })).toThrow(RangeError);
    expect(() => encodeYaohuaA9({ grams: 0.5, unit: "kg", decimals: 2 })).toThrow(RangeError);
  });

  it("round-trips exactly wherever the display step is 1 g", () => {
    for (let g = -99_999; g <= 999_999; g += 211) {
      expect(decodeYaohuaA9(encodeYaohuaA9({ grams: g, unit: "kg", decimals: 3 }), "kg")).toEqual(weight(g));
      expect(decodeYaohuaA9(encodeYaohuaA9({ grams: g, unit: "g", decimals: 0 }), "g")).toEqual(weight(g));
    }
  });

  it.each([
    ["kg", 0],
    ["kg", 1],
    ["kg", 2],
    ["kg", 4],
    ["lb", 0],
    ["lb", 2],
    ["lb", 3],
    ["g", 1],
  ] as [WeightUnit, number][])("round-trips to the display step (%s, %s decimals)", (unit, decimals) => {
    for (let g = -45_000; g <= 45_000; g += 97) {
      const { negative, digits } = gramsToDisplayed(g, unit, decimals);
      const shown = displayedToGrams(negative, digits, decimals, unit);
      const both = ["hex", "plus30"] as const;
      for (const checksum of both) {
        const frame = encodeYaohuaA9({ grams: g, unit, decimals, checksum });
        expect(decodeYaohuaA9(frame, unit)).toEqual(weight(shown));
      }
      // Within half a display step (plus the final rounding to whole grams).
      const step = (unit === "lb" ? 453.59237 : unit === "kg" ? 1000 : 1) / 10 ** decimals;
      expect(Math.abs(shown - g)).toBeLessThanOrEqual(step / 2 + 0.5);
    }
  });
});

describe("yaohua-a9 framer", () => {
  const frames = (chunks: Uint8Array[], unit: WeightUnit = "kg"): unknown[] => {
    const framer = createYaohuaA9Framer({ unit });
    return normalize(chunks.flatMap((c) => framer.push(c)));
  };

  it("decodes many frames in one chunk", () => {
    const values = Array.from({ length: 200 }, (_, i) => (i - 100) * 10);
    const stream = concat(...values.map((g) => encodeYaohuaA9({ grams: g, unit: "kg", decimals: 2 })));
    expect(frames([stream])).toEqual(values.map(weight));
  });

  it("discards the partial frame of a port opened mid-frame, then decodes", () => {
    const whole = hex(PLUS_20_00);
    for (let cut = 1; cut < A9_FRAME_BYTES; cut++) {
      const partial = whole.subarray(cut);
      expect(frames([concat(partial, whole, hex(MINUS_1_5))])).toEqual([
        { kind: "discarded", bytes: toHex(partial), reason: NO_START_BYTE },
        weight(20000),
        weight(-1500),
      ]);
    }
  });

  it("turns garbage between frames into one discarded value per run", () => {
    expect(frames([concat(hex(PLUS_20_00), ascii("hello world"), hex(MINUS_1_5))])).toEqual([
      weight(20000),
      { kind: "discarded", bytes: toHex(ascii("hello world")), reason: NO_START_BYTE },
      weight(-1500),
    ]);
  });

  it("resynchronises on a noise STX just before a real frame", () => {
    expect(frames([concat(hex("02 02 2B"), hex(PLUS_20_00))])).toEqual([
      { kind: "discarded", bytes: "02", reason: "bad sign byte" },
      { kind: "discarded", bytes: "02 2B", reason: "bad digit byte" },
      weight(20000),
    ]);
  });

  it("resynchronises when a frame is cut short by the next frame", () => {
    const cut = hex(PLUS_20_00).subarray(0, 6);
    expect(frames([concat(cut, hex(PLUS_4_139))])).toEqual([
      { kind: "discarded", bytes: toHex(cut), reason: "bad digit byte" },
      weight(4139),
    ]);
  });

  it("discards a bad-checksum frame whole, without losing the next", () => {
    const bad = "02 2B 30 30 32 30 30 30 32 31 43 03";
    expect(frames([hex(bad + " " + PLUS_4_139)])).toEqual([
      { kind: "discarded", bytes: bad, reason: "bad checksum" },
      weight(4139),
    ]);
  });

  it("applies the configured unit", () => {
    expect(frames([hex(PLUS_20_00)], "lb")).toEqual([weight(9072)]);
  });

  it("keeps memory bounded under 1 MB of junk without a start byte, and accounts for every byte", () => {
    const framer = createYaohuaA9Framer({ unit: "kg" });
    const chunk = new Uint8Array(1000).fill(0x55);
    const { expected, odd, maxBuffered } = flood(
      framer,
      () => chunk,
      1000,
      (f) => f.kind === "discarded" && f.reason === NO_START_BYTE && f.bytes.length === MAX_DISCARD_BYTES,
    );
    const discards = expected.length;
    expect(odd).toEqual([]);
    expect(maxBuffered).toBeLessThan(MAX_DISCARD_BYTES);
    expect(discardedBytes(expected) + framer.bufferedBytes).toBe(1_000_000);
    expect(discards).toBe(Math.floor(1_000_000 / MAX_DISCARD_BYTES));
    const after = normalize(framer.push(hex(PLUS_20_00)));
    expect(after.at(-1)).toEqual(weight(20000));
    expect(framer.bufferedBytes).toBe(0);
  });
});
