/**
 * Modbus RTU on a serial line, as a station that polls one slave reads it: the read request
 * (function 03 or 04), the exception codes, and a framer that finds the slave's answers in the
 * bytes the port delivers. Pure: the CRC comes from modbus-serial (crc.ts); time is not needed.
 *
 * Sources:
 * - "MODBUS Application Protocol Specification V1.1b3" (modbus.org, 2012): 4.2 (addresses and data
 *   items are big-endian: each register is sent high byte first), 6.3 "03 (0x03) Read Holding
 *   Registers" and 6.4 "04 (0x04) Read Input Registers" (request: function, starting address,
 *   quantity of registers 1 to 125 (0x7D); response: function, byte count 2 x N, the registers;
 *   error: function + 0x80, exception code), 7 "MODBUS Exception Responses" (the codes and their
 *   names in {@link EXCEPTION_NAMES});
 * - "MODBUS over Serial Line Specification and Implementation Guide V1.02" (modbus.org, 2006): 2.2
 *   (slave addresses 1 to 247; 0 is broadcast, 248-255 reserved), 2.5.1.1 (an RTU frame is
 *   address, function, data, CRC, at most 256 bytes; frames are delimited by silences of 3.5
 *   characters), 2.5.1.2 (CRC low byte first);
 * - field reports on local echo: RS-485 adapters and two-wire transceivers whose receiver stays on
 *   while they send hand the master its own request back before the answer (pymodbus's
 *   `handle_local_echo` option and its v3.4.0 "Handle partial local echo" change; the epevermodbus
 *   issue #27 thread on a USB RS-485 converter with local echo).
 *
 * Why a framer that checks CRCs instead of timing: the port adapter hands over chunks without the
 * 3.5-character silences (USB adapters and the kernel batch bytes), so frames are found by their
 * shape and CRC, the way Modbus sniffers do: at each position, a response of the expected length or
 * an exception response whose CRC matches is a frame; anything else is junk, skipped one byte at a
 * time, so a real frame after a broken one is still found.
 */
import type { BufferedFramer, Discarded } from "../types.js";
import { CRC_BYTES, crcMatches, withCrc } from "./crc.js";

/** The two read functions a weighing transmitter answers. */
export type ReadFunction = 3 | 4;

/** Highest slave address (Serial Line V1.02, 2.2). */
export const MAX_SLAVE_ID = 247;
/** Most registers one read may ask for (Application Protocol V1.1b3, 6.3 and 6.4). */
export const MAX_READ_REGISTERS = 125;
/** Bytes of a read request: address, function, start (2), quantity (2), CRC (2). */
export const READ_REQUEST_BYTES = 8;
/** Bytes of an exception response: address, function + 0x80, exception code, CRC (2). */
export const EXCEPTION_RESPONSE_BYTES = 5;
/** The bit the slave sets in the function code of an exception response. */
export const EXCEPTION_BIT = 0x80;

/**
 * Exception codes and their names (Application Protocol V1.1b3, section 7). 01 to 03 say the
 * request itself is wrong for this slave (function, register range); 04 and up, that it cannot
 * answer it now.
 */
export const EXCEPTION_NAMES: Readonly<Record<number, string>> = {
  0x01: "illegal function",
  0x02: "illegal data address",
  0x03: "illegal data value",
  0x04: "server device failure",
  0x05: "acknowledge",
  0x06: "server device busy",
  0x08: "memory parity error",
  0x0a: "gateway path unavailable",
  0x0b: "gateway target device failed to respond",
};

/** One read the station repeats: whom it asks, which function, which registers. */
export interface ReadExchange {
  /** Slave address, 1..247. */
  readonly slaveId: number;
  readonly fn: ReadFunction;
  /** First register (protocol address, 0-based), 0..65535. */
  readonly start: number;
  /** Registers read, 1..125. */
  readonly count: number;
}

/**
 * The read request of `exchange`: address, function, start and quantity (big-endian), CRC.
 *
 * @throws RangeError when a field is out of the ranges of {@link ReadExchange}
 */
