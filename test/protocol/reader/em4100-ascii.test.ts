import { describe, expect, it } from "vitest";
import { toHex } from "../../../src/protocol/bytes.js";
import {
  EM4100_FRAME_BYTES,
  createEm4100Framer,
  decodeEm4100,
  encodeEm4100,
  formatCardId,
  type Em4100CardFormat,
} from "../../../src/protocol/reader/em4100-ascii.js";
import { MAX_DISCARD_BYTES, NO_START_BYTE } from "../../../src/protocol/stx-framer.js";
import { ascii, concat, flood, hex, normalize } from "../fixtures.js";

/** readers.md, em4100-ascii, Example: tag 13005D1DA5. */
const TAG_13005D1DA5 = "02 31 33 30 30 35 44 31 44 41 35 46 36 03";
/** readers.md, em4100-ascii: tag 100086F444 framed per the layout (checksum 26). */
const TAG_100086F444 = "02 31 30 30 30 38 36 46 34 34 34 32 36 03";

const id = (cardId: string): { kind: "id"; cardId: string } => ({ kind: "id", cardId });

describe("decodeEm4100", () => {
  it("decodes the datasheet's tags in every card id form", () => {
    expect(decodeEm4100(hex(TAG_13005D1DA5))).toEqual(id("0006102437"));
    expect(decodeEm4100(hex(TAG_100086F444))).toEqual(id("0008844356"));
    expect(decodeEm4100(hex(TAG_100086F444), "dec10")).toEqual(id("0008844356"));
    expect(decodeEm4100(hex(TAG_100086F444), "hex10")).toEqual(id("100086F444"));
    expect(decodeEm4100(hex(TAG_100086F444), "wiegand26")).toEqual(id("134,62532"));
    expect(decodeEm4100(hex(TAG_13005D1DA5), "wiegand26")).toEqual(id("93,7589"));
  });

  it("accepts lower-case hex and the 13-byte raw-checksum variant", () => {
    expect(decodeEm4100(ascii("\x0213005d1da5f6\x03"), "hex10")).toEqual(id("13005D1DA5"));
    expect(decodeEm4100(hex("02 31 33 30 30 35 44 31 44 41 35 F6 03"))).toEqual(id("0006102437"));
  });

  it.each([
    ["wrong frame length", hex(TAG_13005D1DA5).subarray(0, 12)],
    ["wrong frame length", concat(hex(TAG_13005D1DA5), hex("03"))],
    ["missing STX or ETX", hex("03 31 33 30 30 35 44 31 44 41 35 46 36 03")],
    ["missing STX or ETX", hex("02 31 33 30 30 35 44 31 44 41 35 46 36 0D")],
    ["non-hex data character", ascii("\x0213005G1DA5F6\x03")],
    ["bad checksum characters", ascii("\x0213005D1DA5FX\x03")],
    ["bad checksum", ascii("\x0213005D1DA5F7\x03")],
    ["bad checksum", ascii("\x0213005D1DA4F6\x03")],
    ["bad checksum", hex("02 31 33 30 30 35 44 31 44 41 35 F7 03")],
  ])("discards (%s)", (reason, frame) => {
    expect(decodeEm4100(frame)).toEqual({ kind: "discarded", bytes: frame, reason });
  });
});

