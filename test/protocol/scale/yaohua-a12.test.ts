import { describe, expect, it } from "vitest";
import { latin1, toHex } from "../../../src/protocol/bytes.js";
import { displayedToGrams, gramsToDisplayed } from "../../../src/protocol/grams.js";
import {
  createYaohuaA12Framer,
  decodeYaohuaA12,
  encodeYaohuaA12,
} from "../../../src/protocol/scale/yaohua-a12.js";
import type { ScaleFrame } from "../../../src/protocol/types.js";
import { ascii, normalize } from "../fixtures.js";

/** A line's 11-character body with its checksum: the XOR of the body as two upper-case hex digits. */
function a12(body: string, hex: (x: number) => string = (x) => x.toString(16).toUpperCase().padStart(2, "0")): string {
  let x = 0;
  for (const c of body) x ^= c.charCodeAt(0);
  return body + hex(x);
}

const w = (grams: number, mode: "gross" | "net" = "gross"): ScaleFrame => ({ kind: "weight", grams, stable: null, mode });

describe("decodeYaohuaA12", () => {
  it("decodes the manual's example, WG004.139kg3D", () => {
    expect(decodeYaohuaA12(ascii("WG004.139kg3D"))).toEqual(w(4139));
    expect(a12("WG004.139kg")).toBe("WG004.139kg3D");
  });

  it.each([
    [a12("WN-0001.5kg"), w(-1500, "net")],
    [a12("WG0020.00lb"), w(9072)], // 20 lb = 9071.8474 g
    [a12("WG001234 kg"), w(1_234_000)], // no decimal point: a trailing space
    [a12("WG-01234 kg"), w(-1_234_000)],
    [a12("WG  4.139kg"), w(4139)], // spaces instead of leading zeros
    [a12("WG-  0.05kg"), w(-50)],
    [a12("WG004.139KG"), w(4139)],
    [a12("WG-000.00kg"), w(0)], // a negative zero is 0
    [a12("WG004.139kg", (x) => x.toString(16).padStart(2, "0")), w(4139)], // lower-case hex
    [a12("WG004.139kg", (x) => String.fromCharCode(0x30 + (x >> 4), 0x30 + (x & 0xf))), w(4139)], // +0x30 style
    // Lower-case variants, with and without the checksum (the MCUSH field driver's lines end at the unit).
    [a12("ww004.139kg"), w(4139)],
    ["ww000.000lb", w(0)],
    ["wn-0000.1kg", w(-100, "net")],
    ["WG004.139kg", w(4139)],
    // No valid weight, either way scales.md's sentence reads, and with the mode kept.
    [a12("       OLkg"), { kind: "no_weight", reason: "overload" }],
    [a12("       LOlb"), { kind: "no_weight", reason: "underload" }],
    [a12("         OL"), { kind: "no_weight", reason: "overload" }],
    [a12("         LO"), { kind: "no_weight", reason: "underload" }],
    [a12("WG     OLkg"), { kind: "no_weight", reason: "overload" }],
    ["       olkg", { kind: "no_weight", reason: "overload" }],
    // Tare lines carry nothing for us.
    ["wt000.000kg", { kind: "ignored", reason: "tare frame (T)" }],
    [a12("WT001.000kg"), { kind: "ignored", reason: "tare frame (T)" }],
  ] as [string, ScaleFrame][])("%j", (line, frame) => {
    expect(decodeYaohuaA12(ascii(line))).toEqual(frame);
  });

  it.each([
    ["WG004.139kg3", "wrong frame length"],
    ["WG004.139kg3D ", "wrong frame length"],
    ["", "wrong frame length"],
    ["WG004.139kg\t3", "non-printable byte in line"],
    ["WG004.13\u00e9kg3D", "non-printable byte in line"],
    ["WG004.139kg3G", "bad checksum character"],
    ["WG004.139kg3E", "bad checksum"],
    ["WG004.138kg3D", "bad checksum"], // a digit changed
    [a12("XG004.139kg"), "not a W<mode><weight><unit> frame"],
    [a12("WX004.139kg"), "not a W<mode><weight><unit> frame"],
    [a12("WG004.139oz"), "not a W<mode><weight><unit> frame"],
    [a12("WG004.139 g"), "not a W<mode><weight><unit> frame"],
    [a12("WG+04.139kg"), "bad weight field"],
    [a12("WG0x4.139kg"), "bad weight field"],
    [a12("WG04.1.39kg"), "bad weight field"],
    [a12("WG 04 139kg"), "bad weight field"],
    [a12("WG004139.kg"), "bad weight field"],
    [a12("WG       kg"), "bad weight field"],
  ])("discards %j (%s)", (line, reason) => {
    const bytes = ascii(line);
    expect(decodeYaohuaA12(bytes)).toEqual({ kind: "discarded", bytes, reason });
  });
});

