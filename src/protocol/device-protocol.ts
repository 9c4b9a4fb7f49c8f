/**
 * The shape of one device protocol module (architecture.md, "Layers": "Each protocol is one module
 * of a registry: its name, its config options (a zod schema), framer, decoder, encoder (simulator
 * and tests), and what it needs from the port"). A module describes itself once with
 * {@link defineProtocol}; the registry (registry.ts) lists the modules, and the config schema, the
 * station and the demo simulator all go through it, so adding a protocol touches only its module,
 * its fixtures and tests, and the registry's list.
 *
 * zod is used here only as data (a schema of the protocol's options); it does no I/O.
 */
import type { z } from "zod";
import type { BufferedFramer, LevelFrame, ReaderFrame, ScaleFrame } from "./types.js";

/**
 * Serial line settings a protocol's devices use out of the box. `baudRate` is the default of the
 * config's `baud_rate` (which may override it); the character format is the protocol's (or, for
 * toledo-continuous, its `character_format` option's: see {@link ProtocolSpec.portFor}).
 */
export interface SerialSettings {
  /** Bits per second, the default of `baud_rate`. */
  readonly baudRate: number;
  /** Data bits per character (7 for toledo-continuous's 7E1, 8 for the others). */
  readonly dataBits: 7 | 8;
  readonly parity: "none" | "even" | "odd";
  readonly stopBits: 1 | 2;
}

/**
 * A request a polled device needs sent while its port is open (request/response protocols: MT-SICS
 * `SI`, later Modbus RTU's read request). The serial device writes `request` as soon as the port
 * opens and then every `everyMs`; the answers arrive as ordinary bytes for the framer. A device that
 * does not answer is silent, and offline after the scale's `silence_timeout_s`, as a streaming one.
 */
export interface PollRequest {
  /** Milliseconds between two requests (the protocol's `poll_ms` option). */
  readonly everyMs: number;
  /** The bytes of one request, terminator included. */
  readonly request: Uint8Array;
}

/**
 * What a protocol needs from its port: serial settings, and for a request/response protocol the
 * request to poll with.
 */
export interface PortNeeds {
  readonly serial: SerialSettings;
  /** Absent for devices that stream (or send one frame per card) without being asked. */
  readonly poll?: PollRequest;
}

/**
 * Requests a scale protocol can send to its indicator on command (the MQTT `zero` and `tare`
 * commands will call them), for protocols that take commands (MT-SICS `Z`, `T`).
 */
export interface ScaleCommands {
  /** The bytes that set the indicator to zero. */
  zero(): Uint8Array;
  /** The bytes that tare the indicator (store the present weight as its tare). */
  tare(): Uint8Array;
}

/** What a scale encoder writes: one displayed weight (simulators and tests). */
export interface ScaleSample {
  /** Integer grams, negative allowed; shown rounded to the display step. */
  grams: number;
  /** Whether the display is settled; protocols without a stability flag ignore it. */
  stable: boolean;
  /** Digits after the decimal point (default 2), where the protocol shows any. */
  decimals?: number;
}

/** What a reader encoder writes: one identifier as the device carries it. */
export interface ReaderSample {
  /** em4100-ascii: the five data bytes as 10 hex characters; ascii-line: the line's text. */
  tag: string;
}

/** What a level-sensor encoder writes: one measurement (simulators and tests). */
export interface LevelSample {
  /** Distance in integer millimetres; protocols in centimetres round it half up to whole cm. */
  mm: number;
  /** Signal strength, for protocols that carry one (tf-luna; default 1000). */
  strength?: number;
}

/** Defaults that differ by level-sensor protocol (none yet). */
export type LevelDefaults = Readonly<Record<never, never>>;

/** Defaults that differ by scale protocol (none yet). */
export type ScaleDefaults = Readonly<Record<never, never>>;

/** Defaults that differ by reader protocol. */
export interface ReaderDefaults {
  /** The default of `readers[].min_reads` (contract.md section 2). */
  readonly minReads: number;
  /**
   * How often, in ms, the device repeats its frame while a tag is held in its field, where it does
   * (an RDM6300 module: about every 50 ms); absent for devices that send one frame per code. A
   * `repeat_gap_ms` shorter than about twice this lets no two frames be close enough for `min_reads`.
   */
  readonly heldTagRepeatMs?: number;
}

/** Per device kind: the frames its framers produce, what its encoders take, its defaults. */
interface KindTypes {
  scale: { frame: ScaleFrame; sample: ScaleSample; defaults: ScaleDefaults };
  reader: { frame: ReaderFrame; sample: ReaderSample; defaults: ReaderDefaults };
  level: { frame: LevelFrame; sample: LevelSample; defaults: LevelDefaults };
}

/** The kinds of serial device a protocol can drive. */
export type DeviceKind = keyof KindTypes;
/** The frame union of a kind's framers and decoders. */
export type FrameOf<K extends DeviceKind> = KindTypes[K]["frame"];
/** What a kind's encoders take. */
export type SampleOf<K extends DeviceKind> = KindTypes[K]["sample"];
/** The per-protocol defaults of a kind. */
export type DefaultsOf<K extends DeviceKind> = KindTypes[K]["defaults"];

/**
 * The schema of a protocol's own config keys: a plain (stripping) `z.object`, so that a whole config
 * item (common keys included) parses to just the protocol's options.
 */
export type OptionsSchema = z.ZodObject<z.core.$ZodShape, z.core.$strip>;

