/**
 * The `scales[]`, `readers[]` and `level_sensors[]` items of the config schema (contract.md section 2), built from the
 * device registry (src/protocol/registry.ts): for each protocol, the keys every device of its kind
 * has, `protocol`, and the protocol's own options, with the protocol's defaults (`baud_rate`,
 * `min_reads`). The items are a union discriminated by `protocol`, so an option of another protocol
 * is an unknown key there (problems.ts names the protocols it belongs to) and the JSON Schema has
 * one branch per protocol. No protocol name appears in this file.
 */
import { z } from "zod";
import { PROTOCOLS, type DeviceKind, type NonEmpty, type ProtocolModule, type SerialSettings } from "../protocol/index.js";
import { MAX_GPIO_LINE } from "./gpio-schema.js";
import { HOUR_S, deviceId, matching, nonEmpty } from "./schema-parts.js";
import { isNoMatchingMember } from "./schema-walk.js";

/** "yaohua-a9 9600, ascii-st-gs 9600": a value that differs by protocol, for descriptions. */
function perProtocol<K extends DeviceKind>(kind: K, value: (p: ProtocolModule<K>) => string | number, serialOnly = false): string {
  const list: readonly ProtocolModule<K>[] = PROTOCOLS[kind];
  return list.filter((p) => !serialOnly || p.transport !== "gpio").map((p) => `${p.name} ${value(p)}`).join(", ");
}

/** "8N1", "7E1": data bits, parity, stop bits. */
function characterFormat(s: SerialSettings): string {
  return `${s.dataBits}${s.parity.charAt(0).toUpperCase()}${s.stopBits}`;
}

function baudRate(kind: DeviceKind, p: ProtocolModule) {
  return z
    .int()
    .positive()
    .max(4_000_000)
    .default(p.port.serial.baudRate)
    .describe(
      "Serial speed in bits per second; the character format (data bits, parity, stop bits) is the protocol's. " +
        `Default per protocol, with its format: ${perProtocol(kind, (q) => `${q.port.serial.baudRate} ${characterFormat(q.port.serial)}`, true)}.`,
    );
}

function protocolKey(kind: DeviceKind, p: ProtocolModule) {
  const list: readonly ProtocolModule[] = PROTOCOLS[kind];
  return z
    .literal(p.name)
    .describe(
      `Protocol (see the README, Connecting real hardware), one of: ${list.map((q) => `${q.name}: ${q.summary}`).join("; ")}. ` +
        "Each has its own options.",
    )
    .meta({ examples: [p.name] });
}

/** How a kind's `id` and `port` keys are documented. */
interface HeadDocs {
  id: string;
  port: string;
  examples: [id: string, port: string];
}

/** The keys before `protocol` in every item of a device on a serial port. */
function headKeys(kind: DeviceKind, p: ProtocolModule, docs: HeadDocs) {
  const id = deviceId().describe(docs.id).meta({ examples: [docs.examples[0]] });
  return {
    id,
    port: nonEmpty()
      .optional()
      .describe(`${docs.port} Required unless usb is given (exactly one of port and usb).`)
      .meta({ examples: [docs.examples[1]], exampleShown: true }),
    usb: usbKey(),
    baud_rate: baudRate(kind, p),
    ...controlLineKeys(),
  };
}

const HEX_ID = /^[0-9A-Fa-f]{4}$/;

/**
 * `usb: {vendor_id, product_id, serial, interface}` instead of `port` (issue 9, item 4): the port is
 * found by its adapter's USB identity at every (re)open (src/adapters/serial/usb-port.ts), as
 * `smartbin ports` prints it (`0403:6001`, serial `A50285BI`). Ids are compared case-insensitively
 * (usb-port.ts lower-cases them).
 */
