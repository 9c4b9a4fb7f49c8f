import { describe, expect, it } from "vitest";
import { latin1, toHex } from "../../../src/protocol/bytes.js";
import { LINE_TOO_LONG, PARTIAL_BEFORE_START } from "../../../src/protocol/line-framer.js";
import {
  ASCII_LINE_MAX_BYTES,
  compileIdPattern,
  createAsciiLineFramer,
  decodeAsciiLine,
  encodeAsciiLine,
  idPatternProblem,
} from "../../../src/protocol/reader/ascii-line.js";
import type { ReaderFrame } from "../../../src/protocol/types.js";
import { ascii, concat, discardedBytes, flood, hex, normalize } from "../fixtures.js";

const id = (cardId: string): ReaderFrame => ({ kind: "id", cardId });
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("decodeAsciiLine", () => {
  it.each([
    ["0008844356", "0008844356"],
    ["  0008844356 \t", "0008844356"],
    ["\x020008844356\x03", "0008844356"],
    [" \x02 0008844356 \x03", "0008844356"],
    ["\x020008844356", "0008844356"], // STX without ETX (the line end closed it)
    ["QR:abc def", "QR:abc def"],
    ["Müller-42", "Müller-42"],
  ])("%j -> %j", (line, cardId) => {
    expect(decodeAsciiLine(utf8(line))).toEqual(id(cardId));
  });

  it.each([
    ["   ", "empty line"],
    ["\x02\x03", "empty line"],
    ["\x02  \x03", "empty line"],
    ["8844356\x03", "ETX without STX (partial frame)"],
    ["\x02ab\x02cd\x03", "stray STX or ETX"],
    ["ab\x03cd", "stray STX or ETX"],
    ["12\x0034", "control character in line"],
    ["12\x7f34", "control character in line"],
  ])("discards %j (%s)", (line, reason) => {
    const bytes = ascii(line);
    expect(decodeAsciiLine(bytes)).toEqual({ kind: "discarded", bytes, reason });
  });

  it("discards invalid UTF-8", () => {
    const bytes = hex("31 FF 32");
    expect(decodeAsciiLine(bytes)).toEqual({ kind: "discarded", bytes, reason: "invalid UTF-8" });
  });

  it("applies a pattern: no match is discarded, group 1 is the id, no group keeps the line", () => {
    const qr = compileIdPattern("^QR:([0-9]{6,20})$");
    expect(decodeAsciiLine(ascii("QR:12345678"), qr)).toEqual(id("12345678"));
    expect(decodeAsciiLine(ascii("\x02 QR:000123 \x03"), qr)).toEqual(id("000123"));
    expect(decodeAsciiLine(ascii("QR:12ab"), qr)).toEqual({
      kind: "discarded",
      bytes: ascii("QR:12ab"),
      reason: "does not match pattern",
    });
    const digits = compileIdPattern("^[0-9]{10}$");
    expect(decodeAsciiLine(ascii("0008844356"), digits)).toEqual(id("0008844356"));
    // Not anchored unless written so; without a group the id is the whole line, not the match.
    const unanchored = compileIdPattern("[0-9]{10}");
    expect(decodeAsciiLine(ascii("card 0008844356"), unanchored)).toEqual(id("card 0008844356"));
    const optional = compileIdPattern("^(?:ID:([0-9]+)|X)$");
    expect(decodeAsciiLine(ascii("X"), optional)).toEqual({
      kind: "discarded",
      bytes: ascii("X"),
      reason: "pattern captured an empty id",
    });
  });

  it("keeps no state between lines (no lastIndex)", () => {
    const pattern = compileIdPattern("^ID:(\\d+)$");
    for (let i = 0; i < 3; i++) expect(decodeAsciiLine(ascii("ID:42"), pattern)).toEqual(id("42"));
  });

  it("rejects a pattern string that is not a regular expression", () => {
    expect(() => compileIdPattern("([0-9]")).toThrow(SyntaxError);
    expect(() => createAsciiLineFramer({ pattern: "([0-9]" })).toThrow(SyntaxError);
    expect(idPatternProblem("([0-9]")).toEqual({
      expected: "a regular expression",
      reason: 'missing closing ): "([0-9]"',
    });
  });
});

