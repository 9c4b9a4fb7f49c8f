/**
 * The checksum both fill-level sensor formats use (shared/protocols/level-sensors.md): the low
 * eight bits of the sum of the bytes before it.
 */

/** `(frame[0] + … + frame[end - 1]) & 0xFF`. */
export function byteSum(frame: Uint8Array, end: number): number {
  let sum = 0;
  for (let i = 0; i < end; i++) sum += frame[i] ?? 0;
  return sum & 0xff;
}
