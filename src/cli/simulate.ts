import { findProtocol, protocolNames, type DeviceCodec, type DeviceKind, type SerialSettings } from "../protocol/index.js";
import type { PlayPlan } from "../app/simulate/player.js";
import type { ValueProgram } from "../app/simulate/programs.js";
import { EXIT } from "./exit-codes.js";
import type { Signals } from "./signals.js";

/** Frame interval of a simulated scale when `--period` is not given: 10 frames a second, as the demo's indicators and most continuous outputs. */
export const DEFAULT_SCALE_PERIOD_MS = 100;
/** A reader presents its next card this often by default (seconds). */
export const DEFAULT_CARD_EVERY_S = 5;
/** A presented card stays in the field this long by default (seconds): long enough for `min_reads` 2 at 50 ms repeats. */
export const DEFAULT_CARD_HOLD_S = 1;

/** The options commander hands over for `simulate scale` (strings as typed). */
export interface SimulateScaleArgs {
  port: string;
  protocol: string;
  weight?: string;
  noise?: string;
  ramp?: string;
  period?: string;
  unit?: string;
  decimals?: string;
  baud?: string;
  option?: string[];
}

/** The options commander hands over for `simulate level`. */
export interface SimulateLevelArgs {
  port: string;
  protocol: string;
  distanceMm?: string;
  ramp?: string;
  noise?: string;
  strength?: string;
  period?: string;
  baud?: string;
  option?: string[];
}

/** Reading interval of a simulated level sensor when `--period` is not given: 10 a second, as a DYP-A02 in real-time mode. */
export const DEFAULT_LEVEL_PERIOD_MS = 100;
/** Signal strength a simulated tf-luna sends by default: well above its `min_strength` default (100). */
export const DEFAULT_LEVEL_STRENGTH = 1000;

/** The options commander hands over for `simulate reader`. */
export interface SimulateReaderArgs {
  port: string;
  protocol: string;
  card?: string[];
  every?: string;
  hold?: string;
  baud?: string;
  option?: string[];
}

/** A usage mistake: the message after `smartbin simulate KIND: `. */
class UsageError extends Error {}

/** What the command needs to play, once the arguments are understood. */
export interface SimulateSetup {
  play: PlayPlan;
  path: string;
  serial: SerialSettings;
  /** One line for stderr at start: what is played where. */
  summary: string;
}

/**
 * Understands `simulate scale` arguments. Weights are integer grams; `--ramp FROM:TO:SECONDS`
 * replaces `--weight`; protocol options come from `--unit` (protocols with a `unit` option) and
 * `--option KEY=VALUE` (any option of the protocol's module, e.g. `character_format=7E1`), checked
 * by the module's own schema.
 *
 * @returns the setup, or a usage message (exit 2)
 */
export function parseSimulateScale(args: SimulateScaleArgs): SimulateSetup | { usage: string } {
  try {
    const codecOptions = protocolOptions(args.option);
    if (args.unit !== undefined) codecOptions.unit = args.unit;
    const codec = configure("scale", args.protocol, codecOptions);
    if (args.weight !== undefined && args.ramp !== undefined) throw new UsageError("give --weight or --ramp, not both");
    let program: ValueProgram;
    if (args.ramp !== undefined) {
      const m = /^(-?\d+):(-?\d+):(\d+(?:\.\d+)?)$/.exec(args.ramp);
      if (m === null) throw new UsageError(`--ramp expects FROM:TO:SECONDS (grams, grams, seconds), found "${args.ramp}"`);
      program = { kind: "ramp", from: Number(m[1]), to: Number(m[2]), seconds: Number(m[3]) };
    } else program = { kind: "steady", value: grams("--weight", args.weight ?? "0") };
    const noiseG = args.noise === undefined ? 0 : grams("--noise", args.noise);
    if (noiseG < 0) throw new UsageError(`--noise expects grams of 0 or more, found "${args.noise}"`);
    const decimals = args.decimals === undefined ? 2 : wholeNumber("--decimals", args.decimals, 0, 6);
    const periodMs = args.period === undefined ? DEFAULT_SCALE_PERIOD_MS : wholeNumber("--period", args.period, 10, 60_000);
    const extremes = program.kind === "steady" ? [program.value] : [program.from, program.to];
    for (const g of extremes.flatMap((x) => [x - noiseG, x + noiseG])) {
      try {
        codec.encode({ grams: g, stable: true, decimals });
      } catch (e) {
        throw new UsageError(`${args.protocol} cannot show ${g} g with ${decimals} decimals: ${(e as Error).message}`);
      }
    }
    const serial = serialFor(codec, args.baud);
    const what = program.kind === "steady" ? `${program.value} g` : `${program.from} g to ${program.to} g in ${program.seconds} s`;
    return {
      play: { kind: "scale", codec, plan: { program, noiseG, decimals }, periodMs },
      path: args.port,
      serial,
      summary: `simulating a scale (${args.protocol}) on ${args.port} (${describeSerial(serial)}): ${what}${noiseG > 0 ? ` ± ${noiseG} g` : ""}, ${codec.port.poll !== undefined ? "answering each request" : `a frame every ${periodMs} ms`}; Ctrl-C ends`,
    };
  } catch (e) {
    if (e instanceof UsageError) return { usage: e.message };
    throw e;
  }
}

