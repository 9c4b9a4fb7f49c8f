import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import type { DeviceCodec } from "../../protocol/index.js";
import type { DemoBinding } from "./binding.js";

/** A small seeded PRNG (mulberry32) so that every demo run tells the same story. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A simulated weighing indicator streaming its display at 10 Hz into a mock port. */
export interface SimScale {
  /** The bin this scale weighs (residents' bags name it). */
  binId: string;
  path: string;
  /** Its protocol bound to its config (the device registry): how its display is encoded. */
  codec: DeviceCodec<"scale">;
  /** What lies on the platform, in grams. */
  loadG: number;
  /** While > 0 the platform swings (a bag was just dropped): values wander and the flag says unstable. */
  settleTicks: number;
}

/** A bag a resident drops: into which bin, how heavy (grams). */
export interface Bag {
  binId: string;
  grams: number;
}

/** A resident: a card on the EM4100 reader or a QR code on the line scanner, then bags. */
export interface Resident {
  cardTag?: string; // ten hex characters, shown on the EM4100 reader
  qr?: string; // a line, shown on the QR scanner
  /** The bags, dropped one after another (at least one); a bag for a door bin goes through its door. */
  bags: readonly Bag[];
}

/**
 * A collector (a card in `cards.collectors`): every door unlocks at the card (contract section 2,
 * "Roles"); the collector empties every door bin, and every bin without a door that is heavier than
 * {@link EMPTY_ABOVE_G}.
 */
export interface Collector {
  collector: true;
  cardTag: string;
}

/** Who comes to the station, in turn. */
export type Visitor = Resident | Collector;

/** A simulated reader: its mock port and its protocol bound to its config (the device registry). */
export interface SimReader {
  path: string;
  codec: DeviceCodec<"reader">;
}

/**
 * A door bin's lines in the `simulated` GPIO folder (contract.md section 2, "Simulated backend": one
 * file per line, named by the line number, whose first character is the level). The demo wires them
 * active-high: lock `1` is unlocked, closed `1` is the door closed, button `1` is pressed.
 */
export interface SimDoor {
  binId: string;
  lock: number;
  closed: number;
  button: number;
}

/** The simulated GPIO folder and the doors in it. */
export interface SimGpio {
  /** `gpio.simulated_dir`. */
  dir: string;
  doors: readonly SimDoor[];
  /** The doors' `debounce_ms`: a press is held longer than this. */
  debounceMs: number;
}

export interface SimulatorOptions {
  demo: DemoBinding;
  scales: SimScale[];
  cardReader: SimReader;
  qrReader: SimReader;
  /** Door bins' lines; absent: no doors. */
  gpio?: SimGpio;
  /** Come in this order, then again from the first, each bag a little heavier or lighter (random). */
  visitors: readonly Visitor[];
  random: () => number;
  /**
   * True once the station is ready for the first visitor (every bin's scale has an accepted
   * weight). The first visitor waits for it, looking every {@link READY_LOOK_MS}, but no longer than
   * {@link READY_WAIT_MS}; absent: ready at once.
   */
  ready?: () => boolean;
}

const FRAME_MS = 100;
/** The first visitor identifies this long after start, or later, once the station is ready. */
export const FIRST_RESIDENT_MS = 1_000;
/** How often the first visitor looks whether the station is ready. */
const READY_LOOK_MS = 100;
/**
 * The first visitor comes at the latest this long after start, ready or not (the demo never
 * stalls; a bin not ready is then shown as such). On a loaded machine the scales' first stable
 * weights can come after {@link FIRST_RESIDENT_MS}, and a first visitor refused at a bin that is
 * not ready yet tells a first-time user the wrong story.
 */
export const READY_WAIT_MS = 10_000;
/** A bag falls into a bin without a door this long after the identification, and each further bag this long after the one before. */
export const BAG_GAP_MS = 900;
/** The next visitor comes this long after the one before. */
export const RESIDENT_GAP_MS = 6_500;
/** Frames a platform swings after a bag falls (0.8 s at 10 Hz). */
const SETTLE_TICKS = 8;
/** A bin without a door heavier than this is emptied by the collector too. */
export const EMPTY_ABOVE_G = 40_000;
/** What an emptied bin weighs (the scale is tared with the empty bin on it). */
const EMPTIED_G = 0;
/** At a door bin: from the card (or the bag before) to the press of the button. */
export const PRESS_AFTER_MS = 500;
/** How long a press lasts beyond the button's `debounce_ms`. */
const PRESS_MARGIN_MS = 120;
/** How often a visitor looks at the lock (reads its file). */
const LOCK_LOOK_MS = 50;
/** A visitor waits this long for a door to unlock, then gives up on that bin (never opens a locked door). */
export const UNLOCK_WAIT_MS = 3_000;
/** From the lock opening to the door opening. */
const OPEN_AFTER_MS = 300;
/** From the door opening to the bag falling (or the bin being emptied). */
const DROP_AFTER_MS = 500;
/** From the bag falling to the door closing. */
const CLOSE_AFTER_MS = 800;

