import { describe, expect, it } from "vitest";
import {
  DEFAULT_BACKOFF,
  DEFAULT_RECONNECT_BACKOFF,
  backoffCapMs,
  backoffDelayMs,
} from "../../src/adapters/backoff.js";

describe("backoffCapMs", () => {
  it("the publisher's reconnects double from 1 s up to 30 s", () => {
    const caps = [0, 1, 2, 3, 4, 5, 6, 50].map((n) => backoffCapMs(n, DEFAULT_RECONNECT_BACKOFF));
    expect(caps).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it("doubles from startMs and stops at maxMs", () => {
    const caps = Array.from({ length: 9 }, (_, n) => backoffCapMs(n, DEFAULT_BACKOFF));
    expect(caps).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it("stays finite for absurd attempt numbers", () => {
    expect(backoffCapMs(10_000, { startMs: 50, maxMs: 400 })).toBe(400);
    expect(backoffCapMs(-3, { startMs: 50, maxMs: 400 })).toBe(50);
  });
});

describe("backoffDelayMs (full jitter)", () => {
  const s = { startMs: 100, maxMs: 1_000 };

  it("is uniform in [0, cap): the random draw scales the cap", () => {
    expect(backoffDelayMs(0, s, () => 0)).toBe(0);
    expect(backoffDelayMs(0, s, () => 0.5)).toBe(50);
    expect(backoffDelayMs(3, s, () => 0.5)).toBe(400);
    expect(backoffDelayMs(3, s, () => 0.999_999)).toBe(799);
    expect(backoffDelayMs(20, s, () => 0.5)).toBe(500);
  });

  it("never leaves [0, maxMs] whatever the random source returns", () => {
    for (const r of [-1, 0, 0.3, 0.999, 1, 7, Number.NaN, Number.POSITIVE_INFINITY]) {
      const d = backoffDelayMs(8, s, () => r);
      expect(Number.isInteger(d)).toBe(true);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(1_000);
    }
  });
});
