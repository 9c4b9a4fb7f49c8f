import { describe, expect, it } from "vitest";
import { toHex } from "../../../src/protocol/bytes.js";
import { displayedToGrams, gramsToDisplayed } from "../../../src/protocol/grams.js";
import {
  createCas22Framer,
  decodeCas22,
  encodeCas22,
} from "../../../src/protocol/scale/cas-22.js";
import type { ScaleFrame } from "../../../src/protocol/types.js";
import { ascii, concat, normalize } from "../fixtures.js";

/** Lamp byte bits (scales.md, cas-22). */
const ALWAYS = 0x80;
const STABLE = 0x40;
const HOLD = 0x10;
const GROSS = 0x04;
const TARE = 0x02;

/** A frame without its CR LF: headers, id byte, lamp byte, data, unit. */
function cas(h1: string, h2: string, id: number, lamp: number, data: string, unit: string): Uint8Array {
  return concat(ascii(`${h1},${h2},`), Uint8Array.of(0x30 + id, lamp), ascii(`,${data} ${unit}`));
}

const w = (grams: number, stable = true, mode: "gross" | "net" = "gross"): ScaleFrame => ({ kind: "weight", grams, stable, mode });
const STABLE_GROSS = ALWAYS | STABLE | GROSS;

describe("decodeCas22", () => {
  it("decodes scales.md's data example, 13.5 kg as 000013.5", () => {
    const f = cas("ST", "GS", 1, STABLE_GROSS, "000013.5", "kg");
    expect(f.length).toBe(20);
    expect(decodeCas22(f)).toEqual(w(13_500));
  });

  it.each([
    [cas("US", "NT", 1, ALWAYS | TARE, "-0001.20", "kg"), w(-1200, false, "net")],
    [cas("ST", "NT", 1, ALWAYS | STABLE | TARE, "0001.200", "kg"), w(1200, true, "net")],
    [cas("ST", "GS", 1, STABLE_GROSS, "00020.00", "lb"), w(9072)], // 20 lb = 9071.8474 g
    [cas("ST", "GS", 1, STABLE_GROSS, "001234.0", " g"), w(1234)],
    [cas("ST", "GS", 1, STABLE_GROSS, "00001234", " g"), w(1234)],
    [cas("ST", "GS", 1, STABLE_GROSS, "   13.50", "kg"), w(13_500)],
    [cas("ST", "GS", 1, STABLE_GROSS, "+0013.50", "KG"), w(13_500)],
    [cas("ST", "GS", 1, STABLE_GROSS | 0x01 | 0x08 | 0x20, "000013.5", "kg"), w(13_500)], // zero, printer, model bits
    [cas("ST", "GS", 13, STABLE_GROSS, "000013.5", "kg"), w(13_500)], // id 13 is "="
    [cas("ST", "GS", 78, STABLE_GROSS, "000013.5", "kg"), w(13_500)],
    [cas("OL", "GS", 1, ALWAYS | GROSS, "99999999", "kg"), { kind: "no_weight", reason: "overload" }],
    [cas("OL", "NT", 1, ALWAYS, "        ", "kg"), { kind: "no_weight", reason: "overload" }],
    [cas("ST", "GS", 1, STABLE_GROSS | HOLD, "000013.5", "kg"), { kind: "ignored", reason: "display held (lamp bit 4)" }],
  ] as [Uint8Array, ScaleFrame][])("%s", (f, frame) => {
    expect(decodeCas22(f)).toEqual(frame);
  });

  it("takes only the configured device id's frames when one is configured", () => {
    expect(decodeCas22(cas("ST", "GS", 13, STABLE_GROSS, "000013.5", "kg"), 13)).toEqual(w(13_500));
    expect(decodeCas22(cas("ST", "GS", 1, STABLE_GROSS, "000013.5", "kg"), 13)).toMatchObject({
      kind: "discarded",
      reason: "frame of device id 1, not 13",
    });
  });

  it.each([
    [cas("ST", "GS", 1, STABLE_GROSS, "000013.5", "kg").subarray(0, 19), "wrong frame length"],
    [concat(cas("ST", "GS", 1, STABLE_GROSS, "000013.5", "kg"), ascii(" ")), "wrong frame length"],
    [cas("ST", "GS", 1, ALWAYS | GROSS, "000013.5", "kg"), "status header and stable lamp disagree"],
    [cas("US", "GS", 1, STABLE_GROSS, "000013.5", "kg"), "status header and stable lamp disagree"],
    [cas("ST", "GS", 1, STABLE | GROSS, "000013.5", "kg"), "lamp byte without bit 7"],
    [cas("ST", "GS", 0, STABLE_GROSS, "000013.5", "kg"), "bad device id byte"],
    [cas("ST", "GS", 0x7f - 0x30, STABLE_GROSS, "000013.5", "kg"), "bad device id byte"],
    [cas("LO", "GS", 1, STABLE_GROSS, "000013.5", "kg"), 'unknown status header "LO"'],
    [cas("ST", "TR", 1, STABLE_GROSS, "000013.5", "kg"), 'unknown mode header "TR"'],
    [cas("ST", "GS", 1, STABLE_GROSS, "00013.5x", "kg"), "bad data field"],
    [cas("ST", "GS", 1, STABLE_GROSS, "0001.3.5", "kg"), "bad data field"],
    [cas("ST", "GS", 1, STABLE_GROSS, "        ", "kg"), "bad data field"],
    [cas("OL", "GS", 1, STABLE_GROSS, "overload", "kg"), "bad data field"],
    [cas("ST", "GS", 1, STABLE_GROSS, "000013.5", "oz"), "not an <H1>,<H2>,<id><lamp>,<data> <unit> frame"],
    [cas("ST", "GS", 1, STABLE_GROSS, "000013.5", "g "), "not an <H1>,<H2>,<id><lamp>,<data> <unit> frame"],
    [ascii("ST;GS,1\u00c4,000013.5 kg"), "not an <H1>,<H2>,<id><lamp>,<data> <unit> frame"],
    [concat(ascii("ST,GS,1"), Uint8Array.of(0xc4), ascii(",0000\t3.5 kg")), "not an <H1>,<H2>,<id><lamp>,<data> <unit> frame"],
  ])("discards %s (%s)", (bytes, reason) => {
    expect(decodeCas22(bytes)).toEqual({ kind: "discarded", bytes, reason });
  });
});