function usbKey() {
  const hexId = (name: string, example: string) =>
    matching(HEX_ID, `4 hex digits as smartbin ports prints them (e.g. ${example})`)
      .describe(`USB ${name} id of the adapter (sysfs id${name === "vendor" ? "Vendor" : "Product"}), 4 hex digits.`)
      .meta({ examples: [example] });
  return z
    .strictObject({
      vendor_id: hexId("vendor", "0403"),
      product_id: hexId("product", "6001"),
      serial: nonEmpty()
        .optional()
        .describe(
          "The adapter's USB serial number, exactly as smartbin ports prints it. Without it, two adapters of the same " +
            "vendor:product are ambiguous: the device stays offline and none is guessed.",
        )
        .meta({ examples: ["A50285BI"] }),
      interface: z
        .int()
        .min(0)
        .max(255)
        .optional()
        .describe("The USB interface number of one port of a multi-port adapter (FT2232, FT4232: 0, 1, 2, 3).")
        .meta({ examples: [0] }),
    })
    .optional()
    .describe(
      "Instead of port: find the serial port by its USB adapter's identity at every open, so an adapter that comes " +
        "back as another /dev/ttyUSBn is found again (exactly one of port and usb).",
    )
    .meta({ exampleCommented: true });
}

/**
 * The keys before `protocol` of a reader on GPIO lines (`transport: "gpio"`: Wiegand's two data
 * lines, shared/protocols/readers.md "wiegand"): its `id`, and `d0_line` and `d1_line` where a serial
 * device has its `port`; a `port`, `baud_rate` or control line written for it is an unknown key.
 * The lines are BCM numbers read through the `gpio` section's backend; cross-field checks refuse a
 * line used twice (gpio-schema.ts).
 */
function gpioHeadKeys(docs: HeadDocs) {
  const line = (wire: string, example: number) =>
    z
      .int()
      .min(0)
      .max(MAX_GPIO_LINE)
      .describe(`BCM line number of the reader's ${wire} wire (the Raspberry Pi pinout's GPIO number), read through gpio.backend.`)
      .meta({ examples: [example] });
  return {
    id: deviceId().describe(docs.id).meta({ examples: [docs.examples[0]] }),
    d0_line: line("D0 (DATA0, usually green)", 24),
    d1_line: line("D1 (DATA1, usually white)", 25),
  };
}

/**
 * The serial options every device has besides its character format: the modem control lines DTR
 * and RTS, set right after the port opens (serialport's `port.set`), and `hupcl` (serialport's open
 * option). Unset: left as the OS and serialport have them (Linux raises DTR and RTS on open; HUPCL
 * is on, so DTR drops on close).
 */
function controlLineKeys() {
  const line = (name: "DTR" | "RTS", use: string) =>
    z
      .boolean()
      .optional()
      .describe(
        `${name} line right after the port opens: true raises it, false lowers it; unset leaves it as the OS ` +
          `opened the port (raised on Linux). ${use} Linux raises DTR and RTS on open before the station can act: ` +
          "an indicator that resets on that edge needs the line cut or held in hardware (see the README).",
      )
      .meta({ examples: [false] });
  return {
    dtr: line("DTR", "Some indicators reset or stop sending while DTR is up or when it changes."),
    rts: line("RTS", "Some adapters power the device or switch an RS-485 driver with RTS."),
    hupcl: z
      .boolean()
      .optional()
      .describe(
        "Hang up on close (termios HUPCL): unset or true lowers DTR (and RTS) when the port closes, as serialport " +
          "does by default; false keeps them up, so an indicator that resets when DTR drops is not reset by a reopen.",
      )
      .meta({ examples: [false] }),
  };
}

