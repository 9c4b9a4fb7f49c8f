import { describe, expect, it } from "vitest";
import { latin1 } from "../../../src/protocol/bytes.js";
import { findProtocol } from "../../../src/protocol/registry.js";
import {
  SI_REQUEST,
  createMtSicsFramer,
  decodeMtSics,
  encodeMtSics,
} from "../../../src/protocol/scale/mt-sics.js";
import type { ScaleFrame } from "../../../src/protocol/types.js";
import { ascii, feedEveryWay, normalize } from "../fixtures.js";

/** A line written with `·` for spaces, as scales.md writes them. */
const line = (dotted: string): Uint8Array => ascii(dotted.replaceAll("·", " "));
const w = (grams: number, stable = true): ScaleFrame => ({ kind: "weight", grams, stable, mode: "net" });

describe("decodeMtSics", () => {
  it.each([
    // scales.md, mt-sics, and the reference manual's answers to SI.
    ["S·S·····100.00·g", w(100)],
    ["S·D·····100.00·g", w(100, false)],
    ["S·S·····-0.005·kg", w(-5)],
    ["S·S······-0.000·kg", w(0)],
    ["S·S········0·g", w(0)],
    ["S·S·····+1.000·kg", w(1000)], // a sign the manual does not write, still unambiguous
    ["S·S······12.340·kg", w(12_340)],
    ["S·S··12.340·kg····", w(12_340)],
    ["S·S·99999.99995·kg", w(100_000_000)], // 99 999 999.95 g
    ["S·S·····1.2345·kg", w(1235)], // half away from zero
    ["S·S·····-1.2345·kg", w(-1235)],
    ["S·S·····0.4999·g", w(0)],
    ["S·S······1500·mg", w(2)],
    ["S·S······2.5·ct", w(1)], // 0.5 g
    ["S·S······1.000·lb", w(454)],
    ["S·S······1.000·oz", w(28)],
    ["S·S······1.000·ozt", w(31)],
    ["S·S······10.00·dwt", w(16)], // 15.5517384 g
    ["S·S······15.4·GN", w(1)], // 0.99790 g
    ["S·S······2.000·t", w(2_000_000)],
    ["S·I", { kind: "ignored", reason: "command not executable now (S I)" }],
    ["S·+", { kind: "no_weight", reason: "overload" }],
    ["S·-", { kind: "no_weight", reason: "underload" }],
    ["S·+··", { kind: "no_weight", reason: "overload" }],
    ["Z·A", { kind: "ignored", reason: "answer to zero (Z A)" }],
    ["Z·I", { kind: "ignored", reason: "answer to zero (Z I)" }],
    ["T·S······1.000·kg", { kind: "ignored", reason: "answer to tare (T S)" }],
    ["T·+", { kind: "ignored", reason: "answer to tare (T +)" }],
  ] as [string, ScaleFrame][])("%j", (text, frame) => {
    expect(decodeMtSics(line(text))).toEqual(frame);
  });

  it.each([
    ["ES", "MT-SICS error ES (syntax error: the balance did not recognise the command)"],
    ["ET", "MT-SICS error ET (transmission error: the balance received a faulty command (parity, interface break))"],
    ["EL", "MT-SICS error EL (logical error: the balance cannot execute the command)"],
    ["ES·x", "not an MT-SICS answer"],
    ["S", "not an MT-SICS answer"],
    ["S·I·1", "not an MT-SICS answer"],
    ["S·+·9999·kg", "not an MT-SICS answer"],
    ["S·S", "not <S|D> <value> <unit>"],
    ["S·S·100.00", "not <S|D> <value> <unit>"],
    ["S·S·100.00·g·G", "not <S|D> <value> <unit>"],
    ["S·S·-·12.3·kg", "not <S|D> <value> <unit>"], // a sign away from its digits
    ["S·S·12,30·kg", "bad weight value"],
    ["S·S·.5·kg", "bad weight value"],
    ["S·S·5.·kg", "bad weight value"],
    ["S·S·Error·kg", "bad weight value"],
    ["S·S·100.00·KG", 'unknown unit "KG"'],
    ["S·S·100.00·mom", 'unknown unit "mom"'],
    ["S·S·12·PCS", "not a weight (PCS)"],
    ["S·SS·100.00·g", 'unknown status "SS"'],
    ["s·s·100.00·g", "not an MT-SICS answer"],
    ["SI", "not an MT-SICS answer"], // our own request echoed
    ["·····", "blank line"],
    ["S·S·····100.00·g\t", "non-printable byte in line"],
    ["S·S·····100.00·g\u00b5", "non-printable byte in line"],
  ])("discards %j (%s)", (text, reason) => {
    const bytes = line(text);
    expect(decodeMtSics(bytes)).toEqual({ kind: "discarded", bytes, reason });
  });
});