describe("EM4100 noise (contract.md section 4, Readers)", () => {
  it.each([
    ["0000000000", "tag data all 00"],
    ["FFFFFFFFFF", "tag data all FF"],
    ["ffffffffff", "tag data all FF"],
    // The card number alone: it would be 0000000000 or 4294967295 in dec10, whatever the version byte.
    ["0100000000", "card number all 00"],
    ["00FFFFFFFF", "card number all FF"],
    ["A5FFFFFFFF", "card number all FF"],
  ])("decodes the checksum-valid tag %s as noise, in both variants", (tag, reason) => {
    for (const variant of ["hex", "raw"] as const) {
      const frame = encodeEm4100(tag, variant);
      expect(decodeEm4100(frame)).toEqual({ kind: "noise", bytes: frame, reason });
    }
  });

  it("still decodes real tags, and tags that are almost all 00 or all FF", () => {
    expect(decodeEm4100(hex(TAG_100086F444))).toEqual(id("0008844356"));
    expect(decodeEm4100(encodeEm4100("0000000001"), "hex10")).toEqual(id("0000000001"));
    expect(decodeEm4100(encodeEm4100("00FFFFFFFE"), "hex10")).toEqual(id("00FFFFFFFE"));
    expect(decodeEm4100(encodeEm4100("0100000001"))).toEqual(id("0000000001"));
    expect(decodeEm4100(encodeEm4100("FFFFFFFFFE"), "hex10")).toEqual(id("FFFFFFFFFE"));
  });

  it("judges the checksum first: an all-zero frame with a wrong checksum is discarded, not noise", () => {
    const frame = ascii("\x02000000000001\x03");
    expect(decodeEm4100(frame)).toEqual({ kind: "discarded", bytes: frame, reason: "bad checksum" });
  });

  it("the framer passes noise frames on, between ids", () => {
    const framer = createEm4100Framer();
    const stream = concat(encodeEm4100("0000000000"), hex(TAG_100086F444), encodeEm4100("FFFFFFFFFF", "raw"));
    expect(framer.push(stream).map((f) => (f.kind === "id" ? f.cardId : f.kind))).toEqual(["noise", "0008844356", "noise"]);
  });
});

describe("formatCardId", () => {
  it("writes the extremes", () => {
    const max = hex("FF FF FF FF FF");
    expect(formatCardId(max, "dec10")).toBe("4294967295");
    expect(formatCardId(max, "hex10")).toBe("FFFFFFFFFF");
    expect(formatCardId(max, "wiegand26")).toBe("255,65535");
    const zero = hex("00 00 00 00 00");
    expect(formatCardId(zero, "dec10")).toBe("0000000000");
    expect(formatCardId(zero, "hex10")).toBe("0000000000");
    expect(formatCardId(zero, "wiegand26")).toBe("0,0");
  });
});

describe("encodeEm4100", () => {
  it("writes the datasheet's frames byte for byte", () => {
    expect(toHex(encodeEm4100("13005D1DA5"))).toBe(TAG_13005D1DA5);
    expect(toHex(encodeEm4100("100086f444"))).toBe(TAG_100086F444);
    expect(toHex(encodeEm4100("13005D1DA5", "raw"))).toBe("02 31 33 30 30 35 44 31 44 41 35 F6 03");
  });

  it("refuses anything but 10 hex characters", () => {
    expect(() => encodeEm4100("13005D1DA")).toThrow(RangeError);
    expect(() => encodeEm4100("13005D1DA5F")).toThrow(RangeError);
    expect(() => encodeEm4100("13005D1DAG")).toThrow(RangeError);
  });

  it("round-trips tags through both variants and every form", () => {
    let seed = 12345;
    const next = (): number => (seed = (seed * 1103515245 + 12345) >>> 0);
    for (let n = 0; n < 400; n++) {
      const tag = Array.from({ length: 5 }, () => (next() >>> 8) & 0xff);
      const tagHex = tag.map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join("");
      const last4 = ((tag[1]! << 24) >>> 0) + (tag[2]! << 16) + (tag[3]! << 8) + tag[4]!;
      for (const variant of ["hex", "raw"] as const) {
        const frame = encodeEm4100(tagHex, variant);
        expect(decodeEm4100(frame, "hex10")).toEqual(id(tagHex));
        expect(decodeEm4100(frame, "dec10")).toEqual(id(String(last4).padStart(10, "0")));
        expect(decodeEm4100(frame, "wiegand26")).toEqual(id(`${tag[2]},${(tag[3]! << 8) + tag[4]!}`));
      }
    }
  });
});

