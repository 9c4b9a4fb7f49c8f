/**
 * modbus-rtu: RS-485 load-cell weighing transmitters (and indicators with a Modbus RTU port) read
 * by polling one block of registers. The register map is per model, so it comes from the config:
 * slave address, function (03 holding / 04 input registers), the weight's register, its type and
 * word order, decimals and unit, and an optional status register with bit masks.
 *
 * How real devices present the weight (the options cover each):
 * - shared/protocols/scales.md, "modbus-rtu": function 03, signed 32-bit values high word first on
 *   most modules (some swap words), decimals and status (negative, unstable, overflow, overload)
 *   from a status register; on two-wire RS-485 the request may echo back ahead of the response;
 * - CAS CI-600D manual, "List of usable registers": gross and net weight as double words, high half
 *   first (40008/40009, 40010/40011), at most 32 registers per query;
 * - Dingsong DS822 manual, appendix 3: weights as 4-byte signed values in register pairs;
 * - Tuna ID551PN manual, 3.5: float display weight in a register pair, and a status register whose
 *   bit 9 is "under zero", bit 10 "over capacity", bit 11 "net", bit 12 "motion" (set while moving);
 * - Fairbanks PR 5410 manual, 4.12.10: 32-bit gross weight MSB first; status bits "the weight is
 *   stable" (set while stable), "above Max", "below zero";
 * - Eagle EI-1000/2000 manuals: weights as float32 register pairs;
 * - Bilanciai DD700 manual, 2.2.22: a "swap float registers" setting (word order) on the device;
 * - ESPHome's modbus_controller value types (S_WORD, U_WORD, S_DWORD, U_DWORD, their `_R` low word
 *   first variants, FP32, FP32_R): the same set as `value_type` × `word_order` here.
 * The Modbus layout itself (request, response, exceptions, CRC, echo) is in ../modbus/rtu.ts.
 *
 * The Modbus parts that are not this product come from modbus-serial (yaacov/node-modbus-serial,
 * pinned): its CRC-16/MODBUS (`utils/crc16.js`). Its client (`ModbusRTU`) is not used: it opens and
 * owns the serial port and runs its own request timeouts, which would bypass the station's serial
 * device (reopen with backoff, offline after silence, "no valid frames", the same for every scale).
 * Here the serial device polls the request (`port.poll`) and the framer reads the answers like any
 * other scale's frames. The tests use modbus-serial's `ServerSerial` as the simulated transmitter,
 * an implementation of the slave side that is not ours.
 *
 * What reaches the station:
 * - a normal response from `slave_id`: `weight` (grams, rounded half away from zero), stable by the
 *   status register's `stable_mask` or `motion_mask` (none: `null`, judged by the window alone),
 *   `net` when `net_mask` is set, else `gross`; `no_weight` overload / underload when the status
 *   register's `overload_mask` / `underload_mask` bits are set ("no valid weight", contract
 *   section 2 "Weights");
 * - an **exception response** from `slave_id`: `discarded`, the reason naming the code and its
 *   meaning (`Modbus exception 02 (illegal data address) ...`). It carries no weight: nothing enters
 *   the stability window, it is counted with the discarded frames and logged (debug, and in
 *   `monitor`), and a transmitter that answers nothing but exceptions for `silence_timeout_s` is
 *   offline with reason `no valid frames` (an alarm), so no session opens on it. Codes 01-03 mean
 *   the request does not fit the transmitter (register map, function): a configuration mistake
 *   that this makes visible. (The frame union has no "no valid weight" reason besides overload and
 *   underload; a transient exception therefore leaves the last window as it was until the next
 *   answer or that verdict.)
 * - a response from another slave address, a response with a wrong CRC or length, a float that is
 *   not a finite number: `discarded`, counted, the reason saying which;
 * - the station's request echoed back: nothing (see ModbusRtuFramer);
 * - no answer at all: nothing arrives, the scale is silent and offline after `silence_timeout_s`,
 *   as a streaming indicator (the serial device's rule; with an echoing adapter, the echoes alone
 *   arrive and the "no valid frames" rule takes it offline instead).
 *
 * There is no per-request response timeout: the request goes out every `poll_ms`, so an answer
 * must come within `poll_ms` (one that comes later collides with the next request on a half-duplex
 * line and is lost as a CRC mismatch, counted). Leave `poll_ms` well above the transmitter's
 * response time (tens of ms at 9600 baud).
 */
import { defineProtocol, type PortNeeds, type ScaleSample } from "../device-protocol.js";
import { type DisplayUnit, displayedToGrams, gramsToDisplayed } from "../grams.js";
import { crcMatches } from "../modbus/crc.js";
import {
  EXCEPTION_BIT,
  EXCEPTION_NAMES,
  EXCEPTION_RESPONSE_BYTES,
  ModbusRtuFramer,
  exceptionResponse,
  readRequest,
  readResponse,
  readResponseBytes,
} from "../modbus/rtu.js";
import type { BufferedFramer, ScaleFrame } from "../types.js";
import {
  type ModbusRtuOptions,
  type ModbusValueType,
  type RegisterMap,
  modbusOptionIssues,
  modbusRegisterMap,
  modbusRtuOptions,
} from "./modbus-rtu-options.js";

