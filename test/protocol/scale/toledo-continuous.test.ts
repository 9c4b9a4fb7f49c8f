import { describe, expect, it } from "vitest";
import { toHex } from "../../../src/protocol/bytes.js";
import { displayedToGrams, gramsToDisplayed } from "../../../src/protocol/grams.js";
import {
  createToledoFramer,
  decodeToledo,
  encodeToledo,
  type ToledoOptions,
} from "../../../src/protocol/scale/toledo-continuous.js";
import { NO_START_BYTE } from "../../../src/protocol/stx-framer.js";
import type { ScaleFrame } from "../../../src/protocol/types.js";
import { ascii, concat, hex, normalize } from "../fixtures.js";

/** scales.md, toledo-continuous, Example (derived): 12.34 kg gross stable. */
const EXAMPLE = "02 2C 30 20 30 30 31 32 33 34 30 30 30 30 30 30 0D 2B";

const DEFAULTS: ToledoOptions = { checksum: true, characterFormat: "7E1" };
const PLAIN: ToledoOptions = { checksum: false, characterFormat: "8N1" };

/**
 * A frame from its status bytes and digit fields, with the checksum by the manual's rule (the two's
 * complement of the sum of the low 7 bits of STX through CR) when `checksum`.
 */
function frame(swa: number, swb: number, swc: number, weight: string, tare: string | null = "000000", checksum = true): Uint8Array {
  const body = concat(Uint8Array.of(0x02, swa, swb, swc), ascii(weight + (tare ?? "")), Uint8Array.of(0x0d));
  if (!checksum) return body;
  const sum = body.reduce((n, b) => n + (b & 0x7f), 0);
  return concat(body, Uint8Array.of(-sum & 0x7f));
}

/** Sets bit 7 of every byte with an odd number of ones: the byte as a 7E1 sender puts it on the line. */
const withParity = (bytes: Uint8Array): Uint8Array =>
  bytes.map((b) => {
    let ones = 0;
    for (let v = b; v !== 0; v >>= 1) ones += v & 1;
    return ones % 2 === 1 ? b | 0x80 : b;
  });

const w = (grams: number, stable = true, mode: "gross" | "net" = "gross"): ScaleFrame => ({ kind: "weight", grams, stable, mode });

