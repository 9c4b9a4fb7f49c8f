/**
 * Properties of the fill-level sensor framers (dyp-a02, tf-luna) over random input (issue 9, items
 * 2 and 6, "Bad input"): any bytes in any chunks never throw and never hold more than the bound;
 * the results depend on the bytes only, not on how they are cut; valid frames embedded in noise are
 * all found, in order.
 *
 * What "all found" guarantees exactly: these formats open a frame with a byte that also occurs in
 * data (`FF`; `59`, `5A`), so a start byte in the noise shortly before a real frame opens a
 * candidate that runs into the frame. When the candidate's checksum fails (255 times in 256), it
 * gives up its first byte and the frame is found; when it passes by chance, the frame is lost (and
 * the station's median over several readings absorbs one odd reading). So the frames are all found
 * whatever the noise holds, except start bytes among the last bytes before a frame (fewer than the
 * longest frame); with noise free of start bytes, the results are exactly the frames and every
 * noise byte is discarded.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findProtocol, type BufferedFramer, type LevelFrame, type LevelSample } from "../../../src/protocol/index.js";
import { DYP_A02_FRAME_BYTES } from "../../../src/protocol/level/dyp-a02.js";
import { TF_LUNA_MAX_REPLY_BYTES } from "../../../src/protocol/level/tf-luna.js";
import { MAX_DISCARD_BYTES } from "../../../src/protocol/stx-framer.js";
import { concat, discardedBytes, feedChunks, flood, normalize } from "../fixtures.js";

interface Case {
  name: string;
  options: Record<string, unknown>;
  /** The bytes that open a frame. */
  starts: number[];
  /** The longest candidate frame. */
  maxFrame: number;
  /** The largest distance a frame carries (a dyp-a02 frame with DATA_H FF is no frame: dyp-a02.ts). */
  maxMm: number;
}

const CASES: Case[] = [
  { name: "dyp-a02", options: {}, starts: [0xff], maxFrame: DYP_A02_FRAME_BYTES, maxMm: 0xfeff },
  { name: "tf-luna", options: {}, starts: [0x59, 0x5a], maxFrame: TF_LUNA_MAX_REPLY_BYTES, maxMm: 65_535 },
  { name: "tf-luna", options: { min_strength: 0 }, starts: [0x59, 0x5a], maxFrame: TF_LUNA_MAX_REPLY_BYTES, maxMm: 65_535 },
];

/** Bytes these layouts care about, mixed in so that random input reaches their paths. */
const SPECIAL = [0xff, 0x59, 0x5a, 0x00, 0x04, 0x05, 0x09, 0x10];
const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...SPECIAL));
const bytes = (maxLength: number): fc.Arbitrary<Uint8Array> => fc.array(byte, { maxLength }).map((xs) => Uint8Array.from(xs));
const sampleUpTo = (maxMm: number): fc.Arbitrary<LevelSample> =>
  fc.record({
    mm: fc.oneof(fc.integer({ min: 0, max: maxMm }), fc.integer({ min: 200, max: 1500 })),
    strength: fc.oneof(fc.integer({ min: 0, max: 65_535 }), fc.integer({ min: 90, max: 400 })),
  });
const cutsOf = (length: number): fc.Arbitrary<number[]> =>
  fc.uniqueArray(fc.integer({ min: 0, max: length }), { maxLength: 12 }).map((xs) => [...xs].sort((a, b) => a - b));

describe.each(CASES)("$name framer $options", ({ name, options, starts, maxFrame, maxMm }) => {
  const codec = findProtocol("level", name).configure(options);
  const bound = MAX_DISCARD_BYTES + maxFrame;
  const startFree = (n: Uint8Array): Uint8Array => n.map((b) => (starts.includes(b) ? 0x00 : b));
  /** Noise whose last `maxFrame - 1` bytes hold no start byte (see the file's comment). */
  const gap = bytes(80).map((n) => concat(n.subarray(0, Math.max(0, n.length - maxFrame + 1)), startFree(n.subarray(Math.max(0, n.length - maxFrame + 1)))));
  const encoded = sampleUpTo(maxMm).map((s) => codec.encode(s));

  it("never throws on random bytes in random chunks, and never holds more than its bound", () => {
    fc.assert(
      fc.property(fc.array(bytes(600), { maxLength: 40 }), (parts) => {
        const framer: BufferedFramer<LevelFrame> = codec.createFramer();
        for (const part of parts) {
          framer.push(part);
          expect(framer.bufferedBytes).toBeLessThanOrEqual(bound);
        }
      }),
    );
  });

  it("gives the same results however the bytes are cut into chunks", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(bytes(60), encoded), { maxLength: 20 }).map((parts) => concat(...parts)).chain((b) => fc.tuple(fc.constant(b), cutsOf(b.length))),
        ([stream, cuts]) => {
          const whole = normalize(codec.createFramer().push(stream));
          expect(normalize(feedChunks(codec.createFramer(), stream, cuts))).toEqual(whole);
        },
      ),
    );
  });

  it("finds every valid frame embedded in noise, in order, however the stream is cut", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(gap, encoded), { minLength: 1, maxLength: 12 }), bytes(60), cutsOf(1500), (items, tail, cuts) => {
        const stream = concat(...items.flatMap(([n, f]) => [n, f]), tail);
        const expected = normalize(items.map(([, f]) => codec.decode(f)));
        const found = normalize(feedChunks(codec.createFramer(), stream, cuts.filter((c) => c <= stream.length)).filter((f) => f.kind !== "discarded"));
        let at = 0;
        for (const f of found) if (at < expected.length && JSON.stringify(f) === JSON.stringify(expected[at])) at++;
        expect(at).toBe(expected.length);
      }),
    );
  });

  it("with noise free of start bytes, decodes exactly the frames and discards every noise byte", () => {
    const free = bytes(60).map(startFree);
    fc.assert(
      fc.property(fc.array(fc.tuple(free, encoded), { minLength: 1, maxLength: 12 }), free, (items, tail) => {
        const stream = concat(...items.flatMap(([n, f]) => [n, f]), tail);
        const framer = codec.createFramer();
        const results = framer.push(stream);
        expect(normalize(results.filter((r) => r.kind !== "discarded"))).toEqual(normalize(items.map(([, f]) => codec.decode(f))));
        const noiseBytes = items.reduce((sum, [n]) => sum + n.length, tail.length);
        expect(discardedBytes(results) + framer.bufferedBytes).toBe(noiseBytes);
      }),
    );
  });

  it("keeps memory bounded under 1 MB of start bytes and of bytes that start nothing, then decodes the next frame", () => {
    for (const fill of [...starts, 0x39]) {
      const framer = codec.createFramer();
      const chunk = new Uint8Array(4096).fill(fill);
      const { expected, odd, maxBuffered } = flood(framer, () => chunk, 256, (f) => f.kind === "discarded");
      expect(odd).toEqual([]);
      expect(maxBuffered).toBeLessThanOrEqual(bound);
      expect(discardedBytes(expected) + framer.bufferedBytes).toBe(256 * 4096);
      const frame = codec.encode({ mm: 1200, strength: 500 });
      // Bytes held from the flood (a candidate of start bytes) end as junk; the frame after them is found.
      const out = framer.push(concat(new Uint8Array(maxFrame).fill(0x39), frame));
      expect(out.at(-1)).toEqual({ kind: "distance", mm: 1200, strength: name === "tf-luna" ? 500 : null, temperatureC: name === "tf-luna" ? 25 : null });
      expect(framer.bufferedBytes).toBe(0);
    }
  });
});
