/**
 * The demo's readable account (issue 10, item 7): one line per thing that happens at the station,
 * with the local time, in words a new user understands, and the closing summary table. Pure
 * formatting: the caller decides where the lines go (see `src/cli/story-stream.ts`).
 *
 * What a line may be about is the {@link StoryItem} union; a new kind of happening is one more
 * member of it and one more case in {@link storyLine}, whose switch is exhaustive.
 */
import type { CollectionEventData, Role } from "../../domain/station-types.js";
import type { DepositData } from "../../domain/types.js";
import { maskCardId } from "../../domain/privacy.js";

/** Something that happened at the demo station, as the story tells it. Times are epoch ms. */
export type StoryItem =
  /**
   * A card or QR code was presented and opened a session (from the station's state): `bins` are the
   * session's bins, in config order; `waitingDoors` those of them whose door waits for its button
   * (`session.door_mode: select`); `role` the card's role (contract section 2, "Roles").
   */
  | { kind: "identification"; at: number; cardId: string; readerId: string; bins: readonly string[]; waitingDoors: readonly string[]; role: Role }
  /**
   * A door changed (from the station's state): its lock opened (`unlocked`), the door opened, it
   * closed (and the station locked it as it closed: `locked: true`), or the station locked it again
   * while it stayed closed (`relocked`: not opened within `open_timeout_s`, or the session ended).
   */
  | { kind: "door"; at: number; binId: string; change: "unlocked" | "opened" | "closed" | "relocked"; locked: boolean }
  /** A deposit event as the central subscriber received it. */
  | { kind: "deposit"; at: number; data: DepositData }
  /** A collection event (a collector emptied a bin) as the central subscriber received it. */
  | { kind: "collection"; at: number; data: CollectionEventData }
  /** An alarm event as the central subscriber received it (`data.code`, `data.message`). */
  | { kind: "alarm"; at: number; subject: string; code: string; message: string };

/** What the story needs to know of the station's config to say why a deposit earned what it did. */
export interface StoryContext {
  /** Per bin id: its effective `max_net_g` (grams). */
  maxNetG: Readonly<Record<string, number>>;
  /** Per category: its points rule, `pointsPerKg` as the canonical decimal text ("1.16"). */
  rules: Readonly<Record<string, { pointsPerKg?: string | undefined; pointsPerDeposit?: number | undefined; minNetG: number }>>;
}

/** `count(1, "point")` is "1 point", `count(2, "point")` "2 points", `count(0, "deposit")` "0 deposits". */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** Grams as kilograms with three decimals: 1250 → "1.250 kg". */
export function kg(grams: number): string {
  return `${(grams / 1000).toFixed(3)} kg`;
}

