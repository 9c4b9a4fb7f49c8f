/**
 * The door session as a transition table (issue 8, "transition tables for every phase and input"):
 * every state of a door bin (classified from the machine's state) crossed with every input a
 * station sees, with the state, lock and events that must follow. The same table draws the state
 * diagram of docs/deposit-flow.md: a test fails when the committed diagram differs from the one
 * generated here (`UPDATE_DOCS=1 npx vitest run test/domain/door-flow.test.ts` rewrites it).
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { doorOf, outputsOf } from "../../src/domain/doors.js";
import type { StationContext, StationInput, StationState } from "../../src/domain/station-types.js";
import { contact, doorClosed, doorContext, doorOpened, press, readyWithDoors } from "../support/doors.js";
import { ANNA, BORIS, card, eventSummary, run, tick, weigh } from "../support/machine.js";

/** The states of a door bin, as a resident and a technician see them. */
type DoorPhase = "no_session" | "waiting" | "unlocked" | "open" | "deposited" | "forced_open" | "fire";

/** Classifies the kitchen door bin's state. */
function phaseOf(state: StationState, ctx: StationContext): DoorPhase {
  const door = doorOf(state, "kitchen");
  const released = outputsOf(state, ctx).locks.kitchen === true;
  if (state.contacts?.fire === true) return "fire";
  const session = state.session.phase === "open" ? state.session : null;
  const inSession = session !== null && session.bins.some((b) => b.binId === "kitchen");
  if (door.closed === false) return inSession && !door.forced ? "open" : "forced_open";
  if (session === null) return "no_session";
  if (released) return "unlocked";
  if (session.doorBins?.includes("kitchen") === true) return "waiting";
  return session.doorOpened === true ? "deposited" : "waiting";
}

const ctx = doorContext();
const T = 7000; // every row's input comes at 7 s (before the deposited state's idle close at 10 s) unless it needs its own time

/** Inputs that bring the kitchen door into each state (by 5 s). */
const GIVEN: Record<DoorPhase, StationInput[]> = {
  no_session: readyWithDoors(ctx),
  waiting: [...readyWithDoors(ctx), card(ANNA, 1000)],
  unlocked: [...readyWithDoors(ctx), card(ANNA, 1000), press("kitchen", 2000)],
  open: [...readyWithDoors(ctx), card(ANNA, 1000), press("kitchen", 2000), doorOpened("kitchen", 3000), ...weigh("scale-1", 13_000, 4000)],
  deposited: [...readyWithDoors(ctx), card(ANNA, 1000), press("kitchen", 2000), doorOpened("kitchen", 3000), ...weigh("scale-1", 13_000, 4000), doorClosed("kitchen", 5000)],
  forced_open: [...readyWithDoors(ctx), doorOpened("kitchen", 3000)],
  fire: [...readyWithDoors(ctx), contact("fire", true, 3000)],
};

interface Cell {
  to: DoorPhase;
  /** eventSummary texts of the events the input records. */
  events?: string[];
  /** The diagram's label when an earlier timer made the change (time passing fires every timer due). */
  by?: string;
}

