import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { canonicalDecimal } from "../../src/config/decimal.js";
import { crossFieldIssues } from "../../src/config/cross-field.js";
import { configSchema, type Config } from "../../src/config/schema.js";
import { CONTRACT_EXAMPLE, MINIMAL } from "./contract-example.js";

const base = { station: { id: "st-001" }, mqtt: { url: "mqtt://127.0.0.1:1883" } };
/** The defaults of the keys every scale has. */
const SCALE_DEFAULTS = {
  baud_rate: 9600,
  stable_window_ms: 1000,
  stable_tolerance_g: 20,
  stable_min_samples: 3,
  change_threshold_g: 40,
  silence_timeout_s: 5,
};

describe("configSchema", () => {
  const STATION_DEFAULTS = { time_zone: "system", fire_doors: "unlock", clock_sync_marker: "/run/systemd/timesync/synchronized" };
  const SESSION_DEFAULTS = { idle_close_s: 5, first_deposit_timeout_s: 30, max_session_s: 300, recover_timeout_s: 60, door_mode: "select" };
  const GPIO_DEFAULTS = { backend: "none", chip: "auto", simulated_dir: "./gpio", inputs: {} };

  it("validates the contract example and fills in the defaults", () => {
    const config: Config = configSchema.parse(parse(CONTRACT_EXAMPLE));
    expect(config).toEqual({
      station: { id: "st-001", ...STATION_DEFAULTS },
      storage: { path: "/var/lib/smartbin/smartbin.db", retention_days: 7, max_size_mb: 512, min_free_mb: 64 },
      mqtt: {
        url: "mqtt://127.0.0.1:1883",
        topic_prefix: "smartbin",
        protocol_version: 5,
        username: "st-001",
        tls_insecure: false,
        session_expiry_s: 3600,
        reconnect_max_s: 60,
        keepalive_s: 30,
        inflight: 32,
      },
      telemetry: { interval_s: 60 },
      scales: [
        {
          id: "scale-1",
          port: "/dev/ttyUSB0",
          protocol: "yaohua-a9",
          unit: "kg",
          ...SCALE_DEFAULTS,
          capacity_g: 60000,
        },
      ],
      readers: [
        {
          id: "reader-1",
          port: "/dev/ttyUSB1",
          baud_rate: 9600,
          protocol: "em4100-ascii",
          repeat_gap_ms: 500,
          min_reads: 2,
          no_valid_frames_s: 30,
          card_id_format: "dec10",
        },
      ],
      level_sensors: [],
      bins: [{ id: "kitchen", category: "food_waste", scale: "scale-1", max_net_g: 50000 }],
      points: { rules_version: "2026-11", rounding: "floor", categories: { food_waste: { points_per_kg: "2", min_net_g: 0 } } },
      session: SESSION_DEFAULTS,
      gpio: GPIO_DEFAULTS,
      cards: { collectors: [], maintenance: [], blocked: [] },
      log: { level: "info" },
    });
  });

  it("fills every default from the required keys alone; lists default to empty, points stays absent", () => {
    const config = configSchema.parse(parse(MINIMAL));
    expect(config.storage).toEqual({ path: "/var/lib/smartbin/smartbin.db", retention_days: 7, max_size_mb: 512, min_free_mb: 64 });
    expect(config.mqtt.protocol_version).toBe(5);
    expect(config.scales).toEqual([]);
    expect(config.readers).toEqual([]);
    expect(config.bins).toEqual([]);
    expect(config.points).toBeUndefined();
    expect(config.session).toEqual(SESSION_DEFAULTS);
    expect(config.station).toEqual({ id: config.station.id, ...STATION_DEFAULTS });
    expect(config.gpio).toEqual(GPIO_DEFAULTS);
    expect(config.cards).toEqual({ collectors: [], maintenance: [], blocked: [] });
    expect(config.log.level).toBe("info");
  });

  it("fills the defaults of a scale and a reader, the protocol's own ones included", () => {
    const config = configSchema.parse({
      ...base,
      scales: [{ id: "s", port: "/dev/ttyUSB0", protocol: "ascii-st-gs" }],
      readers: [
        { id: "r", port: "/dev/ttyUSB1", protocol: "ascii-line", pattern: "^([0-9]+)$" },
        { id: "c", port: "/dev/ttyUSB2", protocol: "em4100-ascii" },
      ],
    });
    expect(config.scales[0]).toEqual({ id: "s", port: "/dev/ttyUSB0", protocol: "ascii-st-gs", unit: "kg", ...SCALE_DEFAULTS });
    expect(config.readers[0]).toEqual({
      id: "r",
      port: "/dev/ttyUSB1",
      protocol: "ascii-line",
      baud_rate: 9600,
      pattern: "^([0-9]+)$",
      repeat_gap_ms: 500,
      min_reads: 1,
      no_valid_frames_s: 30,
    });
    expect(config.readers[1]).toMatchObject({ card_id_format: "dec10", min_reads: 2 });
    expect(config.readers[1]).not.toHaveProperty("pattern");
  });

  it.each([
    [2, "2"],
    [1.16, "1.16"],
    ["1.16", "1.16"],
    ["2.50", "2.5"],
    ["007", "7"],
    [0, "0"],
    [1e-7, "0.0000001"],
  ])("accepts points_per_kg %j as the exact decimal %s", (input, expected) => {
    const config = configSchema.parse({
      ...base,
      points: { rules_version: "v1", categories: { food_waste: { points_per_kg: input } } },
    });
    expect(config.points?.categories?.food_waste).toEqual({ points_per_kg: expected, min_net_g: 0 });
  });

  it.each([-1, "-1", "1,16", "abc", true, 2_000_000])("rejects points_per_kg %j", (input) => {
    const result = configSchema.safeParse({
      ...base,
      points: { rules_version: "v1", categories: { food_waste: { points_per_kg: input } } },
    });
    expect(result.success).toBe(false);
  });

  it("accepts fractional durations and rejects zero ones", () => {
    expect(configSchema.parse({ ...base, session: { idle_close_s: 0.5 } }).session.idle_close_s).toBe(0.5);
    expect(configSchema.safeParse({ ...base, session: { max_session_s: 0 } }).success).toBe(false);
  });

  it("runs the cross-field checks as part of the schema", () => {
    const result = configSchema.safeParse({
      ...base,
      bins: [{ id: "b", category: "food_waste", scale: "nope" }],
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join("."))).toEqual(["bins.0.scale"]);
  });
});