export function readRequest(exchange: ReadExchange): Uint8Array {
  const { slaveId, fn, start, count } = exchange;
  checkRange("slave id", slaveId, 1, MAX_SLAVE_ID);
  checkRange("start register", start, 0, 0xffff);
  checkRange("register count", count, 1, Math.min(MAX_READ_REGISTERS, 0x10000 - start));
  return withCrc(Uint8Array.of(slaveId, fn, start >> 8, start & 0xff, count >> 8, count & 0xff));
}

/**
 * The normal response to `exchange` carrying `registers` (16-bit values), as the slave sends it.
 *
 * @throws RangeError when there are not `exchange.count` registers, or one is not 0..65535
 */
export function readResponse(exchange: ReadExchange, registers: readonly number[]): Uint8Array {
  if (registers.length !== exchange.count) throw new RangeError(`expected ${exchange.count} registers, got ${registers.length}`);
  const message = new Uint8Array(3 + 2 * registers.length);
  message[0] = exchange.slaveId;
  message[1] = exchange.fn;
  message[2] = 2 * registers.length;
  registers.forEach((value, i) => {
    checkRange("register value", value, 0, 0xffff);
    message[3 + 2 * i] = value >> 8;
    message[4 + 2 * i] = value & 0xff;
  });
  return withCrc(message);
}

/** The exception response to `exchange` with `code` (1..255), as the slave sends it. */
export function exceptionResponse(exchange: ReadExchange, code: number): Uint8Array {
  checkRange("exception code", code, 1, 0xff);
  return withCrc(Uint8Array.of(exchange.slaveId, exchange.fn | EXCEPTION_BIT, code));
}

/** Bytes of the normal response to a read of `count` registers. */
export function readResponseBytes(count: number): number {
  return 3 + 2 * count + CRC_BYTES;
}

