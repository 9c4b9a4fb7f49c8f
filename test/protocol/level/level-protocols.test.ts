/**
 * The fill-level sensor protocols one by one (shared/protocols/level-sensors.md): decoders on the
 * document's examples and on the field's odd frames, encoders round-tripped through the decoders,
 * and the registry entries' facts. Stream fixtures (split at every offset) are in
 * test/protocol/fixtures/dyp-a02-*.txt and tf-luna-*.txt.
 */
import { describe, expect, it } from "vitest";
import {
  decodeDypA02,
  decodeTfLuna,
  encodeDypA02,
  encodeTfLuna,
  findProtocol,
  protocolNames,
} from "../../../src/protocol/index.js";
import { hex } from "../fixtures.js";

describe("dyp-a02", () => {
  it("decodes the document's example: FF 07 A1 A7 is 1953 mm", () => {
    expect(decodeDypA02(hex("FF 07 A1 A7"))).toEqual({ kind: "distance", mm: 1953, strength: null, temperatureC: null });
  });

  it("round-trips every distance in range through its encoder", () => {
    for (const mm of [30, 31, 255, 256, 511, 1953, 4499, 4500]) expect(decodeDypA02(encodeDypA02(mm))).toMatchObject({ kind: "distance", mm });
  });

  it("calls 0 mm, the blind zone and beyond the range no reading, and keeps the frame's limits configurable", () => {
    expect(decodeDypA02(encodeDypA02(0))).toMatchObject({ kind: "no_reading" });
    expect(decodeDypA02(encodeDypA02(29))).toMatchObject({ kind: "no_reading", reason: expect.stringContaining("blind zone") });
    expect(decodeDypA02(encodeDypA02(4501))).toMatchObject({ kind: "no_reading", reason: expect.stringContaining("beyond") });
    expect(decodeDypA02(encodeDypA02(250), { minMm: 280, maxMm: 7500 })).toMatchObject({ kind: "no_reading" });
    expect(decodeDypA02(encodeDypA02(7000), { minMm: 280, maxMm: 7500 })).toMatchObject({ kind: "distance", mm: 7000 });
  });

  it("discards a wrong sum, a wrong start byte and a wrong length, with the bytes", () => {
    expect(decodeDypA02(hex("FF 07 A1 A8"))).toEqual({ kind: "discarded", reason: "bad checksum", bytes: hex("FF 07 A1 A8") });
    expect(decodeDypA02(hex("FE 07 A1 A6"))).toMatchObject({ kind: "discarded", reason: "missing start byte FF" });
    expect(decodeDypA02(hex("FF 07 A1"))).toMatchObject({ kind: "discarded", reason: "wrong frame length" });
  });

  it("reads a steady 511 mm (FF 01 FF FF) from whichever byte the port opens at: FF FF 01 FF, checksum right, is no frame", () => {
    const frame = encodeDypA02(511);
    const stream = new Uint8Array(4 * 12);
    for (let i = 0; i < 12; i++) stream.set(frame, 4 * i);
    for (let offset = 0; offset < 4; offset++) {
      const out = findProtocol("level", "dyp-a02").configure({}).createFramer().push(stream.subarray(offset));
      expect(out.filter((f) => f.kind === "distance" && f.mm === 511).length, `opened at byte ${offset}`).toBeGreaterThanOrEqual(10);
      expect(out.filter((f) => f.kind === "no_reading")).toEqual([]);
    }
  });

  it("refuses to encode what the frame cannot carry", () => {
    expect(() => encodeDypA02(-1)).toThrow(RangeError);
    expect(() => encodeDypA02(65_536)).toThrow(RangeError);
    expect(() => encodeDypA02(1.5)).toThrow(RangeError);
  });
});

