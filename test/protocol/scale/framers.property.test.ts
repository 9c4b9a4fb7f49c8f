/**
 * Properties of the yaohua-a12, toledo-continuous, ohaus, cas-22, mt-sics and modbus-rtu framers over random
 * input (issue 9, item 6): no byte sequence makes one throw or hold more than its bound, the results depend on
 * the bytes only (not on how they are cut into chunks), and valid frames embedded in random noise,
 * in random chunks, are all found, in order. Plus, for each, a megabyte without a frame end: bounded
 * memory, every byte accounted for, and the next frame still decoded.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findProtocol, type BufferedFramer, type ScaleFrame, type ScaleSample } from "../../../src/protocol/index.js";
import { A12_MAX_LINE_BYTES } from "../../../src/protocol/scale/yaohua-a12.js";
import { CAS22_MAX_LINE_BYTES } from "../../../src/protocol/scale/cas-22.js";
import { OHAUS_MAX_LINE_BYTES } from "../../../src/protocol/scale/ohaus.js";
import { MT_SICS_MAX_LINE_BYTES } from "../../../src/protocol/scale/mt-sics.js";
import { TOLEDO_MAX_FRAME_BYTES } from "../../../src/protocol/scale/toledo-continuous.js";
import { LINE_TOO_LONG } from "../../../src/protocol/line-framer.js";
import { MAX_JUNK_BYTES, NOT_A_RESPONSE } from "../../../src/protocol/modbus/rtu.js";
import { MAX_DISCARD_BYTES, NO_START_BYTE } from "../../../src/protocol/stx-framer.js";
import { concat, discardedBytes, feedChunks, flood, normalize } from "../fixtures.js";

interface Case {
  /** The protocol, and the options it is configured with. */
  name: string;
  options: Record<string, unknown>;
  /** The most bytes the framer may hold: a line and a kept terminator, or junk plus a candidate frame. */
  bound: number;
  /** Whether frames are lines (noise before a frame then ends with a line end, as on a real line). */
  lines: boolean;
  /** How many bytes a piece of discarded junk holds at most: a line, or the STX framer's junk. */
  piece: number;
  /** The reason of junk without a frame end, when it is not the line or STX framers' (modbus-rtu's). */
  junkReason?: string;
}

const STX_FRAMED = { bound: MAX_DISCARD_BYTES + TOLEDO_MAX_FRAME_BYTES, lines: false, piece: MAX_DISCARD_BYTES };
const lined = (max: number) => ({ bound: max + 1, lines: true, piece: max });
const CASES: Case[] = [
  { name: "yaohua-a12", options: {}, ...lined(A12_MAX_LINE_BYTES) },
  { name: "toledo-continuous", options: {}, ...STX_FRAMED },
  { name: "toledo-continuous", options: { checksum: false, character_format: "8N1" }, ...STX_FRAMED },
  { name: "ohaus", options: {}, ...lined(OHAUS_MAX_LINE_BYTES) },
  { name: "cas-22", options: {}, ...lined(CAS22_MAX_LINE_BYTES) },
  { name: "cas-22", options: { device_id: 13 }, ...lined(CAS22_MAX_LINE_BYTES) },
  { name: "mt-sics", options: {}, ...lined(MT_SICS_MAX_LINE_BYTES) },
  // Junk plus the longest answer: 11 bytes for three registers, 9 for two.
  {
    name: "modbus-rtu",
    options: { decimals: 3, status_register: 2, motion_mask: 0x1000, overload_mask: 0x0400 },
    bound: MAX_JUNK_BYTES + 11,
    lines: false,
    piece: MAX_JUNK_BYTES,
    junkReason: NOT_A_RESPONSE,
  },
  {
    name: "modbus-rtu",
    options: { slave_id: 17, function: 4, register: 8, value_type: "float32", word_order: "little" },
    bound: MAX_JUNK_BYTES + 9,
    lines: false,
    piece: MAX_JUNK_BYTES,
    junkReason: NOT_A_RESPONSE,
  },
];

