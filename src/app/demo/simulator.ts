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
  path: string;
  /** Its protocol bound to its config (the device registry): how its display is encoded. */
  codec: DeviceCodec<"scale">;
  /** What lies on the platform, in grams. */
  loadG: number;
  /** While > 0 the platform swings (a bag was just dropped): values wander and the flag says unstable. */
  settleTicks: number;
}

/** The demo's residents: a card on the EM4100 reader or a QR code on the line scanner, then bags. */
export interface Resident {
  cardTag?: string; // ten hex characters, shown on the EM4100 reader
  qr?: string; // a line, shown on the QR scanner
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
  residents: Resident[];
  random: () => number;
}

const FRAME_MS = 100;

/**
 * Drives the simulated devices: every scale streams frames, and residents come one after another,
 * identify, drop one or two bags, and leave. The first resident identifies after 1.5 s and the first
 * deposit is recorded a few seconds later (after the session's idle close).
 */
export class Simulator {
  private readonly timers: NodeJS.Timeout[] = [];
  private next = 0;

  constructor(private readonly opts: SimulatorOptions) {}

  start(): void {
    this.timers.push(setInterval(() => this.streamScales(), FRAME_MS));
    this.timers.push(setTimeout(() => this.nextResident(), 1_500));
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.length = 0;
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
    const resident = residents[this.next % residents.length];
    this.next++;
    if (resident === undefined) return;
    if (resident.cardTag !== undefined) {
      // A card held in the field for about 0.8 s: the module repeats its frame every 50 ms.
      const { path, codec } = this.opts.cardReader;
      const frame = codec.encode({ tag: resident.cardTag });
      for (let i = 0; i < 16; i++) {
        this.timers.push(setTimeout(() => this.opts.demo.emit(path, frame), i * 50));
      }
    } else if (resident.qr !== undefined) {
      const { path, codec } = this.opts.qrReader;
      this.opts.demo.emit(path, codec.encode({ tag: resident.qr }));
    }
    // One bag, sometimes two bags into two bins.
    const bins = this.opts.scales;
    const first = bins[Math.floor(random() * bins.length)];
    this.timers.push(setTimeout(() => this.dropBag(first), 1_200));
    if (random() < 0.3) {
      const second = bins.find((b) => b !== first);
      this.timers.push(setTimeout(() => this.dropBag(second), 2_400));
    }
    this.timers.push(setTimeout(() => this.nextResident(), 7_000 + Math.floor(random() * 2_000)));
  }

  private dropBag(scale: SimScale | undefined): void {
    if (scale === undefined) return;
    const bagG = 150 + Math.floor(this.opts.random() * 2_400);
    scale.loadG += bagG;
    scale.settleTicks = 8;
  }
}