describe("encodeMtSics", () => {
  it("writes the answer to SI with the value right-aligned in 10", () => {
    expect(latin1(encodeMtSics({ grams: 12_340, stable: true }))).toBe("S S     12.340 kg\r\n");
    expect(latin1(encodeMtSics({ grams: -2530, stable: false, decimals: 2 }))).toBe("S D      -2.53 kg\r\n");
    expect(latin1(encodeMtSics({ grams: 100, stable: true, unit: "g", decimals: 2 }))).toBe("S S     100.00 g\r\n");
  });

  it("refuses what ten characters cannot show", () => {
    expect(() => encodeMtSics({ grams: 10_000_000_000_000, stable: true })).toThrow(RangeError);
    expect(() => encodeMtSics({ grams: 1, stable: true, decimals: 6 })).toThrow(RangeError);
  });

  it("round-trips through the decoder", () => {
    for (const grams of [0, 1, -1, 999, 12_340, -60_000, 1_234_567]) {
      for (const stable of [true, false]) {
        expect(decodeMtSics(encodeMtSics({ grams, stable, unit: "g", decimals: 0 }).subarray(0, -2))).toEqual(w(grams, stable));
      }
    }
  });
});

describe("createMtSicsFramer", () => {
  it("finds every answer however the stream is split, CR LF or a lone LF ending each", () => {
    const stream = ascii("S S     100.00 g\r\nS D      99.98 g\r\nS I\r\nS +\r\nES\r\nZ A\nS -\r\n");
    const expected = normalize([
      w(100),
      w(100, false),
      { kind: "ignored", reason: "command not executable now (S I)" },
      { kind: "no_weight", reason: "overload" },
      { kind: "discarded", bytes: ascii("ES"), reason: "MT-SICS error ES (syntax error: the balance did not recognise the command)" },
      { kind: "ignored", reason: "answer to zero (Z A)" },
      { kind: "no_weight", reason: "underload" },
    ]);
    for (const { how, frames } of feedEveryWay(() => createMtSicsFramer(), stream)) expect(frames, how).toEqual(expected);
  });

  it("discards an overlong line in bounded pieces", () => {
    const framer = createMtSicsFramer();
    const frames = framer.push(new Uint8Array(1000).fill(0x41));
    expect(frames.every((f) => f.kind === "discarded")).toBe(true);
    expect(framer.bufferedBytes).toBeLessThanOrEqual(64);
  });
});

describe("the mt-sics registry entry", () => {
  it("polls SI every poll_ms at 9600 8N1 and builds the zero and tare requests", () => {
    const module = findProtocol("scale", "mt-sics");
    expect(module.port).toEqual({
      serial: { baudRate: 9600, dataBits: 8, parity: "none", stopBits: 1 },
      poll: { everyMs: 200, request: SI_REQUEST },
    });
    expect(latin1(SI_REQUEST)).toBe("SI\r\n");
    const codec = module.configure({ poll_ms: 500 });
    expect(codec.port.poll?.everyMs).toBe(500);
    expect(latin1(codec.commands?.zero() ?? new Uint8Array())).toBe("Z\r\n");
    expect(latin1(codec.commands?.tare() ?? new Uint8Array())).toBe("T\r\n");
    expect(() => module.configure({ poll_ms: 1 })).toThrow();
  });

  it("is the only scale protocol that takes commands; the streaming ones are not polled (modbus-rtu polls, without commands)", () => {
    for (const name of ["yaohua-a9", "ascii-st-gs", "yaohua-a12", "toledo-continuous", "ohaus", "cas-22"]) {
      const codec = findProtocol("scale", name).configure();
      expect(codec.port.poll, name).toBeUndefined();
      expect(codec.commands, name).toBeUndefined();
    }
    const modbus = findProtocol("scale", "modbus-rtu").configure();
    expect(modbus.port.poll).toBeDefined();
    expect(modbus.commands).toBeUndefined();
  });
});
