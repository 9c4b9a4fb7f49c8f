import { describe, expect, it } from "vitest";
import { latin1, toHex } from "../../../src/protocol/bytes.js";
import { type DisplayUnit, displayedToGrams, gramsToDisplayed } from "../../../src/protocol/grams.js";
import {
  ST_GS_MAX_LINE_BYTES,
  createStGsFramer,
  decodeStGs,
  encodeStGs,
} from "../../../src/protocol/scale/ascii-st-gs.js";
import { LINE_TOO_LONG } from "../../../src/protocol/line-framer.js";
import type { ScaleFrame } from "../../../src/protocol/types.js";
import { ascii, concat, discardedBytes, flood, normalize } from "../fixtures.js";

const w = (grams: number, stable: boolean, mode: "gross" | "net" = "gross"): ScaleFrame => ({
  kind: "weight",
  grams,
  stable,
  mode,
});

describe("decodeStGs", () => {
  it.each([
    // scales.md, ascii-st-gs, Examples
    ["ST,GS,+0012.34kg", w(12340, true)],
    ["US,NT,-0000.20kg", w(-200, false, "net")],
    ["ST,GS,+00018.0kg", w(18000, true)],
    // variants the layout allows
    ["ST,GS,+  12.34kg", w(12340, true)],
    ["ST,GS,   12.34kg", w(12340, true)],
    ["ST,GS,-   0.20kg", w(-200, true)],
    ["ST,GS,+ 0012.34kg", w(12340, true)],
    ["ST, GS, +0012.34kg", w(12340, true)],
    ["ST,GS,+0012.34 kg", w(12340, true)],
    ["ST,GS,+0012.34kg  ", w(12340, true)],
    ["ST,GS,+0012.34  kg  ", w(12340, true)],
    ["ST,GS,+0001234g", w(1234, true)],
    ["ST,GS,+0001234 g ", w(1234, true)],
    ["ST,GS,+0013.00lb", w(5897, true)],
    ["ST,GS,+001.500t", w(1_500_000, true)],
    ["ST,GS,+0010.00oz", w(283, true)],
    ["ST,GS,-0000.00kg", w(0, true)],
    ["ST,GS,123456789g", w(123456789, true)],
    ["US,GS,-0.0025kg", w(-3, false)], // -2.5 g, half away from zero
    // tolerated: lower case headers and unit
    ["st,nt,+0012.34KG", w(12340, true, "net")],
    // field variants of real devices (sources in the module's header)
    ["ST,GS+0012.34kg", w(12340, true)], // no comma after H2
    ["ST,GS    20.7g  ", w(21, true)], // T-Scale NHB capture: no comma, no sign, unit padded after
    ["US,GS    20.7g  ", w(21, false)],
    ["ST,GS,   245.6 g", w(246, true)], // T-Scale QHW capture: no sign, a space before the unit
    ["ST, GS+ 5.12KG", w(5120, true)], // Selleton SL-7515 manual's example
    ["ST,GS   12.34,kg", w(12340, true)], // Tiger TI-02-P: sign a space, a comma before the unit
    ["US,NT-  12.34,kg", w(-12340, false, "net")],
    ["ST,NT,+  1.234kg", w(1234, true, "net")], // AWH-SA30
    ["ST,GS, +  12.34 kg", w(12340, true)], // every space the family allows
    ["ST,GS,+0012.34 , kg", w(12340, true)],
    // a single header: the A&D standard format (weight reported as gross: the frame does not say)
    ["ST,+00123.45  g", w(123, true)],
    ["US,-00001.23 kg", w(-1230, false)],
    ["ST,+0001.234 kg", w(1234, true)],
    ["ST,+0001.278, g", w(1, true)], // A&D CSV format: a comma before the unit
    ["ST, +0012.34lb", w(5597, true)],
    ["OL,+999999.9  g", { kind: "no_weight", reason: "overload" }],
    ["OL,-99999999 kg", { kind: "no_weight", reason: "overload" }],
    ["OL,+9999999E+19", { kind: "no_weight", reason: "overload" }], // A&D overload data, no unit
    ["OL,+9999999E+19,  g", { kind: "no_weight", reason: "overload" }],
    ["OL,        kg", { kind: "no_weight", reason: "overload" }], // a unit where H2 could stand
    ["LO,        lb", { kind: "no_weight", reason: "underload" }],
    ["OL,         g ", { kind: "no_weight", reason: "overload" }],
    ["QT,+00012345 PC", { kind: "ignored", reason: "counting frame (QT)" }],
    ["ST,GS,+001.500 t", w(1_500_000, true)], // with a mode header, t is the tonne
    // no weight / ignored
    ["OL,GS,+99999.9kg", { kind: "no_weight", reason: "overload" }],
    ["OL,GS,        kg", { kind: "no_weight", reason: "overload" }],
    ["OL,GS,", { kind: "no_weight", reason: "overload" }],
    ["LO,NT,       kg", { kind: "no_weight", reason: "underload" }],
    ["LO,GS,-99999.9kg", { kind: "no_weight", reason: "underload" }],
    ["ST,TR,+0001.00kg", { kind: "ignored", reason: "tare frame (TR)" }],
    ["QT,GS,+0000120pcs", { kind: "ignored", reason: "counting frame (QT)" }],
  ] as [string, ScaleFrame][])("%j", (line, frame) => {
    expect(decodeStGs(ascii(line))).toEqual(frame);
  });

  it.each([
    ["ST,GS,+0012.34kg\t", "non-printable byte in line"],
    ["ST,GS,+0012.34k\u00e9", "non-printable byte in line"],
    ["0012.34kg", "not an <H1>,<H2>,<weight> line"],
    ["STX,GS,+0012.34kg", "not an <H1>,<H2>,<weight> line"],
    ["ST GS +0012.34kg", "not an <H1>,<H2>,<weight> line"],
    ["ST,GSX,+0012.34kg", "not an <H1>,<H2>,<weight> line"],
    ["ST,G,+0012.34kg", "not an <H1>,<H2>,<weight> line"],
    ["S    20.7g  ", "not an <H1>,<H2>,<weight> line"], // the T-Scale capture's first, cut line
    // ambiguous: discarded, never guessed
    ["GS,+0012.34kg", 'mode header "GS" without a status header'],
    ["NT,GS,+0012.34kg", 'mode header "NT" without a status header'],
    ["ST,+001.500  t", 'ambiguous unit "t" without a GS/NT header (tonne on indicators, tola on A&D balances)'],
    ["ST,GS,+0012.34,", "missing unit"], // a comma promising a unit that is not there
    ["ST,GS,+0012.34,,kg", "bad weight field"],
    ["ST,GS,+12,34kg", "bad weight field"], // a decimal comma cannot be told from a separator
    ["ST,kg", "bad weight field"],
    ["ST,  g", "bad weight field"],
    ["ST,GSkg", "not an <H1>,<H2>,<weight> line"],
    ["XX,GS,+0012.34kg", 'unknown status header "XX"'],
    ["ST,GR,+0012.34kg", 'unknown mode header "GR"'],
    ["ST,GS,+0012.34", "missing unit"],
    ["ST,GS,+0012.34N", 'unknown unit "N"'],
    ["ST,GS,+0012.34pcs", 'unknown unit "pcs"'],
    ["ST,GS,kg", "bad weight field"],
    ["ST,GS,+00x2.34kg", "bad weight field"],
    ["ST,GS,+0012.3.4kg", "bad weight field"],
    ["ST,GS,+12 34kg", "bad weight field"],
    ["ST,GS,+-0012.34kg", "bad weight field"],
    ["ST,GS,+0012.kg", "bad weight field"],
    ["ST,GS,+  0012.34kg", "bad weight field"], // 10 characters
    ["ST,GS,+1234567890kg", "bad weight field"],
    ["ST,TR,abc kg", "bad weight field"],
    ["OL,GS,+99x99kg", "bad weight field"],
    ["OL,GS,overload", 'unknown unit "overload"'],
    ["OL,GS,+99999.9xx", 'unknown unit "xx"'],
    ["ST,+00123.45ozt", 'unknown unit "ozt"'], // A&D's troy ounce is not a unit of ours
    ["OL,+9999999e+19", "bad weight field"],
    ["ST,OK,+0001.234 kg", 'unknown mode header "OK"'], // A&D GC comparator headers: not accepted
  ])("discards %j (%s)", (line, reason) => {
    const bytes = Uint8Array.from(line, (c) => c.charCodeAt(0));
    expect(decodeStGs(bytes)).toEqual({ kind: "discarded", bytes, reason });
  });
});

