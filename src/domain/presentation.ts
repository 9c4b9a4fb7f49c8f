/**
 * Card presentations (config `readers[].repeat_gap_ms`): a tag held in a reader's field repeats its
 * frame every ~50 ms; frames of the same id closer than `repeatGapMs` to the previous frame of that
 * id are one presentation. Each frame extends its presentation, so a tag held for minutes is still
 * one. A different id is a new presentation at once. Pure: time comes in with each frame.
 */

/** Options of a {@link PresentationFilter}. */
export interface PresentationOptions {
  /** Milliseconds; frames of one id at least this far apart are separate presentations. */
  repeatGapMs: number;
}

/** De-duplicates one reader's frames into presentations. */
export class PresentationFilter {
  readonly repeatGapMs: number;
  /** card id -> mono of its latest frame; entries older than the gap are pruned. */
  private readonly lastSeen = new Map<string, number>();

  /** @throws RangeError when `repeatGapMs` is negative or not a number. */
  constructor(options: PresentationOptions) {
    if (!(Number.isFinite(options.repeatGapMs) && options.repeatGapMs >= 0)) {
      throw new RangeError(`repeatGapMs must be >= 0, got ${options.repeatGapMs}`);
    }
    this.repeatGapMs = options.repeatGapMs;
  }

  /**
   * A frame carrying `cardId` read at `mono` (ms, monotonic). Returns true when it starts a new
   * presentation, false when it continues one (same id, less than `repeatGapMs` after that id's
   * previous frame).
   */
  accept(cardId: string, mono: number): boolean {
    for (const [id, seen] of this.lastSeen) {
      if (mono - seen >= this.repeatGapMs) this.lastSeen.delete(id);
    }
    const previous = this.lastSeen.get(cardId);
    this.lastSeen.set(cardId, previous === undefined ? mono : Math.max(previous, mono));
    return previous === undefined;
  }

  /** Forgets every presentation (reader reopened). */
  reset(): void {
    this.lastSeen.clear();
  }
}
