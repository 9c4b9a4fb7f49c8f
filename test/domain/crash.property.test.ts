/**
 * Properties of the station machine across crashes (issue 12, "property-based tests of the station
 * machine"): random input sequences on a station with doors and a bin without one (weights, cards
 * of residents and staff, door sensors and buttons, resident and collector visits, contacts, scale
 * cables pulled, ticks), interrupted by crashes at random points, between two inputs or in the middle
 * of one input's effects, the restart itself included.
 *
 * A crash is SIGKILL and a restart. The machine's state is thrown away; what survives is exactly what
 * was committed: the durable events of the `record` effects the runner executed before it died,
 * their `session` writes (put/delete, applied in order to the stored rows) and their `meta` rows.
 * The restart is what src/app/runner.ts and src/app/gpio-station.ts do: a fresh `initialState`, the
 * safe outputs, `restore` (the stored meta), `recover` (the stored rows), the ports open again, the
 * GPIO inputs read at their levels (doors, contacts), then the scales' weights at their last level
 * in the simulated world. Several crashes per sequence; time may go on or the monotonic clock may
 * start again (a power cut).
 *
 * What it proves, over the whole sequence across crashes:
 * - no input ever makes the machine throw;
 * - one outcome per (session, bin), whatever the crashes: a deposit or a collection, or a
 *   `negative_net`, `tare_changed` or `session_interrupted` alarm naming the bin; a session
 *   interrupted by a crash is credited once after the restart or reported as interrupted, never
 *   both, never twice;
 * - every deposit, collection, maintenance audit and per-session alarm names a session the machine
 *   opened (a "session opened" notice or a stored row): nothing for a session that never happened;
 * - points are integers, never negative, never above `floor(net_g * points_per_kg / 1000)` of the
 *   bin's category rule (and exactly that when `awarded`);
 * - after every input, a door that reads closed and that no open session covers is locked (unless
 *   the fire input is active and `fire_doors: unlock`);
 * - at every start (contract section 2, "Safe state"), every lock output is locked and every lamp off
 *   when the outputs are first written, after the stored state, the stored sessions and the inputs'
 *   levels are in; only the fire rule overrides the locks; no session is open then;
 * - in the end (doors closed, time enough), every stored session has been closed: no row is left.
 *
 * Each start gives `recover` every stored row once, as the runner does; a session listed twice is
 * machine.property.test.ts's case. `CRASH_RUNS=N` runs N sequences per variant (a longer soak), and
 * `CRASH_STATS=1` prints what the runs reached.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { initialState, outputsOf, step } from "../../src/domain/station-machine.js";
import {
  META_KEYS,
  type BinSpec,
  type Contact,
  type DurableEvent,
  type FullSources,
  type PersistedSession,
  type ScaleSpec,
  type StationContext,
  type StationEffect,
  type StationInput,
  type StationState,
} from "../../src/domain/station-types.js";
import { doorContext } from "../support/doors.js";
import { WALL0 } from "../support/machine.js";

const RESIDENTS = ["0008844356", "0001234567"];
const COLLECTOR = "0000000777";
const MAINTENANCE = "0000000888";
const BLOCKED = "0000000999";
const CARDS = [...RESIDENTS, COLLECTOR, MAINTENANCE, BLOCKED];
/** The config's role lists (the runner restores them at every start). */
const CONFIG_CARDS = { collectors: [COLLECTOR], maintenance: [MAINTENANCE], blocked: [BLOCKED], version: null };
const CONTACTS: readonly Contact[] = ["fire", "tamper", "power_fail"];

/**
 * The door test station (test/support/doors.ts: kitchen with a door, recycle with one when `both`)
 * plus a bin without a door, `yard`, on its own scale.
 */
function crashContext(opts: { mode: "select" | "all"; both: boolean; fireDoors: "lock" | "unlock" }): StationContext {
  const base = doorContext({ ...opts, fullG: 30_000 });
  const scale3: ScaleSpec = { ...base.scales[0]!, id: "scale-3", binId: "yard", capacityG: null };
  const yard: BinSpec = { binId: "yard", category: "food_waste", scaleId: "scale-3", maxNetG: 20_000 };
  return { ...base, scales: [...base.scales, scale3], bins: [...base.bins, yard] };
}

