import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toHex } from "../../../src/protocol/bytes.js";
import { crcMatches, modbusCrc, withCrc } from "../../../src/protocol/modbus/crc.js";
import {
  CRC_MISMATCH,
  MAX_JUNK_BYTES,
  ModbusRtuFramer,
  NOT_A_RESPONSE,
  exceptionResponse,
  readRequest,
  readResponse,
} from "../../../src/protocol/modbus/rtu.js";
import { findProtocol } from "../../../src/protocol/registry.js";
import {
  createModbusRtuFramer,
  decodeModbusRtu,
  encodeModbusRtu,
  encodeModbusRtuException,
  modbusOptionIssues,
  modbusRegisterMap,
  modbusRtuOptions,
  modbusRtuRequest,
} from "../../../src/protocol/scale/modbus-rtu.js";
import type { ScaleFrame } from "../../../src/protocol/types.js";
import { ascii, concat, feedEveryWay, hex, normalize } from "../fixtures.js";

const opts = (o: Record<string, unknown> = {}) => modbusRtuOptions.parse(o);
const w = (grams: number, stable: boolean | null = null, mode: "gross" | "net" = "gross"): ScaleFrame => ({ kind: "weight", grams, stable, mode });

describe("CRC-16/MODBUS (modbus-serial's utils/crc16)", () => {
  it("gives the catalogue's check value and the well-known request CRC", () => {
    // CRC RevEng catalogue, CRC-16/MODBUS: check = 0x4B37 over "123456789".
    expect(modbusCrc(ascii("123456789"))).toBe(0x4b37);
    expect(toHex(withCrc(hex("01 03 00 00 00 02")))).toBe("01 03 00 00 00 02 C4 0B");
    expect(crcMatches(hex("01 03 00 00 00 02 C4 0B"))).toBe(true);
    expect(crcMatches(hex("01 03 00 00 00 02 0B C4"))).toBe(false); // high byte first is wrong
    expect(crcMatches(hex("C4 0B"))).toBe(false);
  });
});

describe("the read request", () => {
  it.each([
    [{}, "01 03 00 00 00 02 C4 0B"],
    [{ slave_id: 17, function: 4, register: 8, value_type: "float32" }, "11 04 00 08 00 02 F2 99"],
    [{ value_type: "int16", register: 1 }, "01 03 00 01 00 01 D5 CA"],
    // The status register after the weight: one block of three registers from the weight's.
    [{ register: 0, status_register: 2, motion_mask: 0x1000 }, "01 03 00 00 00 03 05 CB"],
    // Before it: the block starts at the status register.
    [{ register: 10, status_register: 9, stable_mask: 1 }, "01 03 00 09 00 03"],
  ])("%j reads %s", (o, expected) => {
    expect(toHex(modbusRtuRequest(opts(o)))).toContain(expected);
  });

  it("refuses a block one request cannot read", () => {
    expect(() => readRequest({ slaveId: 1, fn: 3, start: 0, count: 126 })).toThrow(RangeError);
    expect(() => readRequest({ slaveId: 0, fn: 3, start: 0, count: 1 })).toThrow(RangeError);
    expect(() => readRequest({ slaveId: 1, fn: 3, start: 0xffff, count: 2 })).toThrow(RangeError);
    expect(() => modbusRegisterMap(opts({ register: 0, status_register: 200, stable_mask: 1 }))).toThrow(RangeError);
  });
});

