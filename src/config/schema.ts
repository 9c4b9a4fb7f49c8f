/**
 * The configuration file's schema (contract.md section 2): the single source of the config's
 * types (`Config`), defaults (`.default()`), documentation (`.describe()`), JSON Schema
 * (json-schema.ts) and example file (example.ts).
 *
 * Keys stay snake_case as written in the file. Every object is strict: an unknown key is an error,
 * so a misspelt key is never silently ignored. Messages of the format and cross-field checks below
 * are complete ("expected …, found …"); load.ts writes the messages of the structural issues
 * (wrong type, bad enum value, unknown or missing key, out of range).
 */
import { z } from "zod";
import { READER_PROTOCOLS, SCALE_PROTOCOLS, type WeightUnit } from "../protocol/types.js";
import { crossFieldIssues } from "./cross-field.js";
import { canonicalDecimal, DECIMAL_TEXT } from "./decimal.js";
import isSafeRegex from "safe-regex2";
import { describeFound, quoteFound } from "./found.js";
import { EM4100_CARD_FORMATS } from "../protocol/reader/em4100-ascii.js";

/** The weight units a scale may be configured with; the same set as the protocol layer's `WeightUnit`. */
export const WEIGHT_UNITS = ["g", "kg", "lb"] as const satisfies readonly WeightUnit[];
// Fails to compile when WeightUnit gains a unit that WEIGHT_UNITS lacks.
type MissingUnit = Exclude<WeightUnit, (typeof WEIGHT_UNITS)[number]>;
const _everyUnitListed: [MissingUnit] extends [never] ? true : never = true;

/** How an em4100-ascii reader's tag is written as `card_id` (shared/protocols/readers.md). */
export const CARD_ID_FORMATS = EM4100_CARD_FORMATS;
/** Log levels of the daemon's pino logger, most to least severe. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;

/** A string that must match `re`; the error says what was expected in words, and what was found. */
function matching(re: RegExp, expected: string) {
  return z.string().regex(re, { error: (iss) => `expected ${expected}, found ${describeFound(iss.input)}` });
}