const SCALE_OF: Record<string, string> = { kitchen: "scale-1", recycle: "scale-2", yard: "scale-3" };
const SCALES = Object.values(SCALE_OF);
const BINS = Object.keys(SCALE_OF);

// ---------------------------------------------------------------------------------------------
// The plan: world inputs at planned times (`mono` = planned ms, `wall` = WALL0 + it), and crashes.

/** One planned item: an input, or "the scale streams its current weight again" (after its cable is back). */
type Item = { kind: "input"; input: StationInput } | { kind: "resend"; scaleId: string; t: number };
/** A draft of the world's next doings, plain data (so that fast-check prints counterexamples readably). */
type Draft =
  | { kind: "weigh"; dt: number; scale: string; g: number }
  | { kind: "card"; dt: number; card: string }
  | { kind: "door"; dt: number; bin: string; part: "closed" | "button"; active: boolean }
  | { kind: "contact"; dt: number; contact: Contact; active: boolean }
  | { kind: "gpio_error"; dt: number; bin: string }
  | { kind: "cable"; dt: number; scale: string; open: boolean }
  | { kind: "door_visit"; dt: number; card: string | null; bin: string; g: number }
  | { kind: "open_bin_visit"; dt: number; card: string; bin: string; g: number }
  | { kind: "collector_visit"; dt: number; bin: string; g: number }
  | { kind: "tick"; dt: number };
const at = (t: number) => ({ mono: t, wall: WALL0 + t });
const input = (i: StationInput): Item => ({ kind: "input", input: i });
const weigh = (scaleId: string, grams: number, t: number): Item[] =>
  [t, t + 10].map((u) => input({ type: "scale_data", scaleId, bytes: 18, frames: [{ kind: "weight", grams, stable: true, mode: "gross" }], ...at(u) }));
const identified = (cardId: string, t: number, n: number): Item => input({ type: "identified", cardId, readerId: "reader-2", sessionId: `s-${n}`, ...at(t) });
const door = (binId: string, part: "closed" | "button", active: boolean, t: number): Item => input({ type: "door_input", binId, part, active, ...at(t) });

/** The items of draft number `n`, starting at `t`. */
function make(d: Draft, t: number, n: number): Item[] {
  switch (d.kind) {
    case "weigh":
      return weigh(d.scale, d.g, t);
    case "card":
      return [identified(d.card, t, n)];
    case "door":
      return [door(d.bin, d.part, d.active, t)];
    case "contact":
      return [input({ type: "contact", contact: d.contact, active: d.active, ...at(t) })];
    case "gpio_error":
      return [input({ type: "gpio_error", line: 27, message: "EIO", binId: d.bin, ...at(t) })];
    case "cable":
      // A scale's cable pulled or plugged back; plugged back, it streams its weight again.
      return [
        input({ type: "port", deviceId: d.scale, state: d.open ? "open" : "closed", ...(d.open ? {} : { reason: "unplugged" }), ...at(t) }),
        ...(d.open ? [{ kind: "resend" as const, scaleId: d.scale, t: t + 10 }] : []),
      ];
    case "door_visit":
      // A resident's use of a door: the card (or a session already open), button, open, a bag, close
      // (each may find the door locked or not ready).
      return [
        ...(d.card !== null ? [identified(d.card, t, n)] : []),
        door(d.bin, "button", true, t + 300),
        door(d.bin, "closed", false, t + 800),
        ...weigh(SCALE_OF[d.bin]!, d.g, t + 1300),
        door(d.bin, "closed", true, t + 1800),
      ];
    case "open_bin_visit":
      // A resident at a bin without a door (yard; recycle too when it has none): card, bag.
      return [identified(d.card, t, n), ...weigh(SCALE_OF[d.bin]!, d.g, t + 800)];
    case "collector_visit":
      // A collector's visit: the card, a bin emptied (through its door when it has one).
      return [
        identified(COLLECTOR, t, n),
        door(d.bin, "button", true, t + 300),
        door(d.bin, "closed", false, t + 800),
        ...weigh(SCALE_OF[d.bin]!, d.g, t + 1300),
        door(d.bin, "closed", true, t + 1800),
      ];
    case "tick":
      return [input({ type: "tick", ...at(t) })];
  }
}

