import { describe, expect, it } from "vitest";
import { latin1, toHex } from "../../../src/protocol/bytes.js";
import { type DisplayUnit, displayedToGrams, gramsToDisplayed } from "../../../src/protocol/grams.js";
import { PARTIAL_FIRST_LINE } from "../../../src/protocol/line-framer.js";
import { createOhausFramer, decodeOhaus, encodeOhaus } from "../../../src/protocol/scale/ohaus.js";
import type { ScaleFrame } from "../../../src/protocol/types.js";
import { ascii, normalize } from "../fixtures.js";

/** A line written with `·` for spaces, as scales.md writes them. */
const line = (dotted: string): Uint8Array => ascii(dotted.replaceAll("·", " "));
const w = (grams: number, stable = true, mode: "gross" | "net" = "gross"): ScaleFrame => ({ kind: "weight", grams, stable, mode });

describe("decodeOhaus", () => {
  it.each([
    // scales.md, ohaus: the manual's examples.
    ["········0.00·g·····", w(0)],
    ["·······12.73·g····?", w(13, false)],
    ["··········3·PCS··?", { kind: "ignored", reason: "not a weight (PCS)" }],
    // The Ohaus RS232 interface manual's examples (* and _ for spaces).
    ["·····192.21·g", w(192)],
    ["·······0.01·g·?", w(0, false)],
    // The Defender 3000's default format: polarity, space, weight 7, space, unit 5, stability, legend 3.
    ["-···12.73·kg···?NET", w(-12_730, false, "net")],
    ["·····0.50·lb····G··", w(227)], // 0.5 lb = 226.796 g
    ["·······12·kg·····N·", w(12_000, true, "net")],
    ["-···0.000·kg·····G·", w(0)],
    ["····1.2345·kg", w(1235)], // half away from zero
    ["·····1.500·t", w(1_500_000)],
    ["·····10.00·oz", w(283)],
    // The Defender 5000's wider field (up to 11).
    ["·······12.345·kg·····N", w(12_345, true, "net")],
    ["··1234567.890·g", w(1_234_568)],
    // Tare lines, counts and percentages are not weights.
    ["·····1.00·kg····T··", { kind: "ignored", reason: "tare line (T)" }],
    ["·····1.00·kg····PT·", { kind: "ignored", reason: "tare line (PT)" }],
    ["·····50.0·%", { kind: "ignored", reason: "not a weight (%)" }],
    ["·········12·pcs", { kind: "ignored", reason: "not a weight (pcs)" }],
  ] as [string, ScaleFrame][])("%j", (text, frame) => {
    expect(decodeOhaus(line(text))).toEqual(frame);
  });

  it.each([
    ["·······12.73·g\t", "non-printable byte in line"],
    ["12.73·g····?", "not a <polarity> <weight> <unit> line"], // a port opened mid-line
    ["···12.73·g····?", "weight field too narrow (a partial line?)"], // cut in its padding
    ["·········12.345·kg", "weight field too wide"],
    ["·····-12.73·kg", "not a <polarity> <weight> <unit> line"], // the sign belongs in the first column
    ["+····12.73·kg", "not a <polarity> <weight> <unit> line"],
    ["·····12.7.3·kg", "not a <polarity> <weight> <unit> line"],
    ["······12.73·", "not a <polarity> <weight> <unit> line"],
    ["········12.73kg", "not a <polarity> <weight> <unit> line"],
    ["·····207.80·g·TOTAL", "not a <polarity> <weight> <unit> line"], // accumulated total
    ["·····176.30·g·?·00:00:15", "not a <polarity> <weight> <unit> line"], // interval print with time
    ["·······1.000·ozt", 'unknown unit "ozt"'],
    ["·······1.000·N", 'unknown unit "N"'],
    ["·······12.73·G", 'unknown unit "G"'], // units are lower case: "G" would be a legend
    ["·······12.73·kg···GR", 'unknown legend "GR"'],
  ])("discards %j (%s)", (text, reason) => {
    const bytes = line(text);
    expect(decodeOhaus(bytes)).toEqual({ kind: "discarded", bytes, reason });
  });
});

