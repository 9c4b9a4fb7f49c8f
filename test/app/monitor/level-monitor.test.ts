/**
 * `smartbin monitor` on fill-level sensors (issue 9 items 2 and 5): the distance, the station's
 * median and fill level, the full verdict with its hysteresis, "no reading" frames, and the hint
 * when the bytes decode as another level protocol. Byte streams in, lines out (no terminal).
 */
import { describe, expect, it } from "vitest";
import { DeviceMonitor, type LevelView } from "../../../src/app/monitor/device-monitor.js";
import { changeKey, monitorLine, selectDevices } from "../../../src/app/monitor/monitor-line.js";
import { encodeDypA02, encodeTfLuna } from "../../../src/protocol/index.js";
import { validConfig } from "../../support/config-text.js";

const CONFIG = `station: { id: st-1 }
mqtt: { url: "mqtt://127.0.0.1:1883" }
scales:
  - { id: scale-1, port: /dev/ttyUSB0, protocol: yaohua-a9 }
  - { id: scale-2, port: /dev/ttyUSB1, protocol: yaohua-a9 }
bins:
  - { id: kitchen, category: food_waste, scale: scale-1 }
  - { id: kitchen2, category: food_waste, scale: scale-2 }
level_sensors:
  - { id: level-1, port: /dev/ttyUSB2, protocol: dyp-a02, bin: kitchen, empty_mm: 1200, full_mm: 250 }
  - { id: level-2, port: /dev/ttyUSB3, protocol: tf-luna, bin: kitchen2 }
`;

function monitorOf(id: string): DeviceMonitor {
  const selected = selectDevices(validConfig(CONFIG), [id]);
  if (!selected.ok) throw new Error("unknown device");
  return new DeviceMonitor(selected.devices[0]!);
}

/** Readings every 100 ms from `from` for `count` readings. */
function feed(m: DeviceMonitor, from: number, count: number, frame: Uint8Array): number {
  for (let i = 0; i < count; i++) m.bytes(frame, from + i * 100);
  return from + count * 100;
}

describe("monitor, level sensors", () => {
  it("lists level sensors after the scales and readers, with the station's spec", () => {
    const all = selectDevices(validConfig(CONFIG), []);
    expect(all.ok && all.devices.map((d) => `${d.kind}.${d.item.id}`)).toEqual(["scale.scale-1", "scale.scale-2", "level.level-1", "level.level-2"]);
    expect(all.ok && all.devices[2]!.spec).toMatchObject({ binId: "kitchen", emptyMm: 1200, fullMm: 250 });
  });

  it("shows the distance, then the median and fill level once there are 5 readings, and FULL at full_mm until below 90 %", () => {
    const m = monitorOf("level-1");
    m.portChanged({ state: "open" }, 0);
    let t = feed(m, 0, 4, encodeDypA02(1000));
    expect(monitorLine(m.view(t))).toBe(
      "level-1 dyp-a02@9600: 1000 mm, no median yet (5 readings) (bin kitchen, full at 250 mm), 2.0 frames/s; 4 valid, 0 discarded (0 B)",
    );
    t = feed(m, t, 1, encodeDypA02(1000));
    expect(monitorLine(m.view(t))).toContain("1000 mm, median 1000 mm = 21.1 % full (bin kitchen, full at 250 mm)");
    t = feed(m, t, 40, encodeDypA02(240));
    let v = m.view(t) as LevelView;
    expect(v).toMatchObject({ medianMm: 240, fillPercent: 100, full: true });
    expect(monitorLine(v)).toContain("median 240 mm = 100.0 % full, FULL");
    // 92 % (326 mm): still full; 85 % (392 mm): no longer.
    t = feed(m, t, 40, encodeDypA02(326));
    expect((m.view(t) as LevelView).full).toBe(true);
    t = feed(m, t, 40, encodeDypA02(392));
    v = m.view(t) as LevelView;
    expect(v).toMatchObject({ medianMm: 392, full: false });
  });

  it("says why a frame carries no reading (no echo), and a piped line changes with the fill level's whole percent only", () => {
    const m = monitorOf("level-1");
    m.portChanged({ state: "open" }, 0);
    let t = feed(m, 0, 5, encodeDypA02(1000));
    const key = changeKey(m.view(t));
    t = feed(m, t, 1, encodeDypA02(1001));
    expect(changeKey(m.view(t))).toBe(key);
    t = feed(m, t, 1, encodeDypA02(0));
    expect(monitorLine(m.view(t))).toContain("no reading: no echo (0 mm: nothing in range)");
    expect(changeKey(m.view(t))).not.toBe(key);
  });

  it("a tf-luna configured where a dyp-a02 sends: every frame discarded, and the hint names dyp-a02", () => {
    const m = monitorOf("level-2");
    m.portChanged({ state: "open" }, 0);
    feed(m, 0, 30, encodeDypA02(1953));
    const line = monitorLine(m.view(3000));
    expect(line).toContain("set protocol: dyp-a02");
    // And the other way round, tf-luna frames decode on a tf-luna.
    const ok = monitorOf("level-2");
    ok.portChanged({ state: "open" }, 0);
    feed(ok, 0, 5, encodeTfLuna({ mm: 1000, strength: 300 }));
    expect((ok.view(500) as LevelView).medianMm).toBe(1000);
  });
});
