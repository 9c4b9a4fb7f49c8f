import { describe, expect, it } from "vitest";
import { step } from "../../src/domain/station-machine.js";
import type { StationInput, StationState } from "../../src/domain/station-types.js";
import {
  ANNA,
  BORIS,
  READY,
  STORED_SESSION,
  card,
  close,
  eventSummary,
  flush,
  notices,
  open,
  readerData,
  recoverInput,
  run,
  scaleData,
  sessionWrites,
  storage,
  tag,
  testContext,
  tick,
  weigh,
} from "../support/machine.js";

/**
 * The station machine as one transition table: every session phase (idle, open, recovering) against
 * every kind of input (contract.md section 2 "Sessions" and "Restart mid-session", section 4
 * "Readers" and the alarms). Each cell says the phase after the input, the events it records and
 * the stored-session writes it makes; a cell that is not written here would be a gap in the machine.
 */

const ctx = testContext();

const STORED = STORED_SESSION;

/** The three phases, each reached the way the station reaches it; the clock stands at 2 s. */
const PHASES: Record<StationState["session"]["phase"], StationInput[]> = {
  idle: READY,
  // Anna identified at 1 s; the kitchen bag (12 kg -> 13.25 kg) accepted at 2 s.
  open: [...READY, card(ANNA, 1000), ...weigh("scale-1", 13_250, 2000)],
  // Restarted at 0 with Anna's session stored; ports open, only the kitchen scale weighed again.
  recovering: [recoverInput([STORED], 0), open("scale-1", 10), open("scale-2", 10), open("reader-1", 10), open("reader-2", 10), ...weigh("scale-1", 13_250, 2000)],
};

interface Cell {
  phase: StationState["session"]["phase"];
  events: string[];
  writes: string[];
  /** A warn-level notice that must be among the effects. */
  warn?: RegExp;
}

type Phase = keyof typeof PHASES;