function checkRange(what: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${what} must be an integer ${min}..${max}, got ${value}`);
}

/** Reason of junk that begins with a whole candidate frame whose CRC does not match. */
export const CRC_MISMATCH = "CRC mismatch";
/** Reason of junk that begins where no answer to the request can start. */
export const NOT_A_RESPONSE = "not a Modbus RTU response to the request";

/**
 * Junk is held up to this many bytes, then discarded as one value (as the STX framer does), so the
 * discarded values depend on the bytes only, never on how they were cut into chunks.
 */
export const MAX_JUNK_BYTES = 256;

/** What the bytes at one position are. */
type Verdict =
  | { kind: "more" }
  | { kind: "echo" }
  | { kind: "frame"; length: number }
  | { kind: "junk"; reason: string };

const MORE: Verdict = { kind: "more" };
const ECHO: Verdict = { kind: "echo" };
const JUNK_CRC: Verdict = { kind: "junk", reason: CRC_MISMATCH };
const JUNK: Verdict = { kind: "junk", reason: NOT_A_RESPONSE };

/**
 * Finds the answers to one repeated read in a serial byte stream:
 *
 * - a **frame** is a normal response of the expected length (function and byte count as asked) or
 *   an exception response (function + 0x80), from any slave address 1..247, whose CRC matches: it
 *   goes to `decode` (which judges the address and the contents);
 * - the station's own **request echoed** back (two-wire RS-485, adapters with local echo) is
 *   consumed without a result: it is no answer, so it neither counts as a valid frame (a slave that
 *   never answers is still offline by the "no valid frames" rule) nor as garbage; {@link echoes}
 *   counts it;
 * - everything else is **junk**, skipped one byte at a time (a real frame may start inside a broken
 *   one) and discarded in runs: when a frame or echo follows, or at {@link MAX_JUNK_BYTES}. A run's
 *   reason is {@link CRC_MISMATCH} when it starts with a whole candidate frame whose CRC is wrong,
 *   else {@link NOT_A_RESPONSE}.
 *
 * Memory: at most `MAX_JUNK_BYTES` plus the longest frame. Never throws on input. A normal response
 * whose first eight bytes happen to equal the request is taken for an echo (it can happen for one
 * register value only, when the start register's high byte equals the byte count): that one answer
 * is lost, the next poll's is read.
 */
export class ModbusRtuFramer<T> implements BufferedFramer<T | Discarded> {
  private readonly request: Uint8Array;
  private readonly fn: number;
  private readonly byteCount: number;
  private readonly responseBytes: number;
  /** Unread bytes: `buffer[0, held)`. Allocated once; consumed bytes are moved out with copyWithin. */
  private readonly buffer: Uint8Array;
  private held = 0;
  /** Leading bytes of the buffer already judged junk, not yet handed out. */
  private junk = 0;
  private junkReason = NOT_A_RESPONSE;
  private echoCount = 0;

  constructor(
    exchange: ReadExchange,
    private readonly decode: (frame: Uint8Array) => T,
  ) {
    this.request = readRequest(exchange);
    this.fn = exchange.fn;
    this.byteCount = 2 * exchange.count;
    this.responseBytes = readResponseBytes(exchange.count);
    this.buffer = new Uint8Array(MAX_JUNK_BYTES + Math.max(this.responseBytes, READ_REQUEST_BYTES));
  }

  get bufferedBytes(): number {
    return this.held;
  }

  /** Echoes of the request consumed so far. */
  get echoes(): number {
    return this.echoCount;
  }

  push(chunk: Uint8Array): (T | Discarded)[] {
    const out: (T | Discarded)[] = [];
    let from = 0;
    while (from < chunk.length) {
      // The buffer always has room: scan() leaves less than a frame after the junk, and the junk
      // is handed out at MAX_JUNK_BYTES.
      const to = Math.min(chunk.length, from + this.buffer.length - this.held);
      this.buffer.set(chunk.subarray(from, to), this.held);
      this.held += to - from;
      from = to;
      this.scan(out);
    }
    return out;
  }

  private scan(out: (T | Discarded)[]): void {
    for (;;) {
      if (this.junk >= MAX_JUNK_BYTES) this.flushJunk(out);
      if (this.junk >= this.held) return;
      const verdict = this.judge(this.junk);
      switch (verdict.kind) {
        case "more":
          return;
        case "junk":
          if (this.junk === 0) this.junkReason = verdict.reason;
          this.junk++;
          continue;
        case "echo":
          this.flushJunk(out);
          this.echoCount++;
          this.drop(READ_REQUEST_BYTES);
          continue;
        case "frame":
          this.flushJunk(out);
          out.push(this.decode(this.buffer.subarray(0, verdict.length)));
          this.drop(verdict.length);
          continue;
        default:
          return verdict satisfies never;
      }
    }
  }

  /** What the bytes from `at` on are, as far as the bytes held show. */
  private judge(at: number): Verdict {
    const held = this.buffer;
    const avail = this.held - at;
    const request = this.request;
    let same = 0;
    while (same < avail && same < READ_REQUEST_BYTES && held[at + same] === request[same]) same++;
    if (same === READ_REQUEST_BYTES) return ECHO;
    // Every byte so far is the request's: wait until it is an echo or not.
    const maybeEcho = same === avail;
    const address = held[at] ?? 0;
    if (address < 1 || address > MAX_SLAVE_ID) return JUNK;
    if (avail < 2) return MORE;
    const fn = held[at + 1];
    let length: number;
    if (fn === this.fn) {
      if (avail < 3) return MORE;
      if (held[at + 2] !== this.byteCount) return maybeEcho ? MORE : JUNK;
      length = this.responseBytes;
    } else if (fn === (this.fn | EXCEPTION_BIT)) {
      length = EXCEPTION_RESPONSE_BYTES;
    } else {
      return JUNK;
    }
    if (avail < length) return MORE;
    if (crcMatches(held.subarray(at, at + length))) return { kind: "frame", length };
    return maybeEcho ? MORE : JUNK_CRC;
  }

  private flushJunk(out: (T | Discarded)[]): void {
    if (this.junk === 0) return;
    out.push({ kind: "discarded", bytes: this.buffer.slice(0, this.junk), reason: this.junkReason });
    this.drop(this.junk);
    this.junk = 0;
  }

  /** Forgets the first `n` bytes of the buffer. */
  private drop(n: number): void {
    this.buffer.copyWithin(0, n, this.held);
    this.held -= n;
  }
}
