/**
 * The daily cap's count (`points.daily_cap`, contract section 2 "Points"): points earned per card on
 * one local day in `station.time_zone`, kept by the station machine and stored in the database's
 * `meta` table, one row per card, so that a restart does not reset the cap.
 *
 * Neither half copies every card of the day with every deposit:
 * - in memory, the tally is persistent plain data: a close copies only the latest additions (at
 *   most {@link RECENT_MAX} cards) and folds them into the rest once that many have gathered (one
 *   copy of the day's cards per {@link RECENT_MAX} cards credited; a copy of 10,000 cards took 3 ms),
 *   so the state before a step is never changed;
 * - in the database, a close writes the row of each card it credited (`daily_points/<card>`), not
 *   the whole day (a single JSON value of 10,000 cards was 200 KB written with every deposit).
 */

/** The `meta` key prefix of a card's row; the row's value is {@link StoredCardPoints} as JSON. */
export const DAILY_POINTS_PREFIX = "daily_points/";

/**
 * The `meta` key of the day the count is of (`YYYY-MM-DD`), written with every credit. At start the
 * rows of this day are the count, whatever the days of other rows: the local day can go back (a
 * clock stepped back, `station.time_zone` changed), so the latest day among the rows is not always
 * the day of the latest credit.
 */
export const DAILY_DAY_KEY = "daily_points_day";

/** How many cards the latest additions hold before they are folded into the rest. */
export const RECENT_MAX = 64;

/** Points per card on one local day, as the database gives them back at start. */
export interface DailyPoints {
  /** `YYYY-MM-DD` in the station's time zone. */
  readonly day: string;
  /** Points earned that day per card id (non-negative safe integers). */
  readonly points: Readonly<Record<string, number>>;
}

/** One card's row in `meta` (key `daily_points/<card id>`). */
export interface StoredCardPoints {
  readonly day: string;
  readonly points: number;
}

/**
 * The machine's tally of one day: `recent` (the latest additions) over `base`. Plain data, as the
 * whole state is; never changed in place. Read a card with {@link earnedOn} (own properties only, so a
 * card id such as `__proto__` or `constructor` is a card id like any other).
 */
export interface DailyTallyState {
  /** `YYYY-MM-DD` in the station's time zone. */
  readonly day: string;
  readonly base: Readonly<Record<string, number>>;
  /** At most {@link RECENT_MAX} cards; a card here has its whole day's points here. */
  readonly recent: Readonly<Record<string, number>>;
}

/** The machine's tally of what the database gave back. */
export function tallyOf(stored: DailyPoints): DailyTallyState {
  return { day: stored.day, base: Object.fromEntries(Object.entries(stored.points)), recent: {} };
}

/** Points `cardId` earned on `day` by the tally; 0 when the tally is of another day or absent. */
export function earnedOn(tally: DailyTallyState | undefined, day: string, cardId: string): number {
  if (tally === undefined || tally.day !== day) return 0;
  if (Object.hasOwn(tally.recent, cardId)) return tally.recent[cardId]!;
  return Object.hasOwn(tally.base, cardId) ? tally.base[cardId]! : 0;
}

/**
 * The tally with `points` more for `cardId` on `day` (a tally of another day starts from zero).
 *
 * @returns a new tally; `tally` is not changed.
 */
export function addPoints(tally: DailyTallyState | undefined, day: string, cardId: string, points: number): DailyTallyState {
  const same = tally !== undefined && tally.day === day;
  // Computed keys and spreads define own properties: `__proto__` is stored, never a prototype.
  const recent = { ...(same ? tally.recent : {}), [cardId]: earnedOn(tally, day, cardId) + points };
  const base = same ? tally.base : {};
  if (Object.keys(recent).length <= RECENT_MAX) return { day, base, recent };
  return { day, base: { ...base, ...recent }, recent: {} };
}

/** Every card id in the tally (what a new day's first write deletes from `meta`). */
export function cardsIn(tally: DailyTallyState): string[] {
  return [...new Set([...Object.keys(tally.base), ...Object.keys(tally.recent)])];
}

/** The `meta` key of a card's row. */
export function dailyPointsKey(cardId: string): string {
  return `${DAILY_POINTS_PREFIX}${cardId}`;
}

/** What {@link gatherStored} makes of the rows the database kept. */
export interface GatheredDailyPoints {
  /** The latest day's points per card; `undefined` when nothing usable was stored. */
  daily?: DailyPoints;
  /** Keys of rows nothing reads any more (an earlier day's), to delete. */
  stale: string[];
  /** Keys of rows not in the expected form (ignored, and deleted too). */
  malformed: string[];
}

/**
 * The daily count as the database kept it: the card rows (`daily_points/<card>` →
 * {@link StoredCardPoints}) of the count's day, with the whole-day row that version 0.2.0 and earlier
 * wrote (`legacy`) when it is of that same day. A card in both gets the larger figure: a day's count
 * only grows, and after a rollback to 0.2.0 and an upgrade again the whole-day row can be the newer.
 *
 * The count's day is `storedDay` (the {@link DAILY_DAY_KEY} row) when it is a `YYYY-MM-DD` day, else
 * (a database that 0.2.0 wrote) the latest day among the rows.
 */
export function gatherStored(
  legacy: DailyPoints | undefined,
  rows: ReadonlyArray<{ key: string; value: string }>,
  storedDay: string | null = null,
): GatheredDailyPoints {
  const cards: Array<{ key: string; card: string; day: string; points: number }> = [];
  const malformed: string[] = [];
  for (const { key, value } of rows) {
    const row = parseRow(value);
    if (row === null || !key.startsWith(DAILY_POINTS_PREFIX)) malformed.push(key);
    else cards.push({ key, card: key.slice(DAILY_POINTS_PREFIX.length), ...row });
  }
  const latest = [legacy?.day, ...cards.map((c) => c.day)].reduce<string | undefined>((a, b) => (b !== undefined && (a === undefined || b > a) ? b : a), undefined);
  const day = storedDay !== null && DAY_PATTERN.test(storedDay) ? storedDay : latest;
  if (day === undefined) return { stale: [], malformed };
  const merged = new Map<string, number>(legacy?.day === day ? Object.entries(legacy.points) : []);
  for (const c of cards) if (c.day === day) merged.set(c.card, Math.max(merged.get(c.card) ?? 0, c.points));
  // fromEntries defines own properties (a card `__proto__` too).
  const points: Record<string, number> = Object.fromEntries(merged);
  return { daily: { day, points }, stale: cards.filter((c) => c.day !== day).map((c) => c.key), malformed };
}

/** A local day as the count writes it. */
const DAY_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

function parseRow(value: string): StoredCardPoints | null {
  try {
    const v = JSON.parse(value) as Partial<StoredCardPoints> | null;
    if (typeof v === "object" && v !== null && typeof v.day === "string" && DAY_PATTERN.test(v.day) && Number.isSafeInteger(v.points) && (v.points as number) >= 0) return { day: v.day, points: v.points as number };
  } catch {
    // not JSON: malformed
  }
  return null;
}
