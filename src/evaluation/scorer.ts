/**
 * What evaluation needs from a model: a score for every (user, item) pair, a block
 * of users at a time. Higher is better. Implementations: `embeddingScorer` (two-tower
 * dot products) and `popularityScorer` (the baseline that is always reported beside a model).
 */
export interface Scorer {
  /** Number of items; item indexes are dense 0..nItems-1. */
  readonly nItems: number;
  /**
   * Scores `users` against every item.
   * @returns `[users.length, nItems]` row-major: `out[b * nItems + i]` is user `users[b]`'s score for item `i`.
   */
  score(users: Int32Array): Float32Array;
  /**
   * Optional: one user's scores for a few items, equal to the matching entries of `score`.
   * The sampled protocol uses it to score ~1000 items per user instead of the catalogue.
   * @returns `[items.length]`
   */
  scoreItems?(user: number, items: Int32Array): Float32Array;
}
