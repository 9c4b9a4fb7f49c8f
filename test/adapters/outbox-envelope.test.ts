/**
 * The stored envelope and the event ids (contract.md section 4): `envelopeJson` joins its text from
 * parts, and must give exactly what `JSON.stringify` of the envelope object gives, whatever the
 * data; `EventIds` makes UUIDv7s from a pool of random bytes.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";

import type { RecordStamp } from "../../src/adapters/boot-clock.js";
import { RESERVED_DATA_KEYS, envelopeJson, envelopeObjectJson, type EnvelopeFields } from "../../src/adapters/outbox/envelope.js";
import { EventIds, POOL_IDS } from "../../src/adapters/outbox/event-id.js";

/** The envelope object serialised whole: the oracle (its own text is pinned below). */
const objectForm = envelopeObjectJson;

const stamp: RecordStamp = { boot_id: "64547f12-f57b-4033-9a04-c3d1f6bf6907", mono_ms: 10476418, clock_synced: true };
const fields = (data: Record<string, unknown>): EnvelopeFields => ({
  id: "01a227bc-8d6b-76f1-9312-7ebc6e2d33fd",
  stationId: "st-001",
  seq: 7,
  kind: "deposit",
  subject: "kitchen",
  time: "2026-11-29T14:36:37.950Z",
  data,
  stamp,
});

const key = fc.oneof(fc.string(), fc.constantFrom("0", "7", "42", "01", "-1", "1e3", "4294967295", "__proto__", "toJSON", "a\"b", "\u2028", "\ud800"));
const dataArb = fc
  .dictionary(key, fc.jsonValue(), { maxKeys: 8 })
  .map((d) => Object.fromEntries(Object.entries(d).filter(([k]) => !(RESERVED_DATA_KEYS as readonly string[]).includes(k))));

describe("envelopeJson", () => {
  it("gives the text JSON.stringify gives for the envelope object, for any data, ids and stamps", () => {
    fc.assert(
      fc.property(
        fc.record({
          id: fc.uuid(),
          stationId: fc.string(),
          // Integers as the outbox gives; any double too, to hold the number parts to JSON's text.
          seq: fc.oneof(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.double()),
          kind: fc.string(),
          subject: fc.string(),
          time: fc.string(),
          data: dataArb,
          stamp: fc.record({
            boot_id: fc.option(fc.uuid(), { nil: null }),
            mono_ms: fc.option(fc.oneof(fc.nat(), fc.double()), { nil: null }),
            clock_synced: fc.boolean(),
          }),
        }),
        (e) => {
          const text = envelopeJson(e);
          expect(text).toBe(objectForm(e));
          JSON.parse(text);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("lists the keys in the contract's order, data's own between seq and boot_id", () => {
    const text = envelopeJson(fields({ bin_id: "kitchen", net_g: 1250, nested: { a: [1, "x"] } }));
    expect(text).toBe(
      '{"specversion":"1.0","id":"01a227bc-8d6b-76f1-9312-7ebc6e2d33fd","source":"smartbin/st-001","type":"smartbin.deposit.v1",' +
        '"time":"2026-11-29T14:36:37.950Z","subject":"kitchen","datacontenttype":"application/json","data":{"station_id":"st-001","seq":7,' +
        '"bin_id":"kitchen","net_g":1250,"nested":{"a":[1,"x"]},"boot_id":"64547f12-f57b-4033-9a04-c3d1f6bf6907","mono_ms":10476418,"clock_synced":true}}',
    );
  });

  it("moves keys that look like array indexes to the front of data, as the object does", () => {
    expect(envelopeJson(fields({ bin_id: "kitchen", "7": 1 }))).toBe(
      '{"specversion":"1.0","id":"01a227bc-8d6b-76f1-9312-7ebc6e2d33fd","source":"smartbin/st-001","type":"smartbin.deposit.v1",' +
        '"time":"2026-11-29T14:36:37.950Z","subject":"kitchen","datacontenttype":"application/json","data":{"7":1,"station_id":"st-001","seq":7,' +
        '"bin_id":"kitchen","boot_id":"64547f12-f57b-4033-9a04-c3d1f6bf6907","mono_ms":10476418,"clock_synced":true}}',
    );
  });

  it("handles empty data, keys that look like array indexes and values JSON leaves out", () => {
    for (const data of [{}, { "7": 1, a: 2 }, { a: 2, "0": "x" }, { "01": 1 }, { a: undefined, b: 1 }, { a: undefined }, { f: () => 1 }]) {
      expect(envelopeJson(fields(data))).toBe(objectForm(fields(data)));
    }
  });

  it("throws as JSON.stringify does on data it cannot serialise", () => {
    expect(() => envelopeJson(fields({ n: 1n }))).toThrow(TypeError);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => envelopeJson(fields(cycle))).toThrow(TypeError);
  });
});

/** Version 7, variant 10 (RFC 9562 section 5.7), lower-case hex. */
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("EventIds", () => {
  it("makes UUIDv7s carrying the given milliseconds in their first 48 bits", () => {
    const ids = new EventIds();
    const ms = Date.UTC(2026, 11, 7, 15, 0, 0, 123);
    const id = ids.next(ms);
    expect(id).toMatch(UUID_V7);
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(ms);
    const now = Date.now();
    const stamped = Number.parseInt(ids.next().replace(/-/g, "").slice(0, 12), 16);
    expect(Math.abs(stamped - now)).toBeLessThan(1000);
  });

  it("refills its pool once every POOL_IDS ids, and uses each random byte for one id only", () => {
    let fills = 0;
    let counter = 0;
    // A counting source: every byte it hands out is different from the ones before (mod 2^32 per 4 bytes).
    const ids = new EventIds((pool) => {
      fills++;
      const view = new DataView(pool.buffer, pool.byteOffset, pool.byteLength);
      for (let i = 0; i < pool.byteLength; i += 4) view.setUint32(i, ++counter);
    });
    const made = Array.from({ length: POOL_IDS * 2 + 1 }, () => ids.next(1_700_000_000_000));
    expect(fills).toBe(3);
    expect(new Set(made).size).toBe(made.length);
    for (const id of made) expect(id).toMatch(UUID_V7);
  });

  it("gives unique ids from the system's random source within one millisecond", () => {
    const ids = new EventIds();
    const made = Array.from({ length: 5000 }, () => ids.next(1_700_000_000_000));
    expect(new Set(made).size).toBe(made.length);
  });
});
