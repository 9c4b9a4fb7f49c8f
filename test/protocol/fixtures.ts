/**
 * Loader for the byte fixtures in test/protocol/fixtures/ (style.md "Protocol code": fixtures are
 * byte files with a header saying where they came from).
 *
 * Format, one item per line:
 * - `# source: TEXT` where the bytes came from (required), continued by `#   TEXT` lines;
 * - `# protocol: NAME` the name of a protocol of the device registry (required);
 * - `# options: JSON` the protocol's config options, e.g. `{"unit":"lb"}` (default `{}`: their defaults);
 * - `# expect: JSON` one line per expected frame, in order; a discarded frame's `bytes` are written
 *   as hex ("02 2B 30");
 * - other lines: hex bytes separated by spaces, optionally followed by `# comment`.
 */
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { toHex } from "../../src/protocol/bytes.js";

export const FIXTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

export interface Fixture {
  name: string;
  source: string;
  protocol: string;
  options: Record<string, unknown>;
  expect: unknown[];
  bytes: Uint8Array;
}

/** Names of every fixture file. */
export function listFixtures(): string[] {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.endsWith(".txt"))
    .sort();
}

/** Parses one fixture file; throws on anything malformed so a broken fixture fails loudly. */
export function parseFixture(name: string, text: string): Fixture {
  const source: string[] = [];
  let protocol: string | undefined;
  let options: Record<string, unknown> = {};
  const expect: unknown[] = [];
  const bytes: number[] = [];
  text.split("\n").forEach((raw, index) => {
    const where = `${name}:${index + 1}`;
    const line = raw.trim();
    if (line === "") return;
    if (line.startsWith("#")) {
      const header = /^#\s*(source|protocol|options|expect):\s*(.*)$/.exec(line);
      if (header === null) {
        if (source.length > 0) source.push(line.replace(/^#\s*/, ""));
        return;
      }
      const [, key, value = ""] = header;
      if (key === "source") source.push(value);
      else if (key === "protocol") protocol = value;
      else if (key === "options") options = JSON.parse(value) as Record<string, unknown>;
      else expect.push(JSON.parse(value));
      return;
    }
    const data = line.replace(/#.*$/, "").trim();
    for (const token of data.split(/\s+/)) {
      if (!/^[0-9A-Fa-f]{2}$/.test(token)) throw new Error(`${where}: not a hex byte: ${token}`);
      bytes.push(parseInt(token, 16));
    }
  });
  if (source.length === 0) throw new Error(`${name}: no "# source:" header`);
  if (protocol === undefined) throw new Error(`${name}: no "# protocol:" header`);
  return { name, source: source.join(" "), protocol, options, expect, bytes: Uint8Array.from(bytes) };
}

export function loadFixture(name: string): Fixture {
  return parseFixture(name, readFileSync(join(FIXTURE_DIR, name), "utf8"));
}

/** Frames with discarded bytes as hex, so results compare with `toEqual` against fixture JSON. */
export function normalize(frames: readonly object[]): unknown[] {
  return frames.map((f) => {
    if ("bytes" in f && f.bytes instanceof Uint8Array) return { ...f, bytes: toHex(f.bytes) };
    return f;
  });
}

/** Something with the Framer shape. */
export interface Pushable<T> {
  push(chunk: Uint8Array): T[];
}

/** What {@link flood} saw: the frames `expected` accepted, every other frame, the largest buffer. */
export interface Flood<T> {
  expected: T[];
  odd: T[];
  maxBuffered: number;
}

/**
 * Pushes `times` chunks made by `chunk(i)` into `framer` (junk, for the bounded-buffer tests) and
 * sorts the frames: those `isExpected` accepts, and the odd rest; tracks the largest buffer seen.
 */
export function flood<T>(
  framer: Pushable<T> & { readonly bufferedBytes: number },
  chunk: (i: number) => Uint8Array,
  times: number,
  isExpected: (frame: T) => boolean,
): Flood<T> {
  const result: Flood<T> = { expected: [], odd: [], maxBuffered: 0 };
  for (let i = 0; i < times; i++) {
    for (const f of framer.push(chunk(i))) (isExpected(f) ? result.expected : result.odd).push(f);
    result.maxBuffered = Math.max(result.maxBuffered, framer.bufferedBytes);
  }
  return result;
}

/** Total bytes of discarded frames. */
export function discardedBytes(frames: readonly { kind: string; bytes?: Uint8Array }[]): number {
  return frames.reduce((n, f) => n + (f.bytes?.length ?? 0), 0);
}

/** Feeds `bytes` in chunks cut at `cuts` (sorted offsets) and collects every frame. */
export function feedChunks<T>(framer: Pushable<T>, bytes: Uint8Array, cuts: readonly number[]): T[] {
  const out: T[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(...framer.push(bytes.subarray(from, cut)));
    from = cut;
  }
  return out;
}

/**
 * Results of feeding `bytes` to fresh framers: whole, split in two at every offset, and one byte at
 * a time. Every result should equal every other.
 */
export function feedEveryWay<T>(
  make: () => Pushable<T>,
  bytes: Uint8Array,
): { how: string; frames: unknown[] }[] {
  const results = [{ how: "whole", frames: normalize(feedChunks(make(), bytes, []) as object[]) }];
  for (let cut = 0; cut <= bytes.length; cut++) {
    results.push({ how: `split at ${cut}`, frames: normalize(feedChunks(make(), bytes, [cut]) as object[]) });
  }
  const each = Array.from({ length: bytes.length }, (_, i) => i + 1).slice(0, -1);
  results.push({ how: "byte by byte", frames: normalize(feedChunks(make(), bytes, each) as object[]) });
  return results;
}

/** ASCII text as bytes (test input). */
export function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** Concatenation of byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Hex text ("02 2B 30") as bytes. */
export function hex(text: string): Uint8Array {
  return Uint8Array.from(text.trim().split(/\s+/), (t) => parseInt(t, 16));
}