describe("frames without a unit (contract.md section 5: they take the scale's unit)", () => {
  it.each([
    ["ST,GS,+0012.34", "kg", w(12340, true)],
    ["US,NT,-0000.20", "kg", w(-200, false, "net")],
    ["ST,GS,+0001234", "g", w(1234, true)],
    ["ST,GS,+0013.00 ", "lb", w(5897, true)],
  ] as const)("%j in %s", (line, unit, frame) => {
    expect(decodeStGs(ascii(line), unit)).toEqual(frame);
    expect(createStGsFramer({ unit }).push(ascii(`${line}\r\n`))).toEqual([frame]);
  });

  it("a comma after the weight promises a unit: without one the frame is discarded, not given the scale's", () => {
    expect(decodeStGs(ascii("ST,GS,+0012.34,"), "kg")).toMatchObject({ kind: "discarded", reason: "bad weight field" });
    expect(decodeStGs(ascii("ST,GS,+0012.34, "), "kg")).toMatchObject({ kind: "discarded", reason: "bad weight field" });
  });

  it("a single-header frame without a unit takes the scale's unit, and is gross", () => {
    expect(decodeStGs(ascii("ST,+00012.34"), "kg")).toEqual(w(12340, true));
    expect(decodeStGs(ascii("US,-000013.0"), "lb")).toEqual(w(-5897, false));
  });

  it("a frame's own unit wins over the configured one; an unknown unit is still discarded", () => {
    expect(decodeStGs(ascii("ST,GS,+0012.34kg"), "lb")).toEqual(w(12340, true));
    expect(decodeStGs(ascii("ST,GS,+0012.34N"), "kg")).toMatchObject({ kind: "discarded", reason: 'unknown unit "N"' });
  });
});