describe("id patterns run in linear time (re2js)", () => {
  // Patterns that take exponential time in a backtracking engine on a line that almost matches.
  const catastrophic = ["^(a+)+$", "^(a|a)*$", "(x+x+)+y"];

  it.each(catastrophic)("accepts %s", (source) => {
    expect(idPatternProblem(source)).toBeUndefined();
    expect(() => createAsciiLineFramer({ pattern: source })).not.toThrow();
  });

  it.each([
    ["^(a+)+$", "a"],
    ["^(a|a)*$", "a"],
    ["(x+x+)+y", "x"],
  ])("matches %s against a 100 kB adversarial line at once (no backtracking)", (source, letter) => {
    // A backtracking engine needs about 2^100000 steps for these; this finishes within the test's
    // timeout only because matching is linear in the line's length.
    const pattern = compileIdPattern(source);
    const adversarial = ascii(`${letter.repeat(100_000)}!`);
    expect(decodeAsciiLine(adversarial, pattern)).toMatchObject({ kind: "discarded", reason: "does not match pattern" });
    expect(decodeAsciiLine(ascii(letter.repeat(100_000) + (source.endsWith("y") ? "y" : "")), pattern)).toMatchObject({
      kind: "id",
    });
  });

  it.each([
    ["^QR:(?=[0-9])([0-9]+)$", 'look-ahead "(?="'],
    ["^(?![0-9])(.+)$", 'negative look-ahead "(?!"'],
    ["(?<=QR:)([0-9]+)", 'look-behind "(?<="'],
    ["(?<!x)([0-9]+)", 'negative look-behind "(?<!"'],
    ["^(a)\\1$", 'back-reference "\\1"'],
    ["^(?<d>[0-9])\\k<d>$", 'back-reference "\\k"'],
  ])("refuses %s, naming the feature", (source, feature) => {
    expect(idPatternProblem(source)).toEqual({
      expected: "a regular expression without look-around or back-references",
      reason: `${feature} cannot be matched in linear time`,
    });
    expect(() => compileIdPattern(source)).toThrow(SyntaxError);
  });
});

describe("encodeAsciiLine", () => {
  it("writes the id, optionally wrapped, with the chosen line end", () => {
    expect(latin1(encodeAsciiLine("0008844356"))).toBe("0008844356\r\n");
    expect(latin1(encodeAsciiLine("0008844356", { stxEtx: true }))).toBe("\x020008844356\x03\r\n");
    expect(latin1(encodeAsciiLine("0008844356", { lineEnd: "\n" }))).toBe("0008844356\n");
    const wrappedCr = encodeAsciiLine("0008844356", { stxEtx: true, lineEnd: "\r" });
    expect(latin1(wrappedCr)).toBe("\x020008844356\x03\r");
    expect(toHex(encodeAsciiLine("é"))).toBe("C3 A9 0D 0A");
  });

  it("refuses ids that could not round-trip", () => {
    expect(() => encodeAsciiLine("")).toThrow(RangeError);
    expect(() => encodeAsciiLine("a\r\nb")).toThrow(RangeError);
    expect(() => encodeAsciiLine("a\x03")).toThrow(RangeError);
  });

  it("round-trips ids through the framer in every encoding", () => {
    // The longest: a wrapped line's STX counts towards ASCII_LINE_MAX_BYTES.
    const longest = "a".repeat(ASCII_LINE_MAX_BYTES - 1);
    const ids = ["0008844356", "QR:123456", "134,62532", "Müller 42", "x", longest];
    for (const stxEtx of [false, true]) {
      for (const lineEnd of ["\r\n", "\r", "\n"] as const) {
        const framer = createAsciiLineFramer();
        const stream = concat(...ids.map((i) => encodeAsciiLine(i, { stxEtx, lineEnd })));
        expect(framer.push(stream)).toEqual(ids.map(id));
        expect(framer.bufferedBytes).toBe(0);
      }
    }
  });
});

