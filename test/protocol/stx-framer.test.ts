import { describe, expect, it } from "vitest";
import {
  MAX_DISCARD_BYTES,
  NO_START_BYTE,
  StxFramer,
  type StxLayout,
} from "../../src/protocol/stx-framer.js";
import { concat, hex, normalize } from "./fixtures.js";

/** A toy layout: STX, two bytes that must not be 0xEE, ETX; decodes to the two bytes as hex. */
const toy: StxLayout<{ kind: "frame"; body: string }> = {
  maxFrameBytes: 4,
  check(frame, length) {
    const b = frame[length - 1];
    if (length < 4) return b === 0xee ? { kind: "invalid", reason: "EE" } : { kind: "more" };
    return b === 0x03 ? { kind: "complete" } : { kind: "invalid", reason: "no ETX" };
  },
  decode: (frame) => ({
    kind: "frame",
    body: Array.from(frame.subarray(1, 3), (b) => b.toString(16)).join(""),
  }),
};

/** A broken layout that never decides. */
const undecided: StxLayout<never> = {
  maxFrameBytes: 3,
  check: () => ({ kind: "more" }),
  decode: () => undefined as never,
};

describe("StxFramer", () => {
  it("decodes frames and keeps a broken frame's tail with its reason until the next STX", () => {
    const framer = new StxFramer(toy);
    expect(normalize(framer.push(hex("02 11 22 03 02 EE 55 66 02 33 44 03")))).toEqual([
      { kind: "frame", body: "1122" },
      { kind: "discarded", bytes: "02 EE 55 66", reason: "EE" },
      { kind: "frame", body: "3344" },
    ]);
  });

  it("holds junk until a STX or the cap, so the values do not depend on chunking", () => {
    const framer = new StxFramer(toy);
    expect(framer.push(hex("55 55"))).toEqual([]);
    expect(framer.bufferedBytes).toBe(2);
    expect(normalize(framer.push(hex("55 02")))).toEqual([
      { kind: "discarded", bytes: "55 55 55", reason: NO_START_BYTE },
    ]);
    expect(framer.bufferedBytes).toBe(1);
  });

  it("discards junk in pieces of MAX_DISCARD_BYTES, the continuation as no-start-byte", () => {
    const framer = new StxFramer(toy);
    const out = framer.push(concat(hex("02 EE"), new Uint8Array(2 * MAX_DISCARD_BYTES).fill(0x55)));
    const summary = out.map((f) => (f.kind === "discarded" ? [f.reason, f.bytes.length] : [f.kind, 0]));
    expect(summary).toEqual([
      ["EE", MAX_DISCARD_BYTES],
      [NO_START_BYTE, MAX_DISCARD_BYTES],
    ]);
    expect(framer.bufferedBytes).toBe(2);
  });

  it("treats a layout that does not decide by its maximum length as broken framing", () => {
    const framer = new StxFramer(undecided);
    expect(normalize(framer.push(hex("02 01 01 02 01 01")))).toEqual([
      { kind: "discarded", bytes: "02 01 01", reason: "frame too long" },
    ]);
    expect(framer.bufferedBytes).toBe(3);
  });
});
