/**
 * Points for a deposit (contract.md section 3): `floor(net_g * points_per_kg / 1000)` when
 * `net_g >= min_net_g`, computed exactly. `points_per_kg` is a decimal taken from its written form
 * (1.16 is 116/100), never rounded through binary floating point.
 */
import type { PointsReason } from "./types.js";

/** An exact non-negative rational `num / den` (den > 0), not reduced. */
export interface Decimal {
  num: bigint;
  den: bigint;
}

/** One rule of the table (config `points.categories.<category>`): per kilogram or per deposit. */
export interface PointsRule {
  /** A decimal; a string keeps its written form exactly ("2.50"), a number is read via `String(n)`. */
  pointsPerKg?: number | string | undefined;
  /** Points for any deposit of at least `minNetG` (instead of `pointsPerKg`). */
  pointsPerDeposit?: number | undefined;
  /** Deposits lighter than this (grams) get 0 points with reason `below_minimum`. */
  minNetG: number;
}

/** How the fraction of `points_per_kg` points goes (config `points.rounding`). */
export type Rounding = "floor" | "half_up";

/** The rule table (config `points`). */
export interface PointsTable {
  rulesVersion: string;
  categories: Readonly<Record<string, PointsRule>>;
  /** Default `floor`. */
  rounding?: Rounding;
  /** `points.daily_cap`: most points per card per local day; absent: no cap. */
  dailyCap?: number | null;
}

/** A compiled rule: exactly one of `pointsPerKg` and `pointsPerDeposit` is set. */
export interface CompiledRule {
  readonly pointsPerKg: Decimal | null;
  readonly pointsPerDeposit: number | null;
  readonly minNetG: number;
}

/** A {@link PointsTable} with every `pointsPerKg` parsed once; build it with {@link compilePointsTable}. */
export interface CompiledPointsTable {
  readonly rulesVersion: string;
  readonly rules: ReadonlyMap<string, CompiledRule>;
  readonly rounding?: Rounding;
  readonly dailyCap?: number | null;
}

/** Points and the reason for one deposit. */
export interface PointsResult {
  /** A non-negative integer. */
  points: number;
  reason: PointsReason;
}

/** Exponents beyond this are refused: they would only build absurdly large BigInts. */
const MAX_EXPONENT = 400;
const DECIMAL = /^(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE]([+-]?\d+))?$/;

/**
 * Parses a non-negative decimal from its written form: `"1.16"` → 116/100, `"2.50"` → 250/100,
 * `"1e-7"` → 1/10000000, `"1.5E3"` → 1500/1. A number is converted with `String(n)`, the shortest
 * decimal that round-trips, i.e. the form it was written in (`1.16` → `"1.16"`).
 * @throws RangeError on NaN, ±Infinity, negatives and anything else that is not such a decimal.
 */
export function parseDecimal(value: number | string): Decimal {
  if (typeof value === "number" && !Number.isFinite(value)) {
    throw new RangeError(`not a finite number: ${value}`);
  }
  const text = typeof value === "number" ? String(value) : value;
  const match = DECIMAL.exec(text);
  if (match === null) throw new RangeError(`not a non-negative decimal: ${JSON.stringify(text)}`);
  const intPart = match[1] ?? "";
  const fracPart = match[2] ?? match[3] ?? "";
  const exponent = Number(match[4] ?? "0");
  if (Math.abs(exponent) > MAX_EXPONENT) throw new RangeError(`exponent out of range: ${text}`);
  const digits = BigInt(intPart + fracPart || "0");
  const scale = fracPart.length - exponent;
  return scale >= 0
    ? { num: digits, den: 10n ** BigInt(scale) }
    : { num: digits * 10n ** BigInt(-scale), den: 1n };
}

/**
 * Parses every rule of a table once.
 * @throws RangeError on a `pointsPerKg` that {@link parseDecimal} refuses or a negative or
 *   non-finite `minNetG` (config validation prevents both at run time).
 */
