import { describe, expect, it } from "vitest";
import { PROTOCOLS, type BufferedFramer } from "../../src/protocol/index.js";
import { feedChunks, feedEveryWay, listFixtures, loadFixture, normalize, parseFixture } from "./fixtures.js";

/** The fixture's protocol from the device registry, configured with the fixture's options. */
function framerFor(protocol: string, options: Record<string, unknown>): () => BufferedFramer<object> {
  const module = [...PROTOCOLS.scale, ...PROTOCOLS.reader, ...PROTOCOLS.level].find((p) => p.name === protocol);
  if (module === undefined) throw new Error(`fixture names an unknown protocol: ${protocol}`);
  const codec = module.configure(options);
  return () => codec.createFramer();
}

const names = listFixtures();

describe("fixture files", () => {
  it("cover every example frame of scales.md, readers.md and level-sensors.md", () => {
    expect(names).toEqual(
      expect.arrayContaining([
        "yaohua-a9-plus-20.00.txt",
        "yaohua-a9-minus-1.5.txt",
        "yaohua-a9-plus-4.139.txt",
        "ascii-st-gs-st-gs-12.34kg.txt",
        "ascii-st-gs-us-nt-0.20kg.txt",
        "ascii-st-gs-st-gs-18.0kg.txt",
        "em4100-13005D1DA5.txt",
        "em4100-100086F444-dec10.txt",
        "em4100-100086F444-wiegand26.txt",
        "yaohua-a12-wg-4.139kg.txt",
        "toledo-continuous-12.34kg.txt",
        "ohaus-manual-examples.txt",
        "cas-22-13.5kg.txt",
        "dyp-a02-1953mm.txt",
        "tf-luna-100cm-strength-300.txt",
      ]),
    );
  });

  it("cover every protocol of the registry", () => {
    const covered = new Set(names.map((n) => loadFixture(n).protocol));
    for (const p of [...PROTOCOLS.scale, ...PROTOCOLS.reader, ...PROTOCOLS.level]) expect(covered.has(p.name), p.name).toBe(true);
  });

  it("loader reads headers and hex, and rejects a fixture without a source", () => {
    const text = "# source: here\n#   and there\n# protocol: p\n# expect: 1\n02 03  # c\n\n0a\n";
    const f = parseFixture("x.txt", text);
    expect(f).toMatchObject({ source: "here and there", protocol: "p", options: {}, expect: [1] });
    expect(Array.from(f.bytes)).toEqual([2, 3, 10]);
    expect(() => parseFixture("y.txt", "# protocol: p\n02\n")).toThrow(/source/);
    expect(() => parseFixture("z.txt", "# source: s\n02\n")).toThrow(/protocol/);
    expect(() => parseFixture("w.txt", "# source: s\n# protocol: p\n0x2\n")).toThrow(/hex byte/);
  });
});

describe.each(names)("fixture %s", (name) => {
  const fixture = loadFixture(name);
  const make = framerFor(fixture.protocol, fixture.options);

  it("has a source and expectations", () => {
    expect(fixture.source.length).toBeGreaterThan(10);
    expect(fixture.expect.length).toBeGreaterThan(0);
    expect(fixture.bytes.length).toBeGreaterThan(0);
  });

  it("decodes to the expected frames when fed whole, and leaves nothing buffered", () => {
    const framer = make();
    expect(normalize(framer.push(fixture.bytes))).toEqual(fixture.expect);
    expect(framer.bufferedBytes).toBe(0);
  });

  it("decodes identically split at every byte offset and one byte at a time", () => {
    for (const { how, frames } of feedEveryWay(make, fixture.bytes)) {
      expect(frames, how).toEqual(fixture.expect);
    }
  });

  it("decodes identically when the stream repeats (a framer keeps no state between frames)", () => {
    const framer = make();
    const twice = normalize(feedChunks(framer, fixture.bytes, []).concat(framer.push(fixture.bytes)));
    // A stream that starts mid-frame has a leading discard the second copy may merge differently,
    // so compare only the second half's decoded (non-discarded) frames to the first's.
    const decoded = (xs: unknown[]): unknown[] =>
      xs.filter((x) => (x as { kind: string }).kind !== "discarded");
    expect(decoded(twice)).toEqual([...decoded(fixture.expect), ...decoded(fixture.expect)]);
  });
});