/** The inputs, each at 2.5 s unless it needs its own time, with the expected cell per phase. */
const INPUTS: Array<{ name: string; input: StationInput | StationInput[]; cells: Record<Phase, Cell> }> = [
  {
    name: "a weight change on a covered scale (recycle 3 kg -> 3.6 kg)",
    input: weigh("scale-2", 3600, 2500),
    cells: {
      // Outside any session: an unattributed weight change (contract section 2, "Other station alarms").
      idle: { phase: "idle", events: ["alarm unattributed_weight_change recycle"], writes: [] },
      open: { phase: "open", events: [], writes: ["put"] },
      // Every scale of the recovered session has an accepted weight again: it closes at once.
      recovering: {
        phase: "idle",
        events: ["deposit kitchen 1250g 2 awarded restart", "deposit recycle 600g 0 awarded restart"],
        writes: ["delete"],
      },
    },
  },
  {
    name: "an indicator overload frame",
    input: scaleData("scale-2", 2500, [{ kind: "no_weight", reason: "overload" }]),
    cells: {
      idle: { phase: "idle", events: [], writes: [] },
      open: { phase: "open", events: [], writes: [] },
      recovering: { phase: "recovering", events: [], writes: [] },
    },
  },
  {
    name: "bytes that form no frame",
    input: scaleData("scale-2", 2500, [{ kind: "discarded", bytes: new Uint8Array(20), reason: "no header" }], 20),
    cells: {
      idle: { phase: "idle", events: [], writes: [] },
      open: { phase: "open", events: [], writes: [] },
      recovering: { phase: "recovering", events: [], writes: [] },
    },
  },
  {
    name: "Boris's tag read twice on reader-1 (min_reads 2)",
    input: [readerData("reader-1", 2500, [tag(BORIS)]), readerData("reader-1", 2550, [tag(BORIS)])],
    cells: {
      idle: { phase: "open", events: [], writes: ["put"] },
      open: { phase: "open", events: ["deposit kitchen 1250g 2 awarded other_identification"], writes: ["delete", "put"] },
      recovering: { phase: "recovering", events: [], writes: [], warn: /^identification refused/ },
    },
  },
  {
    name: "Boris's tag read once on reader-1 (below min_reads: noise when its gap runs out)",
    input: [readerData("reader-1", 2500, [tag(BORIS)]), tick(3100)],
    cells: {
      idle: { phase: "idle", events: [], writes: [] },
      open: { phase: "open", events: [], writes: [] },
      recovering: { phase: "recovering", events: [], writes: [] },
    },
  },
  {
    name: "an EM4100 noise frame (all-zero tag)",
    input: readerData("reader-1", 2500, [{ kind: "noise", bytes: new Uint8Array(14), reason: "all-zero tag" }]),
    cells: {
      idle: { phase: "idle", events: [], writes: [], warn: /^reader noise/ },
      open: { phase: "open", events: [], writes: [], warn: /^reader noise/ },
      recovering: { phase: "recovering", events: [], writes: [], warn: /^reader noise/ },
    },
  },
  {
    name: "the same card (Anna) again",
    input: card(ANNA, 2500),
    cells: {
      idle: { phase: "open", events: [], writes: ["put"] },
      open: { phase: "open", events: [], writes: [] },
      recovering: { phase: "recovering", events: [], writes: [], warn: /^identification refused/ },
    },
  },
  {
    name: "another card (Boris)",
    input: card(BORIS, 2500),
    cells: {
      idle: { phase: "open", events: [], writes: ["put"] },
      open: { phase: "open", events: ["deposit kitchen 1250g 2 awarded other_identification"], writes: ["delete", "put"] },
      recovering: { phase: "recovering", events: [], writes: [], warn: /^identification refused/ },
    },
  },
  {
    name: "a scale's port closes",
    input: close("scale-2", 2500),
    cells: {
      idle: { phase: "idle", events: ["alarm scale_offline scale-2"], writes: [] },
      open: { phase: "open", events: ["alarm scale_offline scale-2"], writes: [] },
      recovering: { phase: "recovering", events: ["alarm scale_offline scale-2"], writes: [] },
    },
  },
  {
    name: "a reader's port closes",
    input: close("reader-1", 2500),
    cells: {
      idle: { phase: "idle", events: ["alarm reader_offline reader-1"], writes: [] },
      open: { phase: "open", events: ["alarm reader_offline reader-1"], writes: [] },
      recovering: { phase: "recovering", events: ["alarm reader_offline reader-1"], writes: [] },
    },
  },
  {
    name: "a port reported open again (already open)",
    input: open("scale-1", 2500),
    cells: {
      idle: { phase: "idle", events: [], writes: [] },
      open: { phase: "open", events: [], writes: [] },
      recovering: { phase: "recovering", events: [], writes: [] },
    },
  },
  {
    name: "storage fault",
    input: storage("fault", 2500),
    cells: {
      idle: { phase: "idle", events: [], writes: [] },
      open: { phase: "open", events: [], writes: [] },
      recovering: { phase: "recovering", events: [], writes: [] },
    },
  },
  {
    name: "storage busy, then a card (busy is not a fault: sessions still open)",
    input: [storage("busy", 2500), card(BORIS, 2600)],
    cells: {
      idle: { phase: "open", events: [], writes: ["put"] },
      open: { phase: "open", events: ["deposit kitchen 1250g 2 awarded other_identification"], writes: ["delete", "put"] },
      recovering: { phase: "recovering", events: [], writes: [], warn: /^identification refused/ },
    },
  },
  {
    name: "storage fault, then a card (fail safe: no new session)",
    input: [storage("fault", 2500), card(BORIS, 2600)],
    cells: {
      idle: { phase: "idle", events: [], writes: [] },
      // Boris is refused before anything else: Anna's session goes on and closes by its timers.
      open: { phase: "open", events: [], writes: [], warn: /^session refused: storage fault/ },
      recovering: { phase: "recovering", events: [], writes: [], warn: /^identification refused/ },
    },
  },
  {
    name: "a stored session found (recover)",
    input: recoverInput([{ ...STORED, session_id: "0190f1a2-0000-7000-8000-00000000beef" }], 2500),
    cells: {
      // Every scale of it has an accepted weight already: it closes at once (12 kg -> 12 kg, no deposit).
      idle: { phase: "idle", events: [], writes: ["delete"], warn: /^session recovered/ },
      // Queued behind the current session: it is served once that one closes.
      open: { phase: "open", events: [], writes: [], warn: /^session recovered/ },
      recovering: { phase: "recovering", events: [], writes: [], warn: /^session recovered/ },
    },
  },
  {
    name: "a tick before any deadline",
    input: tick(2500),
    cells: {
      idle: { phase: "idle", events: [], writes: [] },
      open: { phase: "open", events: [], writes: [] },
      recovering: { phase: "recovering", events: [], writes: [] },
    },
  },
  {
    name: "a tick long after every deadline (120 s)",
    input: tick(120_000),
    cells: {
      idle: { phase: "idle", events: [], writes: [] },
      open: { phase: "idle", events: ["deposit kitchen 1250g 2 awarded idle"], writes: ["delete"] },
      recovering: {
        phase: "idle",
        events: ["deposit kitchen 1250g 2 awarded restart", "alarm session_interrupted st-001"],
        writes: ["delete"],
      },
    },
  },
  {
    name: "flush (shutdown)",
    input: flush(2500),
    cells: {
      idle: { phase: "idle", events: [], writes: [] },
      open: { phase: "idle", events: ["deposit kitchen 1250g 2 awarded shutdown"], writes: ["delete"] },
      // The recovered session stays stored for the next start.
      recovering: { phase: "recovering", events: [], writes: [], warn: /^shutdown while a recovered session/ },
    },
  },
];

