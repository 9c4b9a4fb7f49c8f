/**
 * What `smartbin monitor` (issue 9, item 5) knows about one configured device: the bytes it sent,
 * run through the device's own protocol module (the registry's framer and decoder, as the station
 * does), and judged by the station's own rules with the device's config: the scale's stability
 * window, `capacity_g` and `change_threshold_g` (src/domain/scale-state.ts), the reader's `min_reads`
 * and `repeat_gap_ms` (src/domain/reader-state.ts), the level sensor's median, fill level and
 * full/ok hysteresis (src/domain/level-state.ts). Pure apart from the framer's buffer: bytes and
 * the monotonic time (ms) come in, a {@link MonitorView} goes out; the CLI renders it.
 */
import type { Config } from "../../config/schema.js";
import { portChanged } from "../../domain/device-link.js";
import { addReading, initialLevel, levelLinkChanged, levelSaysFull } from "../../domain/level-state.js";
import { unreachable } from "../../domain/exhaustive.js";
import { initialReader, readTag } from "../../domain/reader-state.js";
import { applyScaleFrame, framesTooSlow, initialScale, scaleLinkChanged, windowNeededMs } from "../../domain/scale-state.js";
import type { LevelSensorSpec, LevelSensorState, ReaderSpec, ReaderState, ScaleCondition, ScaleSpec, ScaleState } from "../../domain/station-types.js";
import { findProtocol, type BufferedFramer, type LevelFrame, type ReaderFrame, type ScaleFrame } from "../../protocol/index.js";
import { discardHint } from "./protocol-guess.js";

/** One configured device to monitor: its config item and the station's spec of it. */
export type MonitoredDevice =
  | { kind: "scale"; item: Config["scales"][number]; spec: ScaleSpec }
  | { kind: "reader"; item: Config["readers"][number]; spec: ReaderSpec }
  | { kind: "level"; item: Config["level_sensors"][number]; spec: LevelSensorSpec };

/** Frames per second are counted over this many ms of valid frames. */
export const RATE_WINDOW_MS = 2_000;
/** The guesser looks at the last this many bytes the device sent. */
export const GUESS_SAMPLE_BYTES = 4_096;
/**
 * Bytes without one valid frame before the hint is given: the station's own threshold of the "no
 * valid frames" rule (contract.md section 4; src/domain/device-link.ts NO_VALID_FRAMES_MIN_BYTES).
 */
export const HINT_MIN_BYTES = 64;
/** At most this many bytes of the last discarded frame are shown, in hex. */
export const SHOWN_DISCARDED_BYTES = 16;
/** At most this many distinct presented cards are listed, the latest first. */
export const SHOWN_CARDS = 3;

/** The port as the serial adapter reports it. */
export type MonitorPort = { state: "opening" } | { state: "open" } | { state: "offline"; reason: string };

/** Counts common to every device. */
export interface FrameCounts {
  /** Bytes received since start. */
  bytes: number;
  /** Frames the protocol decoded (readings, and frames that carry nothing, such as `TR`). */
  valid: number;
  /** Frames discarded, and their bytes. */
  discarded: number;
  discardedBytes: number;
  /** Valid frames per second over the last {@link RATE_WINDOW_MS}. */
  framesPerSecond: number;
  /** The last discarded frame: its first bytes in hex, how many it had, and why. */
  lastDiscarded: { hex: string; length: number; reason: string } | null;
}

/** A scale as shown. */
export interface ScaleView {
  kind: "scale";
  id: string;
  protocol: string;
  baudRate: number;
  port: MonitorPort;
  counts: FrameCounts;
  /** The last weight read, integer grams, and in the scale's `unit`; `null` before one. */
  lastG: number | null;
  unit: "g" | "kg" | "lb";
  /** Gross or net display of the last weight. */
  mode: "gross" | "net" | null;
  /** Stable by the station's window rule with this scale's settings. */
  stable: boolean;
  /**
   * The frames come too far apart for the window ever to hold its samples (`framesTooSlow`): the
   * `stable_window_ms` that would, else `null`.
   */
  windowNeededMs: number | null;
  condition: ScaleCondition;
  /** Every frame so far was discarded: what the bytes decode as (protocol-guess.ts), or `null`. */
  hint: string | null;
}

/** A reader as shown. Card ids are whole: a technician commissioning needs to see them. */
export interface ReaderView {
  kind: "reader";
  id: string;
  protocol: string;
  /** `null` for a reader on GPIO lines (wiegand), shown by its lines instead. */
  baudRate: number | null;
  /** A reader on GPIO lines: its D0 and D1 lines. */
  lines?: readonly [number, number];
  port: MonitorPort;
  counts: FrameCounts;
  /** Presentations counted by `min_reads` / `repeat_gap_ms`, since start. */
  presentations: number;
  /** The latest presented cards, latest first (at most {@link SHOWN_CARDS}), with ms since their last presentation. */
  cards: { cardId: string; presentations: number; agoMs: number }[];
  /** Noise: frames the protocol calls noise, and tags read fewer than `min_reads` times. */
  noise: number;
  hint: string | null;
}

