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
import { crossFieldIssues } from "./cross-field.js";
import { canonicalDecimal, DECIMAL_TEXT } from "./decimal.js";
import { levelSensorItemSchema, readerItemSchema, scaleItemSchema } from "./device-schema.js";
import { cardsSchema, doorSchema, gpioSchema } from "./gpio-schema.js";
import { describeFound } from "./found.js";
import { DAY_S, HOUR_S, deviceId, matching, nonEmpty } from "./schema-parts.js";

/**
 * A bin's `max_net_g` when none is written: this, or its scale's `capacity_g` if lower (contract.md
 * section 2).
 */
export const DEFAULT_MAX_NET_G = 50_000;

/** Log levels of the daemon's pino logger, most to least severe. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;


const STATION_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const SLUG = /^[a-z0-9][a-z0-9_-]*$/;
// One or more topic levels separated by "/", none empty, no wildcards (MQTT 5.0 section 4.7).
// Topics starting with "$" are reserved for the broker ($SYS): a prefix must not start with one.
const TOPIC_PREFIX = /^(?!\$)[^/#+\u0000]+(\/[^/#+\u0000]+)*$/;
const MQTT_URL = /^(mqtts?|wss?):\/\/[^\s/?#]+/;
/** MQTT 5 Session Expiry Interval 0xFFFFFFFF: the session does not expire (MQTT 5.0 section 3.1.2.11.2). */
const MQTT_SESSION_NEVER_EXPIRES = 0xffff_ffff;

const categorySlug = () =>
  matching(SLUG, 'a slug of lowercase letters, digits, "_" or "-", starting with a letter or digit');
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
    time_zone: nonEmpty()
      .refine((v) => v === "system" || isTimeZone(v), {
        error: (iss) => `expected an IANA time zone name such as Asia/Shanghai, or system, found ${describeFound(iss.input)}`,
      })
      .default("system")
      .describe("IANA time zone name (e.g. Asia/Shanghai), or system: the gateway's zone. Daily caps count per local day."),
    fire_doors: z
      .enum(["lock", "unlock"])
      .default("unlock")
      .describe("What every door does while the fire input is active: unlock (escape, firefighting) or lock."),
    clock_sync_marker: nonEmpty()
      .default("/run/systemd/timesync/synchronized")
      .describe("A file whose presence says the clock is synchronised (systemd-timesyncd's marker by default)."),
  })
  .describe("This station.");

/** The canonical IANA names this Node's ICU knows, by their lower-case spelling (read once, when a config first names a zone). */
let canonicalZones: ReadonlyMap<string, string> | undefined;

/**
 * The spelling of a time zone name that `TZ` understands, `undefined` for a name this Node's Intl
 * does not know. Intl takes names in any case (`asia/shanghai`), but `TZ=asia/shanghai` is UTC to
 * V8, so the station sets `TZ` to the spelling given here (`Asia/Shanghai`). Canonical names are
 * looked up in `Intl.supportedValuesOf("timeZone")` (about 0.5 MiB); only an alias it leaves out
 * (`Asia/Calcutta`) costs an `Intl.DateTimeFormat` (about 8 MiB, kept).
 */
