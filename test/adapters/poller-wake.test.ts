import { describe, expect, it, vi } from "vitest";
import { pollerNeedsWake, startPollerWake } from "../../src/adapters/serial/poller-wake.js";

describe("the serialport poller wake (serialport/bindings-cpp#239)", () => {
  it("is needed from Node 26.4 on, not before", () => {
    expect(pollerNeedsWake("22.23.5")).toBe(false);
    expect(pollerNeedsWake("24.22.3")).toBe(false);
    expect(pollerNeedsWake("26.3.9")).toBe(false);
    expect(pollerNeedsWake("26.4.0")).toBe(true);
    expect(pollerNeedsWake("26.12.1")).toBe(true);
    expect(pollerNeedsWake("27.0.0")).toBe(true);
  });

  it("starts a timer only when needed, and stops it", () => {
    vi.useFakeTimers();
    try {
      const stop = startPollerWake(true);
      expect(vi.getTimerCount()).toBe(1);
      stop();
      expect(vi.getTimerCount()).toBe(0);
      startPollerWake(false)();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
