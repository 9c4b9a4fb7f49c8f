/**
 * Properties of the framers over random byte streams (issue 9, item 6 and "Bad input"): for
 * yaohua-a9, em4100-ascii (both frame variants), ascii-st-gs and ascii-line,
 *
 * 1. any bytes, in any chunks: no exception, `bufferedBytes` within the framer's bound after every
 *    push, and the same results however the stream is split (the results depend on the bytes only);
 * 2. valid frames from the encoders, embedded in random noise, are all found, decoded as the
 *    protocol's decoder decodes them alone, and in order. What exactly is guaranteed:
 *    - STX framers (yaohua-a9, em4100-ascii): whatever the noise. A STX in the noise opens a
 *      candidate, but no valid prefix of these layouts holds a STX where a real frame's STX or its
 *      next byte would fall (yaohua-a9: sign, digits, decimals, checksum characters, ETX; em4100: hex
 *      characters; its raw checksum position admits any byte, but the byte after it must then be hex
 *      or ETX, and a real frame's byte after STX is a hex character following a non-hex STX), so the
 *      candidate breaks on the real frame's bytes and resynchronises on its STX. Noise may make
 *      frames of its own (it is random), so the frames are found as a subsequence of the decoded
 *      results; with noise free of STX (0x02) nothing else is decoded, and the results are exactly
 *      the frames;
 *    - line framers (ascii-st-gs, ascii-line): every frame that follows a line end (or starts the
 *      stream), whatever the other noise bytes; a frame glued to noise without a line end between
 *      them is one line with that noise, which is not the frame. Noise lines may decode to frames of
 *      their own (any printable line is an ascii-line id), so again a subsequence;
 *    (The fill-level sensor framers have their own properties: test/protocol/level/framers.property.test.ts.)
 * 3. for every protocol of the registry: no result aliases a pushed chunk or the framer's buffer
 *    (overwriting a chunk after its push, or pushing more, changes no result already returned).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CR, ETX, LF, STX } from "../../src/protocol/bytes.js";
import { type DisplayUnit, displayedToGrams } from "../../src/protocol/grams.js";
import {
  ASCII_LINE_MAX_BYTES,
  compileIdPattern,
  createAsciiLineFramer,
  decodeAsciiLine,
  encodeAsciiLine,
} from "../../src/protocol/reader/ascii-line.js";
import {
  EM4100_FRAME_BYTES,
  createEm4100Framer,
  decodeEm4100,
  encodeEm4100,
  type Em4100CardFormat,
} from "../../src/protocol/reader/em4100-ascii.js";
import { createIso14443Framer, decodeIso14443Line, encodeIso14443, type UidByteOrder, type UidText } from "../../src/protocol/reader/iso14443-text.js";
import { WIEGAND_MAX_BITS, createWiegandFramer, decodeWiegandBits, encodeWiegand } from "../../src/protocol/reader/wiegand.js";
import { PROTOCOLS } from "../../src/protocol/registry.js";
import { ST_GS_MAX_LINE_BYTES, createStGsFramer, decodeStGs, encodeStGs } from "../../src/protocol/scale/ascii-st-gs.js";
import { A9_FRAME_BYTES, createYaohuaA9Framer, decodeYaohuaA9, encodeYaohuaA9 } from "../../src/protocol/scale/yaohua-a9.js";
import { MAX_DISCARD_BYTES } from "../../src/protocol/stx-framer.js";
import type { BufferedFramer, Discarded, WeightUnit } from "../../src/protocol/types.js";
import { concat, feedChunks, normalize } from "./fixtures.js";

/** What the properties need to know about one framer. */
interface Subject {
  name: string;
  make: () => BufferedFramer<{ kind: string }>;
  /** The most `bufferedBytes` may be between pushes. */
  bound: number;
  /** Lengths at which the framer changes course (its buffers' sizes), tested at and around. */
  edges: number[];
  /** How frames are told apart: a start byte (any noise), or a line end before each frame. */
  framing: "stx" | "line";
  /** Valid frames as the device sends them, each with what the protocol's decoder makes of it alone. */
  frame: fc.Arbitrary<{ bytes: Uint8Array; expected: unknown }>;
}