describe("decodeToledo", () => {
  it("decodes the manual's example, and its checksum agrees with the manual's rule", () => {
    expect(decodeToledo(hex(EXAMPLE), DEFAULTS)).toEqual(w(12340));
    expect(toHex(frame(0x2c, 0x30, 0x20, "001234"))).toBe(EXAMPLE);
  });

  it.each([
    // SWA bits 0-2: the decimal point (scales.md), 000 and 001 with trailing zeros not sent.
    [0x28, "000012", 1_200_000],
    [0x29, "000345", 3_450_000],
    [0x2a, "001234", 1_234_000],
    [0x2b, "001234", 123_400],
    [0x2c, "001234", 12_340],
    [0x2d, "001234", 1234],
    [0x2e, "012345", 1235], // 1.2345 kg = 1234.5 g, half away from zero
    [0x2f, "012345", 123], // 0.12345 kg = 123.45 g
  ])("SWA %s: %s kg digits are %i g", (swa, digits, grams) => {
    expect(decodeToledo(frame(swa, 0x30, 0x20, digits), DEFAULTS)).toEqual(w(grams));
  });

  it.each([
    // SWB: bit 0 net, bit 1 negative, bit 3 motion, bit 4 kg (else lb); SWC bits 0-2 a unit code.
    [0x31, 0x20, w(12_340, true, "net")],
    [0x32, 0x20, w(-12_340)],
    [0x38, 0x20, w(12_340, false)],
    [0x3b, 0x20, w(-12_340, false, "net")],
    [0x20, 0x20, w(5597)], // 12.34 lb = 5597.329... g
    [0x20, 0x21, w(12)], // grams: 12.34 g
    [0x30, 0x21, w(12)], // grams win over SWB's kg bit
    [0x30, 0x22, w(12_340_000)], // metric tons
    [0x30, 0x23, w(350)], // 12.34 oz = 349.83 g
    [0x30, 0x28, w(12_340)], // SWC bit 3, print request: nothing to us
    [0x30, 0x60, w(12_340)], // SWC bit 6, keyboard tare (Fairbanks): nothing to us
  ])("SWB %s, SWC %s", (swb, swc, result) => {
    expect(decodeToledo(frame(0x2c, swb, swc, "001234"), DEFAULTS)).toEqual(result);
  });

  it("reads SWB's out-of-range bit as no valid weight, underload when negative", () => {
    expect(decodeToledo(frame(0x2c, 0x34, 0x20, "999999"), DEFAULTS)).toEqual({ kind: "no_weight", reason: "overload" });
    expect(decodeToledo(frame(0x2c, 0x36, 0x20, "999999"), DEFAULTS)).toEqual({ kind: "no_weight", reason: "underload" });
    expect(decodeToledo(frame(0x2c, 0x3c, 0x27, "999999"), DEFAULTS)).toEqual({ kind: "no_weight", reason: "overload" });
  });

  it("ignores the frames of an indicator still powering up (SWB bit 6)", () => {
    expect(decodeToledo(frame(0x2c, 0x70, 0x20, "000000"), DEFAULTS)).toEqual({
      kind: "ignored",
      reason: "indicator powering up (SWB bit 6)",
    });
  });

  it.each([
    [0x24, "unknown unit code 100 in SWC"],
    [0x25, "unknown unit code 101 in SWC"],
    [0x26, "unsupported unit (short ton, SWC code 110)"],
    [0x27, "no unit (SWC code 111)"],
    [0x30, "expanded display (SWC bit 4): resolution unknown"],
  ])("discards a frame whose weight it cannot read in grams (SWC %s)", (swc, reason) => {
    const f = frame(0x2c, 0x30, swc, "001234");
    expect(decodeToledo(f, DEFAULTS)).toEqual({ kind: "discarded", bytes: f, reason });
  });

  it("accepts spaces for leading zeros, the short format, and frames without checksum when so set", () => {
    expect(decodeToledo(frame(0x2c, 0x30, 0x20, "  1234", "     0"), DEFAULTS)).toEqual(w(12_340));
    expect(decodeToledo(frame(0x2c, 0x30, 0x20, "     0"), DEFAULTS)).toEqual(w(0));
    expect(decodeToledo(frame(0x2c, 0x30, 0x20, "001234", null), DEFAULTS)).toEqual(w(12_340));
    expect(decodeToledo(frame(0x2c, 0x30, 0x20, "001234", "000000", false), PLAIN)).toEqual(w(12_340));
    expect(decodeToledo(frame(0x2c, 0x30, 0x20, "001234", null, false), PLAIN)).toEqual(w(12_340));
  });

  it("reads the 7 data bits in 7E1, whether or not the port handed over the parity bit; not in 8N1", () => {
    const parity = withParity(hex(EXAMPLE));
    expect(toHex(parity)).toBe("82 AC 30 A0 30 30 B1 B2 33 B4 30 30 30 30 30 30 8D 2B");
    expect(decodeToledo(parity, DEFAULTS)).toEqual(w(12_340));
    expect(decodeToledo(parity, { checksum: true, characterFormat: "8N1" })).toMatchObject({ reason: "missing STX" });
    const oneHigh = hex(EXAMPLE);
    oneHigh[5] = 0xb0;
    expect(decodeToledo(oneHigh, { checksum: true, characterFormat: "8N1" })).toMatchObject({
      reason: "byte with bit 7 set (7E1 data read as 8N1?)",
    });
  });

  it("takes a checksum byte that is itself STX or CR", () => {
    // 9999.96 kg and 999.94 kg with six tare zeros: the checksums are 02 and 0D.
    expect(toHex(frame(0x2c, 0x30, 0x20, "999996")).slice(-5)).toBe("0D 02");
    expect(decodeToledo(frame(0x2c, 0x30, 0x20, "999996"), DEFAULTS)).toEqual(w(9_999_960));
    expect(toHex(frame(0x2c, 0x30, 0x20, "099994")).slice(-5)).toBe("0D 0D");
    expect(decodeToledo(frame(0x2c, 0x30, 0x20, "099994"), DEFAULTS)).toEqual(w(999_940));
  });

  it.each([
    ["wrong frame length", hex(EXAMPLE).subarray(0, 17), DEFAULTS], // the checksum missing
    ["wrong frame length", hex(EXAMPLE), PLAIN], // a checksum not expected
    ["wrong frame length", hex(EXAMPLE).subarray(0, 8), DEFAULTS],
    ["missing STX", concat(hex("03"), hex(EXAMPLE).subarray(1)), DEFAULTS],
    ["bad weight digit", frame(0x2c, 0x30, 0x20, "0012A4"), DEFAULTS],
    ["bad weight digit", frame(0x2c, 0x30, 0x20, "00 234"), DEFAULTS], // a space after a digit
    ["bad weight digit", frame(0x2c, 0x30, 0x20, "      "), DEFAULTS], // the last is a digit
    ["bad tare digit or missing CR", frame(0x2c, 0x30, 0x20, "001234", "0000x0"), DEFAULTS],
    ["missing CR", concat(hex(EXAMPLE).subarray(0, 16), hex("0A 2B")), DEFAULTS],
    ["bad checksum", concat(hex(EXAMPLE).subarray(0, 17), hex("2C")), DEFAULTS],
    ["bad checksum", frame(0x2c, 0x30, 0x20, "001234").map((b, i) => (i === 9 ? 0x35 : b)), DEFAULTS], // a digit changed
  ] as [string, Uint8Array, ToledoOptions][])("discards (%s)", (reason, bytes, options) => {
    expect(decodeToledo(bytes, options)).toEqual({ kind: "discarded", bytes, reason });
  });
});

