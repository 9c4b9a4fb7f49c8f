/** The pure parts of holding back events: the PUBLISH size, the refusal code, the retry schedule. */
import { generate } from "mqtt-packet";
import { describe, expect, it } from "vitest";

import { refusalCodeOf } from "../../src/adapters/mqtt/event-drain.js";
import { HeldEvents, REASON_PACKET_TOO_LARGE } from "../../src/adapters/mqtt/held-events.js";
import { publishPacketSize, variableByteIntegerSize } from "../../src/adapters/mqtt/packet-size.js";

describe("publishPacketSize", () => {
  const properties = { contentType: "application/cloudevents+json", userProperties: { id: "01a227bc-8d6b-76f1-9312-7ebc6e2d33fd", type: "smartbin.deposit.v1", seq: "17" } };
  // Sizes around each step of the variable byte integer (127/128, 16383/16384, 2097151/2097152),
  // and a payload of non-ASCII text, against MQTT.js's own encoder.
  const payloads = [0, 1, 60, 127, 128, 300, 16_200, 16_383, 16_384, 70_000, 262_144, 2_097_000, 2_097_152].map((n) => "x".repeat(n));
  payloads.push("é€😀".repeat(1000));

  it.each([4, 5] as const)("is the length of the packet MQTT.js sends (protocol %i)", (protocolVersion) => {
    for (const payload of payloads) {
      for (const topic of ["s/st-001/events/deposit", "préfixe/st-001/events/command"]) {
        const packet = {
          cmd: "publish" as const,
          qos: 1 as const,
          dup: false,
          retain: false,
          messageId: 42,
          topic,
          payload,
          ...(protocolVersion === 5 ? { properties } : {}),
        };
        const expected = generate(packet, { protocolVersion }).length;
        expect(publishPacketSize(topic, Buffer.byteLength(payload), protocolVersion, protocolVersion === 5 ? properties : undefined)).toBe(expected);
      }
    }
  });

  it("counts no properties as a one-byte property length with MQTT 5", () => {
    expect(publishPacketSize("t", 0, 5) - publishPacketSize("t", 0, 4)).toBe(1);
  });

  it("variable byte integers take 1 to 4 bytes (MQTT 5.0 section 1.5.5)", () => {
    expect([0, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455].map(variableByteIntegerSize)).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
  });
});

describe("refusalCodeOf", () => {
  const withCode = (code: unknown) => Object.assign(new Error("Publish error: Not authorized"), { code });

  it("is the PUBACK's reason code when it is an error code (0x80 and above)", () => {
    expect(refusalCodeOf(withCode(0x87))).toBe(0x87);
    expect(refusalCodeOf(withCode(0x80))).toBe(0x80);
    expect(refusalCodeOf(withCode(0x97))).toBe(0x97);
  });

  it("is undefined for any other failure: no code, a success code, a socket error's code", () => {
    expect(refusalCodeOf(new Error("Connection closed"))).toBeUndefined();
    expect(refusalCodeOf(withCode(0x10))).toBeUndefined();
    expect(refusalCodeOf(withCode("ECONNRESET"))).toBeUndefined();
    expect(refusalCodeOf(withCode(0x100))).toBeUndefined();
  });
});

describe("HeldEvents", () => {
  const event = (seq: number) => ({ seq, id: `id-${seq}`, kind: "command", topic: "s/st-001/events/command", reasonCode: 0x87, reason: "Not authorized" });

  it("keeps at most its maximum, forgetting the oldest held (they stay pending in the database)", () => {
    const held = new HeldEvents(undefined, 3);
    for (const seq of [5, 6, 7, 8, 9]) expect(held.hold(event(seq))).toBe("new");
    expect(held.size).toBe(3);
    expect(held.seqs()).toEqual([7, 8, 9]);
    // A forgotten one refused again at the next connection is new again.
    expect(held.hold(event(5))).toBe("new");
    expect(held.seqs()).toEqual([5, 8, 9]);
  });

  it("says a first refusal is new and a later one again, counting them; keeps seqs ascending", () => {
    const held = new HeldEvents();
    expect(held.hold(event(9))).toBe("new");
    expect(held.hold(event(3))).toBe("new");
    expect(held.hold({ ...event(9), reasonCode: REASON_PACKET_TOO_LARGE, reason: "too large" })).toBe("again");
    expect(held.size).toBe(2);
    expect(held.seqs()).toEqual([3, 9]);
    expect(held.release(9)).toMatchObject({ seq: 9, refusals: 2, reasonCode: REASON_PACKET_TOO_LARGE });
    expect(held.has(9)).toBe(false);
    expect(held.release(9)).toBeUndefined();
  });

  it("retries after 30 s, doubling to at most 10 min by default, and starts over once none is held", () => {
    const held = new HeldEvents();
    held.hold(event(1));
    expect(Array.from({ length: 7 }, () => held.nextRoundMs())).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000]);
    held.release(1);
    held.hold(event(2));
    expect(held.nextRoundMs()).toBe(30_000);
    expect(held.describe()).toBe("at each new connection and after 30 s, doubling to at most 10 min");
  });
});
