import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { createRng, shuffleInPlace } from '../dataset/random.js';
import { exactTopK } from '../retrieval/exact.index.js';
import { hnswKnnInWorker } from './hnsw-knn.worker.js';

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

/** Rows scanned between yields: keeps a server's event loop answering during an exact scan. */
const ROWS_PER_YIELD = 512;

/**
 * k nearest neighbours of every row under cosine distance, for UMAP's fuzzy graph. Exact up
 * to `EXACT_KNN_LIMIT` rows, else an HNSW graph on a worker thread (`hnswKnnInWorker`),
 * inserted in a seeded order and built on one thread, so the answer is the same for a seed.
 *
 * @param unit [n, dim] L2-normalised rows (cosine similarity = inner product)
 */
export async function cosineKnn(unit: Float32Array, n: number, dim: number, k: number, seed: number): Promise<KnnGraph> {
  const width = Math.min(k, n - 1) + 1;
  const indices = new Int32Array(n * width);
  const distances = new Float64Array(n * width);
  const put = (row: number, j: number, other: number, distance: number) => {
    indices[row * width + j] = other;
    distances[row * width + j] = other === row ? 0 : Math.max(0, distance);
  };
  if (n <= EXACT_KNN_LIMIT) {
    for (let row = 0; row < n; row++) {
      if (row > 0 && row % ROWS_PER_YIELD === 0) await yieldToEventLoop();
      const found = exactTopK(unit, dim, unit.subarray(row * dim, (row + 1) * dim), width - 1, (other) => other === row);
      put(row, 0, row, 0);
      for (let j = 1; j < width; j++) put(row, j, found.ids[j - 1], 1 - found.scores[j - 1]);
    }
    return { indices, distances, width, method: 'exact' };
  }

  const order = shuffleInPlace(Int32Array.from({ length: n }, (_, i) => i), createRng(seed));
  const keys = BigUint64Array.from(order, (row) => BigInt(row));
  const ordered = new Float32Array(n * dim);
  order.forEach((row, i) => ordered.set(unit.subarray(row * dim, (row + 1) * dim), i * dim));
  const answer = await hnswKnnInWorker({ dim, k: width - 1, keys, vectors: ordered });
  const slots = width; // the worker asked for k + 1 = width rows per query
  for (let row = 0; row < n; row++) {
    put(row, 0, row, 0);
    let j = 1;
    const filled = Number(answer.counts[row]);
    for (let s = 0; s < filled && j < width; s++) {
      const other = Number(answer.keys[row * slots + s]);
      if (other !== row) put(row, j++, other, answer.distances[row * slots + s]);
    }
    // A short answer (tiny or degenerate sets) repeats self at distance 0, which UMAP ignores.
    for (; j < width; j++) put(row, j, row, 0);
  }
  return { indices, distances, width, method: 'hnsw' };
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
