/**
 * The config mapped to the station machine's context (src/app/station-context.ts): the defaults
 * come from the schema (per-protocol ones from the device registry), the unwritten max_net_g from
 * the scale's capacity.
 */
import { describe, expect, it } from "vitest";
import { contextFromConfig } from "../../src/app/station-context.js";
import { validConfig as load } from "../support/config-text.js";

const head = `station: { id: st-1 }
mqtt:
  url: mqtt://127.0.0.1:1883
`;

describe("contextFromConfig", () => {
  it("gives each reader the min_reads its protocol module defaults to, and the readers' other defaults", () => {
    const config = load(
      `${head}readers:\n  - { id: r1, port: /dev/ttyUSB1, protocol: em4100-ascii }\n` +
        "  - { id: q1, port: /dev/ttyUSB2, protocol: ascii-line }\n" +
        "  - { id: q2, port: /dev/ttyUSB3, protocol: ascii-line, min_reads: 2 }\n",
    );
    expect(contextFromConfig(config).readers).toEqual([
      { id: "r1", repeatGapMs: 500, minReads: 2, noValidFramesMs: 30_000 },
      { id: "q1", repeatGapMs: 500, minReads: 1, noValidFramesMs: 30_000 },
      { id: "q2", repeatGapMs: 500, minReads: 2, noValidFramesMs: 30_000 },
    ]);
  });

  it("an unwritten max_net_g is the lower of 50000 and the scale's capacity_g; a written one stays", () => {
    const maxNet = (scaleExtra: string, binExtra = "") =>
      contextFromConfig(
        load(
          `${head}scales:\n  - { id: s1, port: /dev/ttyUSB0, protocol: yaohua-a9${scaleExtra} }\n` +
            `bins:\n  - { id: kitchen, category: food_waste, scale: s1${binExtra} }\n`,
        ),
      ).bins[0]?.maxNetG;
    expect(maxNet("")).toBe(50_000);
    expect(maxNet(", capacity_g: 30000")).toBe(30_000);
    expect(maxNet(", capacity_g: 60000")).toBe(50_000);
    expect(maxNet(", capacity_g: 60000", ", max_net_g: 55000")).toBe(55_000);
    expect(maxNet("", ", max_net_g: 80000")).toBe(80_000);
  });
});
