import { describe, expect, it } from "vitest";
import {
  READER_PROTOCOLS,
  SCALE_PROTOCOLS,
  createReaderFramer,
  createScaleFramer,
  encodeAsciiLine,
  encodeEm4100,
  encodeStGs,
  encodeYaohuaA9,
  type BufferedFramer,
  type ReaderProtocol,
  type ScaleProtocol,
} from "../../src/protocol/index.js";

describe("createScaleFramer", () => {
  it("builds a framer for every scale protocol", () => {
    const a9 = createScaleFramer("yaohua-a9", { unit: "kg" });
    expect(a9.push(encodeYaohuaA9({ grams: 20000, unit: "kg", decimals: 2 }))).toEqual([
      { kind: "weight", grams: 20000, stable: null, mode: "gross" },
    ]);
    const stgs = createScaleFramer("ascii-st-gs", { unit: "lb" }); // the frame's own unit wins
    expect(stgs.push(encodeStGs({ stable: false, mode: "net", grams: -200 }))).toEqual([
      { kind: "weight", grams: -200, stable: false, mode: "net" },
    ]);
    for (const p of SCALE_PROTOCOLS) expect(createScaleFramer(p, { unit: "kg" }).bufferedBytes).toBe(0);
  });

  it("passes the configured unit to protocols whose frames carry none", () => {
    const lb = createScaleFramer("yaohua-a9", { unit: "lb" });
    expect(lb.push(encodeYaohuaA9({ grams: 9072, unit: "lb", decimals: 2 }))).toEqual([
      { kind: "weight", grams: 9072, stable: null, mode: "gross" },
    ]);
    const g = createScaleFramer("yaohua-a9", { unit: "g" });
    expect(g.push(encodeYaohuaA9({ grams: 20000, unit: "kg", decimals: 2 }))).toEqual([
      { kind: "weight", grams: 20, stable: null, mode: "gross" },
    ]);
  });

  it("refuses an unknown protocol that slipped past the types", () => {
    expect(() => createScaleFramer("toledo" as ScaleProtocol, { unit: "kg" })).toThrow(RangeError);
  });
});

describe("createReaderFramer", () => {
  it("builds a framer for every reader protocol, with the default card id form", () => {
    expect(createReaderFramer("em4100-ascii").push(encodeEm4100("100086F444"))).toEqual([
      { kind: "id", cardId: "0008844356" },
    ]);
    expect(createReaderFramer("ascii-line").push(encodeAsciiLine(" 0008844356 "))).toEqual([
      { kind: "id", cardId: "0008844356" },
    ]);
    for (const p of READER_PROTOCOLS) expect(createReaderFramer(p).bufferedBytes).toBe(0);
  });

  it("passes the card id form and the pattern", () => {
    const frame = encodeEm4100("100086F444");
    expect(createReaderFramer("em4100-ascii", { format: "wiegand26" }).push(frame)).toEqual([
      { kind: "id", cardId: "134,62532" },
    ]);
    expect(createReaderFramer("em4100-ascii", { format: "hex10", pattern: "^x$" }).push(frame)).toEqual([
      { kind: "id", cardId: "100086F444" },
    ]);
    const qr = createReaderFramer("ascii-line", { pattern: "^QR:([0-9]+)$", format: "hex10" });
    expect(qr.push(encodeAsciiLine("QR:42"))).toEqual([{ kind: "id", cardId: "42" }]);
    expect(qr.push(encodeAsciiLine("42"))).toMatchObject([
      { kind: "discarded", reason: "does not match pattern" },
    ]);
  });

  it("refuses an unknown protocol that slipped past the types", () => {
    expect(() => createReaderFramer("wiegand" as ReaderProtocol)).toThrow(RangeError);
  });
});

describe("every framer", () => {
  type Make = () => BufferedFramer<{ kind: string }>;
  const all: [string, Make][] = [
    ...SCALE_PROTOCOLS.map((p): [string, Make] => [p, () => createScaleFramer(p, { unit: "kg" })]),
    ...READER_PROTOCOLS.map((p): [string, Make] => [p, () => createReaderFramer(p)]),
  ];

  it.each(all)("%s never throws and stays bounded on random bytes", (_name, make) => {
    const framer = make();
    let seed = 99;
    const chunk = new Uint8Array(777);
    for (let i = 0; i < 300; i++) {
      for (let j = 0; j < chunk.length; j++) chunk[j] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
      expect(() => framer.push(chunk)).not.toThrow();
      expect(framer.bufferedBytes).toBeLessThanOrEqual(512);
    }
    expect(framer.push(new Uint8Array(0))).toEqual([]);
  });
});
