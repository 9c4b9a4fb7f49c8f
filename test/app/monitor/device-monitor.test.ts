import { describe, expect, it } from "vitest";
import { DeviceMonitor, HINT_MIN_BYTES, type ReaderView, type ScaleView } from "../../../src/app/monitor/device-monitor.js";
import { changeKey, fitWidth, monitorLine, selectDevices } from "../../../src/app/monitor/monitor-line.js";
import { encodeEm4100, encodeStGs, encodeYaohuaA9 } from "../../../src/protocol/index.js";
import { validConfig } from "../../support/config-text.js";

const CONFIG = `station: { id: st-1 }
mqtt: { url: "mqtt://127.0.0.1:1883" }
scales:
  - { id: scale-a9, port: /dev/ttyUSB0, protocol: yaohua-a9, unit: kg, stable_window_ms: 500, stable_tolerance_g: 20, capacity_g: 30000 }
  - { id: scale-stgs, port: /dev/ttyUSB1, protocol: ascii-st-gs }
readers:
  - { id: reader-1, port: /dev/ttyUSB2, protocol: em4100-ascii, min_reads: 2, repeat_gap_ms: 200 }
`;

function monitorOf(id: string): DeviceMonitor {
  const selected = selectDevices(validConfig(CONFIG), [id]);
  if (!selected.ok) throw new Error("unknown device");
  return new DeviceMonitor(selected.devices[0]!);
}

const ascii = (text: string) => new TextEncoder().encode(text);
const a9 = (grams: number) => encodeYaohuaA9({ grams, unit: "kg", decimals: 3 });

describe("selectDevices", () => {
  it("all devices in file order, or the named ones; unknown names listed with the known ids", () => {
    const config = validConfig(CONFIG);
    const all = selectDevices(config, []);
    expect(all.ok && all.devices.map((d) => `${d.kind}.${d.item.id}`)).toEqual(["scale.scale-a9", "scale.scale-stgs", "reader.reader-1"]);
    const one = selectDevices(config, ["reader-1"]);
    expect(one.ok && one.devices.map((d) => d.item.id)).toEqual(["reader-1"]);
    expect(selectDevices(config, ["reader-1", "scale-9"])).toEqual({ ok: false, unknown: ["scale-9"], known: ["scale-a9", "scale-stgs", "reader-1"] });
  });

  it("gives each device the station's spec from its config", () => {
    const selected = selectDevices(validConfig(CONFIG), []);
    if (!selected.ok) throw new Error("unexpected");
    expect(selected.devices[0]!.spec).toMatchObject({ capacityG: 30000, stability: { windowMs: 500, toleranceG: 20 } });
    expect(selected.devices[2]!.spec).toMatchObject({ minReads: 2, repeatGapMs: 200 });
  });
});