describe("decodeModbusRtu", () => {
  const frameOf = (o: Record<string, unknown>, registers: number[]) => readResponse(modbusRegisterMap(opts(o)).exchange, registers);

  it.each([
    [{ decimals: 3 }, [0x0000, 0x3039], w(12_345)],
    [{ decimals: 3 }, [0xffff, 0xf61e], w(-2_530)],
    [{ decimals: 3, word_order: "little" }, [0x3039, 0x0000], w(12_345)],
    [{}, [0x8000, 0x0000], w(-2_147_483_648_000)], // int32 minimum, in kg
    [{ value_type: "uint32", unit: "g" }, [0xffff, 0xffff], w(4_294_967_295)],
    [{ value_type: "int16", unit: "g" }, [0x8000], w(-32_768)],
    [{ value_type: "uint16", unit: "g" }, [0x8000], w(32_768)],
    [{ value_type: "int16", unit: "lb", decimals: 2 }, [2000], w(9_072)], // 20.00 lb = 9071.8474 g
    [{ value_type: "int16", unit: "kg", decimals: 4 }, [5], w(1)], // 0.5 g: half away from zero
    [{ value_type: "int16", unit: "kg", decimals: 4 }, [0xfffb], w(-1)],
    [{ value_type: "float32" }, [0x4145, 0x70a4], w(12_340)], // 12.34 kg
    [{ value_type: "float32", word_order: "little" }, [0x70a4, 0x4145], w(12_340)],
    [{ value_type: "float32", unit: "g" }, [0x3f00, 0x0000], w(1)], // 0.5 g
    [{ value_type: "float32", unit: "lb" }, [0x4120, 0x0000], w(4_536)], // 10 lb
  ] as const)("%j %j", (o, registers, expected) => {
    expect(decodeModbusRtu(frameOf(o, [...registers]), opts(o))).toEqual(expected);
  });

  it("reads the status register by its masks: stable or moving, overload and underload first, net", () => {
    const st = { decimals: 3, status_register: 2, motion_mask: 0x1000, overload_mask: 0x0400, underload_mask: 0x0200, net_mask: 0x0800 };
    const at = (status: number) => decodeModbusRtu(frameOf(st, [0, 20_000, status]), opts(st));
    expect(at(0x0000)).toEqual(w(20_000, true));
    expect(at(0x1000)).toEqual(w(20_000, false));
    expect(at(0x1800)).toEqual(w(20_000, false, "net"));
    expect(at(0x1400)).toEqual({ kind: "no_weight", reason: "overload" });
    expect(at(0x0200)).toEqual({ kind: "no_weight", reason: "underload" });
    const stable = { register: 1, status_register: 0, stable_mask: 0x0041 };
    expect(decodeModbusRtu(frameOf(stable, [0x0040, 0, 7]), opts(stable))).toEqual(w(7_000, true));
    expect(decodeModbusRtu(frameOf(stable, [0x0080, 0, 7]), opts(stable))).toEqual(w(7_000, false));
  });

  it("discards what is no weight of this transmitter, saying why, and never throws", () => {
    const o = opts({ decimals: 3 });
    const exchange = modbusRegisterMap(o).exchange;
    const reason = (frame: Uint8Array) => (decodeModbusRtu(frame, o) as { reason: string }).reason;
    expect(reason(exceptionResponse(exchange, 2))).toBe(
      "Modbus exception 02 (illegal data address): the transmitter refuses the request (check function, register and value_type)",
    );
    expect(reason(exceptionResponse(exchange, 4))).toBe("Modbus exception 04 (server device failure)");
    expect(reason(exceptionResponse(exchange, 0x0b))).toBe("Modbus exception 0B (gateway target device failed to respond)");
    expect(reason(exceptionResponse(exchange, 0x42))).toBe("Modbus exception 42 (unknown exception)");
    expect(reason(exceptionResponse({ ...exchange, slaveId: 9 }, 2))).toBe("response from slave 9, not from slave_id 1");
    expect(reason(readResponse({ ...exchange, slaveId: 2 }, [0, 1]))).toBe("response from slave 2, not from slave_id 1");
    expect(reason(readResponse({ ...exchange, count: 1 }, [1]))).toBe("not the response to the request (function, byte count or length)");
    expect(reason(readResponse({ ...exchange, fn: 4 }, [0, 1]))).toBe("not the response to the request (function, byte count or length)");
    expect(reason(hex("01 03 04 00 00 30 39 2E 22"))).toBe("CRC mismatch");
    expect(reason(hex("01 83 02 C0"))).toBe("too short for a Modbus RTU response");
    const f = opts({ value_type: "float32" });
    const fx = modbusRegisterMap(f).exchange;
    expect(decodeModbusRtu(readResponse(fx, [0x7f80, 0]), f)).toMatchObject({ kind: "discarded", reason: expect.stringMatching(/no finite number/) });
    expect(decodeModbusRtu(readResponse(fx, [0x4f80, 0]), f)).toMatchObject({ kind: "discarded", reason: expect.stringMatching(/out of range/) });
    for (const junk of [new Uint8Array(0), hex("01"), hex("FF FF FF FF FF FF FF FF FF"), new Uint8Array(300)]) {
      expect(decodeModbusRtu(junk, o).kind).toBe("discarded");
    }
  });
});