describe("encodeStGs", () => {
  it("writes the examples' layout", () => {
    expect(latin1(encodeStGs({ stable: true, mode: "gross", grams: 12340 }))).toBe("ST,GS,+0012.34kg\r\n");
    expect(latin1(encodeStGs({ stable: false, mode: "net", grams: -200 }))).toBe("US,NT,-0000.20kg\r\n");
    expect(latin1(encodeStGs({ stable: true, mode: "gross", grams: 18000, decimals: 1 }))).toBe(
      "ST,GS,+00018.0kg\r\n",
    );
    expect(latin1(encodeStGs({ stable: true, mode: "gross", grams: 1234, unit: "g", decimals: 0 }))).toBe(
      "ST,GS,+0001234g\r\n",
    );
    expect(latin1(encodeStGs({ stable: true, mode: "gross", grams: 7, unit: "kg", decimals: 3 }))).toBe(
      "ST,GS,+000.007kg\r\n",
    );
    expect(latin1(encodeStGs({ stable: true, mode: "gross", grams: -4, decimals: 2 }))).toBe(
      "ST,GS,+0000.00kg\r\n",
    );
  });

  it("refuses what 7 characters cannot show", () => {
    expect(() => encodeStGs({ stable: true, mode: "gross", grams: 100_000_000 })).toThrow(RangeError);
    expect(() => encodeStGs({ stable: true, mode: "gross", grams: 1, decimals: 7 })).toThrow(RangeError);
    expect(() => encodeStGs({ stable: true, mode: "gross", grams: 1.5 })).toThrow(RangeError);
  });

  it.each([
    ["kg", 0],
    ["kg", 1],
    ["kg", 2],
    ["kg", 3],
    ["g", 0],
    ["lb", 2],
    ["oz", 1],
    ["t", 3],
  ] as [DisplayUnit, number][])("round-trips to the display step (%s, %s decimals)", (unit, decimals) => {
    for (let g = -99_999; g <= 999_999; g += 1009) {
      for (const [stable, mode] of [
        [true, "gross"],
        [false, "net"],
      ] as const) {
        const { negative, digits } = gramsToDisplayed(g, unit, decimals);
        const shown = displayedToGrams(negative, digits, decimals, unit);
        const line = encodeStGs({ stable, mode, grams: g, unit, decimals });
        expect(decodeStGs(line.subarray(0, -2))).toEqual(w(shown, stable, mode));
      }
    }
  });
});

