/**
 * RFC 3339 UTC timestamps with milliseconds (contract.md section 4: "Times are RFC 3339 UTC with
 * milliseconds") computed from epoch milliseconds without `Date`, so the domain stays pure
 * (lint forbids `Date` there). The civil-from-days conversion is Howard Hinnant's
 * (https://howardhinnant.github.io/date_algorithms.html, `civil_from_days`), exact for every
 * integer day in the proleptic Gregorian calendar.
 */

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/**
 * `wallMs` (milliseconds since 1970-01-01T00:00:00Z; fractions are floored) as
 * `YYYY-MM-DDTHH:MM:SS.mmmZ`, the same text `new Date(wallMs).toISOString()` gives for years
 * 0000-9999.
 * @throws RangeError when `wallMs` is not finite or the year is outside 0000-9999
 */
export function isoTime(wallMs: number): string {
  if (!Number.isFinite(wallMs)) throw new RangeError(`not a time: ${wallMs}`);
  const ms = Math.floor(wallMs);
  const days = Math.floor(ms / 86_400_000);
  const msOfDay = ms - days * 86_400_000;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  if (year < 0 || year > 9999) throw new RangeError(`year ${year} is outside 0000-9999`);
  const hh = Math.floor(msOfDay / 3_600_000);
  const mm = Math.floor((msOfDay % 3_600_000) / 60_000);
  const ss = Math.floor((msOfDay % 60_000) / 1000);
  const mss = msOfDay % 1000;
  return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}T${pad(hh, 2)}:${pad(mm, 2)}:${pad(ss, 2)}.${pad(mss, 3)}Z`;
}