/** Inputs, each with the expected cell per state; a state left out means "nothing happens" (same state, no event). */
const INPUTS: Array<{ name: string; input: StationInput | StationInput[]; cells: Partial<Record<DoorPhase, Cell>> }> = [
  {
    name: "card",
    input: card(ANNA, T),
    cells: { no_session: { to: "waiting" } },
  },
  {
    name: "other card",
    input: card(BORIS, T),
    cells: {
      no_session: { to: "waiting" },
      waiting: { to: "waiting" },
      unlocked: { to: "waiting" },
      deposited: { to: "waiting", events: ["deposit kitchen 1000g 2 awarded other_identification"] },
    },
  },
  {
    name: "button",
    input: press("kitchen", T),
    // After a deposit the button unlocks again while the session lasts (a bag in two goes).
    cells: { waiting: { to: "unlocked" }, deposited: { to: "unlocked" } },
  },
  {
    name: "door opens",
    input: doorOpened("kitchen", T),
    cells: {
      no_session: { to: "forced_open", events: ["alarm door_forced kitchen"] },
      waiting: { to: "forced_open", events: ["alarm door_forced kitchen"] },
      unlocked: { to: "open" },
      deposited: { to: "forced_open", events: ["alarm door_forced kitchen"] },
    },
  },
  {
    name: "door closes",
    input: doorClosed("kitchen", T),
    cells: { open: { to: "deposited" }, forced_open: { to: "no_session" } },
  },
  {
    name: "open_timeout_s",
    input: tick(2000 + 15_000),
    cells: { unlocked: { to: "waiting" }, deposited: { to: "no_session", events: ["deposit kitchen 1000g 2 awarded idle"], by: "idle_close_s" } },
  },
  {
    name: "idle_close_s",
    input: tick(5000 + 5000),
    cells: { deposited: { to: "no_session", events: ["deposit kitchen 1000g 2 awarded idle"] } },
  },
  {
    name: "first_deposit_timeout_s",
    input: tick(31_000),
    cells: {
      waiting: { to: "no_session" },
      unlocked: { to: "no_session" },
      deposited: { to: "no_session", events: ["deposit kitchen 1000g 2 awarded idle"], by: "idle_close_s" },
    },
  },
  {
    name: "left_open_s",
    input: tick(3000 + 60_000),
    cells: {
      waiting: { to: "no_session", by: "first_deposit_timeout_s" },
      unlocked: { to: "no_session", by: "first_deposit_timeout_s" },
      open: { to: "open", events: ["alarm door_left_open kitchen"] },
      deposited: { to: "no_session", events: ["deposit kitchen 1000g 2 awarded idle"], by: "idle_close_s" },
      forced_open: { to: "forced_open", events: ["alarm door_left_open kitchen"] },
    },
  },
  {
    name: "max_session_s",
    input: tick(1000 + 300_000),
    cells: {
      waiting: { to: "no_session", by: "first_deposit_timeout_s" },
      unlocked: { to: "no_session", by: "first_deposit_timeout_s" },
      // A door open at max_session_s: the session waits for it to close.
      open: { to: "open", events: ["alarm door_left_open kitchen"] },
      deposited: { to: "no_session", events: ["deposit kitchen 1000g 2 awarded idle"], by: "idle_close_s" },
      forced_open: { to: "forced_open", events: ["alarm door_left_open kitchen"] },
    },
  },
  {
    name: "fire",
    input: contact("fire", true, T),
    cells: {
      no_session: { to: "fire", events: ["alarm fire st-001"] },
      waiting: { to: "fire", events: ["alarm fire st-001"] },
      unlocked: { to: "fire", events: ["alarm fire st-001"] },
      open: { to: "fire", events: ["alarm fire st-001"] },
      deposited: { to: "fire", events: ["alarm fire st-001"] },
      forced_open: { to: "fire", events: ["alarm fire st-001"] },
    },
  },
  {
    name: "fire cleared",
    input: contact("fire", false, T),
    cells: { fire: { to: "no_session", events: ["alarm fire_cleared st-001"] } },
  },
];

const PHASES = Object.keys(GIVEN) as DoorPhase[];

describe("the door session: every state x every input", () => {
  for (const { name, input, cells } of INPUTS) {
    describe(name, () => {
      for (const from of PHASES) {
        const cell = cells[from] ?? { to: from };
        it(`${from} -> ${cell.to}`, () => {
          const given = run(GIVEN[from], ctx);
          expect(phaseOf(given.state, ctx)).toBe(from);
          const { state, effects } = run(Array.isArray(input) ? input : [input], ctx, given.state);
          expect(phaseOf(state, ctx)).toBe(cell.to);
          expect(eventSummary(effects)).toEqual(cell.events ?? []);
          // The invariant of every cell: a closed door outside a session is locked, unless a fire unlocks it.
          const door = doorOf(state, "kitchen");
          if (door.closed === true && state.session.phase === "idle" && state.contacts?.fire !== true) {
            expect(outputsOf(state, ctx).locks.kitchen).toBe(false);
          }
        });
      }
    });
  }
});

/** The Mermaid state diagram of the table: one arrow per state change, labelled with its inputs. */
export function diagram(): string {
  const edges = new Map<string, string[]>();
  for (const { name, cells } of INPUTS) {
    for (const from of PHASES) {
      const cell = cells[from];
      if (cell === undefined || cell.to === from) continue;
      const key = `${from} --> ${cell.to}`;
      const label = cell.by ?? name;
      const labels = edges.get(key) ?? [];
      if (!labels.includes(label)) edges.set(key, [...labels, label]);
    }
  }
  const lines = ["stateDiagram-v2", "    [*] --> no_session"];
  for (const [edge, names] of edges) lines.push(`    ${edge}: ${names.join(", ")}`);
  return lines.join("\n");
}

it("docs/deposit-flow.md carries the diagram of this table", () => {
  const file = path.join(import.meta.dirname, "../../docs/deposit-flow.md");
  const text = fs.readFileSync(file, "utf8");
  const block = /```mermaid\n([\s\S]*?)\n```/.exec(text);
  const generated = diagram();
  if (process.env.UPDATE_DOCS === "1" && block) {
    fs.writeFileSync(file, text.replace(block[0], "```mermaid\n" + generated + "\n```"));
    return;
  }
  expect(block?.[1], "run UPDATE_DOCS=1 npx vitest run test/domain/door-flow.test.ts").toBe(generated);
});