describe("em4100-ascii framer", () => {
  const frames = (chunks: Uint8Array[], format?: Em4100CardFormat): unknown[] => {
    const framer = createEm4100Framer(format === undefined ? {} : { format });
    return normalize(chunks.flatMap((c) => framer.push(c)));
  };

  it("decodes many frames, of both variants, in one chunk", () => {
    const tags = ["13005D1DA5", "100086F444", "0000000002", "0000000003", "FFFFFFFFFE"];
    const stream = concat(...tags.flatMap((t) => [encodeEm4100(t), encodeEm4100(t, "raw")]));
    expect(frames([stream], "hex10")).toEqual(tags.flatMap((t) => [id(t), id(t)]));
  });

  it("reads a raw checksum that equals STX or ETX as a checksum", () => {
    // XOR 02 and 03: the raw checksum byte is a control byte inside the frame.
    expect(toHex(encodeEm4100("0000000002", "raw")).slice(-5)).toBe("02 03");
    expect(toHex(encodeEm4100("0000000003", "raw")).slice(-5)).toBe("03 03");
    const stream = concat(encodeEm4100("0000000002", "raw"), encodeEm4100("0000000003", "raw"));
    expect(frames([stream])).toEqual([id("0000000002"), id("0000000003")]);
  });

  it("discards the partial frame of a port opened mid-frame, then decodes", () => {
    const whole = hex(TAG_100086F444);
    for (let cut = 1; cut < EM4100_FRAME_BYTES; cut++) {
      const partial = whole.subarray(cut);
      expect(frames([concat(partial, whole)])).toEqual([
        { kind: "discarded", bytes: toHex(partial), reason: NO_START_BYTE },
        id("0008844356"),
      ]);
    }
  });

  it("turns garbage between frames into one discarded value per run", () => {
    expect(frames([concat(hex(TAG_13005D1DA5), ascii("\r\nnoise\r\n"), hex(TAG_100086F444))])).toEqual([
      id("0006102437"),
      { kind: "discarded", bytes: toHex(ascii("\r\nnoise\r\n")), reason: NO_START_BYTE },
      id("0008844356"),
    ]);
  });

  it("resynchronises when a frame is cut short by the next one", () => {
    const cut = hex(TAG_13005D1DA5).subarray(0, 7);
    expect(frames([concat(cut, hex(TAG_100086F444))])).toEqual([
      { kind: "discarded", bytes: toHex(cut), reason: "non-hex data character" },
      id("0008844356"),
    ]);
    // Cut inside the checksum: the next STX lands where the second checksum character belongs.
    const cut12 = hex(TAG_13005D1DA5).subarray(0, 12);
    expect(frames([concat(cut12, hex(TAG_100086F444))])).toEqual([
      { kind: "discarded", bytes: toHex(cut12), reason: "bad checksum characters" },
      id("0008844356"),
    ]);
  });

  it("discards a frame without its ETX and a bad-checksum frame, keeping the next", () => {
    const noEtx = "02 31 33 30 30 35 44 31 44 41 35 46 36 0D";
    const bad = "02 31 33 30 30 35 44 31 44 41 35 46 37 03";
    expect(frames([hex(`${noEtx} ${bad} ${TAG_13005D1DA5}`)])).toEqual([
      { kind: "discarded", bytes: noEtx, reason: "missing ETX" },
      { kind: "discarded", bytes: bad, reason: "bad checksum" },
      id("0006102437"),
    ]);
  });

  it("keeps memory bounded under 1 MB of random junk, STX bytes included", () => {
    const framer = createEm4100Framer();
    let seed = 7;
    const junk = new Uint8Array(1000);
    const { expected, odd, maxBuffered } = flood(
      framer,
      () => {
        // Random bytes: candidate frames open and fail all the time.
        for (let j = 0; j < junk.length; j++) junk[j] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
        return junk;
      },
      1000,
      (f) => f.kind === "discarded" && f.bytes.length <= MAX_DISCARD_BYTES,
    );
    const discards = expected.length;
    expect(odd).toEqual([]);
    expect(maxBuffered).toBeLessThan(MAX_DISCARD_BYTES + EM4100_FRAME_BYTES);
    // Runs, not bytes: about one value per STX-opened candidate (1 in 256 bytes) or per full chunk.
    expect(discards).toBeGreaterThan(3000);
    expect(discards).toBeLessThan(20_000);
    expect(normalize(framer.push(hex(TAG_100086F444))).at(-1)).toEqual(id("0008844356"));
    expect(framer.bufferedBytes).toBe(0);
  });
});