/** Bytes that matter to some framer, so that random streams hit their paths often. */
const SPECIAL = [STX, ETX, CR, LF, 0x20, 0x2b, 0x2c, 0x2d, 0x2e, 0x30, 0x39, 0x41, 0x46, 0x47, 0x53, 0x54, 0x55, 0x6b, 0x67];
const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...SPECIAL));
const noise = (maxLength: number): fc.Arbitrary<Uint8Array> =>
  fc.array(byte, { maxLength }).map((xs) => Uint8Array.from(xs));
/** Offsets (sorted, within `length`) at which to cut a stream into chunks. */
const cutsOf = (length: number): fc.Arbitrary<number[]> =>
  fc.uniqueArray(fc.integer({ min: 0, max: length }), { maxLength: 12 }).map((xs) => [...xs].sort((a, b) => a - b));

const withoutLineEnd = (bytes: Uint8Array): Uint8Array => {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === CR || bytes[end - 1] === LF)) end--;
  return bytes.subarray(0, end);
};

const a9Units: WeightUnit[] = ["g", "kg", "lb"];
/** A yaohua-a9 reading in `unit`: a displayed value of up to six digits, as the grams it shows. */
const yaohuaReading = (unit: WeightUnit) =>
  fc
    .record({ decimals: fc.integer({ min: 0, max: 4 }), shown: fc.integer({ min: 0, max: 999_999 }), negative: fc.boolean(), plus30: fc.boolean() })
    .map(({ decimals, shown, negative, plus30 }) => ({
      unit,
      decimals,
      grams: displayedToGrams(negative, shown, decimals, unit),
      checksum: plus30 ? ("plus30" as const) : ("hex" as const),
    }))
    .filter((reading) => {
      try {
        encodeYaohuaA9(reading);
        return true;
      } catch {
        return false; // a value that rounds up past six digits in this unit
      }
    });

const tagHex = fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 10, maxLength: 10 }).map((ns) => ns.map((n) => n.toString(16)).join(""));
const em4100Frame = (variant: "hex" | "raw", format: Em4100CardFormat) =>
  tagHex.map((tag) => {
    const bytes = encodeEm4100(tag, variant);
    return { bytes, expected: normalize([decodeEm4100(bytes, format)])[0] };
  });

const stGsUnits: DisplayUnit[] = ["g", "kg", "lb", "t", "oz"];
const stGsFrame = fc
  .record({
    stable: fc.boolean(),
    mode: fc.constantFrom("gross" as const, "net" as const),
    grams: fc.integer({ min: -99_999, max: 999_999 }),
    unit: fc.constantFrom(...stGsUnits),
    decimals: fc.integer({ min: 0, max: 3 }),
  })
  .filter((r) => {
    try {
      encodeStGs(r);
      return true;
    } catch {
      return false;
    }
  })
  .map((r) => {
    const bytes = encodeStGs(r);
    return { bytes, expected: normalize([decodeStGs(withoutLineEnd(bytes), "kg")])[0] };
  });

/** Ids a text-mode reader sends: printable ASCII and some UTF-8, without control characters. */
const lineId = fc
  .string({ unit: fc.oneof(fc.constantFrom(..."QR:0123456789ABCDEFabcdef-_ ".split("")), fc.constantFrom("é", "ü", "中")), minLength: 1, maxLength: 40 })
  .filter((s) => s.trim() !== "");
/** Ids that match `QR_PATTERN`. */
const QR_PATTERN = "^QR:([0-9A-F]{4,})$";
const qrId = fc.array(fc.constantFrom(..."0123456789ABCDEF".split("")), { minLength: 4, maxLength: 30 }).map((cs) => `QR:${cs.join("")}`);
const asciiLineFrame = (id: fc.Arbitrary<string>, pattern?: string) =>
  fc
    .record({ id, stxEtx: fc.boolean(), lineEnd: fc.constantFrom("\r\n" as const, "\r" as const, "\n" as const) })
    .map(({ id, stxEtx, lineEnd }) => {
      const bytes = encodeAsciiLine(id, { stxEtx, lineEnd });
      // The decoder's view of the frame alone: its line (with a kept ETX), as the framer cuts it.
      const line = stxEtx ? bytes.subarray(0, bytes.indexOf(ETX) + 1) : withoutLineEnd(bytes);
      return { bytes, expected: normalize([decodeAsciiLine(line, pattern === undefined ? undefined : compileIdPattern(pattern))])[0] };
    });

