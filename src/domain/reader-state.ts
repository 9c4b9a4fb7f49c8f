/**
 * One reader's presentations (contract.md section 4 "Readers"; config `readers[].repeat_gap_ms`,
 * `min_reads`), as pure functions over plain data.
 *
 * - A tag is presented once `min_reads` identical frames have arrived, each within
 *   `repeat_gap_ms` of the one before (RDM6300-style modules repeat the frame about every 50 ms
 *   while the tag is in the field; a one-off frame is noise). It stays one presentation while the
 *   frames keep coming, each within the gap of the one before.
 * - A candidate that stops before `min_reads` is noise, counted when its gap runs out.
 * - A different id is judged on its own at once (several tags may be in the field).
 */
import type { Candidate, ReaderSpec, ReaderState } from "./station-types.js";
import { initialLink } from "./device-link.js";

/** At most this many tags are tracked at once per reader; a flood of distinct ids cannot grow the state. */
export const MAX_TRACKED_TAGS = 32;

/** A reader before its port opened. */
export const initialReader: ReaderState = {
  link: initialLink,
  presented: {},
  candidates: [],
  noiseUnlogged: 0,
  noiseLoggedMono: null,
};

/** What one id frame did. */
export interface ReadResult {
  reader: ReaderState;
  /** The frame completed a new presentation of this id. */
  presented: boolean;
  /** Candidates that expired below `min_reads` (noise). */
  noise: number;
}

/** Drops presentations and candidates whose gap has run out at `mono`; returns the noise count. */
export function expireTags(reader: ReaderState, mono: number, spec: ReaderSpec): { reader: ReaderState; noise: number } {
  let changed = false;
  const kept: Array<[string, number]> = [];
  for (const [id, seen] of Object.entries(reader.presented)) {
    if (mono - seen >= spec.repeatGapMs) changed = true;
    else kept.push([id, seen]);
  }
  // fromEntries and spreads define own properties: a tag read as `__proto__` is a tag like any other.
  const presented = Object.fromEntries(kept);
  const candidates: Candidate[] = [];
  let noise = 0;
  for (const c of reader.candidates) {
    if (mono - c.lastMono >= spec.repeatGapMs) {
      changed = true;
      noise++;
    } else candidates.push(c);
  }
  if (!changed) return { reader, noise: 0 };
  return { reader: { ...reader, presented, candidates }, noise };
}

/** One frame carrying `cardId` read at `mono` (ms, monotonic). */
export function readTag(reader0: ReaderState, cardId: string, mono: number, spec: ReaderSpec): ReadResult {
  const { reader, noise } = expireTags(reader0, mono, spec);
  const seen = Object.hasOwn(reader.presented, cardId) ? reader.presented[cardId] : undefined;
  if (seen !== undefined) {
    return { reader: { ...reader, presented: { ...reader.presented, [cardId]: Math.max(seen, mono) } }, presented: false, noise };
  }
  const previous = reader.candidates.find((c) => c.cardId === cardId);
  const reads = (previous?.reads ?? 0) + 1;
  const others = reader.candidates.filter((c) => c.cardId !== cardId);
  if (reads >= spec.minReads) {
    const presented = boundedPresented({ ...reader.presented, [cardId]: mono });
    return { reader: { ...reader, presented, candidates: others }, presented: true, noise };
  }
  let candidates = [...others, { cardId, reads, lastMono: Math.max(previous?.lastMono ?? mono, mono) }];
  let dropped = 0;
  if (candidates.length > MAX_TRACKED_TAGS) {
    dropped = candidates.length - MAX_TRACKED_TAGS;
    candidates = candidates.slice(dropped);
  }
  return { reader: { ...reader, candidates }, presented: false, noise: noise + dropped };
}

function boundedPresented(presented: Record<string, number>): Record<string, number> {
  const entries = Object.entries(presented);
  if (entries.length <= MAX_TRACKED_TAGS) return presented;
  entries.sort((a, b) => a[1] - b[1]);
  return Object.fromEntries(entries.slice(entries.length - MAX_TRACKED_TAGS));
}

/** Forgets every tag (the port reopened). */
export function resetTags(reader: ReaderState): ReaderState {
  if (reader.candidates.length === 0 && Object.keys(reader.presented).length === 0) return reader;
  return { ...reader, presented: {}, candidates: [] };
}