describe("encodeCas22", () => {
  it("writes the layout: headers, id, lamp, eight characters of data, unit, CR LF", () => {
    const f = encodeCas22({ grams: 13_500, stable: true, mode: "gross", decimals: 1 });
    expect(toHex(f)).toBe(toHex(concat(cas("ST", "GS", 1, STABLE_GROSS, "000013.5", "kg"), ascii("\r\n"))));
    const g = encodeCas22({ grams: -1200, stable: false, mode: "net", unit: "g", decimals: 0, deviceId: 13 });
    expect(toHex(g)).toBe(toHex(concat(cas("US", "NT", 13, ALWAYS | TARE, "-0001200", " g"), ascii("\r\n"))));
  });

  it("refuses what eight characters, or the id byte, cannot show", () => {
    expect(() => encodeCas22({ grams: 1_000_000_000, stable: true, mode: "gross" })).toThrow(RangeError);
    expect(() => encodeCas22({ grams: -100_000_000, stable: true, mode: "gross" })).toThrow(RangeError);
    expect(() => encodeCas22({ grams: 1, stable: true, mode: "gross", decimals: 7 })).toThrow(RangeError);
    expect(() => encodeCas22({ grams: 1, stable: true, mode: "gross", deviceId: 0 })).toThrow(RangeError);
    expect(() => encodeCas22({ grams: 1, stable: true, mode: "gross", deviceId: 79 })).toThrow(RangeError);
  });

  it.each([
    ["kg", 0],
    ["kg", 1],
    ["kg", 3],
    ["lb", 2],
    ["g", 0],
    ["g", 1],
  ] as ["kg" | "lb" | "g", number][])("round-trips to the display step (%s, %s decimals)", (unit, decimals) => {
    for (let g = -99_999; g <= 999_999; g += 1009) {
      const { negative, digits } = gramsToDisplayed(g, unit, decimals);
      const shown = displayedToGrams(negative, digits, decimals, unit);
      for (const [stable, mode] of [
        [true, "gross"],
        [false, "net"],
      ] as const) {
        const f = encodeCas22({ grams: g, stable, mode, unit, decimals, deviceId: 5 });
        expect(decodeCas22(f.subarray(0, -2), 5)).toEqual(w(shown, stable, mode));
      }
    }
  });
});

describe("cas-22 framer", () => {
  const frames = (...chunks: Uint8Array[]): unknown[] => {
    const framer = createCas22Framer();
    return normalize(chunks.flatMap((c) => framer.push(c)));
  };
  const CRLF = ascii("\r\n");

  it("never ends a line inside a frame: every lamp byte with bit 7 set", () => {
    const stream: Uint8Array[] = [];
    for (let lamp = 0x80; lamp <= 0xff; lamp++) stream.push(cas("OL", "GS", 1, lamp, "99999999", "kg"), CRLF);
    const out = frames(concat(...stream));
    expect(out).toHaveLength(128);
    expect(out.every((f) => (f as ScaleFrame).kind === "no_weight")).toBe(true);
  });

  it("discards the partial frame of a port opened mid-frame, then decodes", () => {
    const whole = concat(cas("ST", "GS", 1, STABLE_GROSS, "000013.5", "kg"), CRLF);
    for (let cut = 1; cut < 20; cut++) {
      const partial = whole.subarray(cut, 20);
      expect(frames(concat(whole.subarray(cut), whole))).toEqual([
        { kind: "discarded", bytes: toHex(partial), reason: expect.any(String) as string },
        w(13_500),
      ]);
    }
  });
});
