import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { UMAP } from 'umap-js';
import { SparseMatrix } from 'umap-js/dist/matrix.js';
import { createRng } from '../dataset/random.js';
import { GraftError } from '../errors.js';
import { cosineKnn, normaliseRows, type KnnGraph } from './cosine-knn.js';
import { pca2 } from './pca.js';

export interface UmapOptions {
  /** Seeds every random choice (kNN graph insertion order, initial jitter, negative sampling). Default 1. */
  seed?: number;
  /** Neighbours per point, self included, as in umap-learn. Default 15. */
  nNeighbors?: number;
  /** Optimisation epochs. Default `umapEpochs(n)`. */
  nEpochs?: number;
  /** umap-learn's min_dist. Default 0.1. */
  minDist?: number;
}

/**
 * Epochs for n points: 200 up to 1,000 points, 100 at 2,000, 30 from about 6,700 on. The
 * layout starts from PCA rather than at random, so fewer epochs than umap-learn's 200-500
 * suffice, and umap-js's epochs are what a projection costs (BENCHMARKS.md, planted clusters:
 * at 20,000 points 15 epochs keep 0.96 of 2-D neighbours in their cluster, 30 and 60 keep
 * 1.00 in 13 and 19 s; at 2,000 points 100 epochs match 200 in half the time).
 */
export function umapEpochs(n: number): number {
  return Math.max(30, Math.min(200, Math.round(200_000 / Math.max(1, n))));
}

/** The umap-js internals this module replaces (pinned umap-js 1.4.0; the layout tests guard them). */
interface UmapInternals {
  fuzzySimplicialSet(X: unknown, nNeighbors: number, setOpMixRatio: number): SparseMatrix;
  makeSearchGraph(X: unknown): SparseMatrix;
  initializeSimplicialSetEmbedding(): { head: number[]; tail: number[]; epochsPerSample: number[] };
  embedding: number[][];
}

/**
 * UMAP to 2-D through umap-js, under cosine distance, deterministic for a seed.
 *
 * umap-js builds its fuzzy graph with string-keyed sparse matrices and an O(n^2) fallback
 * for duplicate points, which takes 20-30 s at 20,000 points before the first epoch, and
 * its NN-descent is slower than an HNSW graph. So the neighbour graph, the fuzzy union and
 * the edge list are computed here with typed arrays (the same formulas as umap-js and
 * umap-learn) and handed to umap-js, whose SGD layout optimisation (attraction along edges,
 * negative sampling, the a/b curve fit) does the rest. The layout starts from the PCA plane
 * scaled to [-10, 10] plus 1e-4 jitter (umap-learn's `init="pca"`), not from random points.
 *
 * @param vectors [n, dim] row-major
 * @returns [n, 2] row-major coordinates
 * @example
 * const coords = await umap2(itemVectors, 2000, 64, { seed: 7 });
 */
export async function umap2(vectors: Float32Array, n: number, dim: number, options: UmapOptions = {}): Promise<Float32Array> {
  const nNeighbors = Math.min(options.nNeighbors ?? 15, n - 1);
  if (n < 4 || nNeighbors < 2) {
    throw new GraftError('BAD_INPUT', `UMAP needs at least 4 points with 2 neighbours each, got ${n} points; project with PCA, or sample more points`);
  }
  const seed = options.seed ?? 1;
  const nEpochs = options.nEpochs ?? umapEpochs(n);
  const rng = createRng(seed);
  const unit = normaliseRows(vectors, n, dim);
  const knn = await cosineKnn(unit, n, dim, nNeighbors - 1, seed);
  const edges = fuzzyUnion(knn, n);
  const initial = pcaInitialLayout(unit, n, dim, rng);

  const umap = new UMAP({ nComponents: 2, nNeighbors: knn.width, nEpochs, minDist: options.minDist ?? 0.1, random: rng.next });
  const internals = umap as unknown as UmapInternals;
  const empty = () => new SparseMatrix([], [], [], [n, n]);
  internals.fuzzySimplicialSet = empty; // the graph lives in `edges`; umap-js only reads its size from here
  internals.makeSearchGraph = empty; // only `transform` (projecting new points) reads it
  internals.initializeSimplicialSetEmbedding = () => {
    internals.embedding = initial;
    return edgeSchedule(edges, nEpochs);
  };
  umap.setPrecomputedKNN([], []);
  // umap-js checks the point count against nNeighbors and keeps X for `transform`; rows are not read.
  const epochs = umap.initializeFit(Array.from({ length: n }, () => []));
  for (let epoch = 0; epoch < epochs; epoch++) {
    umap.step();
    if (epoch % 4 === 3) await yieldToEventLoop();
  }
  const layout = umap.getEmbedding();
  const coords = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    coords[2 * i] = layout[i][0];
    coords[2 * i + 1] = layout[i][1];
  }
  return coords;
}

/** Symmetric fuzzy graph as a (row, col)-sorted edge list. */
interface FuzzyEdges {
  rows: Int32Array;
  cols: Int32Array;
  weights: Float64Array;
}

const SMOOTH_K_TOLERANCE = 1e-5;
const MIN_K_DIST_SCALE = 1e-3;