describe("encodeModbusRtu", () => {
  it.each([
    [{ decimals: 3 }, { grams: 12_345, stable: true }, w(12_345)],
    [{ decimals: 3, word_order: "little" }, { grams: -2_530, stable: true }, w(-2_530)],
    [{ value_type: "int16", unit: "g" }, { grams: -5, stable: true }, w(-5)],
    [{ value_type: "float32", unit: "kg" }, { grams: 12_340, stable: true }, w(12_340)],
    [{ value_type: "float32", unit: "lb", word_order: "little" }, { grams: -680, stable: true }, w(-680)],
    [{ decimals: 3, status_register: 2, motion_mask: 0x1000 }, { grams: 500, stable: false }, w(500, false)],
    [{ decimals: 3, status_register: 5, stable_mask: 0x0001 }, { grams: 500, stable: true }, w(500, true)],
    [{}, { grams: 12_345, stable: true }, w(12_000)], // kg without decimals: shown to the kilogram
  ] as const)("%j: %j round-trips through the decoder", (o, sample, expected) => {
    const options = opts(o);
    expect(decodeModbusRtu(encodeModbusRtu(sample, options), options)).toEqual(expected);
  });

  it("refuses a weight the value type cannot hold", () => {
    expect(() => encodeModbusRtu({ grams: 40_000, stable: true }, opts({ value_type: "int16", unit: "g" }))).toThrow(RangeError);
    expect(() => encodeModbusRtu({ grams: -1, stable: true }, opts({ value_type: "uint16", unit: "g" }))).toThrow(RangeError);
  });
});

describe("the framer", () => {
  const o = opts({ decimals: 3 });
  const request = modbusRtuRequest(o);
  const answer = (grams: number) => encodeModbusRtu({ grams, stable: true }, o);

  it("consumes the echoed request without a result, and counts it", () => {
    const framer = createModbusRtuFramer(o);
    expect(framer.push(concat(request, request, request))).toEqual([]);
    expect(framer.echoes).toBe(3);
    expect(framer.bufferedBytes).toBe(0);
    expect(framer.push(concat(request, answer(1_000)))).toEqual([w(1_000)]);
    expect(framer.echoes).toBe(4);
  });

  it("finds the answer after a broken echo or a broken answer, however the stream is split", () => {
    const bytes = concat(request.subarray(0, 5), answer(1_000), request, answer(2_000).subarray(0, 6), answer(3_000));
    const expected = normalize([
      { kind: "discarded", bytes: request.subarray(0, 5), reason: NOT_A_RESPONSE },
      w(1_000),
      { kind: "discarded", bytes: answer(2_000).subarray(0, 6), reason: CRC_MISMATCH },
      w(3_000),
    ]);
    for (const { how, frames } of feedEveryWay(() => createModbusRtuFramer(o), bytes)) expect(frames, how).toEqual(expected);
  });

  it("reads an exception response, and another slave's answers, as frames of their own", () => {
    const framer = createModbusRtuFramer(o);
    const exchange = modbusRegisterMap(o).exchange;
    const frames = framer.push(concat(request, encodeModbusRtuException(6, o), readResponse({ ...exchange, slaveId: 5 }, [0, 9]), answer(4_000)));
    expect(frames.map((f) => (f.kind === "discarded" ? f.reason : f))).toEqual([
      "Modbus exception 06 (server device busy)",
      "response from slave 5, not from slave_id 1",
      w(4_000),
    ]);
  });

  it("finds every answer in noise with the request echoed before each, however the stream is cut (property)", () => {
    const noise = fc.array(fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x01, 0x03, 0x04, 0x83, 0x00)), { maxLength: 40 }).map((xs) => Uint8Array.from(xs));
    const grams = fc.integer({ min: -2_000_000, max: 2_000_000 });
    fc.assert(
      fc.property(fc.array(fc.tuple(noise, fc.boolean(), grams), { minLength: 1, maxLength: 10 }), fc.array(fc.nat(), { maxLength: 6 }), (items, rawCuts) => {
        const stream = concat(...items.flatMap(([junk, echo, g]) => [junk, echo ? request : new Uint8Array(0), answer(g)]));
        const cuts = [...new Set(rawCuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const framer = createModbusRtuFramer(o);
        const found: ScaleFrame[] = [];
        let from = 0;
        for (const cut of [...cuts, stream.length]) {
          found.push(...framer.push(stream.subarray(from, cut)));
          from = cut;
          expect(framer.bufferedBytes).toBeLessThanOrEqual(MAX_JUNK_BYTES + 9);
        }
        // Noise may hold a frame of its own only with a matching CRC; every answer is found, in order.
        let at = 0;
        const weights = found.filter((f) => f.kind === "weight");
        for (const f of weights) if (at < items.length && f.grams === items[at]?.[2]) at++;
        expect(at).toBe(items.length);
      }),
    );
  });

  it("holds junk up to its bound, then discards it in one piece", () => {
    const framer = new ModbusRtuFramer(modbusRegisterMap(o).exchange, (frame) => frame.length);
    const out = framer.push(new Uint8Array(MAX_JUNK_BYTES + 3).fill(0xff));
    expect(out).toEqual([{ kind: "discarded", bytes: new Uint8Array(MAX_JUNK_BYTES).fill(0xff), reason: NOT_A_RESPONSE }]);
    expect(framer.bufferedBytes).toBe(3);
  });

  it("waits for the rest of a frame that starts at the end of a chunk", () => {
    const framer = createModbusRtuFramer(o);
    expect(framer.push(answer(5_000).subarray(0, 8))).toEqual([]);
    expect(framer.bufferedBytes).toBe(8);
    expect(framer.push(answer(5_000).subarray(8))).toEqual([w(5_000)]);
  });
});