const dt = (max: number) => fc.integer({ min: 0, max });
const kind = <K extends Draft["kind"]>(k: K) => fc.constant(k);
const draft: fc.Arbitrary<Draft> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: kind("weigh"), dt: dt(3000), scale: fc.constantFrom(...SCALES), g: fc.integer({ min: 0, max: 40_000 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: kind("card"), dt: dt(2000), card: fc.constantFrom(...CARDS) }) },
  { weight: 4, arbitrary: fc.record({ kind: kind("door"), dt: dt(2000), bin: fc.constantFrom("kitchen", "recycle"), part: fc.constantFrom("closed" as const, "button" as const), active: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: kind("contact"), dt: dt(5000), contact: fc.constantFrom(...CONTACTS), active: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: kind("gpio_error"), dt: dt(5000), bin: fc.constantFrom("kitchen", "recycle") }) },
  { weight: 2, arbitrary: fc.record({ kind: kind("cable"), dt: dt(5000), scale: fc.constantFrom(...SCALES), open: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ kind: kind("door_visit"), dt: dt(3000), card: fc.option(fc.constantFrom(...RESIDENTS), { nil: null }), bin: fc.constantFrom("kitchen", "recycle"), g: fc.integer({ min: 0, max: 40_000 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: kind("open_bin_visit"), dt: dt(3000), card: fc.constantFrom(...RESIDENTS), bin: fc.constantFrom("yard", "recycle"), g: fc.integer({ min: 0, max: 40_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: kind("collector_visit"), dt: dt(3000), bin: fc.constantFrom(...BINS), g: fc.integer({ min: 0, max: 5000 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: kind("tick"), dt: fc.integer({ min: 100, max: 70_000 }) }) },
);

/**
 * A crash before the plan's item `pos` (modulo its length). `during`: instead, while the runner
 * executes that item's effects, after it committed `during` of its record effects. `restart`: the
 * restart is itself killed at its step `step`, after `cut` of that step's records; the next one
 * completes. `reboot`: the monotonic clock starts again (a power cut), not just the process.
 * While the station is down, a scale's cable may come loose (`unplugged`: it is not back at the
 * restart) and a bag may land on a scale (`dropped`).
 */
interface Crash {
  pos: number;
  downtimeMs: number;
  reboot: boolean;
  during: number | null;
  restart: { step: number; cut: number } | null;
  unplugged: string | null;
  dropped: { scale: string; g: number } | null;
}
const crash: fc.Arbitrary<Crash> = fc.record({
  pos: fc.nat(),
  downtimeMs: fc.integer({ min: 0, max: 90_000 }),
  reboot: fc.boolean(),
  during: fc.option(fc.nat({ max: 4 }), { nil: null }),
  restart: fc.option(fc.record({ step: fc.nat(), cut: fc.nat({ max: 3 }) }), { nil: null }),
  unplugged: fc.option(fc.constantFrom(...SCALES), { nil: null, freq: 3 }),
  dropped: fc.option(fc.record({ scale: fc.constantFrom(...SCALES), g: fc.integer({ min: 0, max: 40_000 }) }), { nil: null, freq: 3 }),
});

/** The plan's items in time order: each draft starts `dt` after the previous one's last input. */
function plan(drafts: Draft[]): Item[] {
  const items: Item[] = [];
  let t = 100;
  drafts.forEach((d, n) => {
    t += d.dt;
    const made = make(d, t, n);
    items.push(...made);
    for (const item of made) t = Math.max(t, item.kind === "input" ? item.input.mono : item.t);
  });
  return items;
}

// ---------------------------------------------------------------------------------------------
// The station across crashes.

/** What the runs reached, so that a generator that never gets there fails the test. */
interface Reached {
  crashes: number;
  midStep: number;
  recovered: number;
  restartDeposits: number;
  interrupted: number;
  collections: number;
  doorDeposits: number;
  killedStarts: number;
}

/** The effects of one step the runner executed: all of them, or, killed as it committed record number `cut` (from 0), those before it. */
function executed(effects: readonly StationEffect[], cut: number | null): readonly StationEffect[] {
  if (cut === null) return effects;
  let records = 0;
  for (let i = 0; i < effects.length; i++) {
    if (effects[i]!.type !== "record") continue;
    if (records === cut) return effects.slice(0, i);
    records++;
  }
  return effects;
}

class CrashingStation {
  private state: StationState;
  /** What the database holds: committed events, session rows, meta rows. */
  readonly events: DurableEvent[] = [];
  readonly rows = new Map<string, PersistedSession>();
  private readonly meta = new Map<string, string>();
  /** Sessions the machine opened (notice or stored row). */
  readonly opened = new Set<string>();
  /** The simulated world: weights on the scales, scale ports, door sensors (closed?), contacts. */
  private readonly weights = new Map<string, number>();
  private readonly ports = new Map<string, boolean>();
  private readonly doors = new Map<string, boolean>();
  private readonly contacts = new Map<Contact, boolean>();
  /** Planned ms -> elapsed ms: `shift` ms of downtime so far; elapsed -> mono: minus `monoOffset` (the boot). */
  private shift = 0;
  private monoOffset = 0;
  private lastElapsed = 0;
  /** The open session and the doors it unlocked (see {@link checkLocks}). */
  private unlockedBy: { session: string | null; bins: Set<string> } = { session: null, bins: new Set() };

  constructor(
    private readonly ctx: StationContext,
    private readonly reached: Reached,
  ) {
    for (const s of SCALES) this.ports.set(s, true);
    this.ports.set("reader-2", true);
    for (const b of ctx.bins) if (b.door) this.doors.set(b.binId, true);
    for (const c of CONTACTS) this.contacts.set(c, false);
    this.weights.set("scale-1", 10_000).set("scale-2", 2000).set("scale-3", 5000);
    this.state = initialState(ctx);
    this.start(0, null);
  }

  /** Plays the plan with its crashes. */
  play(items: Item[], crashes: Crash[]): void {
    const byPos = new Map<number, Crash[]>();
    for (const c of crashes) {
      const pos = c.pos % (items.length + 1);
      byPos.set(pos, [...(byPos.get(pos) ?? []), c]);
    }
    items.forEach((item, i) => {
      let during: Crash | null = null;
      for (const c of byPos.get(i) ?? []) {
        if (c.during !== null && item.kind === "input" && during === null) during = c;
        else this.crash(c);
      }
      if (during === null) this.playItem(item, null);
      else {
        this.playItem(item, during.during);
        this.crash(during);
        this.reached.midStep++;
      }
    });
    for (const c of byPos.get(items.length) ?? []) this.crash(c);
  }

  /** The end: every door closed, then time enough for every session, recovered or not, to close. */
  finish(): StationState {
    let t = this.lastElapsed - this.shift + 100;
    for (const [binId, closed] of this.doors) if (!closed) this.playItem(door(binId, "closed", true, t), null);
    t += 100;
    for (const later of [0, 400_000, 800_000]) this.playItem(input({ type: "tick", ...at(t + later) }), null);
    return this.state;
  }

  /** One planned item: the world changes; the machine hears of it when its device is connected. */
  private playItem(item: Item, cut: number | null): void {
    if (item.kind === "resend") {
      const g = this.weights.get(item.scaleId);
      if (this.ports.get(item.scaleId) === true && g !== undefined) for (const w of weigh(item.scaleId, g, item.t)) this.playItem(w, null);
      return;
    }
    const i = item.input;
    if (i.type === "scale_data") {
      for (const f of i.frames) if (f.kind === "weight") this.weights.set(i.scaleId, f.grams);
      if (this.ports.get(i.scaleId) !== true) return;
    } else if (i.type === "port") {
      if (this.ports.get(i.deviceId) === (i.state === "open")) return;
      this.ports.set(i.deviceId, i.state === "open");
    } else if (i.type === "door_input") {
      // A bin without a door has no door inputs.
      if (!this.doors.has(i.binId)) return;
      if (i.part === "closed") this.doors.set(i.binId, i.active);
    } else if (i.type === "contact") this.contacts.set(i.contact, i.active);
    const elapsed = i.mono + this.shift;
    this.feed({ ...i, mono: elapsed - this.monoOffset, wall: WALL0 + elapsed }, cut);
    this.lastElapsed = Math.max(this.lastElapsed, elapsed);
  }

  /** Steps one input; the runner executes its effects (only those before the `cut`-th record when it is killed then). */
  private feed(i: StationInput, cut: number | null): void {
    const r = step(this.state, i, this.ctx);
    for (const e of executed(r.effects, cut)) {
      if (e.type === "notice") this.noticed(e.msg, e.fields);
      if (e.type !== "record") continue;
      this.events.push(...e.events);
      if (e.session?.op === "put") {
        this.rows.set(e.session.id, e.session.state);
        this.opened.add(e.session.id);
      } else if (e.session?.op === "delete") this.rows.delete(e.session.id);
      for (const [k, v] of Object.entries(e.meta ?? {})) {
        if (v === null) this.meta.delete(k);
        else this.meta.set(k, v);
      }
      for (const ev of e.events) {
        if (ev.kind === "deposit" && ev.data.close_reason === "restart") this.reached.restartDeposits++;
        if (ev.kind === "collection") this.reached.collections++;
        if (ev.kind === "deposit" && this.ctx.bins.find((b) => b.binId === ev.data.bin_id)?.door) this.reached.doorDeposits++;
        if (ev.kind === "alarm" && ev.data.code === "session_interrupted") this.reached.interrupted++;
      }
    }
    if (cut === null) {
      const session = r.state.session.phase === "open" ? r.state.session.id : null;
      if (session !== this.unlockedBy.session) this.unlockedBy = { session, bins: new Set() };
      checkLocks(r.state, this.ctx, this.unlockedBy.bins, i);
    }
    this.state = r.state;
  }

  /** The sessions opened, and the doors the current session unlocked, as the machine's log lines tell, in order. */
  private noticed(msg: string, fields: Readonly<Record<string, unknown>>): void {
    if (msg === "session opened") {
      this.opened.add(String(fields.session));
      this.unlockedBy = { session: String(fields.session), bins: new Set() };
    } else if (msg === "session closed" || msg === "recovered session closed") this.unlockedBy = { session: null, bins: new Set() };
    else if (msg === "door unlocked" && this.unlockedBy.session !== null) this.unlockedBy.bins.add(String(fields.bin));
  }

  /** SIGKILL: the state is gone; after `downtimeMs` the station starts again. */
  private crash(c: Crash): void {
    this.reached.crashes++;
    if (c.unplugged !== null) this.ports.set(c.unplugged, false);
    if (c.dropped !== null) this.weights.set(c.dropped.scale, c.dropped.g);
    this.shift += c.downtimeMs + 100;
    const startAt = this.lastElapsed + c.downtimeMs;
    if (c.reboot) this.monoOffset = startAt - 1000;
    this.start(startAt, c.restart);
  }

  /**
   * A start as the runner's: the safe outputs, `restore` (the meta rows), `recover` (the stored
   * rows), the ports, the GPIO inputs' levels, then the scales' weights. `killed`: the start is
   * itself killed at that step, after `cut` of its records; another start follows.
   */
  private start(elapsed: number, killed: { step: number; cut: number } | null): void {
    this.state = initialState(this.ctx);
    this.unlockedBy = { session: null, bins: new Set() };
    const at0 = (dt: number) => ({ mono: elapsed + dt - this.monoOffset, wall: WALL0 + elapsed + dt });
    const safe = outputsOf(this.state, this.ctx);
    expect(Object.values(safe.locks).every((released) => !released), "locks at start").toBe(true);
    expect(Object.values(safe.lamps).every((lamp) => lamp === "off"), "lamps at start").toBe(true);
    const parse = <T>(key: string): T | undefined => {
      const v = this.meta.get(key);
      return v === undefined ? undefined : (JSON.parse(v) as T);
    };
    const full = parse<Record<string, boolean>>(META_KEYS.full);
    const fullBy = parse<Record<string, FullSources>>(META_KEYS.fullBy);
    const contacts = parse<Partial<Record<Contact, boolean>>>(META_KEYS.contacts);
    const sessions = [...this.rows.values()];
    if (sessions.length > 0) this.reached.recovered++;
    const gpio: StationInput[] = [
      ...[...this.doors].map(([binId, closed]): StationInput => ({ type: "door_input", binId, part: "closed", active: closed, ...at0(0) })),
      ...[...this.contacts].map(([contact, active]): StationInput => ({ type: "contact", contact, active, ...at0(0) })),
    ];
    const ports = [...this.ports].filter(([, open]) => open).map(([deviceId]): StationInput => ({ type: "port", deviceId, state: "open", ...at0(0) }));
    const first: StationInput[] = [
      { type: "restore", cards: CONFIG_CARDS, ...(full ? { full } : {}), ...(fullBy ? { fullBy } : {}), ...(contacts ? { contacts } : {}), ...at0(0) },
      { type: "recover", sessions, ...at0(0) },
      ...ports,
      ...gpio,
    ];
    const weights = SCALES.filter((s) => this.ports.get(s) === true && this.weights.has(s)).flatMap((s) =>
      [10, 20].map((dt): StationInput => ({ type: "scale_data", scaleId: s, bytes: 18, frames: [{ kind: "weight", grams: this.weights.get(s)!, stable: true, mode: "gross" }], ...at0(dt) })),
    );
    const inputs = [...first, ...weights];
    const killAt = killed === null ? null : killed.step % inputs.length;
    for (const [n, i] of inputs.entries()) {
      if (n === killAt) {
        this.reached.killedStarts++;
        this.feed(i, killed!.cut);
        this.lastElapsed = elapsed + 30;
        this.crash({ pos: 0, downtimeMs: 1000, reboot: false, during: null, restart: null, unplugged: null, dropped: null });
        return;
      }
      this.feed(i, null);
      if (n === first.length - 1) this.checkStart();
    }
    this.lastElapsed = Math.max(this.lastElapsed, elapsed + 30);
  }

  /**
   * When the outputs are first written (gpio-station.ts writes them once the inputs' levels are in):
   * every lock locked, every lamp off; only an active fire input with `fire_doors: unlock` releases
   * the locks. No session is open yet.
   */
  private checkStart(): void {
    const out = outputsOf(this.state, this.ctx);
    const fireUnlocks = this.contacts.get("fire") === true && this.ctx.gpio?.fireDoors === "unlock";
    for (const [bin, released] of Object.entries(out.locks)) expect(released, `lock of ${bin} at start`).toBe(fireUnlocks);
    if (!fireUnlocks) for (const [bin, lamp] of Object.entries(out.lamps)) expect(lamp, `lamp of ${bin} at start`).toBe("off");
    expect(this.state.session.phase).not.toBe("open");
  }
}

/**
 * A door that reads closed and that no open session covers is locked, unless a fire holds it
 * released. A session covers its bins, the door bins waiting for their button, and any door it
 * unlocked itself (`unlockedBy`: doors whose lock was commanded open while it was the open session).
 */
function checkLocks(state: StationState, ctx: StationContext, unlockedBy: ReadonlySet<string>, after: StationInput): void {
  if (state.contacts?.fire === true && ctx.gpio?.fireDoors === "unlock") return;
  const session = state.session.phase === "open" ? state.session : null;
  for (const [bin, released] of Object.entries(outputsOf(state, ctx).locks)) {
    if (!released || state.doors?.[bin]?.closed !== true) continue;
    const covered = session !== null && (session.bins.some((b) => b.binId === bin) || (session.doorBins ?? []).includes(bin) || unlockedBy.has(bin));
    if (!covered) throw new Error(`${bin} is closed and unlocked with no session covering it (session ${state.session.phase}), after ${JSON.stringify(after)}`);
  }
}

/** The formula's points for `netG` grams of `category`: `floor(net_g * points_per_kg / 1000)`, exactly. */
function formula(ctx: StationContext, category: string, netG: number): number {
  const rule = ctx.points?.rules.get(category);
  if (rule === undefined) return 0;
  if (rule.pointsPerKg === null) return rule.pointsPerDeposit ?? 0;
  const { num, den } = rule.pointsPerKg;
  return Number((BigInt(netG) * num) / (1000n * den));
}

/** The bins a durable event settles for its session: a deposit's or collection's bin, or those an alarm gives instead. */
function settled(ev: DurableEvent): { sessionId: string; bins: string[] } | null {
  switch (ev.kind) {
    case "deposit":
    case "collection":
      return { sessionId: ev.data.session_id, bins: [ev.data.bin_id] };
    case "maintenance":
      return { sessionId: ev.data.session_id, bins: [] };
    case "alarm": {
      const d = ev.data;
      if (d.code === "negative_net" || d.code === "tare_changed") return { sessionId: String(d.session_id), bins: [String(d.bin_id)] };
      if (d.code === "session_interrupted") return { sessionId: String(d.session_id), bins: (d.bin_ids as string[]).map(String) };
      return null;
    }
    case "command":
      return null;
  }
}

function checkEvents(station: CrashingStation, ctx: StationContext): void {
  const seen = new Set<string>();
  const maintenance = new Set<string>();
  for (const ev of station.events) {
    const s = settled(ev);
    if (s === null) continue;
    expect(station.opened.has(s.sessionId), `${ev.kind} for ${s.sessionId}, a session never opened`).toBe(true);
    if (ev.kind === "maintenance") {
      expect(maintenance.has(s.sessionId), `two maintenance audits of ${s.sessionId}`).toBe(false);
      maintenance.add(s.sessionId);
    }
    for (const bin of s.bins) {
      const key = `${s.sessionId}/${bin}`;
      expect(seen.has(key), `two outcomes for ${key} (the second: ${ev.kind} ${JSON.stringify(ev.data)})`).toBe(false);
      seen.add(key);
    }
    if (ev.kind !== "deposit") continue;
    const d = ev.data;
    expect(Number.isSafeInteger(d.points) && d.points >= 0, `points ${d.points}`).toBe(true);
    expect(d.net_g).toBeGreaterThan(0);
    const most = formula(ctx, d.category, d.net_g);
    expect(d.points, `points of ${JSON.stringify(d)}`).toBeLessThanOrEqual(most);
    if (d.points_reason === "awarded") expect(d.points).toBe(most);
  }
}

describe("the machine across crashes (SIGKILL and restart at random points)", () => {
  const variants = [
    { mode: "select" as const, both: true, fireDoors: "unlock" as const },
    { mode: "all" as const, both: false, fireDoors: "lock" as const },
  ];
  for (const v of variants) {
    it(`credits each session once and keeps doors locked (door_mode ${v.mode}, recycle ${v.both ? "with" : "without"} a door, fire_doors ${v.fireDoors})`, () => {
      const ctx = crashContext(v);
      const reached: Reached = { crashes: 0, midStep: 0, recovered: 0, restartDeposits: 0, interrupted: 0, collections: 0, doorDeposits: 0, killedStarts: 0 };
      fc.assert(
        fc.property(fc.array(draft, { minLength: 1, maxLength: 80 }), fc.array(crash, { minLength: 1, maxLength: 5 }), (drafts, crashes) => {
          const station = new CrashingStation(ctx, reached);
          station.play(plan(drafts), crashes);
          const end = station.finish();
          checkEvents(station, ctx);
          expect(end.session.phase, "a session still open at the end").toBe("idle");
          expect([...station.rows.keys()], "stored sessions never closed").toEqual([]);
        }),
        { numRuns: Number(process.env.CRASH_RUNS ?? 2000) },
      );
      if (process.env.CRASH_STATS) console.log(JSON.stringify(reached));
      expect(reached.crashes).toBeGreaterThan(300);
      expect(reached.midStep).toBeGreaterThan(50);
      expect(reached.recovered).toBeGreaterThan(20);
      expect(reached.restartDeposits).toBeGreaterThan(0);
      expect(reached.interrupted).toBeGreaterThan(0);
      expect(reached.collections).toBeGreaterThan(0);
      expect(reached.doorDeposits).toBeGreaterThan(0);
      expect(reached.killedStarts).toBeGreaterThan(50);
    });
  }
});
