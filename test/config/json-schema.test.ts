import { describe, expect, it } from "vitest";
import { CONFIG_SCHEMA_ID, configJsonSchema } from "../../src/config/json-schema.js";

type JsonObject = Record<string, unknown>;
const schema = configJsonSchema();
const properties = schema.properties as Record<string, JsonObject>;
const props = (s: JsonObject | undefined) => s?.properties as Record<string, JsonObject>;
/** The branches of a list whose items are one object per protocol (`oneOf`). */
const branches = (list: JsonObject | undefined) => ((list?.items as JsonObject).oneOf ?? []) as JsonObject[];

describe("configJsonSchema", () => {
  it("is a draft 2020-12 schema with an id and a title", () => {
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(schema.$id).toBe(CONFIG_SCHEMA_ID);
    expect(schema.title).toEqual(expect.any(String));
    expect(schema.type).toBe("object");
    expect(schema.additionalProperties).toBe(false);
  });

  it("mentions every top-level key, and requires only station and mqtt", () => {
    expect(Object.keys(properties)).toEqual([
      "station",
      "storage",
      "mqtt",
      "telemetry",
      "scales",
      "readers",
      "level_sensors",
      "bins",
      "points",
      "session",
      "gpio",
      "cards",
      "log",
    ]);
    expect(schema.required).toEqual(["station", "mqtt"]);
  });

  it("requires the required keys of nested objects and lists", () => {
    expect(properties.station?.required).toEqual(["id"]);
    expect(properties.mqtt?.required).toEqual(["url"]);
    for (const list of [properties.scales, properties.readers]) {
      for (const branch of branches(list)) {
        // A serial device names its port, or usb instead (exactly one: a check between keys; for
        // editors, one of them is required); a reader on GPIO lines (wiegand) names its two lines.
        const wiegand = (branch.properties as { protocol?: { const?: string } }).protocol?.const === "wiegand";
        expect(branch.required).toEqual(wiegand ? ["id", "d0_line", "d1_line", "protocol"] : ["id", "protocol"]);
        if (!wiegand) expect(branch.anyOf).toEqual([{ required: ["port"] }, { required: ["usb"] }]);
        else expect(branch.anyOf).toBeUndefined();
      }
    }
    expect((properties.bins?.items as JsonObject).required).toEqual(["id", "category", "scale"]);
    const rule = props(properties.points)?.categories?.additionalProperties as JsonObject;
    // points_per_kg or points_per_deposit: one of them (a check between keys, not a JSON Schema "required").
    expect(rule.required).toBeUndefined();
    expect(Object.keys(rule.properties as object)).toEqual(["points_per_kg", "points_per_deposit", "min_net_g"]);
  });

  it("carries defaults, enums, patterns and descriptions", () => {
    expect(props(properties.storage)?.path?.default).toBe("/var/lib/smartbin/smartbin.db");
    expect(props(properties.mqtt)?.protocol_version).toMatchObject({ default: 5, enum: [5, 4] });
    expect(props(properties.station)?.id?.pattern).toBe("^[a-z0-9][a-z0-9_-]{0,63}$");
    const scale = props(branches(properties.scales)[0]);
    expect(scale?.baud_rate).toMatchObject({ type: "integer", default: 9600 });
    expect(properties.scales?.default).toEqual([]);
    for (const [key, value] of Object.entries(properties)) {
      expect(value.description, key).toEqual(expect.any(String));
    }
  });

  it("has one branch per protocol of the registry, each with its own options and defaults", () => {
    const constOf = (b: JsonObject) => props(b)?.protocol?.const;
    expect(branches(properties.scales).map(constOf)).toEqual([
      "yaohua-a9",
      "ascii-st-gs",
      "yaohua-a12",
      "toledo-continuous",
      "mt-sics",
      "ohaus",
      "cas-22",
      "modbus-rtu",
    ]);
    expect(props(branches(properties.scales)[4])?.poll_ms).toMatchObject({ type: "integer", minimum: 50, maximum: 10_000, default: 200 });
    for (const key of ["dtr", "rts", "hupcl"]) {
      expect(props(branches(properties.scales)[0])?.[key], key).toMatchObject({ type: "boolean" });
      expect(props(branches(properties.scales)[0])?.[key], key).not.toHaveProperty("default");
      expect(props(branches(properties.readers)[1])?.[key], key).toMatchObject({ type: "boolean" });
    }
    const toledo = props(branches(properties.scales)[3]);
    expect(toledo?.checksum).toMatchObject({ type: "boolean", default: true });
    expect(toledo?.character_format).toMatchObject({ enum: ["7E1", "8N1"], default: "7E1" });
    expect(toledo?.unit).toBeUndefined();
    expect(props(branches(properties.scales)[6])?.device_id).toMatchObject({ type: "integer", minimum: 1, maximum: 78 });
    expect(branches(properties.readers).map(constOf)).toEqual(["em4100-ascii", "ascii-line", "iso14443-text", "wiegand"]);
    const [em4100, asciiLine] = branches(properties.readers).map(props);
    expect(em4100?.card_id_format).toMatchObject({ enum: ["dec10", "hex10", "wiegand26", "w26", "hex"], default: "dec10" });
    expect(em4100?.pattern).toBeUndefined();
    expect(asciiLine?.pattern).toMatchObject({ type: "string" });
    expect(asciiLine?.card_id_format).toBeUndefined();
    expect(em4100?.min_reads).toMatchObject({ type: "integer", default: 2 });
    expect(asciiLine?.min_reads).toMatchObject({ type: "integer", default: 1 });
    for (const branch of [...branches(properties.scales), ...branches(properties.readers)]) {
      expect(branch.additionalProperties).toBe(false);
      expect(branch.description).toEqual(expect.any(String));
    }
  });

  it("accepts points_per_kg as a number or a decimal string", () => {
    const rule = props(props(properties.points)?.categories?.additionalProperties as JsonObject);
    expect(rule?.points_per_kg?.anyOf).toEqual([
      expect.objectContaining({ type: "number", minimum: 0 }),
      expect.objectContaining({ type: "string" }),
    ]);
  });

  it("is plain JSON", () => {
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });
});
