import { buildHistories } from '../dataset/user-histories.js';
import type { EvaluationData } from '../evaluation/evaluate.js';
import { itemPopularity } from '../evaluation/popularity.scorer.js';
import type { Examples } from './prepared-domain.js';

/**
 * What the evaluation protocols need from a split: training histories (to exclude seen
 * items and to stratify users), training popularity, and the test pairs.
 * `trainItems` restricts candidates to the first `candidateItems` rows (a transferred model
 * also holds source items, which are never recommended in the target domain).
 */
export function evaluationData(train: Examples, test: Examples, users: number, items: number, candidateItems = items): EvaluationData {
  const histories = buildHistories(
    { users: train.users, items: train.items, weights: train.weights ?? new Float32Array(train.users.length), times: new Float64Array(train.users.length) },
    users,
  );
  const popularity = itemPopularity(train.items, items);
  const trainItemMask = new Uint8Array(items);
  for (let i = 0; i < candidateItems; i++) if (popularity[i]! > 0) trainItemMask[i] = 1;
  return {
    trainHistories: { offsets: histories.offsets, items: histories.items },
    test: { users: test.users, items: test.items },
    trainItemMask,
    popularity,
  };
}
