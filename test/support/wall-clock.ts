/** A settable wall clock for `now: () => Date` options (the outbox's): starts at `start`, moves by hand. */
export function manualWallClock(start = "2026-11-29T14:36:38.123Z") {
  let t = Date.parse(start);
  return {
    now: () => new Date(t),
    advance(ms: number) {
      t += ms;
    },
  };
}
