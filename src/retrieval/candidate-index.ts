import { GraftError } from '../errors.js';

/** Rows of a top-k answer, best first: `ids[i]` is an item row (0..n-1), `scores[i]` its inner product with the query. */
export interface SearchResult {
  ids: Int32Array;
  scores: Float32Array;
}

export interface SearchOptions {
  /** Rows that must never be returned (items the user has seen, filtered items). Called only for candidate rows. */
  exclude?: (row: number) => boolean;
}

/**
 * Top-k retrieval over one matrix of item vectors (the active model's item output embeddings).
 * Implementations: `createExactIndex` (the reference) and `createHnswIndex` (approximate, usearch).
 *
 * @example
 * const index = createExactIndex(itemVectors, 64);
 * const { ids, scores } = index.search(userVector, 20, { exclude: (row) => seen.has(row) });
 */
export interface CandidateIndex {
  readonly kind: 'exact' | 'hnsw';
  readonly size: number;
  readonly dim: number;
  /**
   * Top-k rows by inner product with `query` ([dim], L2-normalised vectors so inner product = cosine), best first.
   * `exclude` rows are never returned; k results are returned whenever size - excluded >= k
   * (approximate indexes over-fetch and refill).
   */
  search(query: Float32Array, k: number, options?: SearchOptions): SearchResult;
  /** Serialise (stored with the model version); load with `loadCandidateIndex` or the kind's own loader. */
  toBytes(): Uint8Array;
}

/** Throws BAD_INPUT unless `vectors` is a whole number of `dim`-wide rows. Returns the row count. */
export function checkVectors(vectors: Float32Array, dim: number): number {
  if (!Number.isInteger(dim) || dim <= 0) {
    throw new GraftError('BAD_INPUT', `index dimension ${dim} is not a positive integer; pass the embedding width (e.g. 64)`);
  }
  if (!(vectors instanceof Float32Array)) {
    throw new GraftError('BAD_INPUT', 'index vectors must be a Float32Array [n, dim] row-major; convert with new Float32Array(values)');
  }
  if (vectors.length % dim !== 0) {
    throw new GraftError(
      'BAD_INPUT',
      `index vectors have ${vectors.length} values, not a multiple of dim ${dim}; pass a [n, ${dim}] row-major matrix or the right dim`,
    );
  }
  return vectors.length / dim;
}

/** Throws BAD_INPUT when the query or k does not fit the index. */
export function checkQuery(index: { readonly dim: number; readonly kind: string }, query: Float32Array, k: number): void {
  if (!(query instanceof Float32Array) || query.length !== index.dim) {
    const got = query instanceof Float32Array ? `dim ${query.length}` : typeof query;
    throw new GraftError(
      'BAD_INPUT',
      `query has ${got} but the ${index.kind} index has dim ${index.dim}; embed the query with the model the index was built from (a Float32Array of length ${index.dim})`,
    );
  }
  if (!Number.isInteger(k) || k < 0) {
    throw new GraftError('BAD_INPUT', `k = ${k} is not a non-negative integer; ask for e.g. k = 20`);
  }
}

/** A result with no rows (k = 0, empty index, everything excluded). */
export function emptyResult(): SearchResult {
  return { ids: new Int32Array(0), scores: new Float32Array(0) };
}
