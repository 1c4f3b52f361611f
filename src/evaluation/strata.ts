import { GraftError } from '../errors.js';

/** Inclusive ranges of training-interaction counts: 0, 1-2, 3-5, 6-20, >20. */
export const DEFAULT_STRATA: readonly (readonly [number, number])[] = [
  [0, 0],
  [1, 2],
  [3, 5],
  [6, 20],
  [21, Infinity],
];

/** "0", "1-2", ">20" for [0,0], [1,2], [21,Infinity]. */
export function strataLabel(range: readonly number[]): string {
  const [low, high] = range as [number, number];
  if (high === Infinity) return `>${low - 1}`;
  return low === high ? `${low}` : `${low}-${high}`;
}

/**
 * Stratum index of each user by its number of training interactions (-1 if no range holds it).
 * The first matching range wins.
 *
 * @param trainCounts `[users]` training interactions per evaluated user
 */
export function assignStrata(trainCounts: Int32Array, strata: readonly (readonly number[])[]): Int32Array {
  for (const range of strata) {
    if (range.length !== 2 || !(range[0]! <= range[1]!)) {
      throw new GraftError('BAD_INPUT', `stratum ${JSON.stringify(range)} is not an inclusive [low, high] pair; use e.g. [3, 5] or [21, Infinity]`);
    }
  }
  const out = new Int32Array(trainCounts.length).fill(-1);
  for (let n = 0; n < trainCounts.length; n++) {
    const count = trainCounts[n]!;
    for (let s = 0; s < strata.length; s++) {
      if (count >= strata[s]![0]! && count <= strata[s]![1]!) {
        out[n] = s;
        break;
      }
    }
  }
  return out;
}