/** A fill-level sensor as shown: its readings, judged as the station judges them. */
export interface LevelView {
  kind: "level";
  id: string;
  protocol: string;
  baudRate: number;
  port: MonitorPort;
  counts: FrameCounts;
  /** The bin it looks into, and its full distance (mm). */
  binId: string;
  fullMm: number;
  /** The last distance read (mm), `null` before one. */
  lastMm: number | null;
  /** The median of the station's window (at least 5 readings) and its fill level, `null` before. */
  medianMm: number | null;
  fillPercent: number | null;
  /** Whether the station would call the bin full on these readings (full at full_mm, ok below 90 %). */
  full: boolean;
  /** Why the last frame carried no reading (no echo, weak signal), `null` after a reading. */
  noReading: string | null;
  hint: string | null;
}

/** What the monitor shows of one device. */
export type MonitorView = ScaleView | ReaderView | LevelView;

/** One device's live state. Feed it with {@link DeviceMonitor.portChanged} and {@link DeviceMonitor.bytes}. */
export class DeviceMonitor {
  readonly device: MonitoredDevice;
  private readonly framer: BufferedFramer<ScaleFrame | ReaderFrame | LevelFrame>;
  private port: MonitorPort = { state: "opening" };
  private counts = { bytes: 0, valid: 0, discarded: 0, discardedBytes: 0 };
  private lastDiscarded: FrameCounts["lastDiscarded"] = null;
  private validMonos: number[] = [];
  private sample = new Uint8Array(0);
  private hint: { atBytes: number; text: string | null } = { atBytes: 0, text: null };
  private scale: ScaleState = initialScale;
  private lastG: number | null = null;
  private reader: ReaderState = initialReader;
  private presentations = 0;
  private cards = new Map<string, { presentations: number; lastMono: number }>();
  private noise = 0;
  private level: LevelSensorState = initialLevel;
  private levelFull = false;
  private lastMm: number | null = null;

  /** @throws RangeError for a protocol the registry does not know (the config schema refuses it first) */
  constructor(device: MonitoredDevice) {
    this.device = device;
    this.framer = findProtocol(device.kind, device.item.protocol).configure(device.item).createFramer();
  }

  /** The port opened (`open`) or closed / failed to open (`offline`, with the adapter's reason). */
  portChanged(port: MonitorPort, mono: number): void {
    this.port = port;
    if (this.device.kind === "scale" && port.state !== "opening") {
      const link = portChanged(this.scale.link, port.state === "open" ? "open" : "closed", mono, port.state === "offline" ? port.reason : undefined);
      this.scale = scaleLinkChanged({ ...this.scale, link });
    }
    if (this.device.kind === "level" && port.state !== "opening") {
      const link = portChanged(this.level.link, port.state === "open" ? "open" : "closed", mono, port.state === "offline" ? port.reason : undefined);
      this.level = levelLinkChanged({ ...this.level, link });
    }
  }

  /** Bytes that arrived at `mono` (ms, monotonic), split anywhere. */
  bytes(chunk: Uint8Array, mono: number): void {
    if (chunk.length === 0) return;
    // Bytes mean the port is open, whatever the adapter has said so far (it reports a streaming
    // indicator online only at its first data).
    if (this.port.state !== "open") this.portChanged({ state: "open" }, mono);
    this.counts.bytes += chunk.length;
    this.keepSample(chunk);
    for (const frame of this.framer.push(chunk)) this.frame(frame, mono);
  }

  private keepSample(chunk: Uint8Array): void {
    const kept = Math.min(this.sample.length, Math.max(0, GUESS_SAMPLE_BYTES - chunk.length));
    const next = new Uint8Array(kept + Math.min(chunk.length, GUESS_SAMPLE_BYTES));
    next.set(this.sample.subarray(this.sample.length - kept), 0);
    next.set(chunk.subarray(chunk.length - (next.length - kept)), kept);
    this.sample = next;
  }

  private frame(frame: ScaleFrame | ReaderFrame | LevelFrame, mono: number): void {
    if (frame.kind === "discarded") {
      this.counts.discarded++;
      this.counts.discardedBytes += frame.bytes.length;
      this.lastDiscarded = {
        hex: Array.from(frame.bytes.subarray(0, SHOWN_DISCARDED_BYTES), (b) => b.toString(16).padStart(2, "0")).join(" "),
        length: frame.bytes.length,
        reason: frame.reason,
      };
      return;
    }
    this.counts.valid++;
    this.validMonos.push(mono);
    this.pruneRate(mono);
    if (this.device.kind === "scale") this.scaleFrame(frame as ScaleFrame, mono, this.device.spec);
    else if (this.device.kind === "level") this.levelFrame(frame as LevelFrame, mono, this.device.spec);
    else this.readerFrame(frame as ReaderFrame, mono, this.device.spec);
  }

  private scaleFrame(frame: ScaleFrame, mono: number, spec: ScaleSpec): void {
    if (frame.kind === "weight") this.lastG = frame.grams;
    this.scale = applyScaleFrame(this.scale, frame, mono, spec).scale;
  }