export function timeZoneSpelling(name: string): string | undefined {
  // UTC and GMT are links in the IANA database, so the canonical list leaves them out.
  canonicalZones ??= new Map([...Intl.supportedValuesOf("timeZone"), "UTC", "Etc/UTC", "GMT", "Etc/GMT"].map((z) => [z.toLowerCase(), z]));
  const canonical = canonicalZones.get(name.toLowerCase());
  if (canonical !== undefined) return canonical;
  try {
    return new Intl.DateTimeFormat("en", { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** True for a time zone name this Node's Intl knows (IANA names and their aliases, such as UTC, in any case). */
function isTimeZone(name: string): boolean {
  return timeZoneSpelling(name) !== undefined;
}

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
    max_size_mb: z
      .number()
      .positive()
      .default(512)
      .describe(
        "Size budget of the database and its WAL, in MiB (pages in use plus the WAL file): at 90 % the " +
          "station records storage_nearly_full and prunes published events before their retention ends; " +
          "at 100 % it opens no new session; storage_ok once back under 80 %. Pending events are never pruned.",
      ),
    min_free_mb: z
      .number()
      .nonnegative()
      .default(64)
      .describe(
        "Free-space floor of the database's file system, in MiB: below twice it the station records " +
          "storage_nearly_full and prunes published events early; below it, no new session opens.",
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
      .describe(
        "Password for the broker's authentication, written in this file (a warning: prefer password_file); " +
          "never logged. Not together with password_file.",
      )
      .meta({ examples: ["change-me"] }),
    password_file: nonEmpty()
      .optional()
      .describe(
        "File whose first line is the password for the broker's authentication (read at start and at " +
          "each reload; never logged). Relative to this file's folder; keep it readable only by the " +
          "station's user. Not together with password.",
      )
      .meta({ examples: ["secret.txt"] }),
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
    tls_insecure: z
      .boolean()
      .default(false)
      .describe(
        "true skips the check of the broker's certificate (mqtts:// and wss://): anyone on the path can " +
          "pose as the broker. Logged at warn at every connect; for commissioning only.",
      ),
    session_expiry_s: z
      .int()
      .min(0)
      .max(MQTT_SESSION_NEVER_EXPIRES)
      .default(3600)
      .describe(
        "MQTT 5: seconds the broker keeps the station's session (its command subscription and the commands " +
          `queued for it) while the station is away; 0 ends it at disconnect, ${MQTT_SESSION_NEVER_EXPIRES} never ` +
          "(MQTT 5.0 section 3.1.2.11.2). Not used with protocol_version 4 (a clean session).",
      ),
    reconnect_max_s: z
      .number()
      .positive()
      .max(HOUR_S)
      .default(60)
      .describe(
        "Cap of the reconnect backoff, in seconds: waits between connection attempts grow from 1 s up to " +
          "this, each a random fraction of its cap (full jitter).",
      ),
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

const telemetrySchema = z
  .strictObject({
    interval_s: z
      .number()
      .positive()
      .max(DAY_S)
      .default(60)
      .describe(
        "Seconds between two telemetry messages on PREFIX/STATION_ID/telemetry (QoS 0, not retained; MQTT 5 " +
          "message expiry twice this).",
      ),
  })
  .describe("Periodic telemetry (backlog, devices, memory, disk), not durable.");

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
    .describe(
      `Grams: a deposit above this is implausible (recorded with 0 points and an alarm). Default ${DEFAULT_MAX_NET_G}, ` +
        "or the scale's capacity_g if lower; at most that capacity_g.",
    )
    .meta({ examples: [DEFAULT_MAX_NET_G] }),
  full_g: z
    .int()
    .positive()
    .optional()
    .describe("Grams: gross weight at which the bin is full (bin_full; not ready until below 90 % again).")
    .meta({ examples: [80_000] }),
  door: doorSchema.optional().meta({ exampleCommented: true }),
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
    .optional()
    .describe(
      "Points per kilogram of net weight, a non-negative decimal (a number or a string like \"1.16\"); " +
        "used exactly as written, never rounded through binary floating point. In the parsed config it " +
        "is the canonical decimal string.",
    )
    .meta({ examples: [2] }),
  points_per_deposit: z
    .int()
    .nonnegative()
    .max(1_000_000)
    .optional()
    .describe("Points for every deposit of at least min_net_g, whatever its weight (instead of points_per_kg).")
    .meta({ examples: [1], exampleCommented: true }),
  min_net_g: z
    .int()
    .nonnegative()
    .default(0)
    .describe("Grams: a deposit lighter than this earns 0 points (points_reason below_minimum)."),
});

const pointsSchema = z
  .strictObject({
    rounding: z
      .enum(["floor", "half_up"])
      .default("floor")
      .describe("How the fraction of points_per_kg points goes: floor (default) or half_up."),
    daily_cap: z
      .int()
      .nonnegative()
      .optional()
      .describe(
        "Most points one card earns at this station per local day (station.time_zone), all categories together; " +
          "counted in the database, so a restart does not reset it.",
      )
      .meta({ examples: [100] }),
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
    door_mode: z
      .enum(["select", "all"])
      .default("select")
      .describe(
        "select: a bin's button unlocks its door (a door bin without a button unlocks at once); all: an " +
          "identification unlocks every ready door.",
      ),
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
    telemetry: telemetrySchema.prefault({}),
    scales: z
      .array(scaleItemSchema)
      .default([])
      .describe("Weighing indicators, one per bin. Default: none."),
    readers: z
      .array(readerItemSchema)
      .default([])
      .describe("Identification readers (cards, QR codes); any reader opens a session. Default: none."),
    level_sensors: z
      .array(levelSensorItemSchema)
      .default([])
      .describe("Fill-level sensors (ultrasonic or lidar above the waste), one per bin at most. Default: none."),
    bins: z.array(binSchema).default([]).describe("Bins, each on its own scale. Default: none."),
    points: pointsSchema,
    session: sessionSchema.prefault({}),
    gpio: gpioSchema.prefault({}),
    cards: cardsSchema,
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