describe("encodeToledo", () => {
  it("writes the manual's example byte for byte", () => {
    const bytes = encodeToledo({ grams: 12_340, unit: "kg", decimals: 2, stable: true, mode: "gross", checksum: true });
    expect(toHex(bytes)).toBe(EXAMPLE);
  });

  it("writes the status bits, the short format and no checksum when asked", () => {
    const f = encodeToledo({ grams: -1200, unit: "lb", decimals: 1, stable: false, mode: "net", checksum: false, tareGrams: null });
    expect(toHex(f)).toBe(toHex(frame(0x2b, 0x2b, 0x20, "000026", null, false))); // 1200 g = 2.6 lb
    const over = encodeToledo({ grams: 0, unit: "g", decimals: 0, stable: true, mode: "gross", checksum: true, outOfRange: true });
    expect(decodeToledo(over, DEFAULTS)).toEqual({ kind: "no_weight", reason: "overload" });
  });

  it("refuses what six digits cannot show", () => {
    const r = { unit: "kg", stable: true, mode: "gross", checksum: true } as const;
    expect(() => encodeToledo({ ...r, grams: 10_000_000, decimals: 2 })).toThrow(RangeError);
    expect(() => encodeToledo({ ...r, grams: 1, decimals: 6 })).toThrow(RangeError);
    expect(() => encodeToledo({ ...r, grams: 1, decimals: -3 })).toThrow(RangeError);
    expect(() => encodeToledo({ ...r, grams: 1000, decimals: 2, tareGrams: 10_000_000 })).toThrow(RangeError);
    expect(() => encodeToledo({ ...r, grams: 0.5, decimals: 2 })).toThrow(RangeError);
  });

  it.each([
    ["kg", -2],
    ["kg", -1],
    ["kg", 0],
    ["kg", 2],
    ["kg", 3],
    ["lb", 1],
    ["lb", 2],
    ["g", 0],
    ["oz", 1],
    ["t", 4],
  ] as ["kg" | "lb" | "g" | "oz" | "t", number][])("round-trips to the display step (%s, %s decimals) in every format", (unit, decimals) => {
    for (let g = -99_999; g <= 999_999; g += 1009) {
      // The display step: decimals -2 and -1 show hundreds and tens of the unit.
      const step = 10 ** Math.max(0, -decimals);
      const { negative, digits } = gramsToDisplayed(g, unit, Math.max(0, decimals));
      const units = (2n * digits + BigInt(step)) / (2n * BigInt(step));
      const shown = displayedToGrams(negative && units !== 0n, units * BigInt(step), Math.max(0, decimals), unit);
      for (const [checksum, tareGrams, characterFormat] of [
        [true, 0, "7E1"],
        [false, null, "8N1"],
      ] as const) {
        let f: Uint8Array;
        try {
          f = encodeToledo({ grams: g, unit, decimals, stable: g % 2 === 0, mode: "gross", checksum, tareGrams });
        } catch {
          continue; // more than six digits
        }
        expect(decodeToledo(f, { checksum, characterFormat })).toEqual(w(shown, g % 2 === 0));
      }
    }
  });
});

