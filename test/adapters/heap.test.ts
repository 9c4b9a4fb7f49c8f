import { getHeapSpaceStatistics } from "node:v8";
import { describe, expect, it } from "vitest";
import { compactHeap, favourMemory } from "../../src/adapters/heap.js";

/**
 * src/adapters/heap.ts: the one memory-reducing collection `smartbin run` asks for once settled, and
 * V8 favouring memory. What they save in resident memory is measured by `npm run bench` (idle memory,
 * backlog drain), not here: a test asserts no memory figure.
 */
const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === "new_space")!;

describe("compactHeap", () => {
  it("gives back the young generation that a burst of surviving allocations grew (committed new space shrinks)", () => {
    // What start-up does: many objects that live a while, so V8 grows its semi-spaces.
    let keep: unknown[] = [];
    for (let round = 0; round < 40; round++) {
      keep = [];
      for (let i = 0; i < 20_000; i++) keep.push({ i, text: `object ${i} of round ${round}` });
    }
    const grown = newSpace().space_size;
    expect(keep.length).toBe(20_000);
    keep = [];
    expect(compactHeap()).toBe(true);
    expect(newSpace().space_size).toBeLessThan(grown);
  });

  it("can be asked again (the extension is exposed once, reused after)", () => {
    expect(compactHeap()).toBe(true);
    expect(compactHeap()).toBe(true);
  });
});

describe("favourMemory", () => {
  it("is accepted by this Node", () => {
    expect(favourMemory()).toBe(true);
  });
});