export function compilePointsTable(table: PointsTable): CompiledPointsTable {
  const rules = new Map<string, CompiledRule>();
  for (const [category, rule] of Object.entries(table.categories)) {
    if (!(Number.isFinite(rule.minNetG) && rule.minNetG >= 0)) {
      throw new RangeError(`categories.${category}.minNetG must be >= 0, got ${rule.minNetG}`);
    }
    const perDeposit = rule.pointsPerDeposit ?? null;
    if ((rule.pointsPerKg === undefined) === (perDeposit === null)) {
      throw new RangeError(`categories.${category}: exactly one of pointsPerKg and pointsPerDeposit`);
    }
    if (perDeposit !== null && !(Number.isSafeInteger(perDeposit) && perDeposit >= 0)) {
      throw new RangeError(`categories.${category}.pointsPerDeposit must be a non-negative integer, got ${perDeposit}`);
    }
    rules.set(category, {
      pointsPerKg: rule.pointsPerKg === undefined ? null : parseDecimal(rule.pointsPerKg),
      pointsPerDeposit: perDeposit,
      minNetG: rule.minNetG,
    });
  }
  return { rulesVersion: table.rulesVersion, rules, rounding: table.rounding ?? "floor", dailyCap: table.dailyCap ?? null };
}

/**
 * Points for `netG` grams (a non-negative integer) into a bin of `category`. Reasons, the first
 * that applies (contract.md section 3): `blocked_card` (a blocked card, 0 points), `implausible`
 * (`netG` above the bin's `maxNetG`, 0 points, contract section 2 "Weights"), `no_rule` (no table,
 * or no rule for the category), `below_minimum` (`netG < minNetG`, 0 points), `daily_cap` (the
 * card's points today plus the formula's would pass `points.daily_cap`: it earns what is left),
 * `awarded` (possibly 0 points, e.g. with a rate of 0). The formula is `net_g * points_per_kg /
 * 1000` rounded as `points.rounding` says (floor, or half_up: a fraction of exactly one half goes
 * up), or `points_per_deposit`; all exact (BigInt rationals).
 * @throws RangeError when `netG` is not a non-negative safe integer, or when the points would not be
 *   a safe integer (bound `points_per_kg` in the config to rule that out).
 */
export function computePoints(args: {
  netG: number;
  category: string;
  table: CompiledPointsTable | null;
  /** The bin's `max_net_g`: a heavier deposit earns nothing (omitted: no bound). */
  maxNetG?: number;
  /** The card is on the blocked list. */
  blocked?: boolean;
  /** Points the card already earned today (the daily cap's count); default 0. */
  earnedToday?: number;
}): PointsResult {
  const { netG, category, table, maxNetG } = args;
  if (!(Number.isSafeInteger(netG) && netG >= 0)) {
    throw new RangeError(`netG must be a non-negative integer of grams, got ${netG}`);
  }
  if (args.blocked === true) return { points: 0, reason: "blocked_card" };
  if (maxNetG !== undefined && netG > maxNetG) return { points: 0, reason: "implausible" };
  const rule = table?.rules.get(category);
  if (rule === undefined || table === null || table === undefined) return { points: 0, reason: "no_rule" };
  if (netG < rule.minNetG) return { points: 0, reason: "below_minimum" };
  const formula = rule.pointsPerDeposit !== null ? BigInt(rule.pointsPerDeposit) : perKg(netG, rule.pointsPerKg!, table.rounding ?? "floor");
  if (formula > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`points out of range: ${formula} for ${netG} g of ${category}`);
  }
  const cap = table.dailyCap ?? null;
  if (cap !== null) {
    const left = BigInt(Math.max(0, cap - (args.earnedToday ?? 0)));
    if (formula > left) return { points: Number(left), reason: "daily_cap" };
  }
  return { points: Number(formula), reason: "awarded" };
}

/** `netG * rate / 1000`, rounded down or half up, exactly. */
function perKg(netG: number, rate: Decimal, rounding: Rounding): bigint {
  const num = BigInt(netG) * rate.num;
  const den = rate.den * 1000n;
  // BigInt division truncates, which is floor for non-negative operands.
  return rounding === "floor" ? num / den : (2n * num + den) / (2n * den);
}

/**
 * The local calendar day (`YYYY-MM-DD`) of an instant in an IANA time zone (the daily cap's day:
 * contract section 3, "per local day (`station.time_zone`) of the deposit's `ended_at`").
 * Each call loads `Intl.DateTimeFormat`, whose locale and pattern data cost about 8 MiB of resident
 * memory once loaded (Node 24): the station itself reads the day from Date's local-time getters
 * instead (StationContext.localDay, src/app/station-context.ts).
 * @throws RangeError for an unknown time zone (the config refuses those).
 */
export function localDay(epochMs: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(epochMs);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "00";
  return `${get("year")}-${get("month")}-${get("day")}`;
}