describe("options", () => {
  const issues = (o: Record<string, unknown>) => modbusOptionIssues(opts(o)).map((i) => `${i.path.join(".")}: ${i.message}`);

  it("accepts options that agree", () => {
    expect(issues({})).toEqual([]);
    expect(issues({ value_type: "float32", word_order: "little", status_register: 2, stable_mask: 1 })).toEqual([]);
    expect(issues({ register: 123, status_register: 0, overload_mask: 4, underload_mask: 8 })).toEqual([]); // 125 registers
  });

  it.each([
    [{ value_type: "int16", word_order: "big" }, "word_order: expected no word_order with value_type int16 (one register has no word order), found big"],
    [{ value_type: "float32", decimals: 2 }, "decimals: expected no decimals with value_type float32 (a float carries its own decimal point), found 2"],
    [{ net_mask: 8 }, "net_mask: expected status_register with net_mask (a mask selects bits of the status register), found none"],
    [{ status_register: 4 }, "status_register: expected at least one of stable_mask, motion_mask, overload_mask, underload_mask, net_mask with status_register, found none"],
    [{ register: 4, status_register: 5, stable_mask: 1 }, "status_register: expected a status register outside the weight's registers 4..5, found 5"],
    [{ status_register: 4, stable_mask: 1, motion_mask: 2 }, "motion_mask: expected stable_mask or motion_mask, not both (each alone says whether the weight is stable)"],
    [{ status_register: 4, overload_mask: 0x0c, underload_mask: 0x04 }, "underload_mask: expected underload_mask to share no bit with overload_mask (0x000C), found 0x0004"],
    [{ register: 0, status_register: 200, stable_mask: 1 }, "status_register: expected the weight and status registers within 125 registers of each other (one request reads both), found 201"],
    [{ register: 65535 }, "register: expected the weight's 2 registers to end at 65535 at most, found register 65535"],
  ])("%j contradicts itself", (o, message) => {
    expect(issues(o)).toEqual([message]);
  });

  it("are the registry entry's: port needs from the options, issues only for options each valid", () => {
    const module = findProtocol("scale", "modbus-rtu");
    expect(module.port).toEqual({
      serial: { baudRate: 9600, dataBits: 8, parity: "none", stopBits: 1 },
      poll: { everyMs: 200, request: hex("01 03 00 00 00 02 C4 0B") },
    });
    const codec = module.configure({ parity: "even", stop_bits: 2, poll_ms: 500, slave_id: 3 });
    expect(codec.port.serial).toEqual({ baudRate: 9600, dataBits: 8, parity: "even", stopBits: 2 });
    expect(codec.port.poll?.everyMs).toBe(500);
    expect(codec.port.poll?.request[0]).toBe(3);
    expect(codec.commands).toBeUndefined();
    expect(module.optionIssues({ id: "s", port: "p", protocol: "modbus-rtu", value_type: "int16", word_order: "big" })).toHaveLength(1);
    // An option that is invalid on its own is the schema's to report.
    expect(module.optionIssues({ value_type: "int16", word_order: "big", slave_id: 0 })).toEqual([]);
    expect(() => module.configure({ slave_id: 248 })).toThrow();
    expect(() => module.configure({ function: 6 })).toThrow();
  });
});
