/**
 * Building blocks shared by the config schema's files (schema.ts, device-schema.ts): strings with a
 * worded format error, ids, and the bounds of durations.
 */
import { z } from "zod";
import { describeFound } from "./found.js";

/** A string that must match `re`; the error says what was expected in words, and what was found. */
export function matching(re: RegExp, expected: string) {
  return z.string().regex(re, { error: (iss) => `expected ${expected}, found ${describeFound(iss.input)}` });
}

const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A device or bin id (unique within its list: cross-field.ts). */
export const deviceId = () =>
  matching(DEVICE_ID, 'an id of 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit');

/** A string of at least one character. */
export const nonEmpty = () => z.string().min(1);

/** One hour and one day: bounds that keep every timer far below Node's 2^31-1 ms limit, and sane. */
export const HOUR_S = 3_600;
export const DAY_S = 86_400;
