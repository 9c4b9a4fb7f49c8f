/**
 * Properties of the station machine over random input sequences (issue "One pure station
 * machine", item 10): no exception, never two deposits for one bin in one session, never a
 * negative or implausible award, never a deposit without an identification (a recovered session was identified before the
 * restart), and a recovered session is credited once however often it is found.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { initialState, step } from "../../src/domain/station-machine.js";
import type { PersistedSession, StationEffect, StationInput } from "../../src/domain/station-types.js";
import type { ReaderFrame, ScaleFrame } from "../../src/protocol/types.js";
import { WALL0, testContext } from "../support/machine.js";

const ctx = testContext();
const SCALES = ["scale-1", "scale-2"];
const READERS = ["reader-1", "reader-2"];
const CARDS = ["0008844356", "0001234567", "0000000001"];

const grams = fc.oneof(
  fc.integer({ min: 0, max: 30_000 }),
  fc.integer({ min: -5000, max: 5000 }),
  fc.constantFrom(999_999_000, 1_000_000_000_000, 60_001, 50_000),
);
const scaleFrame: fc.Arbitrary<ScaleFrame> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant("weight" as const), grams, stable: fc.constantFrom(true, false, null), mode: fc.constantFrom("gross" as const, "net" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("no_weight" as const), reason: fc.constantFrom("overload" as const, "underload" as const) }) },
  { weight: 1, arbitrary: fc.constant<ScaleFrame>({ kind: "discarded", bytes: new Uint8Array(18), reason: "bad" }) },
  { weight: 1, arbitrary: fc.constant<ScaleFrame>({ kind: "ignored", reason: "TR" }) },
);
const readerFrame: fc.Arbitrary<ReaderFrame> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("id" as const), cardId: fc.constantFrom(...CARDS) }) },
  { weight: 1, arbitrary: fc.constant<ReaderFrame>({ kind: "noise", bytes: new Uint8Array(14), reason: "all-zero" }) },
  { weight: 1, arbitrary: fc.constant<ReaderFrame>({ kind: "discarded", bytes: new Uint8Array(14), reason: "checksum" }) },
);

/** Sessions a crash left in the database. */
const STORED: PersistedSession[] = ["stored-1", "stored-2"].map((id, i) => ({
  version: 1,
  session_id: id,
  card_id: CARDS[i]!,
  reader_id: "reader-1",
  started_wall: WALL0 - 10_000,
  bins: [
    { bin_id: "kitchen", baseline_g: 10_000 },
    { bin_id: "recycle", baseline_g: 2000 },
  ],
  last_change_wall: null,
}));

type Draft = { dt: number; make: (mono: number, n: number) => StationInput | StationInput[] };
const weighFrames = (s: string, g: number, mono: number): StationInput[] =>
  [mono, mono + 10].map((t) => ({ type: "scale_data", scaleId: s, bytes: 18, frames: [{ kind: "weight", grams: g, stable: true, mode: "gross" }], mono: t, wall: WALL0 + t }));
const draft: fc.Arbitrary<Draft> = fc.oneof(
  // A scale settling at a weight (two stable frames 10 ms apart: stable with the test window).
  { weight: 8, arbitrary: fc.record({ dt: fc.integer({ min: 0, max: 3000 }), s: fc.constantFrom(...SCALES), g: grams }).map(({ dt, s, g }) => ({ dt, make: (mono: number) => weighFrames(s, g, mono) })) },
  { weight: 10, arbitrary: fc.record({ dt: fc.integer({ min: 0, max: 400 }), s: fc.constantFrom(...SCALES), f: fc.array(scaleFrame, { maxLength: 3 }) }).map(({ dt, s, f }) => ({ dt, make: (mono: number) => ({ type: "scale_data" as const, scaleId: s, bytes: 18 * f.length, frames: f, mono, wall: WALL0 + mono }) })) },
  { weight: 4, arbitrary: fc.record({ dt: fc.integer({ min: 0, max: 300 }), r: fc.constantFrom(...READERS), f: fc.array(readerFrame, { maxLength: 2 }) }).map(({ dt, r, f }) => ({ dt, make: (mono: number, n: number) => ({ type: "reader_data" as const, readerId: r, bytes: 14 * f.length, frames: f, sessionId: `s-${n}`, mono, wall: WALL0 + mono }) })) },
  { weight: 2, arbitrary: fc.record({ dt: fc.integer({ min: 0, max: 100 }), c: fc.constantFrom(...CARDS), r: fc.constantFrom(...READERS) }).map(({ dt, c, r }) => ({ dt, make: (mono: number, n: number) => ({ type: "identified" as const, cardId: c, readerId: r, sessionId: `s-${n}`, mono, wall: WALL0 + mono }) })) },
  { weight: 2, arbitrary: fc.record({ dt: fc.integer({ min: 0, max: 2000 }), d: fc.constantFrom(...SCALES, ...READERS), open: fc.boolean() }).map(({ dt, d, open }) => ({ dt, make: (mono: number) => ({ type: "port" as const, deviceId: d, state: open ? ("open" as const) : ("closed" as const), reason: "unplugged", mono, wall: WALL0 + mono }) })) },
  { weight: 1, arbitrary: fc.record({ dt: fc.integer({ min: 0, max: 1000 }), st: fc.constantFrom("ok" as const, "busy" as const, "fault" as const) }).map(({ dt, st }) => ({ dt, make: (mono: number) => ({ type: "storage" as const, state: st, message: "x", mono, wall: WALL0 + mono }) })) },
  { weight: 1, arbitrary: fc.record({ dt: fc.integer({ min: 0, max: 1000 }), used: fc.integer({ min: 0, max: 120 }), free: fc.integer({ min: 0, max: 40 }) }).map(({ dt, used, free }) => ({ dt, make: (mono: number) => ({ type: "storage_space" as const, space: { usedBytes: used, budgetBytes: 100, freeBytes: free, floorBytes: 10 }, mono, wall: WALL0 + mono }) })) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 40_000 }).map((dt) => ({ dt, make: (mono: number) => ({ type: "tick" as const, mono, wall: WALL0 + mono }) })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 1000 }).map((dt) => ({ dt, make: (mono: number) => ({ type: "flush" as const, mono, wall: WALL0 + mono }) })) },
);