const STATION_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SLUG = /^[a-z0-9][a-z0-9_-]*$/;
// One or more topic levels separated by "/", none empty, no wildcards (MQTT 5.0 section 4.7).
// Topics starting with "$" are reserved for the broker ($SYS): a prefix must not start with one.
const TOPIC_PREFIX = /^(?!\$)[^/#+\u0000]+(\/[^/#+\u0000]+)*$/;
const MQTT_URL = /^(mqtts?|wss?):\/\/[^\s/?#]+/;

const deviceId = () =>
  matching(DEVICE_ID, 'an id of 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit');
const categorySlug = () =>
  matching(SLUG, 'a slug of lowercase letters, digits, "_" or "-", starting with a letter or digit');
const nonEmpty = () => z.string().min(1);
const port = () => nonEmpty();
const baudRate = () =>
  z.int().positive().max(4_000_000).default(9600).describe("Serial speed in bits per second (8N1).");
/** One hour and one day: bounds that keep every timer far below Node's 2^31-1 ms limit, and sane. */
const HOUR_S = 3_600;
const DAY_S = 86_400;
/** MQTT strings (client id, user name, password) are at most 65,535 bytes in UTF-8 (MQTT 1.5.4). */
const mqttString = () =>
  z.string().refine((v) => Buffer.byteLength(v, "utf8") <= 65_535, {
    error: (iss) => `expected at most 65535 bytes (MQTT's limit), found ${describeFound(iss.input)}`,
  });

const stationSchema = z
  .strictObject({
    id: matching(
      STATION_ID,
      '1 to 64 lowercase letters, digits, "_" or "-", starting with a letter or digit',
    )
      .describe(
        "Station id, ^[a-z0-9][a-z0-9_-]{0,63}$. Appears in MQTT topics and in every event's source and data.",
      )
      .meta({ examples: ["st-001"] }),
  })
  .describe("This station.");

const storageSchema = z
  .strictObject({
    path: nonEmpty()
      .default("/var/lib/smartbin/smartbin.db")
      .describe(
        "SQLite database file (the outbox of durable events), created if missing. A relative path is " +
          "relative to this file's folder; :memory: keeps it in memory (tests only: events do not survive).",
      ),
    retention_days: z
      .number()
      .nonnegative()
      .default(7)
      .describe(
        "Days an event stays in the database after the broker acknowledged it, so the central system " +
          "can ask for a replay; fractions allowed, 0 prunes at once. Pending events are never pruned.",
      ),
  })
  .describe("Local storage.");

const mqttSchema = z
  .strictObject({
    url: z
      .string()
      .regex(MQTT_URL, {
        error: (iss) =>
          `expected a URL mqtt://, mqtts://, ws:// or wss:// with a host, found ${describeFound(iss.input)}`,
      })
      // Not `abort: true` on the regex: an aborting issue would also skip the cross-field checks.
      .refine((s) => !MQTT_URL.test(s) || URL.canParse(s), {
        error: (iss) => `expected a valid URL, found ${describeFound(iss.input)}`,
      })
      .describe(
        "Broker URL: mqtt://HOST[:PORT] (default port 1883), mqtts:// (TLS, 8883), ws:// or wss:// " +
          "(WebSocket, with the path the broker serves, e.g. wss://broker.example/mqtt).",
      )
      .meta({ examples: ["mqtt://127.0.0.1:1883"] }),
    topic_prefix: matching(
      TOPIC_PREFIX,
      'one or more MQTT topic levels separated by "/", none empty, without "+" or "#", not starting with "$"',
    )
      .default("smartbin")
      .describe("First topic levels: the station publishes under PREFIX/STATION_ID/..."),
    protocol_version: z
      .literal([5, 4])
      .default(5)
      .describe("MQTT protocol version: 5, or 4 for MQTT 3.1.1 (the embedded demo broker speaks only 4)."),
    client_id: mqttString()
      .pipe(nonEmpty())
      .optional()
      .describe("MQTT client identifier. When absent the daemon derives one from station.id.")
      .meta({ examples: ["smartbin-st-001"] }),
    username: mqttString()
      .optional()
      .describe("User name for the broker's authentication.")
      .meta({ examples: ["st-001"] }),
    password: mqttString()
      .optional()
      .describe("Password for the broker's authentication; never logged.")
      .meta({ examples: ["change-me"] }),
    ca_file: nonEmpty()
      .optional()
      .describe(
        "PEM file of the certificate authorities to trust instead of the system's (mqtts:// and wss:// " +
          "only). A relative path is relative to this file's folder.",
      )
      .meta({ examples: ["tls/ca.pem"] }),
    cert_file: nonEmpty()
      .optional()
      .describe(
        "PEM client certificate for mutual TLS (mqtts:// and wss:// only; needs key_file). Relative to " +
          "this file's folder.",
      )
      .meta({ examples: ["tls/station.crt"] }),
    key_file: nonEmpty()
      .optional()
      .describe(
        "PEM private key of cert_file (mqtts:// and wss:// only; needs cert_file). Relative to this " +
          "file's folder.",
      )
      .meta({ examples: ["tls/station.key"] }),
    keepalive_s: z
      .int()
      .min(0)
      .max(65535)
      .default(30)
      .describe("MQTT keep-alive interval in whole seconds (0 disables keep-alive pings)."),
    inflight: z
      .int()
      .min(1)
      .max(1000)
      .default(32)
      .describe("Publisher in-flight window: at most this many events await the broker's PUBACK at once."),
  })
  .describe("Connection to the operator's MQTT broker.");

const scaleSchema = z.strictObject({
  id: deviceId()
    .describe("Scale id, unique among the scales; bins refer to it and alarms name it.")
    .meta({ examples: ["scale-1"] }),
  port: port()
    .describe(
      "Serial port of the weighing indicator; prefer the stable /dev/serial/by-id/... name in the field.",
    )
    .meta({ examples: ["/dev/ttyUSB0"] }),
  baud_rate: baudRate(),
  protocol: z
    .enum(SCALE_PROTOCOLS)
    .describe(`Indicator protocol: ${SCALE_PROTOCOLS.join(", ")}; see the README, Connecting real hardware.`)
    .meta({ examples: ["yaohua-a9"] }),
  unit: z
    .enum(WEIGHT_UNITS)
    .default("kg")
    .describe(
      "Unit of the weight in the frames (g, kg or lb), used only by protocols whose frames carry no unit.",
    ),
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
});

const readerSchema = z
  .strictObject({
    id: deviceId()
      .describe("Reader id, unique among the readers; events carry it as reader_id.")
      .meta({ examples: ["reader-1"] }),
    port: port()
      .describe("Serial port of the reader; prefer the stable /dev/serial/by-id/... name in the field.")
      .meta({ examples: ["/dev/ttyUSB1"] }),
    baud_rate: baudRate(),
    protocol: z
      .enum(READER_PROTOCOLS)
      .describe(`Reader protocol: ${READER_PROTOCOLS.join(", ")}; see the README, Connecting real hardware.`)
      .meta({ examples: ["em4100-ascii"] }),
    repeat_gap_ms: z
      .number()
      .nonnegative()
      .max(60_000)
      .default(500)
      .describe("Milliseconds: frames of the same id closer together than this are one presentation."),
    min_reads: z
      .int()
      .min(1)
      .max(100)
      .optional()
      .describe("Identical frames (each within repeat_gap_ms of the one before) before a tag counts; default 2 for em4100-ascii, 1 for ascii-line."),
    no_valid_frames_s: z
      .number()
      .positive()
      .max(HOUR_S)
      .default(30)
      .describe("Seconds: a reader that delivers at least 64 bytes and no valid frame over this long is offline (no valid frames)."),
    pattern: z
      .string()
      .superRefine((source, ctx) => {
        try {
          new RegExp(source);
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          ctx.addIssue({
            code: "custom",
            message: `expected a regular expression, found ${quoteFound(source)} (${reason})`,
          });
          return;
        }
        // Any code shown to the scanner is matched against it: a pattern with nested repetition
        // (`^(a+)+$`) can take exponential time on a crafted line and freeze the station.
        if (!isSafeRegex(source)) {
          ctx.addIssue({
            code: "custom",
            message:
              `expected a regular expression without nested repetition, found ${quoteFound(source)} ` +
              "(it can take exponential time on a crafted line; e.g. write ^(a+)$ instead of ^(a+)+$)",
          });
        }
      })
      .optional()
      .describe(
        "JavaScript regular expression (no flags) a valid identifier line must match; other lines are " +
          "discarded, and the first capture group, if any, is the card id.",
      )
      .meta({ examples: ["^QR:([0-9]{6,20})$"] }),
    card_id_format: z
      .enum(CARD_ID_FORMATS)
      .default("dec10")
      .describe(
        "How em4100-ascii tags are written as card_id: dec10 = last four bytes as 10-digit decimal " +
          "(0008844356), hex10 = the five bytes in hex (100086F444), wiegand26 = facility,card (134,62532). " +
          "Used only by em4100-ascii.",
      ),
  });

const binSchema = z.strictObject({
  id: deviceId()
    .describe("Bin id, unique among the bins; deposit events carry it as bin_id and subject.")
    .meta({ examples: ["kitchen"] }),
  category: categorySlug()
    .describe(
      "Waste category (slug) of the bin, the key of its points rule; standard: food_waste, recyclable, " +
        "hazardous, residual.",
    )
    .meta({ examples: ["food_waste"] }),
  scale: deviceId()
    .describe("Id of the scale the bin stands on; a scale serves one bin.")
    .meta({ examples: ["scale-1"] }),
  max_net_g: z
    .int()
    .positive()
    .optional()
    .describe("A deposit above this is implausible: recorded with 0 points and an alarm. Default 50000, or the scale's capacity_g if lower."),
});

/** Largest `points_per_kg`: keeps the points of any real deposit a safe integer. */
const MAX_POINTS_PER_KG = 1_000_000;

const pointsPerKg = z
  .union(
    [
      z.number().nonnegative(),
      z.string().regex(DECIMAL_TEXT, {
        error: (iss) =>
          `expected a non-negative decimal number such as 2 or 1.16, found ${describeFound(iss.input)}`,
      }),
    ],
    {
      error: (iss) =>
        `expected a non-negative decimal number such as 2 or 1.16, found ${describeFound(iss.input)}`,
    },
  )
  .transform((v) => canonicalDecimal(v))
  .refine((v) => Number(v.split(".")[0]) < MAX_POINTS_PER_KG || v === String(MAX_POINTS_PER_KG), {
    // Keeps points of any real deposit a safe integer (domain/points.ts).
    error: (iss) => `expected at most ${MAX_POINTS_PER_KG} points per kg, found ${describeFound(iss.input)}`,
  });

const pointsRuleSchema = z.strictObject({
  points_per_kg: pointsPerKg
    .describe(
      "Points per kilogram of net weight, a non-negative decimal (a number or a string like \"1.16\"); " +
        "used exactly as written, never rounded through binary floating point. In the parsed config it " +
        "is the canonical decimal string.",
    )
    .meta({ examples: [2] }),
  min_net_g: z
    .int()
    .nonnegative()
    .default(0)
    .describe("Grams: a deposit lighter than this earns 0 points (points_reason below_minimum)."),
});

const pointsSchema = z
  .strictObject({
    rules_version: nonEmpty()
      .optional()
      .describe("Version of the rule table, stamped on every event; required when categories are given.")
      .meta({ examples: ["2026-11"] }),
    categories: z
      .record(categorySlug().meta({ examples: ["food_waste"] }), pointsRuleSchema)
      .optional()
      .describe(
        "Points rule per waste category (slug). No default: a deposit whose category has no rule " +
          "earns 0 points (points_reason no_rule).",
      ),
  })
  .optional()
  .describe("Points rules (README, How a deposit is weighed); without them every deposit is no_rule.");

const sessionSchema = z
  .strictObject({
    idle_close_s: z
      .number()
      .positive()
      .max(HOUR_S)
      .default(5)
      .describe(
        "Seconds after the latest weight change before the session closes (once all its scales are stable).",
      ),
    first_deposit_timeout_s: z
      .number()
      .positive()
      .max(HOUR_S)
      .default(30)
      .describe("Seconds after identification after which a session with no weight change closes."),
    max_session_s: z
      .number()
      .positive()
      .max(DAY_S)
      .default(300)
      .describe("Seconds after which any session closes."),
    recover_timeout_s: z
      .number()
      .positive()
      .max(DAY_S)
      .default(60)
      .describe("After a restart, how long a recovered session waits for its scales."),
  })
  .describe("Deposit sessions of bins without door hardware (README, How a deposit is weighed).");

const logSchema = z
  .strictObject({
    level: z
      .enum(LOG_LEVELS)
      .default("info")
      .describe("Least severe level logged (JSON lines on stdout, for journald)."),
  })
  .describe("Logging.");

/**
 * The whole configuration file. Parse YAML-decoded data with `configSchema.safeParse(data)`;
 * prefer `checkConfigText`/`loadConfigFile` (load.ts), which also resolve relative paths, give
 * every problem a file position and freeze the result.
 */
export const configSchema = z
  .strictObject({
    station: stationSchema,
    storage: storageSchema.prefault({}),
    mqtt: mqttSchema,
    scales: z
      .array(scaleSchema)
      .default([])
      .describe("Weighing indicators, one per bin. Default: none."),
    readers: z
      .array(readerSchema)
      .default([])
      .describe("Identification readers (cards, QR codes); any reader opens a session. Default: none."),
    bins: z.array(binSchema).default([]).describe("Bins, each on its own scale. Default: none."),
    points: pointsSchema,
    session: sessionSchema.prefault({}),
    log: logSchema.prefault({}),
  })
  .superRefine(
    (data, ctx) => {
      for (const issue of crossFieldIssues(data)) ctx.addIssue({ code: "custom", ...issue });
    },
    // Also when other keys are invalid, so that all problems are reported together.
    { when: () => true },
  )
  .describe("smartbin-edge station configuration.");

/** The validated configuration, keys as in the file, defaults filled in. */
export type Config = z.output<typeof configSchema>;
/** The configuration as written in the file (defaults optional). */
export type ConfigInput = z.input<typeof configSchema>;