/** The scale keys after `protocol` and the protocol's options. */
function scaleKeys() {
  return {
    stable_window_ms: z
      .number()
      .positive()
      .max(60_000)
      .default(1000)
      .describe(
        "Stability window in milliseconds: the weight is stable when the samples of the last window (at " +
          'least 3) span at most stable_tolerance_g and the indicator does not say "unstable".',
      ),
    stable_tolerance_g: z
      .int()
      .nonnegative()
      .default(20)
      .describe("Largest span in grams of the samples of a stable window."),
    stable_min_samples: z
      .int()
      .min(3)
      .max(1000)
      .default(3)
      .describe(
        "Fewest samples a stable window holds. 3 suits 5 Hz indicators with a 1 s window; a 25 Hz stream " +
          "can ask for more.",
      ),
    division_g: z
      .number()
      .positive()
      .max(1_000_000)
      .optional()
      .describe("The indicator's display division (e, d) in grams, e.g. 10 for a 60 kg x 10 g platform.")
      .meta({ examples: [10] }),
    stable_tolerance_divisions: z
      .number()
      .nonnegative()
      .max(1000)
      .optional()
      .describe(
        "Tolerance in divisions instead of grams: when given (with division_g), a stable window spans at " +
          "most this many divisions, and stable_tolerance_g is not used.",
      )
      .meta({ examples: [2] }),
    change_threshold_g: z
      .int()
      .positive()
      .default(40)
      .describe(
        "Grams: a stable value closer than this to the last accepted weight is noise; a bin's deposit needs a " +
          "net weight of at least this.",
      ),
    silence_timeout_s: z
      .number()
      .positive()
      .max(HOUR_S)
      .default(5)
      .describe("Seconds without a frame after which a streaming indicator counts as offline."),
    capacity_g: z
      .int()
      .positive()
      .optional()
      .describe("The indicator's capacity in grams: a reading above it is no valid weight. No default.")
      .meta({ examples: [60000] }),
  };
}

/** The reader keys after `protocol` and the protocol's options. */
/** The default of `readers[].repeat_gap_ms` (contract.md section 2). */
export const DEFAULT_REPEAT_GAP_MS = 500;

function readerKeys(p: ProtocolModule<"reader">) {
  return {
    repeat_gap_ms: z
      .number()
      .nonnegative()
      .max(60_000)
      .default(DEFAULT_REPEAT_GAP_MS)
      .describe("Milliseconds: frames of the same id closer together than this are one presentation."),
    min_reads: z
      .int()
      .min(1)
      .max(100)
      .default(p.defaults.minReads)
      .describe(
        "Identical valid frames, each within repeat_gap_ms of the one before, before a tag counts (a one-off " +
          `frame is noise). Default per protocol: ${perProtocol("reader", (q) => q.defaults.minReads)}.`,
      ),
    no_valid_frames_s: z
      .number()
      .positive()
      .max(HOUR_S)
      .default(30)
      .describe(
        "Seconds: a reader that delivers at least 64 bytes and no valid frame over this long is offline " +
          "(no valid frames).",
      ),
  };
}

/**
 * The item schema of one device kind: a union over the kind's protocols, discriminated by
 * `protocol`. When `protocol` is missing or unknown, the keys every protocol shares are still
 * checked, so that every problem of the item is reported at once.
 */
function deviceItemSchema<K extends DeviceKind, T extends z.core.$ZodShape>(kind: K, docs: HeadDocs, tail: (p: ProtocolModule<K>) => T) {
  return deviceItemSchemaWith(kind, (p) => headKeys(kind, p, docs), tail);
}

/** {@link deviceItemSchema} with the keys before `protocol` chosen per protocol (readers: serial or GPIO lines). */
function deviceItemSchemaWith<K extends DeviceKind, T extends z.core.$ZodShape, H extends z.core.$ZodShape>(
  kind: K,
  head: (p: ProtocolModule<K>) => H,
  tail: (p: ProtocolModule<K>) => T,
) {
  const member = (p: ProtocolModule<K>) =>
    z
      .strictObject({ ...head(p), protocol: protocolKey(kind, p), ...p.options.shape, ...tail(p) })
      .describe(`A ${kind} speaking ${p.name}: ${p.summary}.`)
      // A serial device: exactly one of `port` and `usb` (cross-field.ts checks it); for editors, at
      // least one is required. A reader on GPIO lines has neither.
      .meta(p.transport === "gpio" ? {} : { anyOf: [{ required: ["port"] }, { required: ["usb"] }] });
  const [first, ...rest]: NonEmpty<ProtocolModule<K>> = PROTOCOLS[kind];
  const common = z.object({ ...head(first), ...tail(first) });
  return z.discriminatedUnion("protocol", [member(first), ...rest.map(member)]).superRefine(
    (item, ctx) => {
      for (const issue of common.safeParse(item).error?.issues ?? []) ctx.addIssue({ ...issue });
    },
    { when: (payload) => payload.issues.some(isNoMatchingMember) },
  );
}

