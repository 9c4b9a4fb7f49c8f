/**
 * CRC-16/MODBUS, the error check of every Modbus RTU frame, from modbus-serial (its
 * `utils/crc16.js`, a pure function; the package's entry point, which loads serialport, is never
 * imported here). "MODBUS over Serial Line Specification and Implementation Guide V1.02"
 * (modbus.org, 2006), 2.5.1.2 and 6.2.2: the CRC is computed over every byte of the frame before it,
 * and appended low-order byte first.
 */
import crc16 from "modbus-serial/utils/crc16.js";

/** Bytes of the CRC field at the end of every RTU frame. */
export const CRC_BYTES = 2;

/** The CRC-16/MODBUS of `bytes` (a 16-bit number). */
export function modbusCrc(bytes: Uint8Array): number {
  return crc16(bytes);
}

/**
 * True when `frame`'s last two bytes are the CRC of the bytes before them, low byte first. A frame
 * shorter than three bytes has no room for a message and its CRC: false.
 */
export function crcMatches(frame: Uint8Array): boolean {
  const n = frame.length;
  if (n < CRC_BYTES + 1) return false;
  const crc = crc16(frame.subarray(0, n - CRC_BYTES));
  return frame[n - 2] === (crc & 0xff) && frame[n - 1] === crc >> 8;
}

/** `message` followed by its CRC, low byte first: a whole RTU frame (a new array). */
export function withCrc(message: Uint8Array): Uint8Array {
  const frame = new Uint8Array(message.length + CRC_BYTES);
  frame.set(message);
  const crc = crc16(message);
  frame[message.length] = crc & 0xff;
  frame[message.length + 1] = crc >> 8;
  return frame;
}