describe("ascii-st-gs framer", () => {
  const lines = (...texts: string[]): Uint8Array => ascii(texts.join(""));

  it("decodes many lines in one chunk, with any line end", () => {
    const framer = createStGsFramer();
    const out = framer.push(
      lines("ST,GS,+0012.34kg\r\n", "US,NT,-0000.20kg\n", "ST,GS,+00018.0kg\r", "ST,GS,+0000.01kg\r\n"),
    );
    expect(out).toEqual([w(12340, true), w(-200, false, "net"), w(18000, true), w(10, true)]);
    expect(framer.bufferedBytes).toBe(0);
  });

  it("yields nothing for a CR LF split across chunks, nor for empty lines", () => {
    const framer = createStGsFramer();
    expect(framer.push(ascii("ST,GS,+0012.34kg\r"))).toEqual([w(12340, true)]);
    expect(framer.push(ascii("\n"))).toEqual([]);
    expect(framer.push(ascii("\r\n\n\r\r\nST,GS,+0000.01kg\r"))).toEqual([w(10, true)]);
    expect(framer.push(ascii("\n"))).toEqual([]);
  });

  it("discards the partial line of a port opened mid-line", () => {
    const framer = createStGsFramer();
    expect(normalize(framer.push(ascii(",+0012.34kg\r\nST,GS,+0012.34kg\r\n")))).toEqual([
      { kind: "discarded", bytes: toHex(ascii(",+0012.34kg")), reason: "not an <H1>,<H2>,<weight> line" },
      w(12340, true),
    ]);
  });

  it("discards an overlong line in bounded pieces, then decodes the next line", () => {
    const framer = createStGsFramer();
    const long = "9".repeat(150);
    const out = framer.push(ascii(`${long}\r\nST,GS,+0012.34kg\r\n`));
    expect(normalize(out)).toEqual([
      { kind: "discarded", bytes: toHex(ascii(long.slice(0, 64))), reason: LINE_TOO_LONG },
      { kind: "discarded", bytes: toHex(ascii(long.slice(64, 128))), reason: LINE_TOO_LONG },
      { kind: "discarded", bytes: toHex(ascii(long.slice(128))), reason: LINE_TOO_LONG },
      w(12340, true),
    ]);
  });

  it("accepts a line of exactly the maximum length", () => {
    const framer = createStGsFramer();
    const line = "ST,GS,+0012.34kg".padEnd(ST_GS_MAX_LINE_BYTES, " ");
    expect(framer.push(ascii(`${line}\r\n`))).toEqual([w(12340, true)]);
  });

  it("keeps memory bounded under 1 MB without a line end", () => {
    const framer = createStGsFramer();
    const chunk = new Uint8Array(4096).fill(0x39);
    const { expected, odd, maxBuffered } = flood(
      framer,
      () => chunk,
      256,
      (f) => f.kind === "discarded" && f.reason === LINE_TOO_LONG && f.bytes.length === ST_GS_MAX_LINE_BYTES,
    );
    const discarded = discardedBytes(expected);
    expect(odd).toEqual([]);
    expect(maxBuffered).toBeLessThanOrEqual(ST_GS_MAX_LINE_BYTES);
    expect(discarded + framer.bufferedBytes).toBe(256 * 4096);
    const out = framer.push(concat(ascii("\r\n"), encodeStGs({ stable: true, mode: "gross", grams: 500 })));
    expect(out.at(-1)).toEqual(w(500, true));
    expect(framer.bufferedBytes).toBe(0);
  });
});
