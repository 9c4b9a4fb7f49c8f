/**
 * Card id forms across reader types (issue 9, item 3): one card read by two reader types gives one
 * card_id; the Wiegand decoder on bit lines and on timestamped edge lists; ISO 14443 UIDs in every
 * spelling. Facts: shared/protocols/readers.md.
 */
import { describe, expect, it } from "vitest";
import { formatCardNumber } from "../../../src/protocol/reader/card-id.js";
import { decodeEm4100, encodeEm4100 } from "../../../src/protocol/reader/em4100-ascii.js";
import { decodeIso14443Line, encodeIso14443, formatUid, parseUid } from "../../../src/protocol/reader/iso14443-text.js";
import {
  decodeWiegandBits,
  encodeWiegand,
  splitWiegandFrames,
  type WiegandCardFormat,
  type WiegandEdge,
} from "../../../src/protocol/reader/wiegand.js";
import { ascii } from "../fixtures.js";

const id = (cardId: string) => ({ kind: "id", cardId });
const bits = (text: string): Uint8Array => ascii(text);
/** readers.md, wiegand: the example frame, facility 90, card 324. */
const EXAMPLE = "00101101000000001010001000";

/** Edges of one frame's bits, `spacingUs` apart from `startUs`. */
function edgesOf(frame: string, startUs: number, spacingUs = 2000): WiegandEdge[] {
  return [...frame].map((b, i) => ({ line: b === "1" ? ("d1" as const) : ("d0" as const), tUs: startUs + i * spacingUs }));
}
const text = (lines: Uint8Array[]): string[] => lines.map((l) => new TextDecoder().decode(l));

describe("card id forms", () => {
  it("keeps the installed em4100-ascii forms and adds w26 and hex", () => {
    const frame = encodeEm4100("100086F444");
    expect(decodeEm4100(frame, "dec10")).toEqual(id("0008844356"));
    expect(decodeEm4100(frame, "hex10")).toEqual(id("100086F444"));
    expect(decodeEm4100(frame, "wiegand26")).toEqual(id("134,62532"));
    expect(decodeEm4100(frame, "w26")).toEqual(id("134,62532"));
    expect(decodeEm4100(frame, "hex")).toEqual(id("0086F444"));
    // Zero padding of w26 (3+5), none in wiegand26: readers.md's tag 13005D1DA5.
    expect(decodeEm4100(encodeEm4100("13005D1DA5"), "w26")).toEqual(id("093,07589"));
    expect(decodeEm4100(encodeEm4100("13005D1DA5"), "wiegand26")).toEqual(id("93,7589"));
  });

  it("writes card number bytes in each form, refusing forms that need more bytes", () => {
    const three = Uint8Array.of(0x5d, 0x1d, 0xa5);
    expect(formatCardNumber(three, "w26")).toBe("093,07589");
    expect(formatCardNumber(three, "hex")).toBe("5D1DA5");
    expect(formatCardNumber(three, "dec10")).toEqual({ problem: "24 bits have no dec10 form (it needs 32)" });
    expect(formatCardNumber(Uint8Array.of(0xff, 0xff, 0xff, 0xff), "dec10")).toBe("4294967295");
  });

  it("gives one card_id for one EM4100 tag through em4100-ascii, Wiegand 26 and Wiegand 34", () => {
    const tag = decodeEm4100.bind(null, encodeEm4100("100086F444"));
    const w26 = (format: WiegandCardFormat) => decodeWiegandBits(encodeWiegand("86F444").subarray(0, 26), { format });
    const w34 = (format: WiegandCardFormat) => decodeWiegandBits(encodeWiegand("0086F444").subarray(0, 34), { format });
    expect(w26("w26")).toEqual(tag("w26"));
    expect(w34("w26")).toEqual(tag("w26"));
    expect(w26("wiegand26")).toEqual(tag("wiegand26"));
    expect(w34("dec10")).toEqual(tag("dec10"));
    expect(w34("hex")).toEqual(tag("hex"));
  });
});

