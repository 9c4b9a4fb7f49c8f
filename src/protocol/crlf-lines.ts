/**
 * The line layout most text indicators share: lines ended by CR, LF or CR LF, no start byte, the
 * terminator not part of the line (yaohua-a12, ohaus, cas-22). A thin preset of line-framer.ts.
 */
import { CR, LF } from "./bytes.js";
import { LineFramer } from "./line-framer.js";
import type { BufferedFramer, Discarded } from "./types.js";

/**
 * A framer for CR / LF / CR LF terminated lines, each decoded with `decode` (a view valid only
 * during the call; see `LineLayout.decode`).
 *
 * @param maxLineBytes the longest line kept, terminator excluded; longer lines are discarded in pieces
 * @param opts.firstLineMayBePartial discard the bytes before the first line end (`LineLayout`)
 */
export function crLfLineFramer<T>(
  maxLineBytes: number,
  decode: (line: Uint8Array) => T,
  opts: { firstLineMayBePartial?: boolean } = {},
): BufferedFramer<T | Discarded> {
  return new LineFramer<T>({
    maxLineBytes,
    isTerminator: (b) => b === CR || b === LF,
    keepsTerminator: () => false,
    startByte: undefined,
    firstLineMayBePartial: opts.firstLineMayBePartial === true,
    decode,
  });
}
