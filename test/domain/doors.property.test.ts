/**
 * Properties of the station machine with doors and roles over random input sequences (issue 8;
 * issue 12's machine properties): never an exception; one deposit (or collection) per bin per
 * session; points never negative, fractional or above the formula's; a closed door outside a
 * session is locked (unless a fire holds it open); a door a session never unlocked is never
 * credited; a blocked card earns nothing; nothing recorded for a maintenance session but its audit.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { initialState, outputsOf, step } from "../../src/domain/station-machine.js";
import type { Contact, StationEffect, StationInput, StationState } from "../../src/domain/station-types.js";
import { doorContext } from "../support/doors.js";
import { WALL0 } from "../support/machine.js";

const CARDS = ["0008844356", "0001234567", "0000000777", "0000000888", "0000000999"];
const ROLES: StationInput = { type: "set_cards", collectors: ["0000000777"], maintenance: ["0000000888"], blocked: ["0000000999"], version: "v", mono: 0, wall: WALL0 };

type Draft = { dt: number; make: (mono: number, n: number) => StationInput[] };
const at = (mono: number) => ({ mono, wall: WALL0 + mono });
const weigh = (scaleId: string, grams: number, mono: number): StationInput[] =>
  [mono, mono + 10].map((t) => ({ type: "scale_data", scaleId, bytes: 18, frames: [{ kind: "weight", grams, stable: true, mode: "gross" }], ...at(t) }));

const draft: fc.Arbitrary<Draft> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ dt: fc.integer({ min: 0, max: 3000 }), s: fc.constantFrom("scale-1", "scale-2"), g: fc.integer({ min: 0, max: 40_000 }) }).map(({ dt, s, g }) => ({ dt, make: (mono: number) => weigh(s, g, mono) })) },
  { weight: 3, arbitrary: fc.record({ dt: fc.integer({ min: 0, max: 2000 }), c: fc.constantFrom(...CARDS) }).map(({ dt, c }) => ({ dt, make: (mono: number, n: number) => [{ type: "identified" as const, cardId: c, readerId: "reader-2", sessionId: `s-${n}`, ...at(mono) }] })) },
  { weight: 4, arbitrary: fc.record({ dt: fc.integer({ min: 0, max: 2000 }), bin: fc.constantFrom("kitchen", "recycle"), part: fc.constantFrom("closed" as const, "button" as const), active: fc.boolean() }).map(({ dt, bin, part, active }) => ({ dt, make: (mono: number) => [{ type: "door_input" as const, binId: bin, part, active, ...at(mono) }] })) },
  { weight: 1, arbitrary: fc.record({ dt: fc.integer({ min: 0, max: 5000 }), c: fc.constantFrom<Contact>("fire", "tamper", "power_fail"), active: fc.boolean() }).map(({ dt, c, active }) => ({ dt, make: (mono: number) => [{ type: "contact" as const, contact: c, active, ...at(mono) }] })) },
  { weight: 1, arbitrary: fc.record({ dt: fc.integer({ min: 0, max: 5000 }), bin: fc.constantFrom("kitchen", "recycle") }).map(({ dt, bin }) => ({ dt, make: (mono: number) => [{ type: "gpio_error" as const, line: 27, message: "EIO", binId: bin, ...at(mono) }] })) },
  // A resident's use of a door: button, open, a bag, close (each may find the door locked or not ready).
  {
    weight: 6,
    arbitrary: fc.record({ dt: fc.integer({ min: 0, max: 3000 }), bin: fc.constantFrom("kitchen", "recycle"), g: fc.integer({ min: 0, max: 40_000 }) }).map(({ dt, bin, g }) => ({
      dt,
      make: (mono: number): StationInput[] => [
        { type: "door_input", binId: bin, part: "button", active: true, ...at(mono) },
        { type: "door_input", binId: bin, part: "closed", active: false, ...at(mono + 500) },
        ...weigh(bin === "kitchen" ? "scale-1" : "scale-2", g, mono + 1000),
        { type: "door_input", binId: bin, part: "closed", active: true, ...at(mono + 1500) },
      ],
    })),
  },
  // A collector's visit: the collector's card, then a door emptied (about 5 in 400 runs reached a
  // collection from the drafts above alone, so a run of 400 saw none about once in 150).
  {
    weight: 1,
    arbitrary: fc.record({ dt: fc.integer({ min: 0, max: 3000 }), bin: fc.constantFrom("kitchen", "recycle"), g: fc.integer({ min: 0, max: 5000 }) }).map(({ dt, bin, g }) => ({
      dt,
      make: (mono: number, n: number): StationInput[] => [
        { type: "identified", cardId: "0000000777", readerId: "reader-2", sessionId: `s-${n}`, ...at(mono) },
        { type: "door_input", binId: bin, part: "button", active: true, ...at(mono + 300) },
        { type: "door_input", binId: bin, part: "closed", active: false, ...at(mono + 800) },
        ...weigh(bin === "kitchen" ? "scale-1" : "scale-2", g, mono + 1300),
        { type: "door_input", binId: bin, part: "closed", active: true, ...at(mono + 1800) },
      ],
    })),
  },
  { weight: 4, arbitrary: fc.integer({ min: 100, max: 70_000 }).map((dt) => ({ dt, make: (mono: number) => [{ type: "tick" as const, ...at(mono) }] })) },
);

describe("the machine with doors, roles and rules, over random inputs", () => {
  for (const mode of ["select", "all"] as const) {
    it(`keeps its invariants (door_mode ${mode})`, () => {
      const ctx = doorContext({ mode, both: true, fullG: 30_000 });
      /** What the runs exercised, so that a generator that never reaches a door session fails the test. */
      const reached = { deposits: 0, doorDeposits: 0, collections: 0, unlocks: 0 };
      fc.assert(
        fc.property(fc.array(draft, { minLength: 1, maxLength: 80 }), (drafts) => {
          let state: StationState = initialState(ctx);
          const effects: StationEffect[] = [];
          const ports: StationInput[] = ["scale-1", "scale-2", "reader-2"].map((d) => ({ type: "port", deviceId: d, state: "open", ...at(0) }));
          const inputs: StationInput[] = [ROLES, ...ports, ...weigh("scale-1", 10_000, 20), ...weigh("scale-2", 2000, 20)];
          inputs.push({ type: "door_input", binId: "kitchen", part: "closed", active: true, ...at(40) }, { type: "door_input", binId: "recycle", part: "closed", active: true, ...at(40) });
          let mono = 100;
          drafts.forEach((d, n) => {
            mono += d.dt;
            inputs.push(...d.make(mono, n));
          });
          /** Bins each session unlocked (a door bin's deposit needs it). */
          const unlocked = new Map<string, Set<string>>();
          for (const input of inputs) {

            const r = step(state, input, ctx);

            state = r.state;
            effects.push(...r.effects);
            if (state.session.phase === "open") {
              const set = unlocked.get(state.session.id) ?? new Set<string>();
              for (const [bin, released] of Object.entries(outputsOf(state, ctx).locks)) {
                if (!released || state.contacts?.fire === true) continue;
                if (!set.has(bin)) reached.unlocks++;
                set.add(bin);
              }
              unlocked.set(state.session.id, set);
            }
            // A closed door outside any session is locked, unless a fire holds it open.
            const locks = outputsOf(state, ctx).locks;
            for (const [bin, released] of Object.entries(locks)) {
              const door = state.doors?.[bin];
              if (door?.closed === true && state.session.phase === "idle" && state.contacts?.fire !== true) expect(released, `${bin} closed and unlocked`).toBe(false);
            }
          }
          const seen = new Set<string>();
          for (const e of effects) {
            if (e.type !== "record") continue;
            for (const ev of e.events) {
              if (ev.kind === "deposit" || ev.kind === "collection") {
                const key = `${ev.data.session_id}/${ev.data.bin_id}`;
                expect(seen.has(key), `two events for ${key}`).toBe(false);
                seen.add(key);
              }
              if (ev.kind === "collection") reached.collections++;
              if (ev.kind === "deposit") {
                const d = ev.data;
                reached.deposits++;
                if (d.bin_id === "kitchen" || d.bin_id === "recycle") reached.doorDeposits++;
                expect(Number.isSafeInteger(d.points) && d.points >= 0).toBe(true);
                expect(d.net_g).toBeGreaterThan(0);
                if (d.card_id === "0000000999") expect([d.points, d.points_reason]).toEqual([0, "blocked_card"]);
                expect(d.card_id).not.toBe("0000000888");
                expect(d.card_id).not.toBe("0000000777");
                // A door bin is credited only when its door was unlocked for that session.
                if (d.bin_id === "kitchen" || d.bin_id === "recycle") {
                  const bins = unlocked.get(d.session_id);
                  // The inputs in the message: a failure here must be reproducible from the CI log alone.
                  if (bins !== undefined && !bins.has(d.bin_id)) throw new Error(`${d.bin_id} credited without an unlock in ${d.session_id}; inputs: ${JSON.stringify(inputs)}`);
                }
                // Never above the formula: 2 points per kg (food_waste), 1.16 (recyclable).
                const rate = d.category === "food_waste" ? 2 : 1.16;
                expect(d.points).toBeLessThanOrEqual(Math.floor((d.net_g * rate) / 1000) + 1);
              }
            }
          }
        }),
        { numRuns: 400 },
      );
      expect(reached.unlocks).toBeGreaterThan(20);
      expect(reached.doorDeposits).toBeGreaterThan(0);
      expect(reached.collections).toBeGreaterThan(0);
    });
  }
});