describe("DeviceMonitor, scale", () => {
  it("opening, then a steady weight becomes stable by the station's window rule, with its frame rate", () => {
    const m = monitorOf("scale-a9");
    expect(monitorLine(m.view(0))).toBe("scale-a9 yaohua-a9@9600: opening the port; 0 valid, 0 discarded (0 B)");
    m.portChanged({ state: "open" }, 0);
    expect(monitorLine(m.view(0))).toContain("port open, no bytes yet");
    m.bytes(a9(12_340), 100);
    let v = m.view(100) as ScaleView;
    expect(v).toMatchObject({ lastG: 12_340, stable: false, condition: "ok" });
    for (let t = 200; t <= 700; t += 100) m.bytes(a9(12_340 + (t % 200 === 0 ? 10 : 0)), t);
    v = m.view(700) as ScaleView;
    expect(v).toMatchObject({ stable: true, condition: "ok", counts: { valid: 7, discarded: 0, framesPerSecond: 3.5 } });
    expect(monitorLine(v)).toBe("scale-a9 yaohua-a9@9600: 12.340 kg = 12340 g, stable, 3.5 frames/s; 7 valid, 0 discarded (0 B)");
    // The rate counts only the last 2 s.
    expect((m.view(2_650) as ScaleView).counts.framesPerSecond).toBe(0.5);
  });

  it("frames too far apart for the window: unstable, with the stable_window_ms it needs", () => {
    // stable_window_ms 500 with 3 samples holds frames at most 250 ms apart; these come every 400 ms.
    const m = monitorOf("scale-a9");
    m.portChanged({ state: "open" }, 0);
    for (let t = 0; t <= 2400; t += 400) m.bytes(a9(12_340), t);
    expect(m.view(2400)).toMatchObject({ stable: false, windowNeededMs: 1200 });
    expect(monitorLine(m.view(2400))).toContain("12.340 kg = 12340 g, unstable: frames too far apart for stable_window_ms (it needs 1200), ");
    for (let t = 2500; t <= 3000; t += 100) m.bytes(a9(12_340), t);
    expect(m.view(3000)).toMatchObject({ stable: true, windowNeededMs: null });
  });

  it("a weight outside the tolerance is unstable; above capacity_g is no valid weight", () => {
    const m = monitorOf("scale-a9");
    m.portChanged({ state: "open" }, 0);
    for (let t = 0; t <= 600; t += 100) m.bytes(a9(t < 300 ? 1_000 : 1_500), t);
    expect(m.view(600)).toMatchObject({ stable: false, condition: "ok" });
    expect(monitorLine(m.view(600))).toContain("1.500 kg = 1500 g, unstable");
    m.bytes(a9(31_000), 700);
    expect(m.view(700)).toMatchObject({ condition: "above_capacity", stable: false, lastG: 31_000 });
    expect(monitorLine(m.view(700))).toContain("no valid weight (above capacity_g)");
  });

  it("an overload frame is no valid weight (overload); net frames say net", () => {
    const m = monitorOf("scale-stgs");
    m.bytes(ascii("ST,NT,+0001.25kg\r\n"), 0);
    expect(monitorLine(m.view(0))).toContain("1.250 kg = 1250 g net, unstable");
    m.bytes(ascii("OL,GS,+9999.99kg\r\n"), 100);
    expect(m.view(100)).toMatchObject({ condition: "overload" });
    expect(monitorLine(m.view(100))).toContain("no valid weight (overload)");
  });

  it("counts discarded frames and bytes and shows the last ones in hex with the reason", () => {
    const m = monitorOf("scale-stgs");
    m.bytes(ascii("ST,GS,+0012.34kg\r\nXX,YY\r\n"), 0);
    const v = m.view(0);
    expect(v.counts).toMatchObject({ valid: 1, discarded: 1, discardedBytes: expect.any(Number) as number });
    expect(v.counts.lastDiscarded?.hex.startsWith("58 58 2c 59 59")).toBe(true);
    expect(monitorLine(v)).toMatch(/; 1 valid, 1 discarded \(\d+ B\), last discarded \[58 58 2c 59 59[^\]]*\] \S/);
    expect(v.hint).toBeNull(); // valid frames came: no hint
  });

  it("an ST,GS indicator configured as yaohua-a9: all discarded, and the hint names ascii-st-gs", () => {
    const m = monitorOf("scale-a9");
    let t = 0;
    while (m.view(t).counts.bytes < HINT_MIN_BYTES) m.bytes(encodeStGs({ grams: 12_340, stable: true, unit: "kg", decimals: 2, mode: "gross" }), (t += 100));
    const v = m.view(t);
    expect(v.counts.valid).toBe(0);
    expect(v.hint).toMatch(/^set protocol: ascii-st-gs \(it decodes \d+ frames of them, yaohua-a9 none\)$/);
    expect(monitorLine(v)).toMatch(/^scale-a9 yaohua-a9@9600: \d+ B, not one valid frame; set protocol: ascii-st-gs \(/);
  });

  it("fewer bytes than the threshold: no hint yet", () => {
    const m = monitorOf("scale-a9");
    m.bytes(ascii("ST,GS,+0012.34kg\r\n"), 0);
    expect(m.view(0).hint).toBeNull();
    expect(monitorLine(m.view(0))).toBe("scale-a9 yaohua-a9@9600: 18 B, no whole frame yet; 0 valid, 0 discarded (0 B)");
  });

  it("offline with the adapter's reason; bytes mean the port is open again", () => {
    const m = monitorOf("scale-a9");
    m.portChanged({ state: "offline", reason: "open failed: No such file or directory" }, 0);
    expect(monitorLine(m.view(0))).toBe("scale-a9 yaohua-a9@9600: offline: open failed: No such file or directory (retrying); 0 valid, 0 discarded (0 B)");
    m.bytes(a9(100), 10);
    expect(m.view(10)).toMatchObject({ port: { state: "open" }, lastG: 100 });
  });
});

