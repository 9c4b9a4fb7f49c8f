import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { isoTime } from "../../src/domain/iso-time.js";

describe("isoTime", () => {
  it("matches Date#toISOString on known instants", () => {
    for (const ms of [0, 951_782_400_000, 1_764_427_000_123, 4_102_444_799_999, -1, -62_167_219_200_000]) {
      expect(isoTime(ms)).toBe(new Date(ms).toISOString());
    }
  });
  it("matches Date#toISOString for any instant in years 0000-9999", () => {
    fc.assert(
      fc.property(fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }), (ms) => {
        expect(isoTime(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 5000 },
    );
  });
  it("refuses what is not a time", () => {
    expect(() => isoTime(Number.NaN)).toThrow(RangeError);
    expect(() => isoTime(Infinity)).toThrow(RangeError);
    expect(() => isoTime(253_402_300_800_000)).toThrow(RangeError);
  });
});
