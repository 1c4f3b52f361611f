/**
 * Seeded PRNG for the model engine (initialisers, token dropout, batch shuffling).
 * mulberry32 on a splitmix32-mixed seed: fast, 32-bit state, and the same stream for a
 * seed on every machine, which is what makes training deterministic. Not for cryptography.
 *
 * @example
 * const rng = createSeededRandom(7);
 * rng.next(); // [0, 1)
 */
export interface SeededRandom {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal draw (Box-Muller). */
  normal(): number;
  /** The generator's state, to resume the same stream later (see `restore`). */
  state(): number;
  restore(state: number): void;
}

export function createSeededRandom(seed: number): SeededRandom {
  let s = splitmix32(seed >>> 0 || 0x9e3779b9);
  const next = (): number => {
    s = (s + 0x6d2b79f5) | 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n) => Math.floor(next() * n),
    normal: () => {
      // One draw per call (no cached spare) so `state()` fully describes the stream.
      let u = 0;
      while (u === 0) u = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
    state: () => s,
    restore: (state) => {
      s = state | 0;
    },
  };
}

/** Derives an independent seed for a named sub-stream (e.g. one per table) from a base seed. */
export function deriveSeed(seed: number, salt: string): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < salt.length; i++) {
    h ^= salt.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return splitmix32(h) >>> 0;
}

function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) | 0;
}
