/**
 * What a reload may change at run time (issue 10 item 3): the plan between the running config and a
 * new one, on real configs parsed by the schema.
 */
import { describe, expect, it } from "vitest";
import { planReload } from "../../src/app/reload.js";
import { removedByReload } from "../../src/app/station.js";
import { configSchema, type Config } from "../../src/config/schema.js";

const base = {
  station: { id: "st-001" },
  storage: { path: ":memory:" },
  mqtt: { url: "mqtt://127.0.0.1:1883" },
  scales: [
    { id: "scale-1", port: "/dev/ttyUSB0", protocol: "yaohua-a9" },
    { id: "scale-2", port: "/dev/ttyUSB1", protocol: "yaohua-a9" },
  ],
  readers: [{ id: "reader-1", port: "/dev/ttyUSB2", protocol: "em4100-ascii" }],
  bins: [
    { id: "kitchen", category: "food_waste", scale: "scale-1" },
    { id: "recycle", category: "recyclable", scale: "scale-2" },
  ],
  points: { rules_version: "1", categories: { food_waste: { points_per_kg: 2 } } },
};

const config = (change: (c: typeof base & Record<string, unknown>) => void = () => undefined): Config => {
  const c = structuredClone(base) as typeof base & Record<string, unknown>;
  change(c);
  return configSchema.parse(c);
};

describe("planReload", () => {
  it("an identical config changes nothing", () => {
    expect(planReload(config(), config())).toEqual({ ok: true, unchanged: true, reopen: new Set(), cardsChanged: false, mqttChanged: false, changed: [] });
  });

  it("points and session timers apply without reopening any device", () => {
    const plan = planReload(
      config(),
      config((c) => {
        c.points.categories.food_waste.points_per_kg = 3;
        c.session = { idle_close_s: 9 };
      }),
    );
    expect(plan).toEqual({ ok: true, unchanged: false, reopen: new Set(), cardsChanged: false, mqttChanged: false, changed: ["points", "session"] });
  });

  it("only the devices whose settings changed, or that were removed, are reopened", () => {
    const plan = planReload(
      config(),
      config((c) => {
        c.scales[1] = { ...c.scales[1]!, baud_rate: 4800 } as (typeof c.scales)[number];
        c.readers = [];
      }),
    );
    expect(plan.ok && [...plan.reopen].sort()).toEqual(["reader-1", "scale-2"]);
  });

  it("changed role lists are applied as the config's lists", () => {
    const plan = planReload(config(), config((c) => (c.cards = { blocked: ["123"] })));
    expect(plan.ok && plan.cardsChanged).toBe(true);
  });

  it("keys that need a restart are refused, each with its reason, and nothing else is applied", () => {
    const plan = planReload(
      config(),
      config((c) => {
        c.station.id = "st-002";
        c.storage = { path: "/tmp/other.db" };
        c.mqtt = { url: "mqtt://10.0.0.1:1883" };
        c.gpio = { backend: "simulated" };
        c.points.categories.food_waste.points_per_kg = 3;
      }),
    );
    expect(plan).toEqual({
      ok: false,
      refused: [
        "station.id changed: needs a restart (it is in every topic and event); nothing was applied",
        "storage changed: needs a restart (the database is open); nothing was applied",
        "gpio changed: needs a restart (its lines are claimed at start); nothing was applied",
      ],
    });
  });

  it("a changed mqtt section is applied (the station reconnects with it, rolled back when the broker cannot be reached)", () => {
    const plan = planReload(config(), config((c) => (c.mqtt = { url: "mqtt://10.0.0.1:1883" })));
    expect(plan).toMatchObject({ ok: true, mqttChanged: true, changed: ["mqtt"] });
    const same = planReload(config(), config((c) => (c.points.categories.food_waste.points_per_kg = 3)));
    expect(same).toMatchObject({ ok: true, mqttChanged: false });
  });

  it("a door added to a bin needs a restart (its lines are claimed at start)", () => {
    const withGpio = (c: typeof base & Record<string, unknown>) => (c.gpio = { backend: "simulated" });
    const plan = planReload(
      config(withGpio),
      config((c) => {
        withGpio(c);
        (c.bins[0] as Record<string, unknown>).door = { lock: { line: 17 }, closed: { line: 27 } };
      }),
    );
    expect(plan.ok).toBe(false);
  });
});

describe("removedByReload", () => {
  it("names the devices, bins and points rules a reload takes away (a file cut short reads as a smaller valid config)", () => {
    expect(removedByReload(config(), config())).toEqual({ devices: [], bins: [], categories: [] });
    const cut = config((c) => {
      c.scales = [c.scales[0]!];
      c.readers = [];
      c.bins = [c.bins[0]!];
      c.points = { rules_version: "1", categories: {} } as typeof c.points;
    });
    expect(removedByReload(config(), cut)).toEqual({ devices: ["scale-2", "reader-1"], bins: ["recycle"], categories: ["food_waste"] });
    // Added ones are not removed ones.
    expect(removedByReload(cut, config())).toEqual({ devices: [], bins: [], categories: [] });
  });
});
