import { describe, expect, it } from "vitest";
import { PresentationFilter } from "../../src/domain/presentation.js";

/** Feeds `[cardId, mono]` frames and returns the ones that started a presentation. */
function presentations(filter: PresentationFilter, frames: Array<[string, number]>): Array<[string, number]> {
  return frames.filter(([id, mono]) => filter.accept(id, mono));
}

function every(cardId: string, fromMs: number, toMs: number, periodMs = 50): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (let mono = fromMs; mono <= toMs; mono += periodMs) out.push([cardId, mono]);
  return out;
}

describe("PresentationFilter", () => {
  it("counts a tag held for 5 s (a frame every 50 ms) as one presentation", () => {
    const filter = new PresentationFilter({ repeatGapMs: 500 });
    expect(presentations(filter, every("A", 0, 5000))).toEqual([["A", 0]]);
  });

  it("counts a gap of at least repeat_gap_ms as a new presentation", () => {
    const filter = new PresentationFilter({ repeatGapMs: 500 });
    const frames = [...every("A", 0, 1000), ...every("A", 1600, 2000)];
    expect(presentations(filter, frames)).toEqual([
      ["A", 0],
      ["A", 1600],
    ]);
  });

  it("draws the line at repeat_gap_ms: 499 ms apart is one presentation, 500 ms two", () => {
    const filter = new PresentationFilter({ repeatGapMs: 500 });
    expect(filter.accept("A", 0)).toBe(true);
    expect(filter.accept("A", 499)).toBe(false);
    expect(filter.accept("A", 999)).toBe(true);
  });

  it("takes a different id as a new presentation at once; two ids alternating are two presentations", () => {
    const filter = new PresentationFilter({ repeatGapMs: 500 });
    const alternating = every("A", 0, 2000, 100).flatMap(([, mono]): Array<[string, number]> => [
      ["A", mono],
      ["B", mono + 50],
    ]);
    expect(presentations(filter, alternating)).toEqual([
      ["A", 0],
      ["B", 50],
    ]);
    // Both away for more than the gap, then A again.
    expect(filter.accept("A", 2700)).toBe(true);
  });

  it("forgets everything on reset()", () => {
    const filter = new PresentationFilter({ repeatGapMs: 500 });
    filter.accept("A", 0);
    filter.reset();
    expect(filter.accept("A", 50)).toBe(true);
  });

  it("refuses a negative gap", () => {
    expect(() => new PresentationFilter({ repeatGapMs: -1 })).toThrow(RangeError);
  });
});