/** Bytes these layouts care about, mixed into the random ones so that random input reaches their paths. */
const SPECIAL = [0x02, 0x0d, 0x0a, 0x20, 0x2c, 0x2d, 0x2e, 0x30, 0x39, 0x3f, 0x47, 0x4c, 0x4e, 0x4f, 0x53, 0x54, 0x57, 0x67, 0x6b, 0x82, 0xc4];
const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...SPECIAL));
const bytes = (maxLength: number): fc.Arbitrary<Uint8Array> => fc.array(byte, { maxLength }).map((xs) => Uint8Array.from(xs));
const chunks = fc.array(bytes(600), { maxLength: 40 });
const sample: fc.Arbitrary<ScaleSample> = fc.record({
  grams: fc.oneof(fc.integer({ min: -99_999, max: 999_999 }), fc.integer({ min: -500, max: 500 })),
  stable: fc.boolean(),
  decimals: fc.constantFrom(0, 1, 2, 3),
});
const noise = bytes(80);
const CRLF = Uint8Array.of(0x0d, 0x0a);

describe.each(CASES)("$name framer $options", ({ name, options, bound, lines, piece, junkReason }) => {
  const codec = findProtocol("scale", name).configure(options);

  it("never throws on random bytes, and never holds more than its bound", () => {
    fc.assert(
      fc.property(chunks, (parts) => {
        const framer: BufferedFramer<ScaleFrame> = codec.createFramer();
        for (const part of parts) {
          framer.push(part);
          expect(framer.bufferedBytes).toBeLessThanOrEqual(bound);
        }
      }),
    );
  });

  it("finds every valid frame embedded in random noise, in order, however the stream is cut", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(noise, sample), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (items, rawCuts) => {
          const parts: Uint8Array[] = [];
          const expected: ScaleFrame[] = [];
          for (const [junk, s] of items) {
            let frame: Uint8Array;
            try {
              frame = codec.encode(s);
            } catch (err) {
              if (err instanceof RangeError) continue; // a value the display cannot show
              throw err;
            }
            parts.push(junk);
            if (lines) parts.push(CRLF);
            parts.push(frame);
            expected.push(codec.decode(lines ? frame.subarray(0, -2) : frame));
          }
          const stream = concat(...parts);
          const cuts = [...new Set(rawCuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const found = feedChunks(codec.createFramer(), stream, cuts).filter((f) => f.kind !== "discarded");
          // Noise could, in principle, hold a valid frame of its own: every expected frame must be
          // found in order, whatever else is.
          let at = 0;
          for (const f of found) if (at < expected.length && JSON.stringify(f) === JSON.stringify(expected[at])) at++;
          expect(at).toBe(expected.length);
          for (const e of expected) expect(e.kind).not.toBe("discarded");
        },
      ),
    );
  });

  it("gives the same results however the bytes are cut into chunks", () => {
    fc.assert(
      fc.property(bytes(400), fc.array(fc.nat(), { maxLength: 6 }), (stream, rawCuts) => {
        const cuts = [...new Set(rawCuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const whole = normalize(codec.createFramer().push(stream));
        expect(normalize(feedChunks(codec.createFramer(), stream, cuts))).toEqual(whole);
      }),
    );
  });

  it("keeps memory bounded under 1 MB without a frame end, accounts for every byte, then decodes the next frame", () => {
    const framer = codec.createFramer();
    // No line end for the line framers; no STX for toledo-continuous; no slave address followed by a
    // read function for modbus-rtu.
    const chunk = new Uint8Array(4096).fill(0x39);
    const reason = junkReason ?? (lines ? LINE_TOO_LONG : NO_START_BYTE);
    const { expected, odd, maxBuffered } = flood(
      framer,
      () => chunk,
      256,
      (f) => f.kind === "discarded" && f.reason === reason && f.bytes.length === piece,
    );
    expect(odd).toEqual([]);
    expect(maxBuffered).toBeLessThanOrEqual(bound);
    expect(discardedBytes(expected) + framer.bufferedBytes).toBe(256 * 4096);
    const frame = codec.encode({ grams: 500, stable: true });
    const out = framer.push(concat(lines ? CRLF : new Uint8Array(0), frame));
    expect(out.at(-1)).toEqual(codec.decode(lines ? frame.subarray(0, -2) : frame));
    expect(out.at(-1)).toMatchObject({ kind: "weight", grams: 500 });
    expect(framer.bufferedBytes).toBe(0);
  });
});
