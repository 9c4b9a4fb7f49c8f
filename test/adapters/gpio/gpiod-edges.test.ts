/**
 * Wiegand edges from gpiomon's output (issue 9, item 3.3): the tools' timestamped falling-edge
 * output in both libgpiod lines' formats, parsed and fed to the pure Wiegand splitter. The text is
 * written in the formats of the tools' sources (gpiomon.c 1.6: `%s` and `%n` printed with `%ld`;
 * 2.x tools-common.c: `%S` as `SECONDS.NNNNNNNNN`), not captured from hardware: this machine has no
 * GPIO chip.
 */
import { describe, expect, it } from "vitest";
import { gpiomonEdgeArgs, parseEdgeLine, type GpiodToolsInfo } from "../../../src/adapters/gpio/gpiod-tools.js";
import { decodeWiegandBits, splitWiegandFrames, type WiegandEdge } from "../../../src/protocol/reader/wiegand.js";

const V1: GpiodToolsInfo = { major: 1, version: "1.6.3", initialState: false };
const V2: GpiodToolsInfo = { major: 2, version: "2.1.3", initialState: false };
/** readers.md, wiegand: facility 90, card 324. */
const EXAMPLE = "00101101000000001010001000";
const D0 = 24;
const D1 = 25;

/** gpiomon output for EXAMPLE, bits 2 ms apart from `startS` seconds, in the version's format. */
function output(major: 1 | 2, startS: number): string {
  return [...EXAMPLE]
    .map((bit, i) => {
      const ns = i * 2_000_000 + 1234; // a few µs of jitter in the last digits
      const line = bit === "1" ? D1 : D0;
      return major === 1 ? `${line} ${startS} ${ns}` : `${line} ${startS}.${String(ns).padStart(9, "0")}`;
    })
    .join("\n");
}

function edgesOf(text: string): WiegandEdge[] {
  return text.split("\n").flatMap((l) => {
    const p = parseEdgeLine(l);
    return p.kind === "edge" ? [{ line: p.line === D1 ? ("d1" as const) : ("d0" as const), tUs: p.tUs }] : [];
  });
}

describe("gpiomon falling edges with kernel timestamps", () => {
  it("asks each version for falling edges only, with timestamps, on one process", () => {
    expect(gpiomonEdgeArgs(V1, "/dev/gpiochip0", [D0, D1])).toEqual(["-b", "-f", "-F", "%o %s %n", "/dev/gpiochip0", "24", "25"]);
    expect(gpiomonEdgeArgs(V2, "/dev/gpiochip0", [D0, D1])).toEqual(["-c", "/dev/gpiochip0", "-C", "smartbin", "--banner", "-e", "falling", "-F", "%o %S", "24", "25"]);
  });

  it("reads 1.6's unpadded nanoseconds as nanoseconds, not as a decimal fraction", () => {
    expect(parseEdgeLine("24 1234 5678")).toEqual({ kind: "edge", line: 24, tUs: 1234_000_005 });
    expect(parseEdgeLine("25 1234 999999999")).toEqual({ kind: "edge", line: 25, tUs: 1234_999_999 });
  });

  it("reads 2.x's seconds.nanoseconds and its banner", () => {
    expect(parseEdgeLine("24 1234.000005678")).toEqual({ kind: "edge", line: 24, tUs: 1234_000_005 });
    expect(parseEdgeLine("Monitoring lines 24 25...")).toEqual({ kind: "banner" });
    expect(parseEdgeLine("Monitoring line 24...")).toEqual({ kind: "banner" });
    expect(parseEdgeLine("24 falling")).toMatchObject({ kind: "other" });
  });

  it.each([1, 2] as const)("turns libgpiod %i output of a Wiegand-26 frame into facility 90, card 324", (major) => {
    const lines = splitWiegandFrames(edgesOf(output(major, 5000)), 25_000);
    expect(lines).toHaveLength(1);
    expect(decodeWiegandBits(lines[0]!.subarray(0, -1), { format: "facility_card" })).toEqual({ kind: "id", cardId: "90,324" });
  });

  it("splits two frames of the same output at the gap, across a second boundary", () => {
    const text = `${output(1, 7000)}\n${output(1, 7001)}`;
    const lines = splitWiegandFrames(edgesOf(text), 25_000);
    expect(lines.map((l) => decodeWiegandBits(l.subarray(0, -1)))).toEqual([
      { kind: "id", cardId: "090,00324" },
      { kind: "id", cardId: "090,00324" },
    ]);
  });
});