describe("toledo-continuous framer", () => {
  const frames = (options: ToledoOptions, ...chunks: Uint8Array[]): unknown[] => {
    const framer = createToledoFramer(options);
    return normalize(chunks.flatMap((c) => framer.push(c)));
  };

  it("decodes many frames in one chunk, long and short, 7E1 bytes with parity included", () => {
    const stream = concat(hex(EXAMPLE), frame(0x2c, 0x31, 0x20, "000500", null), withParity(frame(0x2c, 0x32, 0x20, "000100")));
    expect(frames(DEFAULTS, stream)).toEqual([w(12_340), w(5000, true, "net"), w(-1000)]);
  });

  it("discards the partial frame of a port opened mid-frame, then decodes", () => {
    const whole = hex(EXAMPLE);
    for (let cut = 1; cut < whole.length; cut++) {
      const partial = whole.subarray(cut);
      expect(frames(DEFAULTS, concat(partial, whole))).toEqual([
        { kind: "discarded", bytes: toHex(partial), reason: NO_START_BYTE },
        w(12_340),
      ]);
    }
  });

  it("finds the next frame after a checksum byte that is STX or CR", () => {
    const stx = frame(0x2c, 0x30, 0x20, "999996");
    const cr = frame(0x2c, 0x30, 0x20, "099994");
    expect(frames(DEFAULTS, concat(stx, cr, stx, hex(EXAMPLE)))).toEqual([w(9_999_960), w(999_940), w(9_999_960), w(12_340)]);
  });

  it("resynchronises on a noise STX and on a frame cut short by the next", () => {
    expect(frames(DEFAULTS, concat(hex("02 02"), hex(EXAMPLE).subarray(0, 7), hex(EXAMPLE)))).toEqual([
      // Each noise STX opens a candidate that breaks at the space after a digit; each is read again.
      { kind: "discarded", bytes: "02", reason: "bad weight digit" },
      { kind: "discarded", bytes: "02", reason: "bad weight digit" },
      { kind: "discarded", bytes: "02 2C 30 20 30 30 31", reason: "bad weight digit" },
      w(12_340),
    ]);
  });

  it("with checksum set but not sent, decodes nothing (every frame is discarded); with it sent but not set, decodes and discards the extra byte", () => {
    const bare = frame(0x2c, 0x30, 0x20, "001234", "000000", false);
    const out = frames(DEFAULTS, concat(bare, bare, bare, bare)) as ScaleFrame[];
    expect(out.filter((f) => f.kind !== "discarded")).toEqual([]);
    expect(frames(PLAIN, concat(hex(EXAMPLE), hex(EXAMPLE)))).toEqual([
      w(12_340),
      { kind: "discarded", bytes: "2B", reason: NO_START_BYTE },
      w(12_340),
    ]);
  });
});
