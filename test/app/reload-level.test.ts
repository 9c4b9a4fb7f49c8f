/** A reload that changes level sensors (issue 10 item 3 with issue 9 item 2): applied at run time, the changed sensor reopened. */
import { describe, expect, it } from "vitest";
import { planReload } from "../../src/app/reload.js";
import { configSchema, type Config } from "../../src/config/schema.js";

const config = (fullMm: number): Config =>
  configSchema.parse({
    station: { id: "st-001" },
    storage: { path: ":memory:" },
    mqtt: { url: "mqtt://127.0.0.1:1883" },
    scales: [{ id: "scale-1", port: "/dev/ttyUSB0", protocol: "yaohua-a9" }],
    bins: [{ id: "kitchen", category: "food_waste", scale: "scale-1" }],
    level_sensors: [{ id: "level-1", port: "/dev/ttyUSB2", protocol: "dyp-a02", bin: "kitchen", full_mm: fullMm }],
  });

describe("planReload with level sensors", () => {
  it("a changed level sensor is reopened, an unchanged config changes nothing", () => {
    expect(planReload(config(250), config(250))).toMatchObject({ ok: true, unchanged: true });
    expect(planReload(config(250), config(300))).toEqual({ ok: true, unchanged: false, reopen: new Set(["level-1"]), cardsChanged: false, mqttChanged: false, changed: ["level_sensors"] });
  });
});
