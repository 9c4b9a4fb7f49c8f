/**
 * The options of modbus-rtu (the transmitter's register map, from the config) and what follows from
 * them: the block of registers one request reads, and the contradictions between options that are
 * config errors. Sources: see modbus-rtu.ts; the limits (slave 1..247, at most 125 registers per
 * read) are the Modbus specifications' (../modbus/rtu.ts).
 */
import { z } from "zod";
import { MAX_READ_REGISTERS, MAX_SLAVE_ID, readRequest, type ReadExchange } from "../modbus/rtu.js";
import { weightUnitOption } from "./unit-option.js";

/** `poll_ms`: default, and the bounds of the config schema. */
export const MODBUS_POLL_MS = { default: 200, min: 50, max: 10_000 } as const;

/** The value types a weight register (pair) may hold. */
export const MODBUS_VALUE_TYPES = ["int16", "uint16", "int32", "uint32", "float32"] as const;
/** One of {@link MODBUS_VALUE_TYPES}. */
export type ModbusValueType = (typeof MODBUS_VALUE_TYPES)[number];

const register = () => z.int().min(0).max(0xffff);
const mask = (flag: string, example: number) =>
  z
    .int()
    .min(1)
    .max(0xffff)
    .optional()
    .describe(`Bits of the status register that ${flag} (any of them set counts; YAML takes 0x… hex). Needs status_register.`)
    .meta({ examples: [example] });

export const modbusRtuOptions = z.object({
  slave_id: z
    .int()
    .min(1)
    .max(MAX_SLAVE_ID)
    .default(1)
    .describe("Modbus slave address of the transmitter, 1 to 247 (set on the device; many ship as 1)."),
  function: z
    .literal([3, 4])
    .default(3)
    .describe("Read function: 3 reads holding registers (the 4xxxx registers of most manuals), 4 input registers (3xxxx)."),
  register: register()
    .default(0)
    .describe(
      "Protocol address (0-based) of the register holding the weight, or of the first of its two registers. " +
        "Manuals that number holding registers from 40001 mean address 0 by 40001.",
    ),
  value_type: z
    .enum(MODBUS_VALUE_TYPES)
    .default("int32")
    .describe(
      "What the weight register holds: int16 or uint16 (one register), int32, uint32 or float32 (two registers). " +
        "Integers count steps of 10^-decimals unit; float32 is the weight in unit.",
    ),
  word_order: z
    .enum(["big", "little"])
    .optional()
    .describe(
      "32-bit types only. big: the high word is in the first register (most transmitters, and the " +
        "default); little: the low word first (word-swapped devices). Bytes within a register are always high first.",
    )
    .meta({ examples: ["big"] }),
  decimals: z
    .int()
    .min(0)
    .max(6)
    .optional()
    .describe(
      "Integer types only. Digits after the decimal point: the register's integer is the weight in unit " +
        "times 10^decimals (e.g. 12345 with decimals 3 and unit kg is 12.345 kg). Default 0.",
    )
    .meta({ examples: [3] }),
  unit: weightUnitOption("Unit of the weight register (the registers carry none)."),
  status_register: register()
    .optional()
    .describe(
      "Protocol address of a status register read with the weight in the same request (so the registers " +
        "between them must be readable; at most 125 in all). Its bits are interpreted by the *_mask options.",
    )
    .meta({ examples: [4] }),
  stable_mask: mask("are set while the weight is stable", 0x0001),
  motion_mask: mask("are set while the weight moves (unstable), e.g. 0x1000 for bit 12", 0x1000),
  overload_mask: mask("are set on overload (over capacity): no valid weight", 0x0400),
  underload_mask: mask("are set on underload (under zero): no valid weight", 0x0200),
  net_mask: mask("are set while the weight read is a net weight (a tare is set)", 0x0800),
  poll_ms: z
    .int()
    .min(MODBUS_POLL_MS.min)
    .max(MODBUS_POLL_MS.max)
    .default(MODBUS_POLL_MS.default)
    .describe(
      "Milliseconds between two read requests while the port is open; the answer must come within it. A " +
        "transmitter that does not answer is silent, and offline after silence_timeout_s.",
    ),
  parity: z
    .enum(["none", "even", "odd"])
    .default("none")
    .describe("Parity of the line (8 data bits): none (most transmitters' setting), even (the Modbus standard's default) or odd."),
  stop_bits: z
    .union([z.literal(1), z.literal(2)])
    .default(1)
    .describe("Stop bits: 1, or 2 (the Modbus standard's setting without parity, on some devices)."),
});