describe("DeviceMonitor, reader", () => {
  it("min_reads frames within repeat_gap_ms are one presentation; the card id is shown whole", () => {
    const m = monitorOf("reader-1");
    for (let t = 0; t <= 300; t += 50) m.bytes(encodeEm4100("100086F444"), t);
    let v = m.view(300) as ReaderView;
    expect(v).toMatchObject({ presentations: 1, noise: 0, counts: { valid: 7 } });
    expect(v.cards).toEqual([{ cardId: "0008844356", presentations: 1, agoMs: 0 }]);
    // Shown again after the gap: a second presentation.
    for (let t = 1_000; t <= 1_100; t += 50) m.bytes(encodeEm4100("100086F444"), t);
    v = m.view(3_100) as ReaderView;
    expect(v.presentations).toBe(2);
    expect(monitorLine(v)).toBe("reader-1 em4100-ascii@9600: 2 presentations (0008844356 ×2 2s ago), 0 noise; 10 valid, 0 discarded (0 B)");
  });

  it("a one-off frame is noise once its gap ran out; all-zero tags are noise", () => {
    const m = monitorOf("reader-1");
    m.bytes(encodeEm4100("13005D1DA5"), 0);
    m.bytes(encodeEm4100("100086F444"), 500);
    m.bytes(encodeEm4100("0000000000"), 600);
    const v = m.view(600) as ReaderView;
    expect(v).toMatchObject({ presentations: 0, noise: 2 });
  });

  it("lists at most three cards, the latest first", () => {
    const m = monitorOf("reader-1");
    const tags = ["1000000001", "1000000002", "1000000003", "1000000004"];
    tags.forEach((tag, i) => {
      m.bytes(encodeEm4100(tag), i * 1000);
      m.bytes(encodeEm4100(tag), i * 1000 + 50);
    });
    const v = m.view(3_050) as ReaderView;
    expect(v.presentations).toBe(4);
    expect(v.cards.map((c) => c.cardId)).toEqual(["0000000004", "0000000003", "0000000002"]); // dec10 of the last three
  });
});

describe("changeKey and fitWidth", () => {
  it("a piped line is due when the weight or stability changes, not when the counts or the rate do", () => {
    const m = monitorOf("scale-a9");
    m.bytes(a9(500), 0);
    const k1 = changeKey(m.view(0));
    m.bytes(a9(500), 100);
    expect(changeKey(m.view(100))).toBe(k1);
    m.bytes(a9(700), 200);
    expect(changeKey(m.view(200))).not.toBe(k1);
  });

  it("a hint whose frame count grows is no change; the stream's first valid frame is", () => {
    const m = monitorOf("scale-a9");
    const stgs = encodeStGs({ grams: 500, stable: true, unit: "kg", decimals: 2, mode: "gross" });
    // Past the A9 framer's first discard (its 256-byte buffer), so that "discarded" is already true.
    for (let t = 0; t < 20; t++) m.bytes(stgs, t * 100);
    const k1 = changeKey(m.view(2_000));
    expect(m.view(2_000).hint).toMatch(/it decodes 20 frames/);
    for (let t = 20; t < 40; t++) m.bytes(stgs, t * 100);
    expect(m.view(4_000).hint).toMatch(/it decodes 40 frames/);
    expect(changeKey(m.view(4_000))).toBe(k1);
    m.bytes(a9(500), 4_100);
    expect(changeKey(m.view(4_100))).not.toBe(k1);
  });

  it("cuts a line to the width with an ellipsis", () => {
    expect(fitWidth("abcdef", 6)).toBe("abcdef");
    expect(fitWidth("abcdef", 4)).toBe("abc…");
    expect(fitWidth("a×cdef", 3)).toBe("a×…");
  });
});
