import { describe, expect, it } from "vitest";
import { CR, LF } from "../../src/protocol/bytes.js";
import { LINE_TOO_LONG, LineFramer, PARTIAL_FIRST_LINE, type LineLayout } from "../../src/protocol/line-framer.js";
import { ascii, feedEveryWay, normalize } from "./fixtures.js";

/** A toy line layout: CR/LF lines of up to 8 bytes, decoded to their text. */
const layout = (firstLineMayBePartial?: boolean): LineLayout<{ kind: "line"; text: string }> => ({
  maxLineBytes: 8,
  isTerminator: (b) => b === CR || b === LF,
  keepsTerminator: () => false,
  startByte: undefined,
  ...(firstLineMayBePartial === undefined ? {} : { firstLineMayBePartial }),
  decode: (line) => ({ kind: "line", text: String.fromCharCode(...line) }),
});
const line = (text: string) => ({ kind: "line", text });

describe("LineFramer, firstLineMayBePartial", () => {
  it("discards the bytes before the first line end, then decodes every line", () => {
    const stream = ascii("12.34 kg\r\nab\r\ncd\n");
    for (const { how, frames } of feedEveryWay(() => new LineFramer(layout(true)), stream)) {
      expect(frames, how).toEqual([
        { kind: "discarded", bytes: "31 32 2E 33 34 20 6B 67", reason: PARTIAL_FIRST_LINE },
        line("ab"),
        line("cd"),
      ]);
    }
  });

  it("discards nothing when the stream starts with a line end, and an overlong first line as too long", () => {
    expect(normalize(new LineFramer(layout(true)).push(ascii("\r\nab\r\n")))).toEqual([line("ab")]);
    expect(normalize(new LineFramer(layout(true)).push(ascii("0123456789\nab\n")))).toEqual([
      { kind: "discarded", bytes: "30 31 32 33 34 35 36 37", reason: LINE_TOO_LONG },
      { kind: "discarded", bytes: "38 39", reason: LINE_TOO_LONG },
      line("ab"),
    ]);
  });

  it("decodes the first line when the layout does not ask otherwise", () => {
    for (const flag of [undefined, false]) {
      expect(new LineFramer(layout(flag)).push(ascii("ab\ncd\n"))).toEqual([line("ab"), line("cd")]);
    }
  });
});

describe("LineFramer, decoding in place", () => {
  it("hands the decoder a line of the chunk or of its buffer, and keeps no alias in its results", () => {
    const seen: Uint8Array[] = [];
    const framer = new LineFramer({ ...layout(), decode: (l) => (seen.push(l), { kind: "line" as const, text: String.fromCharCode(...l) }) });
    const chunk = ascii("ab\ncd");
    expect(framer.push(chunk)).toEqual([line("ab")]);
    expect(seen[0]?.buffer).toBe(chunk.buffer); // decoded where it was, no copy
    expect(framer.push(ascii("ef\n"))).toEqual([line("cdef")]); // across chunks: from the buffer
    expect(framer.bufferedBytes).toBe(0);
  });
});