/** Local wall-clock time of `epochMs` as HH:MM:SS (the machine's time zone, `TZ` honoured). */
export function localTime(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** Width of the kind column, so that the lines' texts start in one column. */
const KIND_WIDTH = 11;

function row(at: number, kind: string, text: string): string {
  return `${localTime(at)}  ${kind.padEnd(KIND_WIDTH)} ${text}`;
}

/** One line of the story, without a newline: `14:03:10  deposit     1.250 kg of food_waste into kitchen by ******4356: 2 points`. */
export function storyLine(item: StoryItem, ctx: StoryContext): string {
  switch (item.kind) {
    case "identification": {
      const who = `${maskCardId(item.cardId)} at ${item.readerId}`;
      const bins = item.bins.length === 0 ? "no bin ready" : `bins open: ${item.bins.join(", ")}`;
      if (item.role === "collector") return row(item.at, "identified", `${who}, a collector: every door unlocks (${bins})`);
      if (item.role === "maintenance") return row(item.at, "identified", `${who}, maintenance: every door unlocks, nothing is weighed (${bins})`);
      const doors = item.waitingDoors;
      const press =
        doors.length === 0 ? "" : doors.length === 1 ? `; the door of ${doors[0]} opens with its button` : `; the doors of ${doors.join(", ")} open with their buttons`;
      return row(item.at, "identified", `${who} (${bins}${press})`);
    }
    case "door": {
      const what =
        item.change === "unlocked"
          ? "unlocked"
          : item.change === "opened"
            ? item.locked
              ? "opened while locked"
              : "opened"
            : item.change === "closed"
              ? item.locked
                ? "closed and locked"
                : "closed"
              : "locked again";
      return row(item.at, "door", `of ${item.binId} ${what}`);
    }
    case "collection": {
      const d = item.data;
      return row(item.at, "collection", `${kg(d.removed_g)} emptied from ${d.bin_id} by ${maskCardId(d.card_id)}`);
    }
    case "deposit": {
      const d = item.data;
      const what = `${kg(d.net_g)} of ${d.category} into ${d.bin_id} by ${maskCardId(d.card_id)}`;
      return row(item.at, "deposit", `${what}: ${pointsText(d, ctx)}`);
    }
    case "alarm":
      return row(item.at, "alarm", `${item.code} (${item.subject}): ${item.message}`);
    default: {
      const never: never = item;
      return never;
    }
  }
}

/**
 * The points of a deposit and, when it earned none or fewer than its weight suggests, why, from
 * its `points_reason` (contract.md section 3): "2 points", "0 points: below the minimum of 200 g
 * for food_waste", "0 points: no points rule for residual", "0 points: implausible weight, above
 * the bin's maximum of 10000 g". Never "0 points (awarded)": an award rounded down to nothing says so.
 */
export function pointsText(d: DepositData, ctx: StoryContext): string {
  const points = count(d.points, "point");
  const rule = ctx.rules[d.category];
  switch (d.points_reason) {
    case "awarded":
      if (d.points > 0) {
        if (rule?.pointsPerKg !== undefined) return `${points} (${rule.pointsPerKg} per kg)`;
        return rule?.pointsPerDeposit !== undefined ? `${points} (per deposit)` : points;
      }
      if (rule === undefined || rule.pointsPerKg === undefined) return `${points}: the rule gives nothing for this deposit`;
      if (Number(rule.pointsPerKg) === 0) return `${points}: ${d.category} earns 0 points per kg`;
      return `${points}: ${kg(d.net_g)} at ${rule.pointsPerKg} per kg comes to less than 1 point (rounded down)`;
    case "below_minimum":
      return rule ? `${points}: below the minimum of ${rule.minNetG} g for ${d.category}` : `${points}: below the minimum weight for ${d.category}`;
    case "no_rule":
      return `${points}: no points rule for ${d.category}`;
    case "implausible": {
      const max = ctx.maxNetG[d.bin_id];
      return `${points}: implausible weight, above the bin's maximum of ${max === undefined ? "max_net_g" : `${max} g`} (alarm raised)`;
    }
    case "blocked_card":
      return `${points}: the card is blocked`;
    case "daily_cap":
      return `${points}: the card reached its daily cap of points`;
    default: {
      const never: never = d.points_reason;
      return never;
    }
  }
}

/** What the demo's central subscriber received: the basis of the closing summary. */
export interface DemoSummary {
  events: number;
  deposits: number;
  alarms: number;
  points: number;
  /** Per category, from the received deposit events. */
  categories: Record<string, { deposits: number; grams: number; points: number }>;
  /** Collection events received. */
  collections: number;
  /** Per bin, from the received collection events: how often it was emptied and the grams removed. */
  collected: Record<string, { collections: number; grams: number }>;
}

/** An empty summary. */
export function emptySummary(): DemoSummary {
  return { events: 0, deposits: 0, alarms: 0, points: 0, categories: {}, collections: 0, collected: {} };
}

/** Counts a collection into the summary. */
export function addCollection(s: DemoSummary, d: CollectionEventData): void {
  s.collections++;
  const b = (s.collected[d.bin_id] ??= { collections: 0, grams: 0 });
  b.collections++;
  b.grams += d.removed_g;
}

/** Counts a deposit into the summary. */
export function addDeposit(s: DemoSummary, d: DepositData): void {
  s.deposits++;
  s.points += d.points;
  const c = (s.categories[d.category] ??= { deposits: 0, grams: 0, points: 0 });
  c.deposits++;
  c.grams += d.net_g;
  c.points += d.points;
}

/**
 * The closing summary: one line of totals, then a table of deposits, kilograms and points per
 * category, with a total row when there is more than one category, then (when a collector came) a
 * table of the bins emptied: how often and the kilograms removed.
 *
 * ```
 * demo summary: 5 deposits, 3 points, 1 collection, 1 alarm, 9 events
 *   category    deposits      kg  points
 *   food_waste         2   1.400       2
 *   …
 *   emptied bin  collections      kg
 *   kitchen                1  11.600
 * ```
 */
export function formatSummary(s: DemoSummary): string[] {
  const totals = [count(s.deposits, "deposit"), count(s.points, "point"), count(s.collections, "collection"), count(s.alarms, "alarm"), count(s.events, "event")];
  const lines = [`demo summary: ${totals.join(", ")}`];
  const names = Object.keys(s.categories).sort();
  if (names.length > 0) {
    const rows: string[][] = [["category", "deposits", "kg", "points"]];
    let grams = 0;
    for (const name of names) {
      const c = s.categories[name]!;
      grams += c.grams;
      rows.push([name, String(c.deposits), (c.grams / 1000).toFixed(3), String(c.points)]);
    }
    if (names.length > 1) rows.push(["total", String(s.deposits), (grams / 1000).toFixed(3), String(s.points)]);
    lines.push(...table(rows));
  }
  const bins = Object.keys(s.collected).sort();
  if (bins.length > 0) {
    const rows: string[][] = [["emptied bin", "collections", "kg"]];
    for (const bin of bins) {
      const b = s.collected[bin]!;
      rows.push([bin, String(b.collections), (b.grams / 1000).toFixed(3)]);
    }
    lines.push(...table(rows));
  }
  return lines;
}

/** A table's lines, indented by two spaces: the first column left-aligned, the others right-aligned. */
function table(rows: readonly string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => "  " + r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  "));
}
