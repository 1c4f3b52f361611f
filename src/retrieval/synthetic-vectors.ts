import { createRng } from '../dataset/random.js';

export interface ClusteredVectorsOptions {
  /** Number of cluster centres (random directions). Default 256. */
  clusters?: number;
  /** Noise around a centre relative to its unit length; 0.6 gives cosine ~0.86 to the centre. Default 0.6. */
  spread?: number;
  /** Cluster popularity falls as 1 / rank^skew (catalogues have a few big categories). Default 1. */
  skew?: number;
  seed?: number;
}

/**
 * L2-normalised random vectors with cluster structure (not a uniform sphere, whose neighbours
 * are all nearly equidistant and unlike embeddings): [n, dim] row-major. For tests and benchmarks.
 *
 * @example
 * const items = clusteredUnitVectors(100_000, 64, { seed: 1 });
 * const queries = clusteredUnitVectors(1_000, 64, { seed: 2, centresSeed: 1 });
 */
export function clusteredUnitVectors(n: number, dim: number, options: ClusteredVectorsOptions & { centresSeed?: number } = {}): Float32Array {
  const clusters = options.clusters ?? 256;
  const spread = options.spread ?? 0.6;
  const skew = options.skew ?? 1;
  const seed = options.seed ?? 1;
  // Centres come from their own stream, so queries drawn with another seed share the items' centres.
  const centreRng = createRng(options.centresSeed ?? seed);
  const centres = new Float32Array(clusters * dim);
  for (let c = 0; c < clusters; c++) normaliseRow(centres, c, dim, () => centreRng.normal());
  const cumulative = new Float64Array(clusters);
  let total = 0;
  for (let c = 0; c < clusters; c++) cumulative[c] = total += 1 / (c + 1) ** skew;

  const rng = createRng(seed ^ 0x5bd1e995);
  const noise = spread / Math.sqrt(dim);
  const out = new Float32Array(n * dim);
  for (let row = 0; row < n; row++) {
    const c = pickCluster(cumulative, rng.next() * total);
    let j = 0;
    normaliseRow(out, row, dim, () => centres[c * dim + j++] + noise * rng.normal());
  }
  return out;
}

function pickCluster(cumulative: Float64Array, target: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid] < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function normaliseRow(matrix: Float32Array, row: number, dim: number, value: () => number): void {
  const offset = row * dim;
  let norm = 0;
  for (let j = 0; j < dim; j++) {
    const x = value();
    matrix[offset + j] = x;
    norm += x * x;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let j = 0; j < dim; j++) matrix[offset + j] *= scale;
}
