import { mixSeed, rngFromState } from '../dataset/random.js';

/**
 * Draws the sampled protocol's negatives: distinct items, uniform over a candidate pool
 * (the training items), excluding an item set (the user's training and test items).
 * The random stream depends only on (seed, user), so the model and the popularity
 * baseline get identical negatives, whichever users are evaluated and in which order.
 *
 * @example
 * const sampler = new NegativeSampler(candidatePool, nItems);
 * const random = sampler.stream(2040, user);
 * const negatives = sampler.draw(999, random, [trainItemsOfUser, testItemsOfUser]);
 */
export class NegativeSampler {
  /** mark[item] === token: excluded or already drawn in the current draw */
  private readonly mark: Int32Array;
  private token = 0;

  /** @param pool item indexes negatives are drawn from (each once) */
  constructor(
    private readonly pool: Int32Array,
    nItems: number,
  ) {
    this.mark = new Int32Array(nItems);
  }

  /** The per-user random stream; call once per user and draw that user's interactions from it in test order. */
  stream(seed: number, user: number): () => number {
    return rngFromState(mixSeed(seed, user)).next;
  }

  /** `count` distinct pool items outside `exclude` (fewer if fewer exist). */
  draw(count: number, random: () => number, exclude: readonly Int32Array[]): Int32Array {
    const token = ++this.token;
    const mark = this.mark;
    const pool = this.pool;
    let excludedInPool = 0;
    for (const items of exclude) {
      for (let n = 0; n < items.length; n++) {
        const item = items[n]!;
        if (item >= 0 && item < mark.length && mark[item] !== token) {
          mark[item] = token;
          excludedInPool++; // over-counts items outside the pool; only decides the strategy below
        }
      }
    }
    const eligible = pool.length - excludedInPool;
    if (eligible > 2 * count) {
      // Rejection sampling: each draw succeeds with probability > 1/2.
      const out = new Int32Array(count);
      let filled = 0;
      while (filled < out.length) {
        const item = pool[Math.floor(random() * pool.length)]!;
        if (mark[item] === token) continue;
        mark[item] = token;
        out[filled++] = item;
      }
      return out;
    }
    // Small pools: enumerate what is eligible and take a partial Fisher-Yates prefix.
    const open: number[] = [];
    for (let n = 0; n < pool.length; n++) if (mark[pool[n]!] !== token) open.push(pool[n]!);
    const take = Math.min(count, open.length);
    for (let n = 0; n < take; n++) {
      const j = n + Math.floor(random() * (open.length - n));
      const tmp = open[n]!;
      open[n] = open[j]!;
      open[j] = tmp;
    }
    return Int32Array.from(open.slice(0, take));
  }
}