/** ISO 14443 UIDs (4, 7 or 10 bytes; 4 only for the decimal text) as a reader with `text`/`order` prints them. */
const iso14443Frame = (text: UidText, order: UidByteOrder) =>
  fc
    .constantFrom(...(text === "dec" ? [4] : [4, 7, 10]))
    .chain((n) => fc.uint8Array({ minLength: n, maxLength: n }))
    .map((uid) => {
      const uidHex = Array.from(uid, (b) => b.toString(16).padStart(2, "0")).join("");
      const bytes = encodeIso14443(uidHex, { uidText: text, uidByteOrder: order });
      return { bytes, expected: normalize([decodeIso14443Line(withoutLineEnd(bytes), { uidText: text, uidByteOrder: order })])[0] };
    });
/** Wiegand bit lines of W26 (3 bytes) and W34 (4 bytes) cards. */
const wiegandFrame = fc
  .constantFrom(3, 4)
  .chain((n) => fc.uint8Array({ minLength: n, maxLength: n }))
  .map((card) => {
    const bytes = encodeWiegand(Array.from(card, (b) => b.toString(16).padStart(2, "0")).join(""));
    return { bytes, expected: normalize([decodeWiegandBits(withoutLineEnd(bytes), { format: "hex" })])[0] };
  });

const a9Bound = MAX_DISCARD_BYTES + A9_FRAME_BYTES;
const em4100Bound = MAX_DISCARD_BYTES + EM4100_FRAME_BYTES;

const SUBJECTS: Subject[] = [
  ...a9Units.map(
    (unit): Subject => ({
      name: `yaohua-a9 (${unit})`,
      make: () => createYaohuaA9Framer({ unit }),
      bound: a9Bound,
      edges: [MAX_DISCARD_BYTES, A9_FRAME_BYTES],
      framing: "stx",
      frame: yaohuaReading(unit).map((r) => {
        const bytes = encodeYaohuaA9(r);
        return { bytes, expected: normalize([decodeYaohuaA9(bytes, unit)])[0] };
      }),
    }),
  ),
  { name: "em4100-ascii, 14-byte frames", make: () => createEm4100Framer(), bound: em4100Bound, edges: [MAX_DISCARD_BYTES, EM4100_FRAME_BYTES], framing: "stx", frame: em4100Frame("hex", "dec10") },
  { name: "em4100-ascii, 13-byte raw-checksum frames", make: () => createEm4100Framer({ format: "hex10" }), bound: em4100Bound, edges: [MAX_DISCARD_BYTES, EM4100_FRAME_BYTES], framing: "stx", frame: em4100Frame("raw", "hex10") },
  {
    name: "em4100-ascii, both variants on one stream",
    make: () => createEm4100Framer({ format: "wiegand26" }),
    bound: em4100Bound,
    edges: [MAX_DISCARD_BYTES, EM4100_FRAME_BYTES],
    framing: "stx",
    frame: fc.oneof(em4100Frame("hex", "wiegand26"), em4100Frame("raw", "wiegand26")),
  },
  { name: "ascii-st-gs", make: () => createStGsFramer({ unit: "kg" }), bound: ST_GS_MAX_LINE_BYTES, edges: [ST_GS_MAX_LINE_BYTES], framing: "line", frame: stGsFrame },
  { name: "ascii-line", make: () => createAsciiLineFramer(), bound: ASCII_LINE_MAX_BYTES, edges: [ASCII_LINE_MAX_BYTES], framing: "line", frame: asciiLineFrame(lineId) },
  {
    name: "ascii-line with a pattern",
    make: () => createAsciiLineFramer({ pattern: QR_PATTERN }),
    bound: ASCII_LINE_MAX_BYTES,
    edges: [ASCII_LINE_MAX_BYTES],
    framing: "line",
    frame: asciiLineFrame(qrId, QR_PATTERN),
  },
  { name: "iso14443-text, hex", make: () => createIso14443Framer(), bound: ASCII_LINE_MAX_BYTES, edges: [ASCII_LINE_MAX_BYTES], framing: "line", frame: iso14443Frame("hex", "msb_first") },
  {
    name: "iso14443-text, reversed decimal",
    make: () => createIso14443Framer({ uidText: "dec", uidByteOrder: "lsb_first" }),
    bound: ASCII_LINE_MAX_BYTES,
    edges: [ASCII_LINE_MAX_BYTES],
    framing: "line",
    frame: iso14443Frame("dec", "lsb_first"),
  },
  { name: "wiegand bit lines", make: () => createWiegandFramer({ format: "hex" }), bound: WIEGAND_MAX_BITS, edges: [WIEGAND_MAX_BITS], framing: "line", frame: wiegandFrame },
];

