/**
 * The config mapped to the station machine's context (src/app/station-context.ts): the defaults
 * come from the schema (per-protocol ones from the device registry), the unwritten max_net_g from
 * the scale's capacity.
 */
import { afterEach, describe, expect, it } from "vitest";
import { contextFromConfig, stationLocalDay, useStationTimeZone } from "../../src/app/station-context.js";
import { timeZoneSpelling } from "../../src/config/schema.js";
import { localDay } from "../../src/domain/points.js";
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

  it("says per scale whether its protocol takes commands (tare, zero): from the device registry", () => {
    const config = load(
      `${head}scales:\n  - { id: s1, port: /dev/ttyUSB0, protocol: yaohua-a9 }\n  - { id: s2, port: /dev/ttyUSB1, protocol: mt-sics }\n`,
    );
    expect(contextFromConfig(config).scales.map((s) => [s.id, s.takesCommands])).toEqual([
      ["s1", false],
      ["s2", true],
    ]);
  });

  it("says per scale (and level sensor) whether the station polls it (the 'no valid frames' rule then needs no minimum of bytes)", () => {
    const config = load(
      `${head}scales:\n  - { id: s1, port: /dev/ttyUSB0, protocol: yaohua-a9 }\n  - { id: s2, port: /dev/ttyUSB1, protocol: mt-sics }\n` +
        "  - { id: s3, port: /dev/ttyUSB2, protocol: modbus-rtu }\n" +
        "bins:\n  - { id: kitchen, category: food_waste, scale: s1 }\n" +
        "level_sensors:\n  - { id: l1, port: /dev/ttyUSB3, protocol: dyp-a02, bin: kitchen, empty_mm: 1000, full_mm: 200 }\n",
    );
    const context = contextFromConfig(config);
    expect(context.scales.map((s) => [s.id, s.polled])).toEqual([
      ["s1", false],
      ["s2", true],
      ["s3", true],
    ]);
    // The level protocols registered so far all stream.
    expect(context.levelSensors?.map((l) => [l.id, l.polled])).toEqual([["l1", false]]);
  });
});

describe("the daily cap's local day (stationLocalDay, useStationTimeZone)", () => {
  const startingTz = process.env.TZ;
  afterEach(() => {
    if (startingTz === undefined) delete process.env.TZ;
    else process.env.TZ = startingTz;
  });

  /** Instants around local midnights and DST changes, where a wrong offset gives a wrong day. */
  const instants = [
    Date.UTC(2026, 11, 6, 15, 59, 59, 999), // 23:59:59.999 in Shanghai (UTC+8)
    Date.UTC(2026, 11, 6, 16, 0, 0, 0), // 00:00 in Shanghai
    Date.UTC(2026, 2, 8, 4, 59), // New York, 23:59 on the eve of its spring change (EST)
    Date.UTC(2026, 2, 9, 3, 59), // New York, 23:59 after it (EDT)
    Date.UTC(2026, 9, 25, 0, 30), // Berlin, 02:30 on its autumn change day
    Date.UTC(2026, 9, 25, 22, 59), // Berlin, 23:59 the same day (CET)
    Date.UTC(2026, 0, 1, 10, 0), // Kiritimati (UTC+14): already 2 January
    Date.UTC(2026, 5, 30, 18, 29), // Kolkata (UTC+5:30): 23:59
    Date.UTC(2026, 5, 30, 11, 15), // Chatham (UTC+12:45 in winter): 00:00 on 1 July
  ];
  const zones = ["Asia/Shanghai", "America/New_York", "Europe/Berlin", "Pacific/Kiritimati", "Asia/Kolkata", "Pacific/Chatham", "UTC"];

  it("a named zone made the process's own gives the same day as Intl for every instant, and Intl's day while it is not", () => {
    for (const zone of zones) {
      const day = stationLocalDay(zone);
      const byIntl = instants.map((t) => localDay(t, zone));
      delete process.env.TZ;
      expect(instants.map(day), `${zone}, TZ unset`).toEqual(byIntl);
      useStationTimeZone(zone);
      // As written, or ICU's name for the same zone (Node 24 spells Asia/Kolkata Asia/Calcutta).
      expect(process.env.TZ).toBe(timeZoneSpelling(zone));
      expect(instants.map(day), `${zone}, TZ set`).toEqual(byIntl);
    }
  });

  it("a name Intl takes in any case is set in TZ as TZ understands it (TZ=asia/shanghai is UTC to V8)", () => {
    for (const written of ["asia/shanghai", "ASIA/KOLKATA", "asia/calcutta", "pacific/chatham", "utc"]) {
      useStationTimeZone(written);
      expect(process.env.TZ).not.toBe(written);
      // The days the process's local time gives are Intl's days for the zone as written.
      expect(instants.map(stationLocalDay(written)), written).toEqual(instants.map((t) => localDay(t, written)));
    }
    useStationTimeZone("asia/shanghai");
    expect(process.env.TZ).toBe("Asia/Shanghai");
  });

  it("system is the process's local zone: TZ given back as it was at start, whatever a named zone set before", () => {
    useStationTimeZone("Pacific/Kiritimati");
    useStationTimeZone("system");
    expect(process.env.TZ).toBe(startingTz);
    process.env.TZ = "Asia/Kolkata"; // as if the gateway had been started with TZ=Asia/Kolkata
    expect(instants.map(stationLocalDay("system"))).toEqual(instants.map((t) => localDay(t, "Asia/Kolkata")));
  });

  it("the station context carries it: a config's time_zone decides the day the machine counts caps in", () => {
    const ctx = contextFromConfig(load(`station: { id: st-1, time_zone: Asia/Shanghai }\nmqtt:\n  url: mqtt://127.0.0.1:1883\n`));
    expect(ctx.localDay?.(Date.UTC(2026, 11, 6, 16, 0))).toBe("2026-12-07");
    expect(ctx.localDay?.(Date.UTC(2026, 11, 6, 15, 59))).toBe("2026-12-06");
  });
});
