/**
 * The device registry (src/protocol/registry.ts): every protocol module is listed once, by kind,
 * and everything a device needs (framer, decoder, encoder, port settings, defaults) comes from it.
 */
import { describe, expect, it } from "vitest";
import { concat } from "./fixtures.js";
import {
  PROTOCOLS,
  encodeEm4100,
  encodeYaohuaA9,
  findProtocol,
  protocolNames,
  type BufferedFramer,
  type DeviceKind,
} from "../../src/protocol/index.js";

const all = [...PROTOCOLS.scale, ...PROTOCOLS.reader];

describe("the registry", () => {
  it("lists the protocols of contract.md section 5 written so far, by kind, in its order, once each", () => {
    expect(protocolNames("scale")).toEqual(["yaohua-a9", "ascii-st-gs", "yaohua-a12", "toledo-continuous", "mt-sics", "ohaus", "cas-22", "modbus-rtu"]);
    expect(protocolNames("reader")).toEqual(["em4100-ascii", "ascii-line", "iso14443-text", "wiegand"]);
    expect(new Set(all.map((p) => p.name)).size).toBe(all.length);
    for (const kind of ["scale", "reader"] as const) {
      for (const p of PROTOCOLS[kind]) expect(p.kind).toBe(kind);
    }
  });

  it("gives every protocol a summary, a source in shared/protocols/, and serial settings", () => {
    for (const p of all) {
      expect(p.summary.length, p.name).toBeGreaterThan(10);
      expect(p.source, p.name).toMatch(/^shared\/protocols\/(scales|readers)\.md, /);
      // scales.md, toledo-continuous: "Often 7 data bits, even parity."
      const format = p.name === "toledo-continuous" ? { dataBits: 7, parity: "even" } : { dataBits: 8, parity: "none" };
      expect(p.port.serial, p.name).toEqual({ baudRate: 9600, ...format, stopBits: 1 });
      expect(p.configure().port, p.name).toEqual(p.port);
    }
  });

  it("opens a toledo-continuous port with the character format its options name", () => {
    const toledo = findProtocol("scale", "toledo-continuous");
    expect(toledo.configure({ character_format: "8N1" }).port.serial).toEqual({ baudRate: 9600, dataBits: 8, parity: "none", stopBits: 1 });
    expect(toledo.configure({ character_format: "7E1" }).port.serial).toEqual({ baudRate: 9600, dataBits: 7, parity: "even", stopBits: 1 });
  });

  it("keeps the per-protocol defaults in the protocol's module: min_reads 2 for em4100-ascii, 1 for ascii-line", () => {
    expect(findProtocol("reader", "em4100-ascii").defaults.minReads).toBe(2);
    expect(findProtocol("reader", "ascii-line").defaults.minReads).toBe(1);
  });

  it("refuses an unknown protocol, naming the known ones of that kind", () => {
    expect(() => findProtocol("reader", "wiegand-37")).toThrow(
      new RangeError('unknown reader protocol "wiegand-37" (known: em4100-ascii, ascii-line, iso14443-text, wiegand)'),
    );
    // A scale protocol is not a reader protocol.
    expect(() => findProtocol("reader", "yaohua-a9")).toThrow(RangeError);
    expect(() => findProtocol("scale", "toledo")).toThrow(/known: yaohua-a9, ascii-st-gs/);
  });
});

