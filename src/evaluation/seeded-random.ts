/**
 * Small seeded PRNG for reproducible evaluation: negatives and bootstrap resamples
 * must not depend on `Math.random` or on the order in which users are visited.
 */

/** Mixes a seed and a stream id (e.g. a user index) into one 32-bit state (murmur3 finaliser). */
export function mixSeed(seed: number, stream: number): number {
  let h = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(stream | 0, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * mulberry32: returns uniform floats in [0, 1). Fast and good enough for sampling
 * (not for cryptography).
 *
 * @example
 * const random = seededRandom(mixSeed(2040, user));
 * const item = Math.floor(random() * nItems);
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
