/**
 * The one seeded PRNG (mulberry32, 32-bit state) behind every random choice in Graft: splits,
 * synthetic data, initialisers, batch order, token dropout, the evaluation's negatives and the
 * bootstrap. The same seed gives the same stream on every machine. Not for cryptography.
 *
 * @example
 * const rng = createRng(42);
 * const dice = 1 + rng.int(6);
 * const negatives = rngFromState(mixSeed(2040, user)); // one independent stream per user
 */
export interface Rng {
  /** Uniform float in [0, 1). A plain function: `const random = rng.next` may be passed around. */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal draw (Box-Muller). */
  normal(): number;
}

/** A generator whose whole position is one number, so a stream can be saved and resumed. */
export interface ResumableRng extends Rng {
  /** The generator's state, to resume the same stream later (see `restore`). */
  state(): number;
  restore(state: number): void;
}

/**
 * A generator for `seed`, mixed through splitmix32 so nearby seeds (1, 2, 3) give unrelated
 * streams. `normal()` draws Box-Muller pairs and keeps the second for the next call; with
 * `resumable` it uses one pair per draw instead, so `state()` describes the stream fully.
 */
export function createRng(seed: number, options: { resumable: true }): ResumableRng;
export function createRng(seed: number, options?: { resumable?: false }): Rng;
export function createRng(seed: number, options: { resumable?: boolean } = {}): Rng | ResumableRng {
  const core = mulberry32(splitmix32(seed >>> 0 || 0x9e3779b9));
  const { next } = core;
  if (options.resumable) {
    return {
      ...core,
      int: (n: number) => Math.floor(next() * n),
      normal: () => {
        let u = 0;
        while (u === 0) u = next();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
      },
    };
  }
  let spare: number | undefined;
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    normal: () => {
      if (spare !== undefined) {
        const value = spare;
        spare = undefined;
        return value;
      }
      let u = 0;
      while (u === 0) u = next();
      const v = next();
      const radius = Math.sqrt(-2 * Math.log(u));
      spare = radius * Math.sin(2 * Math.PI * v);
      return radius * Math.cos(2 * Math.PI * v);
    },
  };
}

/** A generator that starts at `state` as it is (no mixing): for states already mixed, e.g. by `mixSeed`. */
export function rngFromState(state: number): Rng {
  const { next } = mulberry32(state);
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    normal: () => {
      let u = 0;
      while (u === 0) u = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
  };
}

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

/** Derives an independent seed for a named sub-stream (e.g. one per table) from a base seed. */
export function deriveSeed(seed: number, salt: string): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < salt.length; i++) {
    h ^= salt.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return splitmix32(h) >>> 0;
}

/** Fisher-Yates shuffle in place with the given generator; returns the same array. */
export function shuffleInPlace<T extends { length: number; [i: number]: unknown }>(array: T, rng: Rng): T {
  for (let i = array.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = array[i];
    array[i] = array[j];
    array[j] = tmp;
  }
  return array;
}

/** mulberry32 from a 32-bit state. */
function mulberry32(initial: number): { next: () => number; state: () => number; restore: (state: number) => void } {
  let s = initial | 0;
  return {
    next: () => {
      s = (s + 0x6d2b79f5) | 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
    state: () => s,
    restore: (state: number) => {
      s = state | 0;
    },
  };
}

function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) | 0;
}