describe("decodeWiegandBits", () => {
  it("decodes readers.md's example as facility 90, card 324, in every form", () => {
    expect(Array.from(encodeWiegand("5A0144"))).toEqual(Array.from(ascii(`${EXAMPLE}\n`)));
    expect(decodeWiegandBits(bits(EXAMPLE))).toEqual(id("090,00324"));
    expect(decodeWiegandBits(bits(EXAMPLE), { format: "wiegand26" })).toEqual(id("90,324"));
    expect(decodeWiegandBits(bits(EXAMPLE), { format: "facility_card" })).toEqual(id("90,324"));
    expect(decodeWiegandBits(bits(EXAMPLE), { format: "hex" })).toEqual(id("5A0144"));
  });

  it("splits a W34 frame as configured for facility_card", () => {
    const frame = encodeWiegand("12345678").subarray(0, 34);
    expect(decodeWiegandBits(frame, { format: "facility_card" })).toEqual(id(`${0x1234},${0x5678}`));
    expect(decodeWiegandBits(frame, { format: "facility_card", w34FacilityBits: 8 })).toEqual(id(`${0x12},${0x345678}`));
    expect(decodeWiegandBits(frame, { format: "facility_card", w34FacilityBits: 0 })).toEqual(id(`0,${0x12345678}`));
    expect(decodeWiegandBits(frame, { format: "dec10" })).toEqual(id("0305419896"));
  });

  it.each([
    ["wrong length: 25 bits (expected 26 or 34)", EXAMPLE.slice(0, 25)],
    ["wrong length: 27 bits (expected 26 or 34)", `${EXAMPLE}0`],
    ["W26 even parity (first bit) wrong", `1${EXAMPLE.slice(1)}`],
    ["W26 odd parity (last bit) wrong", `${EXAMPLE.slice(0, 25)}1`],
    ["W26 even parity (first bit) wrong", `${EXAMPLE.slice(0, 5)}${EXAMPLE[5] === "0" ? "1" : "0"}${EXAMPLE.slice(6)}`],
    ["W34 odd parity (last bit) wrong", `${new TextDecoder().decode(encodeWiegand("12345678")).slice(0, 33)}${new TextDecoder().decode(encodeWiegand("12345678"))[33] === "0" ? "1" : "0"}`],
    ["not a bit line (only 0 and 1 expected)", "0010110100000000101000100x"],
    ["W26: 24 bits have no dec10 form (it needs 32)", EXAMPLE],
  ])("rejects and never guesses: %s", (reason, frame) => {
    const format = reason.includes("dec10") ? "dec10" : "w26";
    expect(decodeWiegandBits(bits(frame), { format })).toMatchObject({ kind: "discarded", reason });
  });

  it("takes data bits all 0 or all 1 (a stuck line) as noise", () => {
    expect(decodeWiegandBits(encodeWiegand("000000").subarray(0, 26))).toMatchObject({ kind: "noise" });
    expect(decodeWiegandBits(encodeWiegand("FFFFFFFF").subarray(0, 34))).toMatchObject({ kind: "noise" });
  });
});

describe("splitWiegandFrames (edge lists)", () => {
  const W34 = new TextDecoder().decode(encodeWiegand("0086F444")).trim();
  const GAP_US = 25_000;

  it("makes one bit line per frame: valid 26 and 34", () => {
    expect(text(splitWiegandFrames(edgesOf(EXAMPLE, 1_000_000), GAP_US))).toEqual([`${EXAMPLE}\n`]);
    expect(text(splitWiegandFrames(edgesOf(W34, 5_000_000, 1000), GAP_US))).toEqual([`${W34}\n`]);
  });

  it("orders edges by their timestamps, whatever order the two lines' monitors delivered them in", () => {
    const edges = edgesOf(EXAMPLE, 0);
    const shuffled = [...edges.filter((e) => e.line === "d1"), ...edges.filter((e) => e.line === "d0")];
    expect(text(splitWiegandFrames(shuffled, GAP_US))).toEqual([`${EXAMPLE}\n`]);
  });

  it("splits two frames back to back at the gap", () => {
    const edges = [...edgesOf(EXAMPLE, 0), ...edgesOf(W34, 26 * 2000 + 30_000)];
    expect(text(splitWiegandFrames(edges, GAP_US))).toEqual([`${EXAMPLE}\n`, `${W34}\n`]);
  });

  it("gives a frame cut by a gap as two wrong-length lines, both rejected by the decoder", () => {
    const edges = edgesOf(EXAMPLE, 0).map((e, i) => (i >= 10 ? { ...e, tUs: e.tUs + 40_000 } : e));
    const lines = splitWiegandFrames(edges, GAP_US);
    expect(text(lines)).toEqual([`${EXAMPLE.slice(0, 10)}\n`, `${EXAMPLE.slice(10)}\n`]);
    for (const line of lines) {
      expect(decodeWiegandBits(line.subarray(0, -1))).toMatchObject({ kind: "discarded", reason: expect.stringMatching(/^wrong length/) });
    }
  });

  it("marks a frame with noise edges (closer than 100 µs) so the decoder discards it", () => {
    const edges = [...edgesOf(EXAMPLE, 0), { line: "d1" as const, tUs: 10 * 2000 + 30 }];
    const lines = splitWiegandFrames(edges, GAP_US);
    expect(lines).toHaveLength(1);
    expect(decodeWiegandBits(lines[0]!.subarray(0, -1))).toMatchObject({ kind: "discarded", reason: "edges closer than 100 µs (noise, not bits)" });
    // A lone stray edge is a 1-bit frame: wrong length.
    const stray = splitWiegandFrames([{ line: "d0", tUs: 0 }], GAP_US);
    expect(decodeWiegandBits(stray[0]!.subarray(0, -1))).toMatchObject({ kind: "discarded", reason: "wrong length: 1 bits (expected 26 or 34)" });
  });

  it("gives nothing for no edges", () => {
    expect(splitWiegandFrames([], GAP_US)).toEqual([]);
  });
});