/** The decoded (not discarded) results, normalised for comparison. */
const decodedOf = (results: { kind: string }[]): unknown[] => normalize(results.filter((r) => r.kind !== "discarded"));

/** True when `sub` appears in `seq` in order (not necessarily adjacent). */
function isSubsequence(sub: unknown[], seq: unknown[]): boolean {
  let at = 0;
  for (const item of seq) {
    if (at < sub.length && JSON.stringify(item) === JSON.stringify(sub[at])) at++;
  }
  return at === sub.length;
}

describe.each(SUBJECTS)("$name framer", (subject) => {
  it("takes any bytes in any chunks without throwing, within its memory bound", () => {
    fc.assert(
      fc.property(
        noise(3000).chain((bytes) => fc.tuple(fc.constant(bytes), cutsOf(bytes.length))),
        ([bytes, cuts]) => {
          const framer = subject.make();
          let from = 0;
          for (const cut of [...cuts, bytes.length]) {
            framer.push(bytes.subarray(from, cut));
            from = cut;
            expect(framer.bufferedBytes).toBeLessThanOrEqual(subject.bound);
          }
        },
      ),
    );
  });

  it("keeps memory bounded under a flood of a byte that never ends a frame", () => {
    for (const b of [0x39, 0x20, 0x41, STX]) {
      const framer = subject.make();
      const chunk = new Uint8Array(1000).fill(b);
      for (let i = 0; i < 50; i++) {
        framer.push(chunk);
        expect(framer.bufferedBytes).toBeLessThanOrEqual(subject.bound);
      }
    }
  });

  it("gives the same results however the stream is split", () => {
    // Runs around the framer's bound (a line of exactly the longest length, one byte more; junk
    // that fills the discard buffer exactly), whole frames, short and long noise.
    const aroundBound = fc
      .record({
        edge: fc.constantFrom(...subject.edges),
        length: fc.integer({ min: -3, max: 3 }),
        filler: fc.constantFrom(0x20, 0x39, 0x41, 0xff),
        end: fc.constantFrom([], [CR], [LF], [CR, LF], [ETX], [STX]),
      })
      .map(({ edge, length, filler, end }) => concat(new Uint8Array(edge + length).fill(filler), Uint8Array.from(end)));
    const paddedFrame = subject.frame.map((f) => {
      // The frame's line padded with spaces to around the longest line a line framer keeps.
      const line = withoutLineEnd(f.bytes);
      const pad = Math.max(0, subject.bound - line.length - 2);
      return concat(line, new Uint8Array(pad).fill(0x20), f.bytes.subarray(line.length));
    });
    fc.assert(
      fc.property(
        fc
          .array(fc.oneof(subject.frame.map((f) => f.bytes), paddedFrame, noise(40), aroundBound, noise(700)), { maxLength: 12 })
          .map((parts) => concat(...parts))
          .chain((bytes) => fc.tuple(fc.constant(bytes), cutsOf(bytes.length))),
        ([bytes, cuts]) => {
          const whole = normalize(subject.make().push(bytes));
          expect(normalize(feedChunks(subject.make(), bytes, cuts))).toEqual(whole);
        },
      ),
    );
  });

  it("finds every valid frame embedded in noise, in order", () => {
    // Noise before each frame; for line framers it ends with a line end (see the header).
    const gap = subject.framing === "line" ? fc.tuple(noise(60), fc.constantFrom(CR, LF)).map(([n, end]) => concat(n, Uint8Array.of(end))) : noise(60);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(gap, subject.frame), { minLength: 1, maxLength: 12 }),
        noise(60),
        cutsOf(2000),
        (parts, tail, cuts) => {
          const bytes = concat(...parts.flatMap(([n, f]) => [n, f.bytes]), tail);
          const results = feedChunks(subject.make(), bytes, cuts.filter((c) => c <= bytes.length));
          expect(isSubsequence(parts.map(([, f]) => f.expected), decodedOf(results))).toBe(true);
        },
      ),
    );
  });

  if (subject.framing === "stx") {
    it("with noise free of STX, decodes exactly the frames, and discards every noise byte", () => {
      const stxFree = noise(60).map((n) => n.map((b) => (b === STX ? 0x00 : b)));
      fc.assert(
        fc.property(fc.array(fc.tuple(stxFree, subject.frame), { minLength: 1, maxLength: 12 }), stxFree, (parts, tail) => {
          const bytes = concat(...parts.flatMap(([n, f]) => [n, f.bytes]), tail);
          const framer = subject.make();
          const results = framer.push(bytes);
          expect(decodedOf(results)).toEqual(parts.map(([, f]) => f.expected));
          const discarded = results.filter((r): r is Discarded => r.kind === "discarded");
          const noiseBytes = parts.reduce((sum, [n]) => sum + n.length, tail.length);
          expect(discarded.reduce((sum, d) => sum + d.bytes.length, 0) + framer.bufferedBytes).toBe(noiseBytes);
        }),
      );
    });
  }
});