/**
 * umap-learn's `fuzzy_simplicial_set` with local connectivity 1 and set-op mix ratio 1:
 * per point, rho (distance to the nearest distinct neighbour) and sigma (binary search so the
 * memberships sum to log2(k)); memberships exp(-(d - rho) / sigma); then the fuzzy union
 * w_ij + w_ji - w_ij * w_ji. The global mean distance (the floor for sigma of points whose
 * neighbours are all duplicates) is computed once, not once per such point.
 */
export function fuzzyUnion(knn: KnnGraph, n: number): FuzzyEdges {
  const k = knn.width;
  const target = Math.log2(k);
  let globalMean = 0;
  for (let i = 0; i < knn.distances.length; i++) globalMean += knn.distances[i];
  globalMean /= Math.max(1, knn.distances.length);

  const membership = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const base = i * k;
    let rho = 0;
    let rowMean = 0;
    for (let j = 0; j < k; j++) {
      const d = knn.distances[base + j];
      rowMean += d / k;
      if (rho === 0 && d > 0) rho = d; // neighbours are sorted: the first non-zero distance
    }
    let lo = 0;
    let hi = Number.POSITIVE_INFINITY;
    let mid = 1;
    for (let iteration = 0; iteration < 64; iteration++) {
      let psum = 0;
      for (let j = 1; j < k; j++) {
        const d = knn.distances[base + j] - rho;
        psum += d > 0 ? Math.exp(-d / mid) : 1;
      }
      if (Math.abs(psum - target) < SMOOTH_K_TOLERANCE) break;
      if (psum > target) {
        hi = mid;
        mid = (lo + hi) / 2;
      } else {
        lo = mid;
        mid = hi === Number.POSITIVE_INFINITY ? mid * 2 : (lo + hi) / 2;
      }
    }
    const sigma = Math.max(mid, MIN_K_DIST_SCALE * (rho > 0 ? rowMean : globalMean));
    for (let j = 0; j < k; j++) {
      const other = knn.indices[base + j];
      if (other === i) continue;
      const d = knn.distances[base + j] - rho;
      membership[base + j] = d <= 0 ? 1 : Math.exp(-d / sigma);
    }
  }

  // w_ji for each stored w_ij: look i up in j's (short) neighbour list.
  const reverse = (i: number, j: number): number => {
    const base = j * k;
    for (let m = 0; m < k; m++) if (knn.indices[base + m] === i) return membership[base + m];
    return 0;
  };
  const rows: number[] = [];
  const cols: number[] = [];
  const weights: number[] = [];
  const emit = (i: number, j: number, w: number) => {
    rows.push(i);
    cols.push(j);
    weights.push(w);
  };
  for (let i = 0; i < n; i++) {
    for (let m = 0; m < k; m++) {
      const j = knn.indices[i * k + m];
      const wij = membership[i * k + m];
      if (j === i || wij === 0) continue;
      // A neighbour listed twice (a short HNSW answer) counts once.
      let repeated = false;
      for (let p = 0; p < m; p++) if (knn.indices[i * k + p] === j) repeated = true;
      if (repeated) continue;
      const wji = reverse(i, j);
      const union = wij + wji - wij * wji;
      emit(i, j, union);
      if (wji === 0) emit(j, i, union); // j does not list i: the edge j -> i exists only through the union
    }
  }
  const order = Int32Array.from(rows.keys()).sort((p, q) => rows[p] - rows[q] || cols[p] - cols[q]);
  return {
    rows: Int32Array.from(order, (p) => rows[p]),
    cols: Int32Array.from(order, (p) => cols[p]),
    weights: Float64Array.from(order, (p) => weights[p]),
  };
}

/**
 * umap-js's edge schedule: edges weaker than max / nEpochs are dropped, and each edge is
 * sampled every max / w epochs. `tail` is the edge's row, `head` its column, as in umap-js.
 */
function edgeSchedule(edges: FuzzyEdges, nEpochs: number): { head: number[]; tail: number[]; epochsPerSample: number[] } {
  let max = 0;
  for (const w of edges.weights) if (w > max) max = w;
  const head: number[] = [];
  const tail: number[] = [];
  const epochsPerSample: number[] = [];
  for (let e = 0; e < edges.weights.length; e++) {
    const w = edges.weights[e];
    if (w < max / nEpochs || w <= 0) continue;
    tail.push(edges.rows[e]);
    head.push(edges.cols[e]);
    epochsPerSample.push(max / w);
  }
  return { head, tail, epochsPerSample };
}

/** PCA plane of the unit rows scaled so the largest coordinate is 10, plus 1e-4 Gaussian jitter (separates duplicates). */
function pcaInitialLayout(unit: Float32Array, n: number, dim: number, rng: { normal(): number }): number[][] {
  const { coords } = pca2(unit, n, dim);
  let largest = 0;
  for (const c of coords) largest = Math.max(largest, Math.abs(c));
  const scale = largest > 0 ? 10 / largest : 0;
  return Array.from({ length: n }, (_, i) => [coords[2 * i] * scale + 1e-4 * rng.normal(), coords[2 * i + 1] * scale + 1e-4 * rng.normal()]);
}
