import { describe, expect, it } from "vitest";
import { discardHint, guessProtocol, tallyProtocols } from "../../../src/app/monitor/protocol-guess.js";
import { PROTOCOLS } from "../../../src/protocol/index.js";

/** Bytes of `count` frames of `protocol`'s encoder (default options): weights moving by 10 g, stable and not. */
function scaleStream(protocol: string, count = 20): Uint8Array {
  const codec = PROTOCOLS.scale.find((p) => p.name === protocol)!.configure({});
  const parts: number[] = [];
  for (let i = 0; i < count; i++) parts.push(...codec.encode({ grams: 12_340 + (i % 3) * 10, stable: i % 2 === 0 }));
  return Uint8Array.from(parts);
}

/** A fixed pseudo-random byte stream (xorshift32), the same on every run. */
function garbage(length: number, seed = 0x2545f491): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const ascii = (text: string) => new TextEncoder().encode(text);

describe("guessProtocol", () => {
  it.each(PROTOCOLS.scale.map((p) => p.name))("names %s from its own encoder's bytes", (name) => {
    const guess = guessProtocol("scale", scaleStream(name));
    expect(guess).toMatchObject({ kind: "decodes", protocol: name, decoded: expect.any(Number) as number });
    if (guess.kind === "decodes") expect(guess.decoded).toBeGreaterThanOrEqual(19);
  });

  it("names it too when the stream starts and ends mid-frame", () => {
    const bytes = scaleStream("ascii-st-gs");
    expect(guessProtocol("scale", bytes.subarray(7, bytes.length - 5))).toMatchObject({ kind: "decodes", protocol: "ascii-st-gs" });
  });

  it("makes no guess on garbage, for scales and readers, and every protocol discards bytes", () => {
    const bytes = garbage(4_096);
    const scale = guessProtocol("scale", bytes);
    expect(scale.kind).toBe("none");
    expect(scale.tallies.map((t) => t.protocol)).toEqual(PROTOCOLS.scale.map((p) => p.name));
    for (const t of scale.tallies) expect(t.discardedBytes).toBeGreaterThan(0);
    // Bytes with no line ends and no STX: nothing frames as a reader's id either.
    expect(guessProtocol("reader", garbage(512).map((b) => (b === 0x02 || b === 0x0a || b === 0x0d ? 0x41 : b & 0x7f))).kind).toBe("none");
  });

  it("makes no guess on no bytes", () => {
    expect(guessProtocol("scale", new Uint8Array(0)).kind).toBe("none");
  });

  it("names the reader protocols from their encoders", () => {
    for (const p of PROTOCOLS.reader) {
      const codec = p.configure({});
      const tags: Record<string, string> = { "em4100-ascii": "100086F444", "iso14443-text": "04A22B1C", wiegand: "86F444" };
      const frame = codec.encode({ tag: tags[p.name] ?? "QR:123456" });
      const bytes = Uint8Array.from([...frame, ...frame, ...frame]);
      const tally = tallyProtocols("reader", bytes).find((t) => t.protocol === p.name)!;
      expect(tally.decoded).toBe(3);
    }
    const em = PROTOCOLS.reader[0].configure({}).encode({ tag: "100086F444" });
    expect(guessProtocol("reader", Uint8Array.from([...em, ...em]))).toMatchObject({ kind: "decodes", protocol: "em4100-ascii" });
  });

  it("uses the device's options where they fit a protocol, and defaults where they do not", () => {
    // An A9 frame carries no unit: with unit lb its weight is read in pounds; the key is no option of the others.
    const a9 = PROTOCOLS.scale[0].configure({ unit: "lb" }).encode({ grams: 9072, stable: true });
    expect(guessProtocol("scale", Uint8Array.from([...a9, ...a9]), { unit: "lb", id: "scale-1", pattern: 42 })).toMatchObject({ kind: "decodes", protocol: "yaohua-a9", decoded: 2 });
  });
});

describe("discardHint", () => {
  it("an ST,GS stream read as yaohua-a9: names ascii-st-gs", () => {
    const hint = discardHint({ kind: "scale", protocol: "yaohua-a9", baudRate: 9600 }, ascii("ST,GS,+0012.34kg\r\nUS,GS,+0012.36kg\r\nST,GS,+0012.34kg\r\n"));
    expect(hint).toBe("set protocol: ascii-st-gs (it decodes 3 frames of them, yaohua-a9 none)");
  });

  it("garbage: wrong baud rate or protocol, with the configured rate", () => {
    const hint = discardHint({ kind: "scale", protocol: "ascii-st-gs", baudRate: 9600 }, garbage(300));
    expect(hint).toMatch(/^no scale protocol decodes them: wrong baud rate \(now 9600\) or protocol; /);
  });

  it("no hint when the configured protocol decodes the bytes after all", () => {
    expect(discardHint({ kind: "scale", protocol: "ohaus", baudRate: 9600 }, scaleStream("ohaus"))).toBeNull();
  });
});