describe("tf-luna", () => {
  it("decodes the document's example: 59 59 64 00 2C 01 00 09 4C is 100 cm at strength 300", () => {
    expect(decodeTfLuna(hex("59 59 64 00 2C 01 00 09 4C"))).toEqual({ kind: "distance", mm: 1000, strength: 300, temperatureC: 32 });
  });

  it("round-trips distances in whole centimetres and the strength through its encoder", () => {
    expect(decodeTfLuna(encodeTfLuna({ mm: 1234, strength: 300 }))).toEqual({ kind: "distance", mm: 1230, strength: 300, temperatureC: 25 });
    expect(decodeTfLuna(encodeTfLuna({ mm: 1235 }))).toMatchObject({ mm: 1240, strength: 1000 });
    expect(decodeTfLuna(encodeTfLuna({ mm: 655_350, strength: 100 }))).toMatchObject({ kind: "no_reading" }); // 65535 cm: "no distance"
  });

  it("drops weak and saturated readings and the no-distance values, whatever the strength", () => {
    expect(decodeTfLuna(encodeTfLuna({ mm: 1000, strength: 99 }))).toMatchObject({ kind: "no_reading", reason: expect.stringContaining("too weak") });
    expect(decodeTfLuna(encodeTfLuna({ mm: 1000, strength: 100 }))).toMatchObject({ kind: "distance" });
    expect(decodeTfLuna(encodeTfLuna({ mm: 1000, strength: 65_535 }), 0)).toMatchObject({ kind: "no_reading", reason: expect.stringContaining("saturated") });
    expect(decodeTfLuna(encodeTfLuna({ mm: 0, strength: 500 }))).toMatchObject({ kind: "no_reading", reason: "no distance (0 cm)" });
    expect(decodeTfLuna(encodeTfLuna({ mm: 1000, strength: 50 }), 20)).toMatchObject({ kind: "distance", strength: 50 });
  });

  it("ignores command replies and discards broken frames", () => {
    expect(decodeTfLuna(hex("5A 05 05 01 65"))).toEqual({ kind: "ignored", reason: "command reply (id 05)" });
    expect(decodeTfLuna(hex("5A 05 05 01 66"))).toMatchObject({ kind: "discarded", reason: "bad checksum" });
    expect(decodeTfLuna(hex("5A 06 05 01 66"))).toMatchObject({ kind: "discarded", reason: "wrong command reply length" });
    expect(decodeTfLuna(hex("59 59 64 00 2C 01 00 09 4D"))).toMatchObject({ kind: "discarded", reason: "bad checksum" });
    expect(decodeTfLuna(hex("59 58 64 00 2C 01 00 09 4B"))).toMatchObject({ kind: "discarded", reason: "missing header 59 59" });
    expect(decodeTfLuna(hex("59 59 64"))).toMatchObject({ kind: "discarded", reason: "wrong frame length" });
  });

  it("refuses to encode what the frame cannot carry", () => {
    expect(() => encodeTfLuna({ mm: -10 })).toThrow(RangeError);
    expect(() => encodeTfLuna({ mm: 1000, strength: 70_000 })).toThrow(RangeError);
  });
});

describe("the level kind of the registry", () => {
  it("lists dyp-a02 and tf-luna with the document's serial defaults", () => {
    expect(protocolNames("level")).toEqual(["dyp-a02", "tf-luna"]);
    expect(findProtocol("level", "dyp-a02").port.serial).toEqual({ baudRate: 9600, dataBits: 8, parity: "none", stopBits: 1 });
    expect(findProtocol("level", "tf-luna").port.serial).toEqual({ baudRate: 115200, dataBits: 8, parity: "none", stopBits: 1 });
  });

  it("configures min_strength for tf-luna only, with its default 100", () => {
    expect(Object.keys(findProtocol("level", "tf-luna").options.shape)).toEqual(["min_strength"]);
    expect(Object.keys(findProtocol("level", "dyp-a02").options.shape)).toEqual(["min_mm", "max_mm"]);
    const codec = findProtocol("level", "tf-luna").configure({ min_strength: 400 });
    expect(codec.decode(hex("59 59 64 00 2C 01 00 09 4C"))).toMatchObject({ kind: "no_reading" });
  });
});