describe("station machine: every phase x every input", () => {
  for (const phase of Object.keys(PHASES) as Phase[]) {
    const { state: from } = run(PHASES[phase], ctx);
    it(`(the ${phase} fixture is in phase ${phase})`, () => expect(from.session.phase).toBe(phase));
    describe(`from ${phase}`, () => {
      it.each(INPUTS.map((row) => [row.name, row] as const))("%s", (_name, row) => {
        const cell = row.cells[phase];
        const inputs = Array.isArray(row.input) ? row.input : [row.input];
        let state = from;
        const effects = [];
        for (const input of inputs) {
          const r = step(state, input, ctx);
          expect(JSON.parse(JSON.stringify(r.state))).toEqual(r.state);
          state = r.state;
          effects.push(...r.effects);
        }
        expect(state.session.phase).toBe(cell.phase);
        expect(eventSummary(effects)).toEqual(cell.events);
        expect(sessionWrites(effects)).toEqual(cell.writes);
        if (cell.warn) expect(notices(effects, "warn").some((m) => cell.warn!.test(m))).toBe(true);
      });
    });
  }

  it("a session recovered while another was open is served when that one closes", () => {
    const { state, effects } = run([...PHASES.open, recoverInput([STORED], 2500), tick(120_000)], ctx);
    expect(eventSummary(effects)).toEqual(["deposit kitchen 1250g 2 awarded idle", "deposit kitchen 1250g 2 awarded restart"]);
    expect(sessionWrites(effects)).toEqual(["put", "put", "delete", "delete"]);
    expect(state.session.phase).toBe("idle");
    expect(state.recoveredQueue).toEqual([]);
  });

  it("another card while a recovered session waits: the open session closes, the recovered one is served first, the card is refused", () => {
    const waiting = [...PHASES.open, recoverInput([STORED], 2500)];
    const { state, effects } = run([...waiting, card(BORIS, 3000)], ctx);
    // Its scales all have accepted weights, so the recovered session closes in the same step.
    expect(eventSummary(effects)).toEqual(["deposit kitchen 1250g 2 awarded other_identification", "deposit kitchen 1250g 2 awarded restart"]);
    expect(notices(effects, "warn").some((m) => m.startsWith("identification refused"))).toBe(true);
    expect(state.session.phase).toBe("idle");
  });
});