describe("encodeOhaus", () => {
  it("writes the Defender 3000's default format", () => {
    expect(latin1(encodeOhaus({ grams: -12_730, stable: false, mode: "net" }))).toBe("-   12.73 kg   ?NET\r\n");
    expect(latin1(encodeOhaus({ grams: 0, stable: true, mode: "gross", unit: "g", decimals: 0 }))).toBe("        0 g     G  \r\n");
    expect(latin1(encodeOhaus({ grams: -4, stable: true, mode: "gross" }))).toBe("     0.00 kg    G  \r\n");
  });

  it("refuses what seven characters cannot show", () => {
    expect(() => encodeOhaus({ grams: 100_000_000, stable: true, mode: "gross" })).toThrow(RangeError);
    expect(() => encodeOhaus({ grams: 1, stable: true, mode: "gross", decimals: 6 })).toThrow(RangeError);
    expect(() => encodeOhaus({ grams: 1.5, stable: true, mode: "gross" })).toThrow(RangeError);
  });

  it.each([
    ["kg", 0],
    ["kg", 2],
    ["kg", 3],
    ["g", 1],
    ["lb", 2],
    ["oz", 1],
    ["t", 4],
  ] as [DisplayUnit, number][])("round-trips to the display step (%s, %s decimals)", (unit, decimals) => {
    for (let g = -99_999; g <= 999_999; g += 1009) {
      const { negative, digits } = gramsToDisplayed(g, unit, decimals);
      const shown = displayedToGrams(negative, digits, decimals, unit);
      for (const [stable, mode] of [
        [true, "gross"],
        [false, "net"],
      ] as const) {
        let bytes: Uint8Array;
        try {
          bytes = encodeOhaus({ grams: g, stable, mode, unit, decimals });
        } catch {
          continue; // does not fit seven characters
        }
        expect(decodeOhaus(bytes.subarray(0, -2))).toEqual(w(shown, stable, mode));
      }
    }
  });
});

describe("ohaus framer", () => {
  const NEGATIVE = "-   12.73 kg   ?NET\r\n";

  it("discards the bytes before the first line end, then decodes every line", () => {
    const framer = createOhausFramer();
    expect(normalize(framer.push(ascii(`${NEGATIVE}${NEGATIVE}     0.50 lb    G  \n`)))).toEqual([
      { kind: "discarded", bytes: toHex(ascii(NEGATIVE.slice(0, -2))), reason: PARTIAL_FIRST_LINE },
      w(-12_730, false, "net"),
      w(227),
    ]);
  });

  it("never reads a line cut after its minus sign as a positive weight, though such a line has all its columns", () => {
    // A Defender 3000 line cut there lacks a column (its field is 7 wide); a wider one does not.
    expect(decodeOhaus(ascii(NEGATIVE.slice(1, -2)))).toMatchObject({ reason: "weight field too narrow (a partial line?)" });
    const wide = "-       12.73 kg   ?NET\r\n";
    expect(decodeOhaus(ascii(wide.slice(0, -2)))).toEqual(w(-12_730, false, "net"));
    const cut = wide.slice(1);
    expect(decodeOhaus(ascii(cut.slice(0, -2)))).toEqual(w(12_730, false, "net"));
    const framer = createOhausFramer();
    expect(normalize(framer.push(ascii(cut + wide)))).toEqual([
      { kind: "discarded", bytes: toHex(ascii(cut.slice(0, -2))), reason: PARTIAL_FIRST_LINE },
      w(-12_730, false, "net"),
    ]);
  });

  it("decodes the first line after a port opened at any point of a line", () => {
    for (let cut = 0; cut < NEGATIVE.length; cut++) {
      const out = createOhausFramer().push(ascii(NEGATIVE.slice(cut) + NEGATIVE));
      expect(out.filter((f) => f.kind !== "discarded")).toEqual([w(-12_730, false, "net")]);
    }
  });
});