/** One item of `scales[]`: the common scale keys and its protocol's options. */
export const scaleItemSchema = deviceItemSchema(
  "scale",
  {
    id: "Scale id, unique among the scales; bins refer to it and alarms name it.",
    port: "Serial port of the weighing indicator; prefer the stable /dev/serial/by-id/... name in the field.",
    examples: ["scale-1", "/dev/ttyUSB0"],
  },
  scaleKeys,
);
const READER_DOCS: HeadDocs = {
  id: "Reader id, unique among the readers; events carry it as reader_id.",
  port: "Serial port of the reader; prefer the stable /dev/serial/by-id/... name in the field.",
  examples: ["reader-1", "/dev/ttyUSB1"],
};
/**
 * One item of `readers[]`: the common reader keys and its protocol's options. A reader on GPIO
 * lines (wiegand) has no serial keys: its item type has no `port` (see {@link isSerialReader}).
 */
export const readerItemSchema = deviceItemSchemaWith(
  "reader",
  (p) => (p.transport === "gpio" ? gpioHeadKeys(READER_DOCS) : headKeys("reader", p, READER_DOCS)),
  readerKeys,
);

/** The defaults of `level_sensors[].empty_mm` and `full_mm` (contract.md section 2). */
export const DEFAULT_EMPTY_MM = 1200;
export const DEFAULT_FULL_MM = 250;

/** The default of `level_sensors[].median_window_s`: the median's window, seconds. */
export const DEFAULT_LEVEL_MEDIAN_WINDOW_S = 3;

/** The level-sensor keys after `protocol` and the protocol's options (contract.md section 2, `level_sensors:`). */
function levelKeys() {
  const mm = (what: string, fallback: number) =>
    z.int().positive().max(65_535).default(fallback).describe(what);
  return {
    silence_timeout_s: z
      .number()
      .positive()
      .max(HOUR_S)
      .default(5)
      .describe("Seconds without a frame after which the sensor is offline (level_sensor_offline)."),
    bin: deviceId()
      .describe("Id of the bin the sensor looks into; a bin has one sensor at most.")
      .meta({ examples: ["kitchen"] }),
    empty_mm: mm("Millimetres from the sensor to the bottom of the empty bin: 0 % full.", DEFAULT_EMPTY_MM),
    full_mm: mm("Millimetres from the sensor at which the bin is full (100 %, bin_full); less than empty_mm.", DEFAULT_FULL_MM),
    median_window_s: z
      .number()
      .positive()
      .max(600)
      .default(DEFAULT_LEVEL_MEDIAN_WINDOW_S)
      .describe(
        "Seconds of readings the fill level is the median of (at least the last 5 readings, however old), so " +
          "that a hand or a bag passing under the sensor is not a full bin.",
      ),
  };
}

/** One item of `level_sensors[]`: the common level-sensor keys and its protocol's options. */
export const levelSensorItemSchema = deviceItemSchema(
  "level",
  {
    id: "Level sensor id, unique among the level sensors; its alarms name it.",
    port: "Serial port of the fill-level sensor (a USB-UART adapter); prefer the stable /dev/serial/by-id/... name.",
    examples: ["level-1", "/dev/ttyUSB2"],
  },
  levelKeys,
);
/**
 * The keys of a device item on a serial port: `port` or `usb` (exactly one), its speed and control
 * lines. A type alias, not an interface, so that an item narrowed to it still passes where a
 * `Record<string, unknown>` is taken (a protocol's `configure`).
 */
export type SerialItemKeys = {
  port?: string | undefined;
  usb?: { vendor_id: string; product_id: string; serial?: string | undefined; interface?: number | undefined } | undefined;
  baud_rate: number;
  dtr?: boolean | undefined;
  rts?: boolean | undefined;
  hupcl?: boolean | undefined;
};

/**
 * True for a reader item on a serial port, named by `port` or `usb` (every reader protocol but
 * those on GPIO lines, whose items have `d0_line` and `d1_line` instead).
 */
export function isSerialReader<R extends { protocol: string }>(reader: R): reader is R & SerialItemKeys {
  return !("d0_line" in reader);
}
