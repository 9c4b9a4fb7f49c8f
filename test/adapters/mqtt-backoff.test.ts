import { describe, expect, it } from "vitest";

import { DEFAULT_RECONNECT_BACKOFF, backoffDelayMs } from "../../src/adapters/mqtt/backoff.js";

describe("reconnect backoff (full jitter)", () => {
  it("doubles the ceiling from 1 s up to 30 s", () => {
    const ceiling = (n: number) => backoffDelayMs(n, DEFAULT_RECONNECT_BACKOFF, () => 0.999_999_9);
    expect([0, 1, 2, 3, 4, 5, 6, 50, 5000].map(ceiling)).toEqual([
      1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000,
    ]);
  });

  it("draws uniformly below the ceiling", () => {
    expect(backoffDelayMs(2, DEFAULT_RECONNECT_BACKOFF, () => 0)).toBe(0);
    expect(backoffDelayMs(2, DEFAULT_RECONNECT_BACKOFF, () => 0.5)).toBe(2000);
    for (let i = 0; i < 100; i++) {
      const d = backoffDelayMs(3, { initialMs: 100, maxMs: 500 });
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(500);
    }
  });
});