/**
 * Starts as the runner does: the sessions found in the database (each listed twice, which must not
 * credit it twice), then every port open so that sessions happen often.
 */
function runDrafts(drafts: Draft[], stored: PersistedSession[] = []): StationEffect[] {
  let state = initialState(ctx);
  const effects: StationEffect[] = [];
  let mono = 0;
  const inputs: StationInput[] = [{ type: "recover", sessions: [...stored, ...stored], mono: 0, wall: WALL0 }];
  inputs.push(...[...SCALES, ...READERS].map((d): StationInput => ({ type: "port", deviceId: d, state: "open", mono: 0, wall: WALL0 })));
  drafts.forEach((d, n) => {
    mono += d.dt;
    const made = d.make(mono, n);
    if (Array.isArray(made)) {
      inputs.push(...made);
      mono += 10;
    } else inputs.push(made);
  });
  for (const input of inputs) {
    const r = step(state, input, ctx);
    state = r.state;
    effects.push(...r.effects);
  }
  // JSON round-trip of the final state.
  expect(JSON.parse(JSON.stringify(state))).toEqual(state);
  return effects;
}

describe("station machine properties (fast-check)", () => {
  let deposits = 0;
  let implausible = 0;
  let restarted = 0;
  it("never throws; one deposit per bin per session; awards plausible; every deposit belongs to an opened session", () => {
    fc.assert(
      fc.property(fc.array(draft, { minLength: 20, maxLength: 300, size: "max" }), fc.subarray(STORED), (drafts, stored) => {
        const effects = runDrafts(drafts, stored);
        const opened = new Set<string>(STORED.map((p) => p.session_id));
        const seen = new Set<string>();
        for (const e of effects) {
          if (e.type !== "record") continue;
          if (e.session?.op === "put") opened.add(e.session.id);
          for (const ev of e.events) {
            if (ev.kind !== "deposit") continue;
            const d = ev.data;
            deposits++;
            if (d.points_reason === "implausible") implausible++;
            if (d.close_reason === "restart") restarted++;
            expect(opened.has(d.session_id)).toBe(true);
            const key = `${d.session_id}/${d.bin_id}`;
            expect(seen.has(key)).toBe(false);
            seen.add(key);
            expect(Number.isSafeInteger(d.points) && d.points >= 0).toBe(true);
            expect(d.net_g).toBeGreaterThan(0);
            const bin = ctx.bins.find((b) => b.binId === d.bin_id)!;
            if (d.net_g > bin.maxNetG) expect([d.points, d.points_reason]).toEqual([0, "implausible"]);
            // The most any plausible deposit can earn: max_net_g at the best rate (2 points/kg).
            expect(d.points).toBeLessThanOrEqual(Math.floor((bin.maxNetG * 2) / 1000));
            expect(d.gross_after_g).toBeLessThanOrEqual(60_000 + 1_000_000_000_000);
          }
        }
      }),
      { numRuns: 400 },
    );
    // The property is not vacuous: the random stations do make deposits, implausible ones too.
    expect(deposits).toBeGreaterThan(50);
    expect(implausible).toBeGreaterThan(0);
    expect(restarted).toBeGreaterThan(0);
  });

  it("a scale with capacity_g never yields an accepted weight above it", () => {
    fc.assert(
      fc.property(fc.array(draft, { minLength: 20, maxLength: 200, size: "max" }), (drafts) => {
        for (const e of runDrafts(drafts)) {
          if (e.type !== "record") continue;
          for (const ev of e.events) {
            if (ev.kind === "deposit" && ev.data.bin_id === "kitchen") expect(ev.data.gross_after_g).toBeLessThanOrEqual(60_000);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
