import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { Outbox } from "../../src/adapters/outbox/outbox.js";
import { manualWallClock } from "../support/wall-clock.js";

const logger = pino({ level: "silent" });

describe("Outbox read methods for replay (heldRange, heldPage)", () => {
  let dir: string;
  let outbox: Outbox;
  const clock = manualWallClock();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "smartbin-outbox-replay-"));
    outbox = Outbox.open({ path: join(dir, "smartbin.db"), stationId: "st-001", logger, now: clock.now, clockSynced: () => true });
    for (let i = 0; i < 10; i++) outbox.append(i % 2 ? "alarm" : "deposit", "kitchen", { n: i });
  });
  afterEach(() => {
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("counts held events in an inclusive range, published or not; pruned ones are not held; first and last held of all", () => {
    expect(outbox.heldRange(1)).toEqual({ count: 10, firstHeldSeq: 1, lastHeldSeq: 10 });
    expect(outbox.heldRange(3, 5)).toEqual({ count: 3, firstHeldSeq: 1, lastHeldSeq: 10 });
    outbox.markPublished([1, 2, 3, 4]);
    expect(outbox.heldRange(3, 5)).toEqual({ count: 3, firstHeldSeq: 1, lastHeldSeq: 10 });
    clock.advance(2 * 86_400_000);
    expect(outbox.prune(1)).toBe(4);
    // Where the station's memory begins, whatever the range asked.
    expect(outbox.heldRange(1, 6)).toEqual({ count: 2, firstHeldSeq: 5, lastHeldSeq: 10 });
    expect(outbox.heldRange(11)).toEqual({ count: 0, firstHeldSeq: 5, lastHeldSeq: 10 });
    expect(outbox.heldRange(6, 2)).toEqual({ count: 0, firstHeldSeq: 5, lastHeldSeq: 10 });
    expect(outbox.heldRange(-5, 1e300)).toEqual({ count: 6, firstHeldSeq: 5, lastHeldSeq: 10 });
    expect(outbox.heldRange(Number.NaN, 5.7)).toEqual({ count: 1, firstHeldSeq: 5, lastHeldSeq: 10 });
  });

  it("holds nothing: no first or last seq", () => {
    outbox.markPublished([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    clock.advance(2 * 86_400_000);
    expect(outbox.prune(1)).toBe(10);
    expect(outbox.heldRange(1)).toEqual({ count: 0, firstHeldSeq: null, lastHeldSeq: null });
  });

  it("pages through a range, exclusive after, inclusive to, the exact stored payloads", () => {
    outbox.markPublished([2, 3]);
    const page = outbox.heldPage(1, 8, 3);
    expect(page.map((e) => e.seq)).toEqual([2, 3, 4]);
    expect(page.map((e) => e.kind)).toEqual(["alarm", "deposit", "alarm"]);
    expect(JSON.parse(page[0]!.payload).data.seq).toBe(2);
    expect(outbox.heldPage(4, 8, 3).map((e) => e.seq)).toEqual([5, 6, 7]);
    expect(outbox.heldPage(7, 8, 3).map((e) => e.seq)).toEqual([8]);
    expect(outbox.heldPage(8, 8, 3)).toEqual([]);
    expect(outbox.heldPage(8, undefined, 5).map((e) => e.seq)).toEqual([9, 10]);
    const pending = outbox.pendingAfter(0, 100).find((e) => e.seq === 5)!;
    expect(outbox.heldPage(4, 5, 1)).toEqual([pending]);
  });
});