/**
 * Drives the simulated devices: every scale streams frames, and visitors come one after another.
 * A resident identifies and drops bags: into a bin without a door at once; at a door bin it presses
 * the bin's button, waits until the lock reads unlocked (never opening a locked door; after
 * {@link UNLOCK_WAIT_MS} it gives up on that bag), opens the door, drops the bag and closes the door.
 * A collector identifies, opens every door as soon as it unlocks, empties the bin and closes it.
 * The first visitor identifies after 1 s, or once the station is ready (`ready`); its session closes `idle_close_s` after its last door
 * closed and its last bag settled, so with the demo's 2 s the first deposit is recorded about 6 s
 * after start. The second round of residents and later ones vary each bag's weight by up to ±10 %
 * (seeded), which keeps a bag below a minimum or above a maximum on its side.
 */
export class Simulator {
  /** Pending one-shot timers (visitors, cards); each leaves the set when it fires, so a day-long demo holds only a few. */
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Aborts the visits under way (their waits reject). */
  private visits = new AbortController();
  private stream: NodeJS.Timeout | undefined;
  private next = 0;

  constructor(private readonly opts: SimulatorOptions) {}

  /**
   * Writes the doors' input files (every door closed, every button released), then starts the
   * scales' streams and the visitors. Call it before the station starts, so that the station's
   * first reading of each input finds its file.
   */
  start(): void {
    if (this.opts.gpio !== undefined) mkdirSync(this.opts.gpio.dir, { recursive: true });
    for (const door of this.opts.gpio?.doors ?? []) {
      this.setLine(door.closed, 1);
      this.setLine(door.button, 0);
    }
    this.stream = setInterval(() => this.streamScales(), FRAME_MS);
    this.later(() => this.firstVisitor(FIRST_RESIDENT_MS), FIRST_RESIDENT_MS);
  }

  /** The first visitor, once the station is ready or {@link READY_WAIT_MS} after start. */
  private firstVisitor(waitedMs: number): void {
    const ready = this.opts.ready?.() ?? true;
    if (ready || waitedMs >= READY_WAIT_MS) this.nextVisitor();
    else this.later(() => this.firstVisitor(waitedMs + READY_LOOK_MS), READY_LOOK_MS);
  }

  /**
   * No more visitors, cards or bags: a visitor at a door closes it as they leave, and lets go of the
   * button. The scales keep streaming, so that a session still open can close once its scales have
   * settled (a silent indicator would go offline instead).
   */
  stopResidents(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.visits.abort();
    this.visits = new AbortController();
    for (const door of this.opts.gpio?.doors ?? []) {
      this.setLine(door.button, 0);
      this.setLine(door.closed, 1);
    }
  }

  /** Stops everything, the scales' streams too. */
  stop(): void {
    this.stopResidents();
    clearInterval(this.stream);
    this.stream = undefined;
  }