/** What a protocol is, as data: the same in its spec and in its registry entry. */
export interface ProtocolFacts<K extends DeviceKind> {
  /** The config's `protocol` value (contract.md section 5). */
  readonly name: string;
  readonly kind: K;
  /** One line for the config's documentation: which devices speak it. */
  readonly summary: string;
  /** Where the frame layout comes from (a section of shared/protocols/). */
  readonly source: string;
  /** What a device needs from its port with the default options (`configure(...).port`: with its own). */
  readonly port: PortNeeds;
  readonly defaults: DefaultsOf<K>;
  /**
   * How the device is connected: `serial` (absent: the default) through `port`; `gpio` through GPIO
   * lines named by its own options (wiegand's `d0_line`, `d1_line`): its config item has no `port`,
   * `baud_rate` or control lines, and `port` above is never opened.
   */
  readonly transport?: "serial" | "gpio";
}

/** What a protocol module writes once, with its options typed. */
export interface ProtocolSpec<K extends DeviceKind, S extends OptionsSchema> extends ProtocolFacts<K> {
  /** The protocol's own config keys, documented with `.describe()`, defaults by `.default()`. */
  readonly options: S;
  /** A fresh framer for one device's byte stream. Must not throw on any input. */
  createFramer(options: z.output<S>): BufferedFramer<FrameOf<K>>;
  /** Decodes one whole frame (as the framer delimits it). Never throws. */
  decode(frame: Uint8Array, options: z.output<S>): FrameOf<K>;
  /** Encodes a sample as the device sends it. May throw RangeError for a sample it cannot show. */
  encode(sample: SampleOf<K>, options: z.output<S>): Uint8Array;
  /**
   * What a device with these options needs from its port, for a protocol whose options change it
   * (toledo-continuous's `character_format`). Absent: `port`, whatever the options.
   */
  portFor?(options: z.output<S>): PortNeeds;
  /** The requests the device takes on command, for protocols that take any (MT-SICS). Absent: none. */
  commands?(options: z.output<S>): ScaleCommands;
  /**
   * Problems between options that are each valid (an option that contradicts another or the
   * protocol, e.g. a word order for a one-register value): the option's key as `path`, and the
   * complete message. Absent: options never contradict each other.
   */
  optionIssues?(options: z.output<S>): OptionIssue[];
}

/** A problem between a protocol's options: where (the option's key) and the complete message. */
export interface OptionIssue {
  path: string[];
  message: string;
}

/** A protocol bound to one device's options: its framer, decoder and encoder. */
export interface DeviceCodec<K extends DeviceKind> {
  /** What the device needs from its port with these options (serial settings). */
  readonly port: PortNeeds;
  /** A fresh framer for the device's byte stream (one per device, never shared). */
  createFramer(): BufferedFramer<FrameOf<K>>;
  /** Decodes one whole frame, as the framer delimits it (a line without its CR/LF). Never throws. */
  decode(frame: Uint8Array): FrameOf<K>;
  /** The bytes the device sends for `sample` (simulators and tests). @throws RangeError if it cannot show it */
  encode(sample: SampleOf<K>): Uint8Array;
  /** The requests the device takes on command (zero, tare); absent when its protocol takes none. */
  readonly commands?: ScaleCommands;
}

/** A protocol as the registry lists it: its facts, and {@link ProtocolModule.configure}. */
export interface ProtocolModule<K extends DeviceKind = DeviceKind> extends ProtocolFacts<K> {
  /** The protocol's own config keys (merged into the config's item schema by src/config). */
  readonly options: z.ZodObject<Readonly<Record<never, never>>, z.core.$strip>;
  /**
   * Binds the protocol to one device's options.
   *
   * @param config a config item (`scales[i]`, `readers[i]`) or just the options; keys that are not
   *   the protocol's options are ignored, missing options take their defaults
   * @throws z.ZodError when an option is invalid (the config schema refuses such a file first)
   */
  configure(config?: Readonly<Record<string, unknown>>): DeviceCodec<K>;
  /**
   * Problems between the options of a config item whose options are each valid (the config check
   * reports them as config errors, exit 78); empty when they agree, or when an option is itself
   * invalid (the schema reports that).
   */
  optionIssues(config: Readonly<Record<string, unknown>>): OptionIssue[];
}

/** Turns a protocol's spec into its registry entry. */
export function defineProtocol<K extends DeviceKind, S extends OptionsSchema>(spec: ProtocolSpec<K, S>): ProtocolModule<K> {
  return {
    name: spec.name,
    kind: spec.kind,
    summary: spec.summary,
    source: spec.source,
    port: spec.port,
    defaults: spec.defaults,
    ...(spec.transport !== undefined ? { transport: spec.transport } : {}),
    options: spec.options,
    configure(config = {}) {
      const options = spec.options.parse(config);
      const commands = spec.commands?.(options);
      return {
        port: spec.portFor?.(options) ?? spec.port,
        createFramer: () => spec.createFramer(options),
        decode: (frame) => spec.decode(frame, options),
        encode: (sample) => spec.encode(sample, options),
        ...(commands !== undefined ? { commands } : {}),
      };
    },
    optionIssues(config) {
      if (spec.optionIssues === undefined) return [];
      const parsed = spec.options.safeParse(config);
      return parsed.success ? spec.optionIssues(parsed.data) : [];
    },
  };
}

/** The two character formats serial indicators use: 8 data bits without parity, 7 with even parity. */
export type CharacterFormat = "8N1" | "7E1";

/** Serial settings of `format` at `baudRate` (1 stop bit either way). */
export function serialFormat(baudRate: number, format: CharacterFormat): PortNeeds {
  return format === "7E1"
    ? { serial: { baudRate, dataBits: 7, parity: "even", stopBits: 1 } }
    : { serial: { baudRate, dataBits: 8, parity: "none", stopBits: 1 } };
}

/** 8 data bits, no parity, 1 stop bit at `baudRate`: the format of most protocols. */
export function serial8N1(baudRate: number): PortNeeds {
  return serialFormat(baudRate, "8N1");
}
