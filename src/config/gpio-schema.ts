/**
 * The config of a station's GPIO parts and roles (contract.md section 2, "GPIO and doors" and
 * "Roles"): the `gpio` section (backend, chip, station-wide dry contacts, buzzer), a bin's `door`,
 * and the `cards` role lists; and their checks between keys (issue 8, "Bad input": a line used twice,
 * a door without a GPIO backend, a card in two lists).
 *
 * Line numbers are BCM numbers, the numbers on the Raspberry Pi's pinout (not physical pin numbers);
 * the GPIO adapter maps them to the chip (src/adapters/gpio).
 */
import { z } from "zod";
import { quoteFound } from "./found.js";
import { HOUR_S, nonEmpty } from "./schema-parts.js";

/** GPIO backends (contract section 2 `gpio.backend`). */
export const GPIO_BACKENDS = ["none", "onoff", "gpiod", "simulated"] as const;
export type GpioBackend = (typeof GPIO_BACKENDS)[number];

/** The highest line number accepted: the Raspberry Pi chips have 54 lines (bcm2835/2711: 0-53; rp1: 0-53). */
export const MAX_GPIO_LINE = 63;

const lineNumber = (example: number) =>
  z
    .int()
    .min(0)
    .max(MAX_GPIO_LINE)
    .describe("BCM line number (the Raspberry Pi pinout's GPIO number, not the physical pin number).")
    .meta({ examples: [example] });

const activeLow = () =>
  z
    .boolean()
    .default(false)
    .describe("true when the line's active state is the low level (a contact to ground with a pull-up).");

/** One line of a door part or the buzzer: its number (`example` in the generated example file) and active level. */
export const lineSchema = (example: number, activeLowExample = false) =>
  z.strictObject({ line: lineNumber(example), active_low: activeLow().meta({ examples: [activeLowExample] }) });

/** A station-wide dry-contact input: fire, tamper, power_fail. */
const stationInputSchema = (example: number) => z.strictObject({
  line: lineNumber(example),
  active_low: activeLow(),
  debounce_ms: z
    .int()
    .min(0)
    .max(10_000)
    .default(100)
    .describe("An input's new level counts once it has held this long (ms)."),
});

export const gpioSchema = z
  .strictObject({
    backend: z
      .enum(GPIO_BACKENDS)
      .default("none")
      .describe(
        "none (no GPIO parts), onoff (sysfs, older kernels), gpiod (character device: Raspberry Pi 5 and current " +
          "kernels), simulated (one file per line in simulated_dir: demos and tests).",
      ),
    chip: nonEmpty()
      .default("auto")
      .describe("gpiochip label or /dev/gpiochipN; auto: the chip of the Raspberry Pi's 40-pin header."),
    simulated_dir: nonEmpty()
      .default("./gpio")
      .describe("simulated backend only: the folder with one file per line, named by its number, holding 0 or 1."),
    inputs: z
      .strictObject({
        fire: stationInputSchema(5)
          .optional()
          .describe("Fire alarm contact: fire / fire_cleared alarms; doors follow station.fire_doors."),
        tamper: stationInputSchema(6).optional().describe("Tamper contact: tamper / tamper_cleared alarms."),
        power_fail: stationInputSchema(13)
          .optional()
          .describe("Power-fail contact (a UPS's signal): power_fail / power_ok alarms; no new session while active."),
      })
      .prefault({})
      .describe("Station-wide dry contacts; each optional, none by default.")
      .meta({ exampleCommented: true }),
    buzzer: lineSchema(19).optional().describe("Optional buzzer output (patterns: docs/deposit-flow.md).").meta({ exampleCommented: true }),
  })
  .describe("GPIO lines of the station (doors, buttons, lamps, buzzer, dry contacts).");

export const doorSchema = z
  .strictObject({
    lock: lineSchema(17).describe("Required output; active = unlocked."),
    closed: lineSchema(27, true).describe("Required input; active = door closed."),
    button: lineSchema(22, true).optional().describe("Optional input; a press selects this bin."),
    lamp: lineSchema(23).optional().describe("Optional output: the bin's lamp."),
    debounce_ms: z
      .int()
      .min(0)
      .max(10_000)
      .default(30)
      .describe("An input's new level counts once it has held this long (ms)."),
    open_timeout_s: z
      .number()
      .positive()
      .max(HOUR_S)
      .default(15)
      .describe("Unlocked but not opened this long: locked again."),
    left_open_s: z
      .number()
      .positive()
      .max(HOUR_S)
      .default(60)
      .describe("Open longer than this: door_left_open alarm."),
  })
  .describe("Door hardware of this bin (needs a gpio backend other than none).");

const cardList = () => z.array(nonEmpty()).default([]);