describe("crossFieldIssues", () => {
  it("reports duplicates, unknown and shared scales, rules_version and TLS pairing", () => {
    const issues = crossFieldIssues({
      mqtt: { url: "mqtt://h", ca_file: "ca.pem", cert_file: "c.pem" },
      scales: [{ id: "a", port: "/dev/a" }, { id: "a", port: "/dev/b" }, { id: "b", port: "/dev/c" }],
      readers: [{ id: "r", port: "/dev/d" }, { id: "r", port: "/dev/e" }],
      bins: [
        { id: "x", scale: "a" },
        { id: "y", scale: "a" },
        { id: "z", scale: "zz" },
      ],
      points: { categories: {} },
    });
    expect(issues.map((i) => i.path.join("."))).toEqual([
      "scales.1.id",
      "readers.1.id",
      "bins.1.scale",
      "bins.2.scale",
      "points.rules_version",
      "mqtt.ca_file",
      "mqtt.cert_file",
      "mqtt.key_file",
    ]);
  });

  it("never throws on malformed data", () => {
    for (const data of [null, 1, "x", [], { scales: 1, bins: [null, 1, "x"], points: [], mqtt: "x" }]) {
      expect(() => crossFieldIssues(data)).not.toThrow();
    }
  });
});

describe("canonicalDecimal", () => {
  it.each([
    ["0", "0"],
    ["0.0", "0"],
    ["10", "10"],
    ["10.010", "10.01"],
    [1.5e21, "1500000000000000000000"],
    [1.25e-8, "0.0000000125"],
  ])("%j -> %s", (input, expected) => {
    expect(canonicalDecimal(input)).toBe(expected);
  });

  it("refuses what is not a non-negative decimal", () => {
    expect(() => canonicalDecimal("-1")).toThrow(RangeError);
    expect(() => canonicalDecimal(Number.NaN)).toThrow(RangeError);
  });
});