describe("framers made through the registry", () => {
  it("builds a framer for every scale protocol, with the configured unit", () => {
    const a9 = findProtocol("scale", "yaohua-a9");
    expect(a9.configure({ unit: "kg" }).createFramer().push(encodeYaohuaA9({ grams: 20000, unit: "kg", decimals: 2 }))).toEqual([
      { kind: "weight", grams: 20000, stable: null, mode: "gross" },
    ]);
    // The frame carries no unit: the configured one says what it means.
    expect(a9.configure({ unit: "g" }).createFramer().push(encodeYaohuaA9({ grams: 20000, unit: "kg", decimals: 2 }))).toEqual([
      { kind: "weight", grams: 20, stable: null, mode: "gross" },
    ]);
    const stgs = findProtocol("scale", "ascii-st-gs").configure({ unit: "lb" }).createFramer();
    const text = (s: string) => new TextEncoder().encode(s);
    // A frame's own unit wins; a frame without one takes the configured unit.
    expect(stgs.push(text("US,NT,-0000.20kg\r\nST,GS,+0013.00\r\n"))).toEqual([
      { kind: "weight", grams: -200, stable: false, mode: "net" },
      { kind: "weight", grams: 5897, stable: true, mode: "gross" },
    ]);
  });

  it("builds a framer for every reader protocol, with its options and their defaults", () => {
    const frame = encodeEm4100("100086F444");
    const em4100 = findProtocol("reader", "em4100-ascii");
    expect(em4100.configure().createFramer().push(frame)).toEqual([{ kind: "id", cardId: "0008844356" }]);
    expect(em4100.configure({ card_id_format: "wiegand26" }).createFramer().push(frame)).toEqual([
      { kind: "id", cardId: "134,62532" },
    ]);
    const qr = findProtocol("reader", "ascii-line").configure({ pattern: "^QR:([0-9]+)$" }).createFramer();
    expect(qr.push(new TextEncoder().encode("QR:42\r\n42\r\n"))).toMatchObject([
      { kind: "id", cardId: "42" },
      { kind: "discarded", reason: "does not match pattern" },
    ]);
  });

  it("takes a whole config item: the keys that are not the protocol's options are ignored", () => {
    const item = { id: "r", port: "/dev/ttyUSB1", baud_rate: 9600, protocol: "em4100-ascii", min_reads: 2, card_id_format: "hex10" };
    expect(findProtocol("reader", "em4100-ascii").configure(item).createFramer().push(encodeEm4100("100086F444"))).toEqual([
      { kind: "id", cardId: "100086F444" },
    ]);
  });

  it("refuses invalid options (the config schema refuses such a file first)", () => {
    expect(() => findProtocol("reader", "em4100-ascii").configure({ card_id_format: "octal" })).toThrow();
    expect(() => findProtocol("reader", "ascii-line").configure({ pattern: "(a)\\1" })).toThrow(/back-reference/);
    expect(() => findProtocol("scale", "yaohua-a9").configure({ unit: "t" })).toThrow();
    expect(() => findProtocol("scale", "toledo-continuous").configure({ character_format: "7N1" })).toThrow();
    expect(() => findProtocol("scale", "cas-22").configure({ device_id: 0 })).toThrow();
  });

  it("gives a fresh framer each time: no state shared between devices", () => {
    const codec = findProtocol("reader", "em4100-ascii").configure();
    const a = codec.createFramer();
    const b = codec.createFramer();
    const frame = encodeEm4100("100086F444");
    expect(a.push(frame.subarray(0, 5))).toEqual([]);
    expect(b.push(frame)).toEqual([{ kind: "id", cardId: "0008844356" }]);
    expect(a.bufferedBytes).toBe(5);
  });
});

describe("encoders and decoders through the registry", () => {
  it.each(PROTOCOLS.scale.map((p) => [p.name]))("%s: a sample round-trips through encode, framer and decode", (name) => {
    // modbus-rtu's registers carry no decimal point: its decimals are an option.
    const codec = findProtocol("scale", name).configure(name === "modbus-rtu" ? { unit: "kg", decimals: 3 } : { unit: "kg" });
    const bytes = codec.encode({ grams: 12_340, stable: true, decimals: 3 });
    // Twice: ohaus discards the first line it sees (the port may have opened mid-line).
    const frame = codec.createFramer().push(concat(bytes, bytes)).at(-1);
    expect(frame).toMatchObject({ kind: "weight", grams: 12_340 });
    // decode takes one whole frame as the framer delimits it: STX and Modbus frames whole, lines without their end.
    const whole = bytes[0] === 0x02 || name === "modbus-rtu" ? bytes : bytes.subarray(0, -2);
    expect(codec.decode(whole)).toEqual(frame);
  });

  it.each([
    ["em4100-ascii", "100086F444", "0008844356"],
    ["ascii-line", "QR:424242", "QR:424242"],
  ])("%s: a tag round-trips through encode, framer and decode", (name, tag, cardId) => {
    const codec = findProtocol("reader", name).configure();
    const bytes = codec.encode({ tag });
    expect(codec.createFramer().push(bytes)).toEqual([{ kind: "id", cardId }]);
    const whole = name === "ascii-line" ? bytes.subarray(0, -2) : bytes;
    expect(codec.decode(whole)).toEqual({ kind: "id", cardId });
  });
});

describe("every framer of the registry", () => {
  const framers: [string, () => BufferedFramer<{ kind: string }>][] = (["scale", "reader"] as DeviceKind[]).flatMap(
    (kind) => PROTOCOLS[kind].map((p): [string, () => BufferedFramer<{ kind: string }>] => [p.name, () => p.configure().createFramer()]),
  );

  it.each(framers)("%s never throws and stays bounded on random bytes", (_name, make) => {
    const framer = make();
    expect(framer.bufferedBytes).toBe(0);
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