/**
 * Understands `simulate level` arguments: `--distance-mm N` (steady) or `--ramp FROM:TO:SECONDS`
 * (mm, e.g. a bin filling up: `1000:240:20`), `--noise MM`, `--strength N` (tf-luna), `--period MS`,
 * and protocol options by `--option KEY=VALUE`.
 *
 * @returns the setup, or a usage message (exit 2)
 */
export function parseSimulateLevel(args: SimulateLevelArgs): SimulateSetup | { usage: string } {
  try {
    const codec = configure("level", args.protocol, protocolOptions(args.option));
    if (args.distanceMm !== undefined && args.ramp !== undefined) throw new UsageError("give --distance-mm or --ramp, not both");
    const mm = (flag: string, value: string): number => {
      if (!/^\d{1,6}$/.test(value)) throw new UsageError(`${flag} expects whole millimetres (e.g. 1200), found "${value}"`);
      return Number(value);
    };
    let program: ValueProgram;
    if (args.ramp !== undefined) {
      const m = /^(\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(args.ramp);
      if (m === null) throw new UsageError(`--ramp expects FROM:TO:SECONDS (mm, mm, seconds), found "${args.ramp}"`);
      program = { kind: "ramp", from: mm("--ramp", m[1]!), to: mm("--ramp", m[2]!), seconds: Number(m[3]) };
    } else {
      if (args.distanceMm === undefined) throw new UsageError("give --distance-mm N or --ramp FROM:TO:SECONDS");
      program = { kind: "steady", value: mm("--distance-mm", args.distanceMm) };
    }
    const noiseMm = args.noise === undefined ? 0 : mm("--noise", args.noise);
    const strength = args.strength === undefined ? DEFAULT_LEVEL_STRENGTH : wholeNumber("--strength", args.strength, 0, 65_535);
    const periodMs = args.period === undefined ? DEFAULT_LEVEL_PERIOD_MS : wholeNumber("--period", args.period, 10, 60_000);
    const extremes = program.kind === "steady" ? [program.value] : [program.from, program.to];
    for (const d of extremes.flatMap((x) => [Math.max(0, x - noiseMm), x + noiseMm])) {
      try {
        codec.encode({ mm: d, strength });
      } catch (e) {
        throw new UsageError(`${args.protocol} cannot send ${d} mm: ${(e as Error).message}`);
      }
    }
    const serial = serialFor(codec, args.baud);
    const what = program.kind === "steady" ? `${program.value} mm` : `${program.from} mm to ${program.to} mm in ${program.seconds} s`;
    return {
      play: { kind: "level", codec, plan: { program, noiseMm, strength }, periodMs },
      path: args.port,
      serial,
      summary: `simulating a level sensor (${args.protocol}) on ${args.port} (${describeSerial(serial)}): ${what}${noiseMm > 0 ? ` ± ${noiseMm} mm` : ""}, a reading every ${periodMs} ms; Ctrl-C ends`,
    };
  } catch (e) {
    if (e instanceof UsageError) return { usage: e.message };
    throw e;
  }
}

/**
 * Understands `simulate reader` arguments: `--card ID` (repeatable; for em4100-ascii the tag's
 * five bytes as 10 hex characters, for ascii-line the line's text), each presented for `--hold`
 * seconds every `--every` seconds, in turn. While a card is held, a protocol whose devices repeat
 * their frame (the module's `heldTagRepeatMs`: RDM6300-style readers) sends it that often; others
 * send one frame per presentation. A reader on GPIO lines (wiegand) has no serial port to play
 * on: a usage message says so and names what plays one (the simulated GPIO backend's `.edges` files).
 *
 * @returns the setup, or a usage message (exit 2)
 */
export function parseSimulateReader(args: SimulateReaderArgs): SimulateSetup | { usage: string } {
  try {
    const codec = configure("reader", args.protocol, protocolOptions(args.option));
    const cards = args.card ?? [];
    if (cards.length === 0) throw new UsageError("give at least one --card ID");
    for (const card of cards) {
      try {
        codec.encode({ tag: card });
      } catch (e) {
        throw new UsageError(`--card "${card}" is not an identifier ${args.protocol} can send: ${(e as Error).message}`);
      }
    }
    const everyS = args.every === undefined ? DEFAULT_CARD_EVERY_S : seconds("--every", args.every);
    const holdS = args.hold === undefined ? Math.min(DEFAULT_CARD_HOLD_S, everyS) : seconds("--hold", args.hold);
    if (holdS > everyS) throw new UsageError(`--hold (${holdS} s) must not be longer than --every (${everyS} s)`);
    const repeatMs = findProtocol("reader", args.protocol).defaults.heldTagRepeatMs;
    const serial = serialFor(codec, args.baud);
    return {
      play: {
        kind: "reader",
        codec,
        plan: { cards, everyMs: everyS * 1000, holdMs: holdS * 1000, ...(repeatMs !== undefined ? { repeatMs } : {}) },
      },
      path: args.port,
      serial,
      summary: `simulating a reader (${args.protocol}) on ${args.port} (${describeSerial(serial)}): ${cards.length} card${cards.length === 1 ? "" : "s"}, one every ${everyS} s held ${holdS} s; Ctrl-C ends`,
    };
  } catch (e) {
    if (e instanceof UsageError) return { usage: e.message };
    throw e;
  }
}

/**
 * Plays the set-up device until SIGINT or SIGTERM (exit 0). A port that cannot be opened, or is
 * lost while playing, is one line on `err` and exit 1.
 */
export async function runSimulate(setup: SimulateSetup, kind: string, signals: Signals, err: (line: string) => void): Promise<number> {
  const stop = new AbortController();
  signals.claim((signal) => {
    if (signal === "SIGINT" || signal === "SIGTERM") stop.abort();
  });
  const { playDevice } = await import("../app/simulate/player.js");
  const result = await playDevice(setup.play, {
    path: setup.path,
    serial: setup.serial,
    signal: stop.signal,
    random: Math.random,
    onStart: () => err(setup.summary),
  });
  if (result.ok) return EXIT.OK;
  err(
    result.stage === "open"
      ? `smartbin simulate ${kind}: cannot open ${setup.path}: ${result.reason}`
      : `smartbin simulate ${kind}: lost ${setup.path}: ${result.reason}`,
  );
  return EXIT.FAILURE;
}

/** The module's codec with `options`, or a usage error naming the known protocols or the bad option. */
function configure<K extends DeviceKind>(kind: K, protocol: string, options: Record<string, unknown>): DeviceCodec<K> {
  if (!protocolNames(kind).includes(protocol)) {
    throw new UsageError(`unknown ${kind} protocol "${protocol}" (known: ${protocolNames(kind).join(", ")})`);
  }
  const module = findProtocol(kind, protocol);
  if (module.transport === "gpio") throw new UsageError(notOnSerialPort(protocol));
  const known = Object.keys(module.options.shape);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new UsageError(`${protocol} has no option "${key}"${known.length === 0 ? " (it has none)" : ` (its options: ${known.join(", ")})`}`);
    }
  }
  const parsed = module.options.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`${protocol} option ${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
  }
  return module.configure(options);
}

/**
 * Why a protocol read over GPIO lines (`transport: "gpio"`: wiegand) cannot be played on a serial
 * port, and what plays it instead: the simulated GPIO backend's `<line>.edges` files (README,
 * "Wiegand readers").
 */
function notOnSerialPort(protocol: string): string {
  return (
    `${protocol} is read over GPIO lines (d0_line, d1_line), not a serial port, so simulate cannot play it; ` +
    "on the simulated GPIO backend the files <line>.edges in gpio.simulated_dir play a Wiegand reader: " +
    "append one line per falling edge, its time in microseconds"
  );
}

/** `--option KEY=VALUE` pairs; a value that reads as a number or boolean is one. */
function protocolOptions(pairs: readonly string[] | undefined): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const pair of pairs ?? []) {
    const m = /^([a-z][a-z0-9_]*)=(.*)$/.exec(pair);
    if (m === null) throw new UsageError(`--option expects KEY=VALUE (a protocol option, e.g. unit=kg), found "${pair}"`);
    const value = m[2]!;
    options[m[1]!] = /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value === "true" ? true : value === "false" ? false : value;
  }
  return options;
}

/** The protocol's serial settings, the baud rate replaced by `--baud`. */
function serialFor(codec: DeviceCodec<DeviceKind>, baud: string | undefined): SerialSettings {
  const serial = codec.port.serial;
  return baud === undefined ? serial : { ...serial, baudRate: wholeNumber("--baud", baud, 50, 4_000_000) };
}

function describeSerial(s: SerialSettings): string {
  return `${s.baudRate} ${s.dataBits}${s.parity === "none" ? "N" : s.parity === "even" ? "E" : "O"}${s.stopBits}`;
}

function grams(flag: string, value: string): number {
  if (!/^-?\d{1,9}$/.test(value)) throw new UsageError(`${flag} expects whole grams (e.g. 12340), found "${value}"`);
  return Number(value);
}

function wholeNumber(flag: string, value: string, min: number, max: number): number {
  const n = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`${flag} expects a whole number from ${min} to ${max}, found "${value}"`);
  return n;
}

function seconds(flag: string, value: string): number {
  const n = /^\d{1,6}(\.\d{1,3})?$/.test(value) ? Number(value) : NaN;
  if (!(n > 0)) throw new UsageError(`${flag} expects seconds greater than 0, found "${value}"`);
  return n;
}
