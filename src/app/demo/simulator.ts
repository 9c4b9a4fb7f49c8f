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

/** The demo's residents: a card on the EM4100 reader or a QR code on the line scanner, then bags. */
export interface Resident {
  cardTag?: string; // ten hex characters, shown on the EM4100 reader
  qr?: string; // a line, shown on the QR scanner
  /** The bags, dropped one after another (at least one). */
  bags: readonly Bag[];
}

/** A simulated reader: its mock port and its protocol bound to its config (the device registry). */
export interface SimReader {
  path: string;
  codec: DeviceCodec<"reader">;
}

export interface SimulatorOptions {
  demo: DemoBinding;
  scales: SimScale[];
  cardReader: SimReader;
  qrReader: SimReader;
  /** Come in this order, then again from the first, each bag a little heavier or lighter (random). */
  residents: readonly Resident[];
  random: () => number;
}

const FRAME_MS = 100;
/** The first resident identifies this long after start. */
export const FIRST_RESIDENT_MS = 1_000;
/** A bag falls this long after the identification, and each further bag this long after the one before. */
export const BAG_GAP_MS = 900;
/** The next resident comes this long after the one before (after the session's idle close). */
export const RESIDENT_GAP_MS = 6_500;
/** Frames a platform swings after a bag falls (0.8 s at 10 Hz). */
const SETTLE_TICKS = 8;
/** A bin heavier than this is emptied (a collection) instead of the next resident, so loads stay on the display. */
const EMPTY_ABOVE_G = 40_000;
/** What an emptied bin weighs (its liner and what sticks to it). */
const EMPTIED_G = 2_000;

/**
 * Drives the simulated devices: every scale streams frames, and residents come one after another,
 * identify, drop their bags, and leave. The first resident identifies after 1 s; its session closes
 * `idle_close_s` after the last bag has settled, so with the demo's 2 s the first deposit is
 * recorded about 6 s after start. The second round of residents and later ones vary each bag's
 * weight by up to ±10 % (seeded), which keeps a bag below a minimum or above a maximum on its side.
 */
export class Simulator {
  /** Pending one-shot timers (residents, cards, bags); each leaves the set when it fires, so a day-long demo holds only a few. */
  private readonly timers = new Set<NodeJS.Timeout>();
  private stream: NodeJS.Timeout | undefined;
  private next = 0;

  constructor(private readonly opts: SimulatorOptions) {}

  start(): void {
    this.stream = setInterval(() => this.streamScales(), FRAME_MS);
    this.later(() => this.nextResident(), FIRST_RESIDENT_MS);
  }

  /**
   * No more residents, cards or bags; the scales keep streaming, so that a session still open can
   * close once its scales have settled (a silent indicator would go offline instead).
   */
  stopResidents(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
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

  private nextResident(): void {
    const { residents, random } = this.opts;
    this.later(() => this.nextResident(), RESIDENT_GAP_MS);
    // A heavy bin is emptied in a resident's slot of its own, so that it has settled long before
    // the next identification (the station sees a weight change outside any session).
    const heavy = this.opts.scales.find((s) => s.loadG > EMPTY_ABOVE_G);
    if (heavy !== undefined) {
      heavy.loadG = EMPTIED_G;
      heavy.settleTicks = SETTLE_TICKS;
      return;
    }
    const round = Math.floor(this.next / Math.max(1, residents.length));
    const resident = residents[this.next % residents.length];
    this.next++;
    if (resident === undefined) return;
    if (resident.cardTag !== undefined) {
      // A card held in the field for about 0.8 s: the module repeats its frame every 50 ms.
      const { path, codec } = this.opts.cardReader;
      const frame = codec.encode({ tag: resident.cardTag });
      for (let i = 0; i < 16; i++) {
        this.later(() => this.opts.demo.emit(path, frame), i * 50);
      }
    } else if (resident.qr !== undefined) {
      const { path, codec } = this.opts.qrReader;
      this.opts.demo.emit(path, codec.encode({ tag: resident.qr }));
    }
    resident.bags.forEach((bag, i) => {
      const grams = round === 0 ? bag.grams : Math.round(bag.grams * (0.9 + random() * 0.2));
      this.later(() => this.dropBag(bag.binId, grams), BAG_GAP_MS * (i + 1));
    });
  }

  private dropBag(binId: string, grams: number): void {
    const scale = this.opts.scales.find((s) => s.binId === binId);
    if (scale === undefined) return;
    scale.loadG += grams;
    scale.settleTicks = SETTLE_TICKS;
  }
}