describe("encodeYaohuaA12", () => {
  it("writes the manual's example and its variants", () => {
    expect(latin1(encodeYaohuaA12({ grams: 4139, mode: "gross", decimals: 3 }))).toBe("WG004.139kg3D\r\n");
    expect(latin1(encodeYaohuaA12({ grams: -1500, mode: "net", decimals: 1 }))).toBe(`${a12("WN-0001.5kg")}\r\n`);
    expect(latin1(encodeYaohuaA12({ grams: 1_234_000, mode: "gross", decimals: 0 }))).toBe(`${a12("WG001234 kg")}\r\n`);
    expect(latin1(encodeYaohuaA12({ grams: 9072, mode: "gross", unit: "lb" }))).toBe(`${a12("WG0020.00lb")}\r\n`);
    expect(latin1(encodeYaohuaA12({ grams: -100, mode: "net", decimals: 1, lowercase: true, checksum: false }))).toBe(
      "wn-0000.1kg\r\n",
    );
    expect(latin1(encodeYaohuaA12({ grams: -4, mode: "gross" }))).toBe(`${a12("WG0000.00kg")}\r\n`);
  });

  it("refuses what seven characters cannot show", () => {
    expect(() => encodeYaohuaA12({ grams: 10_000_000, mode: "gross" })).toThrow(RangeError);
    expect(() => encodeYaohuaA12({ grams: -1_000_000, mode: "gross" })).toThrow(RangeError);
    expect(() => encodeYaohuaA12({ grams: 1_000_000_000, mode: "gross", decimals: 0 })).toThrow(RangeError);
    expect(() => encodeYaohuaA12({ grams: 1, mode: "gross", decimals: 6 })).toThrow(RangeError);
    expect(() => encodeYaohuaA12({ grams: 1.5, mode: "gross" })).toThrow(RangeError);
  });

  it.each([
    ["kg", 0],
    ["kg", 1],
    ["kg", 2],
    ["kg", 3],
    ["lb", 1],
    ["lb", 2],
  ] as ["kg" | "lb", number][])("round-trips to the display step (%s, %s decimals), in both cases, with and without checksum", (unit, decimals) => {
    for (let g = -99_999; g <= 999_999; g += 1009) {
      const { negative, digits } = gramsToDisplayed(g, unit, decimals);
      const shown = displayedToGrams(negative, digits, decimals, unit);
      for (const [lowercase, checksum] of [
        [false, true],
        [true, false],
      ] as const) {
        let line: Uint8Array;
        try {
          line = encodeYaohuaA12({ grams: g, mode: "net", unit, decimals, lowercase, checksum });
        } catch {
          continue; // does not fit seven characters
        }
        expect(decodeYaohuaA12(line.subarray(0, -2))).toEqual(w(shown, "net"));
      }
    }
  });
});

describe("yaohua-a12 framer", () => {
  const frames = (...chunks: Uint8Array[]): unknown[] => {
    const framer = createYaohuaA12Framer();
    return normalize(chunks.flatMap((c) => framer.push(c)));
  };

  it("decodes many lines in one chunk, with any line end", () => {
    const stream = ascii(`WG004.139kg3D\r\n${a12("WN-0001.5kg")}\n${a12("         OL")}\rwt000.000kg\r\n`);
    expect(frames(stream)).toEqual([
      w(4139),
      w(-1500, "net"),
      { kind: "no_weight", reason: "overload" },
      { kind: "ignored", reason: "tare frame (T)" },
    ]);
  });

  it("discards the partial line of a port opened mid-line, then decodes", () => {
    const whole = "WG004.139kg3D\r\n";
    for (let cut = 1; cut < 13; cut++) {
      const partial = whole.slice(cut, 13);
      expect(frames(ascii(whole.slice(cut) + whole))).toEqual([
        { kind: "discarded", bytes: toHex(ascii(partial)), reason: expect.any(String) as string },
        w(4139),
      ]);
    }
  });
});
