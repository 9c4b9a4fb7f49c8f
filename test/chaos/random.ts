/**
 * Seeded random streams of the chaos suite (pure-rand's xoroshiro128+). Each concern draws from its
 * own stream (the day's script, the fault schedule, garbage bytes), so that one seed gives the same
 * script and the same fault schedule whatever the timing of a run did to the other streams.
 */
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";

/** A seeded stream of random choices. */
export interface Random {
  /** An integer in [from, to], both included. */
  int(from: number, to: number): number;
  /** A float in [0, 1). */
  float(): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** One of `items` (not empty). */
  pick<T>(items: readonly T[]): T;
  /** A choice among `[weight, value]` pairs, by weight. */
  weighted<T>(choices: ReadonlyArray<readonly [number, T]>): T;
  /** `n` random bytes. */
  bytes(n: number): Uint8Array;
}

/**
 * The stream `name` of `seed`: the seed and a hash of the name make the generator's seed, so that
 * streams of one seed are independent.
 */
export function randomStream(seed: number, name: string): Random {
  let h = seed | 0;
  for (const ch of name) h = (Math.imul(h ^ ch.charCodeAt(0), 0x5bd1e995) + 0x6b43a9b5) | 0;
  const rng = xoroshiro128plus(h);
  const float = () => uniformFloat64(rng);
  const r: Random = {
    int: (from, to) => uniformInt(rng, from, to),
    float,
    chance: (p) => float() < p,
    pick: (items) => items[uniformInt(rng, 0, items.length - 1)]!,
    weighted(choices) {
      const total = choices.reduce((s, [w]) => s + w, 0);
      let x = float() * total;
      for (const [w, v] of choices) {
        x -= w;
        if (x < 0) return v;
      }
      return choices[choices.length - 1]![1];
    },
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = uniformInt(rng, 0, 255);
      return out;
    },
  };
  return r;
}
