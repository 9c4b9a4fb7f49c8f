/**
 * IsoTime keeps the text of the current second and writes only the milliseconds into it: it must
 * give exactly what Date's toISOString gives, in any order of calls, and throw as it does.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";

import { IsoTime } from "../../src/adapters/outbox/iso-time.js";

const MAX_MS = 8.64e15;

describe("IsoTime", () => {
  it("gives toISOString's text for any time, in any order (years before 0 and after 9999 too)", () => {
    const iso = new IsoTime();
    fc.assert(
      fc.property(
        // Runs of times close together (the kept second is reused) and far apart (it is replaced).
        fc.array(fc.oneof(fc.integer({ min: -MAX_MS, max: MAX_MS }), fc.integer({ min: 1_700_000_000_000, max: 1_700_000_003_000 })), { minLength: 1, maxLength: 20 }),
        (times) => {
          for (const ms of times) expect(iso.format(ms)).toBe(new Date(ms).toISOString());
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("writes each millisecond of one second in the kept text: .000, .009, .010, .099, .100, .999", () => {
    const iso = new IsoTime();
    const second = Date.UTC(2026, 10, 29, 14, 36, 37);
    for (const ms of [500, 0, 9, 10, 99, 100, 999]) expect(iso.format(second + ms)).toBe(new Date(second + ms).toISOString());
    expect(iso.format(second + 9)).toBe("2026-11-29T14:36:37.009Z");
    // Before 1970 the second is floored, not truncated: -1 ms is 23:59:59.999 of the day before.
    expect(iso.format(-1)).toBe("1969-12-31T23:59:59.999Z");
    expect(iso.format(-1000)).toBe("1969-12-31T23:59:59.000Z");
  });

  it("cuts a fraction of a millisecond off toward zero, as Date does", () => {
    const iso = new IsoTime();
    for (const ms of [1_700_000_000_123.9, 1_700_000_000_123.2, -1.5, -0.5, 0.9]) expect(iso.format(ms)).toBe(new Date(ms).toISOString());
  });

  it("throws toISOString's RangeError for a time that is not valid, and keeps working after it", () => {
    const iso = new IsoTime();
    expect(iso.format(0)).toBe("1970-01-01T00:00:00.000Z");
    expect(() => iso.format(Number.NaN)).toThrow(RangeError);
    expect(() => iso.format(MAX_MS + 1)).toThrow(RangeError);
    expect(() => iso.format(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(iso.format(5)).toBe("1970-01-01T00:00:00.005Z");
  });
});
