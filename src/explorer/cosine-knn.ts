import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { exactTopK } from '../retrieval/exact.index.js';
import { buildHnswIndex } from '../retrieval/hnsw.index.js';

/** Each point's neighbours: row i holds itself first (distance 0), then its k nearest other points, nearest first. */
export interface KnnGraph {
  /** [n, k + 1] row-major point indexes. */
  indices: Int32Array;
  /** [n, k + 1] cosine distances (1 - cosine similarity, clamped at 0). */
  distances: Float64Array;
  /** Neighbours per row, self included (k + 1). */
  width: number;
  method: 'exact' | 'hnsw';
}

/**
 * Up to this many points an exact scan is cheap (4k x 4k x 64 is about 0.5 s); above, an
 * exact all-pairs scan grows quadratically (20k points: about 15 s), so an HNSW graph is used.
 */
export const EXACT_KNN_LIMIT = 4000;

/** Rows scanned between yields: keeps a server's event loop answering while a large graph is searched. */
const ROWS_PER_YIELD = 512;

/**
 * k nearest neighbours of every row under cosine distance, for UMAP's fuzzy graph.
 * Deterministic for a seed: the HNSW graph is built on one thread (usearch has no seed of its
 * own; concurrent insertion would make the graph, and so the neighbours, vary run to run)
 * on a worker thread, so the caller's event loop keeps running.
 *
 * @param unit [n, dim] L2-normalised rows (cosine similarity = inner product)
 */
export async function cosineKnn(unit: Float32Array, n: number, dim: number, k: number, seed: number): Promise<KnnGraph> {
  const width = Math.min(k, n - 1) + 1;
  const indices = new Int32Array(n * width);
  const distances = new Float64Array(n * width);
  const method = n <= EXACT_KNN_LIMIT ? 'exact' : 'hnsw';
  const index = method === 'hnsw' ? await buildHnswIndex(unit, dim, { threads: 1, seed, connectivity: 16, expansionAdd: 64 }) : null;
  for (let row = 0; row < n; row++) {
    if (row > 0 && row % ROWS_PER_YIELD === 0) await yieldToEventLoop();
    const query = unit.subarray(row * dim, (row + 1) * dim);
    const notSelf = (other: number) => other === row;
    const found = index ? index.search(query, width - 1, { exclude: notSelf }) : exactTopK(unit, dim, query, width - 1, notSelf);
    const base = row * width;
    indices[base] = row;
    distances[base] = 0;
    for (let j = 0; j < width - 1; j++) {
      // A short answer (HNSW on a tiny, degenerate set) repeats self at distance 0, which UMAP ignores.
      const other = j < found.ids.length ? found.ids[j] : row;
      indices[base + 1 + j] = other;
      distances[base + 1 + j] = other === row ? 0 : Math.max(0, 1 - found.scores[j]);
    }
  }
  return { indices, distances, width, method };
}

/** Copies `vectors` with every row scaled to unit length (zero rows stay zero). */
export function normaliseRows(vectors: Float32Array, n: number, dim: number): Float32Array {
  const out = new Float32Array(n * dim);
  for (let row = 0; row < n; row++) {
    let sum = 0;
    for (let j = 0; j < dim; j++) sum += vectors[row * dim + j] ** 2;
    const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let j = 0; j < dim; j++) out[row * dim + j] = vectors[row * dim + j] * scale;
  }
  return out;
}
