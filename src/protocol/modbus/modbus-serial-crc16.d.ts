/**
 * Types for the one file of modbus-serial (yaacov/node-modbus-serial, pinned in package.json) that
 * the protocol layer uses: `utils/crc16.js`, a pure function with no imports. The package's own
 * types (index.d.ts) cover only its client and servers, whose entry point loads serialport.
 */
declare module "modbus-serial/utils/crc16.js" {
  /**
   * CRC-16/MODBUS of `buffer` (initial value 0xFFFF, reflected polynomial 0xA001). It only reads
   * `length` and indexed bytes, so any Uint8Array (or view) does.
   *
   * @returns the CRC as a 16-bit number; on the line it is sent low byte first
   */
  function crc16(buffer: ArrayLike<number>): number;
  export = crc16;
}
