import { GraftError } from '../errors.js';
import type { Scorer } from './scorer.js';

/**
 * Training-interaction count per item (duplicates count), the popularity baseline's scores.
 * @returns `[nItems]`
 */
export function itemPopularity(trainItems: Int32Array, nItems: number): Float32Array {
  const counts = new Float32Array(nItems);
  for (let n = 0; n < trainItems.length; n++) {
    const item = trainItems[n]!;
    if (!(item >= 0 && item < nItems)) {
      throw new GraftError('BAD_INPUT', `training item index ${item} is outside 0..${nItems - 1}; pass the item vocabulary size as nItems`);
    }
    counts[item]! += 1;
  }
  return counts;
}

/**
 * Scores every user with the same item counts: the non-personalised baseline.
 * Many items share a count, so its numbers depend on the tie convention (see `evaluate`).
 *
 * @example
 * const baseline = popularityScorer(itemPopularity(split.train.items, dataset.items.size));
 */
export function popularityScorer(itemCounts: Float32Array | Int32Array): Scorer {
  const row = Float32Array.from(itemCounts);
  return {
    nItems: row.length,
    score(users: Int32Array): Float32Array {
      const out = new Float32Array(users.length * row.length);
      for (let b = 0; b < users.length; b++) out.set(row, b * row.length);
      return out;
    },
    scoreItems(_user: number, items: Int32Array): Float32Array {
      return Float32Array.from(items, (item) => row[item]!);
    },
  };
}