describe("ISO 14443 UIDs from text-mode readers", () => {
  // One 4-byte card, UID0 = 04, in each spelling readers use (readers.md): one card_id.
  const spellings: Array<[string, "hex" | "dec", "msb_first" | "lsb_first"]> = [
    ["04A22B1C", "hex", "msb_first"],
    ["04a22b1c", "hex", "msb_first"],
    ["04:A2:2B:1C", "hex", "msb_first"],
    ["1C2BA204", "hex", "lsb_first"],
    ["1C-2B-A2-04", "hex", "lsb_first"],
    ["0077736732", "dec", "msb_first"],
    ["0472621572", "dec", "lsb_first"],
  ];

  it.each(spellings)("%s (%s, %s) is card 04A22B1C", (printed, uidText, uidByteOrder) => {
    expect(decodeIso14443Line(ascii(printed), { uidText, uidByteOrder })).toEqual(id("04A22B1C"));
    expect(decodeIso14443Line(ascii(printed), { uidText, uidByteOrder, format: "dec10", cardIdByteOrder: "lsb_first" })).toEqual(id("0472621572"));
    expect(decodeIso14443Line(ascii(printed), { uidText, uidByteOrder, format: "dec10" })).toEqual(id("0077736732"));
  });

  it("reads 7- and 10-byte UIDs in hex, either order; dec10 refuses them", () => {
    expect(decodeIso14443Line(ascii("80E5D4C3B2A104"), { uidByteOrder: "lsb_first" })).toEqual(id("04A1B2C3D4E580"));
    expect(decodeIso14443Line(ascii("0102030405060708090A"))).toEqual(id("0102030405060708090A"));
    expect(decodeIso14443Line(ascii("04A1B2C3D4E580"), { format: "dec10" })).toMatchObject({
      kind: "discarded",
      reason: "a 7-byte UID has no dec10 form (only 4-byte UIDs do)",
    });
  });

  it.each([
    ["hex", "04A22B", "wrong length: 6 hex digits (expected 8, 14 or 20: a 4, 7 or 10-byte UID)"],
    ["hex", "04A22B1C00", "wrong length: 10 hex digits (expected 8, 14 or 20: a 4, 7 or 10-byte UID)"],
    ["hex", "04A22B1G", "not a hex UID (hex digits, optionally one separator : - or space between every two)"],
    ["hex", "04:A2 2B:1C", "not a hex UID (hex digits, optionally one separator : - or space between every two)"],
    ["dec", "2621572", "wrong length: 7 digits (expected 10: a 4-byte UID, zero-padded)"],
    ["dec", "4294967296", "4294967296 is above 4294967295 (no 4-byte UID)"],
    ["dec", "04A22B1C", "not a decimal UID (digits only)"],
  ] as const)("discards a %s line %s, never guessing", (uidText, printed, reason) => {
    expect(decodeIso14443Line(ascii(printed), { uidText })).toMatchObject({ kind: "discarded", reason });
  });

  it("takes a UID of all 00 or all FF as noise, and keeps ascii-line's framing and pattern", () => {
    expect(decodeIso14443Line(ascii("FFFFFFFF"))).toMatchObject({ kind: "noise", reason: "UID all FF" });
    expect(decodeIso14443Line(ascii("\x02 04A22B1C \x03"))).toEqual(id("04A22B1C"));
    expect(decodeIso14443Line(ascii("04A22B1C\x03"))).toMatchObject({ kind: "discarded", reason: "ETX without STX (partial frame)" });
  });

  it("round-trips the encoder in every spelling", () => {
    for (const uidText of ["hex", "dec"] as const) {
      for (const uidByteOrder of ["msb_first", "lsb_first"] as const) {
        const line = encodeIso14443("04A22B1C", { uidText, uidByteOrder });
        expect(decodeIso14443Line(line.subarray(0, -2), { uidText, uidByteOrder })).toEqual(id("04A22B1C"));
      }
    }
    expect(() => encodeIso14443("04A1B2C3D4E580", { uidText: "dec" })).toThrow(RangeError);
    expect(parseUid("1C2BA204", "hex", "lsb_first")).toEqual(Uint8Array.of(0x04, 0xa2, 0x2b, 0x1c));
    expect(formatUid(Uint8Array.of(0x04, 0xa2, 0x2b, 0x1c), "hex", "lsb_first")).toBe("1C2BA204");
  });
});
