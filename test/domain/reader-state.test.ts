/**
 * Tag presentations (src/domain/reader-state.ts) for card ids that name an object's property: a QR
 * or text reader can deliver any text, and `__proto__` or `constructor` is a card id like any other.
 */
import { describe, expect, it } from "vitest";
import { expireTags, initialReader, readTag } from "../../src/domain/reader-state.js";
import type { ReaderSpec } from "../../src/domain/station-types.js";

const spec = (minReads: number): ReaderSpec => ({ id: "reader-1", repeatGapMs: 1000, minReads, noValidFramesMs: 5000 });

describe("tag presentations", () => {
  for (const cardId of ["__proto__", "constructor", "toString", "0008844356"]) {
    it(`${cardId}: presented once at min_reads, held while it stays, presented again after the gap`, () => {
      const first = readTag(initialReader, cardId, 0, spec(2));
      expect(first.presented).toBe(false);
      const second = readTag(first.reader, cardId, 100, spec(2));
      expect(second.presented).toBe(true);
      const held = readTag(second.reader, cardId, 200, spec(2));
      expect(held.presented).toBe(false);
      // Still held at 1100 (its last read at 200), gone by 1300: the next reads present it again.
      expect(Object.keys(expireTags(held.reader, 1100, spec(2)).reader.presented)).toEqual([cardId]);
      const later = expireTags(held.reader, 1300, spec(2)).reader;
      expect(Object.keys(later.presented)).toEqual([]);
      expect(readTag(readTag(later, cardId, 1300, spec(2)).reader, cardId, 1400, spec(2)).presented).toBe(true);
      // The state stays plain data.
      expect(JSON.parse(JSON.stringify(held.reader))).toEqual(held.reader);
    });
  }
});