describe("ascii-line framer", () => {
  it("never turns a CR LF split across chunks into an extra id", () => {
    const framer = createAsciiLineFramer();
    expect(framer.push(ascii("0008844356\r"))).toEqual([id("0008844356")]);
    expect(framer.push(ascii("\n0006102437\r"))).toEqual([id("0006102437")]);
    expect(framer.push(ascii("\n"))).toEqual([]);
    expect(framer.push(ascii("\r\n\n\r\r\n"))).toEqual([]);
  });

  it("discards a blank line as an empty line, never as an id", () => {
    const framer = createAsciiLineFramer();
    expect(normalize(framer.push(ascii("   \r\n\x02\x03\r\n")))).toEqual([
      { kind: "discarded", bytes: "20 20 20", reason: "empty line" },
      { kind: "discarded", bytes: "02 03", reason: "empty line" },
    ]);
  });

  it("treats ETX as the end of a wrapped frame, with or without a line end", () => {
    const framer = createAsciiLineFramer();
    expect(framer.push(ascii("\x020008844356\x03\x020006102437\x03\r\n\x02QR:1\x03"))).toEqual([
      id("0008844356"),
      id("0006102437"),
      id("QR:1"),
    ]);
  });

  it("discards a partial line before a STX (a port opened mid-frame)", () => {
    const framer = createAsciiLineFramer();
    expect(normalize(framer.push(ascii("4356\x020006102437\x03")))).toEqual([
      { kind: "discarded", bytes: toHex(ascii("4356")), reason: PARTIAL_BEFORE_START },
      id("0006102437"),
    ]);
    // Blank bytes before a STX are only padding.
    expect(framer.push(ascii("  \x020006102437\x03"))).toEqual([id("0006102437")]);
  });

  it("applies the pattern option", () => {
    const framer = createAsciiLineFramer({ pattern: "^QR:([0-9]{6,20})$" });
    expect(normalize(framer.push(ascii("QR:12345678\r\nhello\r\n")))).toEqual([
      id("12345678"),
      { kind: "discarded", bytes: toHex(ascii("hello")), reason: "does not match pattern" },
    ]);
  });

  it("keeps a line of 512 bytes, and discards one of 513 whole: never truncated to an id", () => {
    expect(ASCII_LINE_MAX_BYTES).toBe(512);
    const framer = createAsciiLineFramer();
    const longest = "9".repeat(512);
    expect(framer.push(ascii(`${longest}\r\n`))).toEqual([id(longest)]);
    // With a pattern that its first 512 bytes would match: still no id.
    const guarded = createAsciiLineFramer({ pattern: "^([0-9]+)$" });
    const out = guarded.push(ascii(`${longest}9\r\n`));
    expect(out.map((f) => f.kind)).toEqual(["discarded", "discarded"]);
    expect(out.every((f) => f.kind === "discarded" && f.reason === LINE_TOO_LONG)).toBe(true);
    expect(discardedBytes(out)).toBe(513);
  });

  it("discards an overlong line in bounded pieces without buffering it, then decodes the next", () => {
    const framer = createAsciiLineFramer();
    const long = "7".repeat(1200);
    const out = normalize(framer.push(ascii(`${long}\r\n0008844356\r\n`)));
    expect(out).toEqual([
      { kind: "discarded", bytes: toHex(ascii(long.slice(0, 512))), reason: LINE_TOO_LONG },
      { kind: "discarded", bytes: toHex(ascii(long.slice(512, 1024))), reason: LINE_TOO_LONG },
      { kind: "discarded", bytes: toHex(ascii(long.slice(1024))), reason: LINE_TOO_LONG },
      id("0008844356"),
    ]);
  });

  it("lets a STX end an overlong line", () => {
    const framer = createAsciiLineFramer();
    const long = "7".repeat(600);
    expect(normalize(framer.push(ascii(`${long}\x020008844356\x03`)))).toEqual([
      { kind: "discarded", bytes: toHex(ascii(long.slice(0, 512))), reason: LINE_TOO_LONG },
      { kind: "discarded", bytes: toHex(ascii(long.slice(512))), reason: LINE_TOO_LONG },
      id("0008844356"),
    ]);
  });

  it("keeps memory bounded under 1 MB without a line end", () => {
    const framer = createAsciiLineFramer();
    const chunk = ascii("x".repeat(1000));
    const { expected, odd, maxBuffered } = flood(
      framer,
      () => chunk,
      1000,
      (f) => f.kind === "discarded" && f.reason === LINE_TOO_LONG && f.bytes.length === ASCII_LINE_MAX_BYTES,
    );
    const discarded = discardedBytes(expected);
    expect(odd).toEqual([]);
    expect(maxBuffered).toBeLessThanOrEqual(ASCII_LINE_MAX_BYTES);
    expect(discarded + framer.bufferedBytes).toBe(1_000_000);
    expect(framer.push(ascii("\n0008844356\n"))).toEqual([
      {
        kind: "discarded",
        bytes: ascii("x".repeat(1_000_000 % ASCII_LINE_MAX_BYTES)),
        reason: LINE_TOO_LONG,
      },
      id("0008844356"),
    ]);
    expect(framer.bufferedBytes).toBe(0);
  });
});
