import type { EvaluationSettings } from './model-settings.js';

/**
 * How models are chosen on the validation carve (AUTO's trials, and an objective that picks
 * its own fit there: the hybrid's epochs and top share): NDCG@10 under the run's own
 * evaluation protocol (full, or sampled with the run's negatives and seed), so the choice
 * ranks models the way the test split will judge the winner; finer than HR@10 at this depth.
 * Scored on every carve user while users x items stays within `SEARCH_SCORED_PAIRS` (then
 * the first users by row): the fewer users, the noisier the ranking (one event per user).
 */
export const SEARCH_METRIC = { ks: [10], metric: 'ndcg@10' };
/** At most this many user x item scores per validation pass (about 1.5 s of wasm matMul at dim 64). */
export const SEARCH_SCORED_PAIRS = 500_000_000;
/** Never fewer than this many validation users when the carve has them, whatever the catalogue's size. */
export const SEARCH_MIN_USERS = 2_000;

/** The protocol a selection is scored under: the run's evaluation settings. */
export type SelectionProtocol = Pick<EvaluationSettings, 'protocol' | 'negatives' | 'seed'>;

/** The search's metric in words for reports (`ndcg@10 (sampled, 999 negatives)`). */
export function describeSearchMetric(evaluation: Pick<EvaluationSettings, 'protocol' | 'negatives'>): string {
  return `${SEARCH_METRIC.metric} (${evaluation.protocol === 'full' ? 'full catalogue' : `sampled, ${evaluation.negatives} negatives`})`;
}

/** The carve users a selection pass scores against `items` items (see `SEARCH_SCORED_PAIRS`). */
export function selectionUsers(users: Int32Array, items: number): Int32Array {
  return firstUsers(users, Math.max(SEARCH_MIN_USERS, Math.floor(SEARCH_SCORED_PAIRS / Math.max(1, items))));
}

/** The distinct users of `users`, ascending, at most `max` of them (deterministic). */
export function firstUsers(users: Int32Array, max: number): Int32Array {
  const distinct = Int32Array.from(new Set(users)).sort();
  return distinct.length <= max ? distinct : distinct.subarray(0, max);
}