  private levelFrame(frame: LevelFrame, mono: number, spec: LevelSensorSpec): void {
    if (frame.kind === "no_reading") this.level = { ...this.level, noReading: frame.reason };
    if (frame.kind !== "distance") return;
    this.lastMm = frame.mm;
    const before = this.level.medianMm;
    this.level = addReading(this.level, frame.mm, mono, spec);
    if (this.level.medianMm !== null && this.level.medianMm !== before) this.levelFull = levelSaysFull(this.levelFull, this.level.medianMm, spec);
  }

  private readerFrame(frame: ReaderFrame, mono: number, spec: ReaderSpec): void {
    switch (frame.kind) {
      case "id": {
        const r = readTag(this.reader, frame.cardId, mono, spec);
        this.reader = r.reader;
        this.noise += r.noise;
        if (r.presented) {
          this.presentations++;
          const seen = this.cards.get(frame.cardId);
          this.cards.delete(frame.cardId);
          this.cards.set(frame.cardId, { presentations: (seen?.presentations ?? 0) + 1, lastMono: mono });
          // Bounded: the oldest card goes first (a Map keeps insertion order).
          if (this.cards.size > SHOWN_CARDS) this.cards.delete(this.cards.keys().next().value as string);
        } else if (this.reader.presented[frame.cardId] !== undefined) {
          const seen = this.cards.get(frame.cardId);
          if (seen !== undefined) seen.lastMono = mono;
        }
        return;
      }
      case "noise":
        this.noise++;
        return;
      case "discarded":
        return;
      default:
        return unreachable(frame);
    }
  }

  private pruneRate(mono: number): void {
    let drop = 0;
    while (drop < this.validMonos.length && this.validMonos[drop]! <= mono - RATE_WINDOW_MS) drop++;
    if (drop > 0) this.validMonos = this.validMonos.slice(drop);
  }

  /** The hint, recomputed when at least {@link HINT_MIN_BYTES} more bytes came since the last one. */
  private currentHint(): string | null {
    if (this.counts.valid > 0 || this.counts.bytes < HINT_MIN_BYTES) return null;
    if (this.hint.atBytes === 0 || this.counts.bytes - this.hint.atBytes >= HINT_MIN_BYTES) {
      const { item, kind } = this.device;
      // Bit lines from GPIO edges (wiegand) are no serial bytes another protocol could decode.
      const text = "baud_rate" in item ? discardHint({ kind, protocol: item.protocol, baudRate: item.baud_rate, options: item }, this.sample) : null;
      this.hint = { atBytes: this.counts.bytes, text };
    }
    return this.hint.text;
  }

  /** What to show at `mono` (ms, the same clock as the bytes'). */
  view(mono: number): MonitorView {
    this.pruneRate(mono);
    const counts: FrameCounts = { ...this.counts, framesPerSecond: (this.validMonos.length * 1000) / RATE_WINDOW_MS, lastDiscarded: this.lastDiscarded };
    const item = this.device.item;
    const base = { id: item.id, protocol: item.protocol, port: this.port, counts, hint: this.currentHint() };
    if (!("baud_rate" in item)) {
      // A reader on GPIO lines (wiegand): shown by its lines.
      return { kind: "reader", ...base, baudRate: null, lines: [item.d0_line, item.d1_line], ...this.readerFields(mono) };
    }
    if (this.device.kind === "reader") {
      return { kind: "reader", ...base, baudRate: item.baud_rate, ...this.readerFields(mono) };
    }
    const serialBase = { ...base, baudRate: item.baud_rate };
    if (this.device.kind === "scale") {
      return {
        kind: "scale",
        ...serialBase,
        lastG: this.lastG,
        unit: displayUnit(this.device.item),
        mode: this.scale.mode,
        stable: this.scale.stable,
        windowNeededMs: framesTooSlow(this.scale) ? windowNeededMs(this.scale.slowFrames?.periodMs ?? 0, this.device.spec.stability.minSamples) : null,
        condition: this.port.state === "opening" ? "no_reading" : this.scale.condition,
      };
    }
    if (this.device.kind === "level") {
      const { spec } = this.device;
      return {
        kind: "level",
        ...serialBase,
        binId: spec.binId,
        fullMm: spec.fullMm,
        lastMm: this.lastMm,
        medianMm: this.level.medianMm,
        fillPercent: this.level.fillPercent,
        full: this.levelFull,
        noReading: this.level.noReading,
      };
    }
    return { kind: "reader", ...serialBase, ...this.readerFields(mono) };
  }

  /** A reader's presentations, latest cards and noise at `mono`. */
  private readerFields(mono: number): Pick<ReaderView, "presentations" | "cards" | "noise"> {
    const cards = [...this.cards].reverse().map(([cardId, c]) => ({ cardId, presentations: c.presentations, agoMs: Math.max(0, mono - c.lastMono) }));
    return { presentations: this.presentations, cards, noise: this.noise };
  }
}

/** The scale's `unit` (an option of the protocols whose frames carry none), else kg. */
function displayUnit(item: Readonly<Record<string, unknown>>): "g" | "kg" | "lb" {
  const unit = item.unit;
  return unit === "g" || unit === "lb" ? unit : "kg";
}