export const cardsSchema = z
  .strictObject({
    file: nonEmpty()
      .optional()
      .describe("A YAML file with the same three lists, merged with the ones here; relative to this file's folder.")
      .meta({ examples: ["cards.yaml"] }),
    collectors: cardList().describe("Card ids of collectors: their sessions unlock every door and record collections."),
    maintenance: cardList().describe("Card ids of maintenance staff: their sessions unlock every door; audited."),
    blocked: cardList().describe("Blocked card ids: they unlock nothing and earn no points."),
  })
  .prefault({})
  .describe("Role lists (card ids as the readers report them); a card in two lists is an error.");

/** The three role lists. */
export interface CardLists {
  collectors: readonly string[];
  maintenance: readonly string[];
  blocked: readonly string[];
}

export const CARD_ROLES = ["collectors", "maintenance", "blocked"] as const;

/** A problem between keys (same shape as cross-field.ts's). */
interface Issue {
  path: (string | number)[];
  message: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The GPIO and role checks between keys, on YAML-decoded data that may be invalid elsewhere (it
 * reads defensively): a `door` with `gpio.backend: none` (or no gpio section), a line used twice
 * (reported at the second use, naming the first), a card in two lists.
 */
export function gpioIssues(data: Record<string, unknown>): Issue[] {
  const out: Issue[] = [];
  const gpio = isRecord(data.gpio) ? data.gpio : {};
  const backend = typeof gpio.backend === "string" ? gpio.backend : "none";
  const used = new Map<number, string>();
  /** `line` used by the part at `where`, reported at `at` when used before. */
  const useLine = (line: number, where: string, at: (string | number)[]) => {
    const first = used.get(line);
    if (first === undefined) used.set(line, where);
    else out.push({ path: at, message: `expected a line no other part uses, found ${line} again (first at ${first})` });
  };
  const use = (value: unknown, path: (string | number)[]) => {
    if (isRecord(value) && typeof value.line === "number") useLine(value.line, path.join("."), [...path, "line"]);
  };
  const inputs = isRecord(gpio.inputs) ? gpio.inputs : {};
  for (const name of ["fire", "tamper", "power_fail"]) use(inputs[name], ["gpio", "inputs", name]);
  use(gpio.buzzer, ["gpio", "buzzer"]);
  if (Array.isArray(data.bins)) {
    data.bins.forEach((bin: unknown, i) => {
      if (!isRecord(bin) || !isRecord(bin.door)) return;
      if (backend === "none") {
        out.push({
          path: ["bins", i, "door"],
          message: "expected gpio.backend onoff, gpiod or simulated for a bin with a door, found gpio.backend none (the default)",
        });
      }
      for (const part of ["lock", "closed", "button", "lamp"]) use(bin.door[part], ["bins", i, "door", part]);
    });
  }
  if (Array.isArray(data.readers)) {
    data.readers.forEach((reader: unknown, i) => {
      // A reader on GPIO lines (wiegand: d0_line, d1_line; config/device-schema.ts).
      if (!isRecord(reader) || (reader.d0_line === undefined && reader.d1_line === undefined)) return;
      for (const key of ["d0_line", "d1_line"]) {
        const line = reader[key];
        if (typeof line === "number") useLine(line, `readers.${i}.${key}`, ["readers", i, key]);
      }
      if (backend !== "gpiod" && backend !== "simulated") {
        out.push({
          path: ["readers", i, "protocol"],
          message: `expected gpio.backend gpiod (or simulated) for a reader on GPIO lines (each Wiegand pulse needs its kernel timestamp), found gpio.backend ${backend}`,
        });
      }
    });
  }
  if (backend === "none" && Object.keys(inputs).length + (gpio.buzzer === undefined ? 0 : 1) > 0) {
    out.push({ path: ["gpio", "backend"], message: "expected onoff, gpiod or simulated when gpio lines are configured, found none" });
  }
  if (isRecord(data.cards)) out.push(...cardListIssues(data.cards, ["cards"]));
  return out;
}

/** A card id in two role lists (or twice in one) is an error, reported at the second place. */
export function cardListIssues(cards: Record<string, unknown>, at: (string | number)[]): Issue[] {
  const out: Issue[] = [];
  const seen = new Map<string, string>();
  for (const role of CARD_ROLES) {
    const list = cards[role];
    if (!Array.isArray(list)) continue;
    list.forEach((id: unknown, i) => {
      if (typeof id !== "string") return;
      const first = seen.get(id);
      if (first === undefined) seen.set(id, `${[...at, role, i].join(".")}`);
      else out.push({ path: [...at, role, i], message: `expected a card in one list only, found ${quoteFound(id)} again (first at ${first})` });
    });
  }
  return out;
}
