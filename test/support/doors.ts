/**
 * Fixtures for door tests of the station machine: the two-bin test station of machine.ts with a door
 * on the kitchen bin (button and lamp; 15 s open timeout, 60 s left-open) and, optionally, on the
 * recycle bin too; input builders for door sensors, buttons, contacts; output summaries.
 */
import { localDay } from "../../src/domain/points.js";
import { outputsOf } from "../../src/domain/station-machine.js";
import type { BinSpec, Contact, StationContext, StationInput, StationState } from "../../src/domain/station-types.js";
import { READY, WALL0, testContext } from "./machine.js";

const at = (mono: number) => ({ mono, wall: WALL0 + mono });

export const DOOR = { hasButton: true, hasLamp: true, openTimeoutMs: 15_000, leftOpenMs: 60_000 };

/** The test station with doors: kitchen always, recycle too when `both`; `full` sets full_g on kitchen. */
export function doorContext(
  opts: { mode?: "select" | "all"; both?: boolean; recycleButton?: boolean; fireDoors?: "lock" | "unlock"; fullG?: number } = {},
): StationContext {
  const base = testContext();
  const bins: BinSpec[] = base.bins.map((b) => {
    if (b.binId === "kitchen") return { ...b, door: DOOR, fullG: opts.fullG ?? null };
    if (opts.both === true) return { ...b, door: { ...DOOR, hasButton: opts.recycleButton ?? true } };
    return b;
  });
  return {
    ...base,
    bins,
    gpio: { doorMode: opts.mode ?? "select", fireDoors: opts.fireDoors ?? "unlock", contacts: ["fire", "tamper", "power_fail"], hasBuzzer: true },
    localDay: (t: number) => localDay(t, "Asia/Shanghai"),
  };
}

export const doorClosed = (binId: string, mono: number): StationInput => ({ type: "door_input", binId, part: "closed", active: true, ...at(mono) });
export const doorOpened = (binId: string, mono: number): StationInput => ({ type: "door_input", binId, part: "closed", active: false, ...at(mono) });
export const press = (binId: string, mono: number): StationInput => ({ type: "door_input", binId, part: "button", active: true, ...at(mono) });
export const contact = (c: Contact, active: boolean, mono: number): StationInput => ({ type: "contact", contact: c, active, ...at(mono) });

/** READY plus every door read closed at 50 ms. */
export function readyWithDoors(ctx: StationContext): StationInput[] {
  return [...READY, ...ctx.bins.filter((b) => b.door).map((b) => doorClosed(b.binId, 50))];
}

/** `kitchen:locked recycle:unlocked`, door bins only, in config order. */
export function locks(state: StationState, ctx: StationContext): string {
  const out = outputsOf(state, ctx);
  return Object.entries(out.locks)
    .map(([bin, released]) => `${bin}:${released ? "unlocked" : "locked"}`)
    .join(" ");
}