describe("every protocol of the registry", () => {
  const modules = [...PROTOCOLS.scale, ...PROTOCOLS.reader, ...PROTOCOLS.level];
  const samples = fc.array(fc.integer({ min: 0, max: 50_000 }), { minLength: 1, maxLength: 10 });

  it.each(modules.map((m) => [m.name, m] as const))("%s: no result aliases a pushed chunk or the framer's buffer", (_name, module) => {
    const codec = module.configure({});
    const createFramer = (): BufferedFramer<{ kind: string }> => codec.createFramer();
    const encode = (n: number): Uint8Array => {
      try {
        if (module.kind === "level") return (codec.encode as (s: { mm: number }) => Uint8Array)({ mm: n });
        return module.kind === "scale"
          ? (codec.encode as (s: { grams: number; stable: boolean }) => Uint8Array)({ grams: n * 10, stable: n % 2 === 0 })
          : (codec.encode as (s: { tag: string }) => Uint8Array)({ tag: (0x1000000000 + n * 7919).toString(16).toUpperCase() });
      } catch {
        return new Uint8Array(0);
      }
    };
    fc.assert(
      fc.property(samples, noise(30), cutsOf(400), (ns, junk, cuts) => {
        const bytes = concat(junk, ...ns.map(encode), junk, ...ns.map(encode));
        const within = cuts.filter((c) => c <= bytes.length);
        const expected = normalize(feedChunks(createFramer(), bytes.slice(), within));
        // The same stream, each chunk a fresh copy overwritten right after its push.
        const framer = createFramer();
        const results: { kind: string }[] = [];
        let from = 0;
        for (const cut of [...within, bytes.length]) {
          const chunk = bytes.slice(from, cut);
          results.push(...framer.push(chunk));
          chunk.fill(0xee);
          from = cut;
        }
        framer.push(Uint8Array.of(0xee, CR, LF, STX, 0xee));
        expect(normalize(results)).toEqual(expected);
      }),
      { numRuns: 50 },
    );
  });
});