export {
  MODBUS_POLL_MS,
  MODBUS_VALUE_TYPES,
  modbusOptionIssues,
  modbusRegisterMap,
  modbusRtuOptions,
  type ModbusRtuOptions,
  type ModbusValueType,
} from "./modbus-rtu-options.js";

/** Largest float32 magnitude read as a weight, in the configured unit (larger: discarded). */
const MAX_FLOAT_WEIGHT = 1e9;

/** Register `i` of a response frame (big-endian, Application Protocol 4.2). */
function registerAt(frame: Uint8Array, i: number): number {
  return ((frame[3 + 2 * i] ?? 0) << 8) | (frame[4 + 2 * i] ?? 0);
}

/** The value's 32 bits as [high word, low word], by the word order. */
function words32(frame: Uint8Array, at: number, order: "big" | "little"): [number, number] {
  const first = registerAt(frame, at);
  const second = registerAt(frame, at + 1);
  return order === "big" ? [first, second] : [second, first];
}

/** A float32 from its high and low words (IEEE 754, big-endian). */
function float32Of(high: number, low: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint16(0, high);
  view.setUint16(2, low);
  return view.getFloat32(0);
}

/** The two words of a float32 (the nearest float32 to `value`). */
function float32Words(value: number): [number, number] {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value);
  return [view.getUint16(0), view.getUint16(2)];
}

/** The values each integer type holds. */
const INTEGER_RANGES: Record<Exclude<ModbusValueType, "float32">, readonly [min: number, max: number]> = {
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x8000_0000, 0x7fff_ffff],
  uint32: [0, 0xffff_ffff],
};

/** Grams per unit, for the encoder's float32 values (the decoder converts exactly, grams.ts). */
const GRAMS_PER: Record<DisplayUnit, number> = { g: 1, kg: 1000, t: 1_000_000, lb: 453.59237, oz: 28.349523125 };

/**
 * Decodes one whole RTU frame (as ModbusRtuFramer delimits it, CRC included) with `options`. See
 * the module comment for what each frame gives. Never throws.
 */
export function decodeModbusRtu(frame: Uint8Array, o: ModbusRtuOptions, map: RegisterMap = modbusRegisterMap(o)): ScaleFrame {
  const discard = (reason: string): ScaleFrame => ({ kind: "discarded", bytes: frame.slice(), reason });
  if (frame.length < EXCEPTION_RESPONSE_BYTES) return discard("too short for a Modbus RTU response");
  if (!crcMatches(frame)) return discard("CRC mismatch");
  const { exchange } = map;
  const slave = frame[0] ?? 0;
  if (slave !== exchange.slaveId) return discard(`response from slave ${slave}, not from slave_id ${exchange.slaveId}`);
  const fn = frame[1] ?? 0;
  if (fn === (exchange.fn | EXCEPTION_BIT) && frame.length === EXCEPTION_RESPONSE_BYTES) {
    const code = frame[2] ?? 0;
    const name = EXCEPTION_NAMES[code] ?? "unknown exception";
    const hint = code >= 1 && code <= 3 ? ": the transmitter refuses the request (check function, register and value_type)" : "";
    return discard(`Modbus exception ${code.toString(16).toUpperCase().padStart(2, "0")} (${name})${hint}`);
  }
  if (fn !== exchange.fn || frame[2] !== 2 * exchange.count || frame.length !== readResponseBytes(exchange.count)) {
    return discard("not the response to the request (function, byte count or length)");
  }
  let mode: "gross" | "net" = "gross";
  let stable: boolean | null = null;
  if (map.status !== undefined) {
    const status = registerAt(frame, map.status);
    if (o.overload_mask !== undefined && (status & o.overload_mask) !== 0) return { kind: "no_weight", reason: "overload" };
    if (o.underload_mask !== undefined && (status & o.underload_mask) !== 0) return { kind: "no_weight", reason: "underload" };
    if (o.stable_mask !== undefined) stable = (status & o.stable_mask) !== 0;
    else if (o.motion_mask !== undefined) stable = (status & o.motion_mask) === 0;
    if (o.net_mask !== undefined && (status & o.net_mask) !== 0) mode = "net";
  }
  const unit: DisplayUnit = o.unit;
  let grams: number;
  switch (o.value_type) {
    case "int16": {
      const w = registerAt(frame, map.value);
      const v = w >= 0x8000 ? w - 0x10000 : w;
      grams = displayedToGrams(v < 0, Math.abs(v), o.decimals ?? 0, unit);
      break;
    }
    case "uint16":
      grams = displayedToGrams(false, registerAt(frame, map.value), o.decimals ?? 0, unit);
      break;
    case "int32":
    case "uint32": {
      const [high, low] = words32(frame, map.value, o.word_order ?? "big");
      const u = high * 0x10000 + low;
      const v = o.value_type === "int32" && u >= 0x8000_0000 ? u - 0x1_0000_0000 : u;
      grams = displayedToGrams(v < 0, Math.abs(v), o.decimals ?? 0, unit);
      break;
    }
    case "float32": {
      const [high, low] = words32(frame, map.value, o.word_order ?? "big");
      const v = float32Of(high, low);
      if (!Number.isFinite(v)) return discard("the weight register holds no finite number (NaN or infinity)");
      if (Math.abs(v) > MAX_FLOAT_WEIGHT) return discard(`the weight register's value ${v} is out of range`);
      // The float's value to 6 decimals (toFixed rounds the exact binary value correctly), then exactly to grams.
      const text = Math.abs(v).toFixed(6);
      grams = displayedToGrams(v < 0, BigInt(text.replace(".", "")), 6, unit);
      break;
    }
    default:
      return o.value_type satisfies never;
  }
  return { kind: "weight", grams, stable, mode };
}