/** The modbus-rtu options, defaults filled in. */
export type ModbusRtuOptions = z.output<typeof modbusRtuOptions>;

/** Where the weight and the status sit in the block one request reads. */
export interface RegisterMap {
  readonly exchange: ReadExchange;
  /** Index of the weight's first register in the block. */
  readonly value: number;
  /** Index of the status register in the block, if configured. */
  readonly status?: number;
}

/** Registers of a value type. */
export function registersOf(type: ModbusValueType): 1 | 2 {
  return type === "int16" || type === "uint16" ? 1 : 2;
}

/**
 * The block one request reads: from the lower of the weight's and the status register's addresses
 * to the end of the higher.
 *
 * @throws RangeError when the block does not fit one request (more than 125 registers, past 65535)
 */
export function modbusRegisterMap(o: ModbusRtuOptions): RegisterMap {
  const width = registersOf(o.value_type);
  const start = o.status_register === undefined ? o.register : Math.min(o.register, o.status_register);
  const end = Math.max(o.register + width, (o.status_register ?? 0) + 1);
  const exchange: ReadExchange = { slaveId: o.slave_id, fn: o.function, start, count: end - start };
  readRequest(exchange); // checks the ranges
  return { exchange, value: o.register - start, ...(o.status_register !== undefined ? { status: o.status_register - start } : {}) };
}

/**
 * Problems between the options (an option that contradicts another, or the block): empty when
 * they agree. Each is the option's key and the complete message.
 */
export function modbusOptionIssues(o: ModbusRtuOptions): { path: string[]; message: string }[] {
  const issues: { path: string[]; message: string }[] = [];
  const width = registersOf(o.value_type);
  if (o.word_order !== undefined && width === 1) {
    issues.push({ path: ["word_order"], message: `expected no word_order with value_type ${o.value_type} (one register has no word order), found ${o.word_order}` });
  }
  if (o.decimals !== undefined && o.value_type === "float32") {
    issues.push({ path: ["decimals"], message: `expected no decimals with value_type float32 (a float carries its own decimal point), found ${o.decimals}` });
  }
  const masks = (["stable_mask", "motion_mask", "overload_mask", "underload_mask", "net_mask"] as const).filter((k) => o[k] !== undefined);
  if (o.status_register === undefined) {
    for (const k of masks) issues.push({ path: [k], message: `expected status_register with ${k} (a mask selects bits of the status register), found none` });
  } else {
    if (masks.length === 0) {
      issues.push({ path: ["status_register"], message: "expected at least one of stable_mask, motion_mask, overload_mask, underload_mask, net_mask with status_register, found none" });
    }
    if (o.status_register >= o.register && o.status_register < o.register + width) {
      issues.push({ path: ["status_register"], message: `expected a status register outside the weight's registers ${o.register}..${o.register + width - 1}, found ${o.status_register}` });
    }
  }
  if (o.stable_mask !== undefined && o.motion_mask !== undefined) {
    issues.push({ path: ["motion_mask"], message: "expected stable_mask or motion_mask, not both (each alone says whether the weight is stable)" });
  }
  if (o.overload_mask !== undefined && o.underload_mask !== undefined && (o.overload_mask & o.underload_mask) !== 0) {
    issues.push({ path: ["underload_mask"], message: `expected underload_mask to share no bit with overload_mask (0x${hex4(o.overload_mask)}), found 0x${hex4(o.underload_mask)}` });
  }
  const start = o.status_register === undefined ? o.register : Math.min(o.register, o.status_register);
  const end = Math.max(o.register + width, (o.status_register ?? 0) + 1);
  if (o.register + width > 0x10000) {
    issues.push({ path: ["register"], message: `expected the weight's ${width} registers to end at 65535 at most, found register ${o.register}` });
  } else if (end - start > MAX_READ_REGISTERS) {
    issues.push({ path: ["status_register"], message: `expected the weight and status registers within ${MAX_READ_REGISTERS} registers of each other (one request reads both), found ${end - start}` });
  }
  return issues;
}

function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, "0");
}