  private later(fn: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private streamScales(): void {
    const rnd = this.opts.random;
    for (const scale of this.opts.scales) {
      const swinging = scale.settleTicks > 0;
      if (swinging) scale.settleTicks--;
      const noise = swinging ? Math.round((rnd() - 0.5) * 600) : Math.round((rnd() - 0.5) * 8);
      const grams = Math.max(0, scale.loadG + noise);
      this.opts.demo.emit(scale.path, scale.codec.encode({ grams, stable: !swinging, decimals: 3 }));
    }
  }

  private nextVisitor(): void {
    const { visitors } = this.opts;
    this.later(() => this.nextVisitor(), RESIDENT_GAP_MS);
    const round = Math.floor(this.next / Math.max(1, visitors.length));
    const visitor = visitors[this.next % visitors.length];
    this.next++;
    if (visitor === undefined) return;
    const signal = this.visits.signal;
    const visit = "collector" in visitor ? this.collect(visitor, signal) : this.deposit(visitor, round, signal);
    // A visit ends early only when the demo ends (its waits reject with an AbortError).
    visit.catch(() => undefined);
  }

  /** Shows a card (held in the field for about 0.8 s: the module repeats its frame every 50 ms) or a QR code. */
  private identify(who: { cardTag?: string; qr?: string }): void {
    if (who.cardTag !== undefined) {
      const { path, codec } = this.opts.cardReader;
      const frame = codec.encode({ tag: who.cardTag });
      for (let i = 0; i < 16; i++) {
        this.later(() => this.opts.demo.emit(path, frame), i * 50);
      }
    } else if (who.qr !== undefined) {
      const { path, codec } = this.opts.qrReader;
      this.opts.demo.emit(path, codec.encode({ tag: who.qr }));
    }
  }

  private async deposit(resident: Resident, round: number, signal: AbortSignal): Promise<void> {
    const random = this.opts.random;
    this.identify(resident);
    for (const bag of resident.bags) {
      const grams = round === 0 ? bag.grams : Math.round(bag.grams * (0.9 + random() * 0.2));
      const door = this.doorOf(bag.binId);
      if (door === undefined) {
        await delay(BAG_GAP_MS, undefined, { signal });
        this.load(bag.binId, (g) => g + grams);
        continue;
      }
      await delay(PRESS_AFTER_MS, undefined, { signal });
      await this.press(door, signal);
      await this.throughDoor(door, signal, () => this.load(bag.binId, (g) => g + grams));
    }
  }

  private async collect(collector: Collector, signal: AbortSignal): Promise<void> {
    this.identify(collector);
    for (const door of this.opts.gpio?.doors ?? []) {
      await this.throughDoor(door, signal, () => this.load(door.binId, () => EMPTIED_G));
    }
    for (const scale of this.opts.scales) {
      if (this.doorOf(scale.binId) !== undefined || scale.loadG <= EMPTY_ABOVE_G) continue;
      await delay(BAG_GAP_MS, undefined, { signal });
      this.load(scale.binId, () => EMPTIED_G);
    }
  }

  /** Presses a door bin's button: the input holds longer than its `debounce_ms`, then is released. */
  private async press(door: SimDoor, signal: AbortSignal): Promise<void> {
    this.setLine(door.button, 1);
    await delay((this.opts.gpio?.debounceMs ?? 0) + PRESS_MARGIN_MS, undefined, { signal });
    this.setLine(door.button, 0);
  }

  /**
   * Waits until the door's lock reads unlocked (at most {@link UNLOCK_WAIT_MS}: then gives up, and
   * the door stays closed), opens the door, does `inside` (a bag falls, the bin is emptied) and
   * closes the door. Looks at the lock once more just before opening: a door is never opened locked.
   */
  private async throughDoor(door: SimDoor, signal: AbortSignal, inside: () => void): Promise<void> {
    const giveUpAt = performance.now() + UNLOCK_WAIT_MS;
    while (!this.unlocked(door)) {
      if (performance.now() >= giveUpAt) return;
      await delay(LOCK_LOOK_MS, undefined, { signal });
    }
    await delay(OPEN_AFTER_MS, undefined, { signal });
    if (!this.unlocked(door)) return;
    this.setLine(door.closed, 0);
    try {
      await delay(DROP_AFTER_MS, undefined, { signal });
      inside();
      await delay(CLOSE_AFTER_MS, undefined, { signal });
    } finally {
      this.setLine(door.closed, 1);
    }
  }

  private doorOf(binId: string): SimDoor | undefined {
    return this.opts.gpio?.doors.find((d) => d.binId === binId);
  }

  /** Changes what lies on a bin's platform; it swings for a moment. */
  private load(binId: string, change: (grams: number) => number): void {
    const scale = this.opts.scales.find((s) => s.binId === binId);
    if (scale === undefined) return;
    scale.loadG = change(scale.loadG);
    scale.settleTicks = SETTLE_TICKS;
  }

  /** The lock's output file says unlocked (`1`); a missing or unreadable file is locked. */
  private unlocked(door: SimDoor): boolean {
    const gpio = this.opts.gpio;
    if (gpio === undefined) return false;
    try {
      return readFileSync(join(gpio.dir, String(door.lock)), "utf8").startsWith("1");
    } catch {
      return false;
    }
  }

  /**
   * Sets an input line's level as the station reads it: a new file renamed over the old one
   * (rename(2) replaces it atomically), so the station never reads a half-written file.
   */
  private setLine(line: number, level: 0 | 1): void {
    const gpio = this.opts.gpio;
    if (gpio === undefined) return;
    const target = join(gpio.dir, String(line));
    const temp = join(gpio.dir, `.${line}.demo-tmp`);
    writeFileSync(temp, `${level}\n`);
    renameSync(temp, target);
  }
}