/**
 * The transmitter's answer showing `sample` (simulators and tests): the block's registers with the
 * weight in place (rounded half away from zero to the step of `decimals`) and, when a status
 * register is configured, its stable or motion bits as the sample says (and the net bits clear).
 *
 * @throws RangeError when the weight does not fit the value type
 */
export function encodeModbusRtu(sample: ScaleSample, o: ModbusRtuOptions, map: RegisterMap = modbusRegisterMap(o)): Uint8Array {
  const registers = new Array<number>(map.exchange.count).fill(0);
  const order = o.word_order ?? "big";
  const put32 = (high: number, low: number) => {
    registers[map.value] = order === "big" ? high : low;
    registers[map.value + 1] = order === "big" ? low : high;
  };
  if (o.value_type === "float32") {
    put32(...float32Words(sample.grams / GRAMS_PER[o.unit]));
  } else {
    const { negative, digits } = gramsToDisplayed(sample.grams, o.unit, o.decimals ?? 0);
    const v = Number(negative ? -digits : digits);
    const [min, max] = INTEGER_RANGES[o.value_type];
    if (v < min || v > max) throw new RangeError(`${sample.grams} g is ${v} steps, outside ${o.value_type}`);
    const u = v < 0 ? v + (o.value_type === "int16" ? 0x10000 : 0x1_0000_0000) : v;
    if (o.value_type === "int16" || o.value_type === "uint16") registers[map.value] = u;
    else put32(Math.floor(u / 0x10000), u % 0x10000);
  }
  if (map.status !== undefined) {
    let status = 0;
    if (o.stable_mask !== undefined && sample.stable) status |= o.stable_mask;
    if (o.motion_mask !== undefined && !sample.stable) status |= o.motion_mask;
    registers[map.status] = status;
  }
  return readResponse(map.exchange, registers);
}

/** The exception response a transmitter with these options sends with `code` (tests, simulators). */
export function encodeModbusRtuException(code: number, o: ModbusRtuOptions): Uint8Array {
  return exceptionResponse(modbusRegisterMap(o).exchange, code);
}

/** The read request the station polls with these options. */
export function modbusRtuRequest(o: ModbusRtuOptions): Uint8Array {
  return readRequest(modbusRegisterMap(o).exchange);
}

/** A framer for the answers to these options' request, each decoded with {@link decodeModbusRtu}. */
export function createModbusRtuFramer(o: ModbusRtuOptions): BufferedFramer<ScaleFrame> & { readonly echoes: number } {
  const map = modbusRegisterMap(o);
  return new ModbusRtuFramer<ScaleFrame>(map.exchange, (frame) => decodeModbusRtu(frame, o, map));
}

/** What a transmitter with these options needs from its port: 8 data bits, parity and stop bits as set, the read every `poll_ms`. */
function modbusPort(o: ModbusRtuOptions): PortNeeds {
  return {
    serial: { baudRate: 9600, dataBits: 8, parity: o.parity, stopBits: o.stop_bits },
    poll: { everyMs: o.poll_ms, request: modbusRtuRequest(o) },
  };
}

const DEFAULTS: ModbusRtuOptions = modbusRtuOptions.parse({});

/**
 * The modbus-rtu registry entry (shared/protocols/scales.md, "modbus-rtu"): 9600 8N1 by default
 * (parity and stop bits are options); by default it reads one signed 32-bit weight, high word
 * first, from holding register 0 of slave 1 every 200 ms, in kg without decimals. Its encoder writes
 * the transmitter's answer.
 */
export const modbusRtu = defineProtocol({
  name: "modbus-rtu",
  kind: "scale",
  summary: "Modbus RTU weighing transmitters and indicators on RS-485, polled (register map from the config)",
  source: "shared/protocols/scales.md, modbus-rtu",
  port: modbusPort(DEFAULTS),
  defaults: {},
  options: modbusRtuOptions,
  portFor: (o) => modbusPort(o),
  optionIssues: (o) => modbusOptionIssues(o),
  createFramer: (o) => createModbusRtuFramer(o),
  decode: (frame, o) => decodeModbusRtu(frame, o),
  encode: (sample, o) => encodeModbusRtu(sample, o),
});
