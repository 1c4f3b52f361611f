import { describe, expect, it } from 'vitest';
import { createRng } from '../dataset/random.js';
import { clusteredUnitVectors } from '../retrieval/synthetic-vectors.js';
import { cosineKnn, EXACT_KNN_LIMIT, normaliseRows } from './cosine-knn.js';
import { fuzzyUnion, umap2, umapEpochs } from './umap-layout.js';

/** `clusters` well-separated groups of `perCluster` points in `dim` dimensions; returns vectors and each point's group. */
function plantedClusters(clusters: number, perCluster: number, dim: number, seed: number): { vectors: Float32Array; group: Int32Array } {
  const rng = createRng(seed);
  const centres = Array.from({ length: clusters }, () => Array.from({ length: dim }, () => rng.normal()));
  const n = clusters * perCluster;
  const vectors = new Float32Array(n * dim);
  const group = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    group[i] = i % clusters;
    for (let j = 0; j < dim; j++) vectors[i * dim + j] = centres[group[i]][j] + 0.15 * rng.normal();
  }
  return { vectors, group };
}

/** Share of points whose nearest other point in the 2-D layout is in the same planted group. */
function layoutPurity(coords: Float32Array, group: Int32Array): number {
  const n = group.length;
  let same = 0;
  for (let i = 0; i < n; i++) {
    let best = -1;
    let bestDistance = Number.POSITIVE_INFINITY;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const d = (coords[2 * i] - coords[2 * j]) ** 2 + (coords[2 * i + 1] - coords[2 * j + 1]) ** 2;
      if (d < bestDistance) {
        bestDistance = d;
        best = j;
      }
    }
    if (group[best] === group[i]) same++;
  }
  return same / n;
}

describe('umap2', () => {
  it('keeps planted clusters apart in 2-D and is identical for the same seed', async () => {
    const { vectors, group } = plantedClusters(6, 80, 32, 3);
    const n = group.length;
    const first = await umap2(vectors, n, 32, { seed: 9 });
    expect(first.length).toBe(2 * n);
    expect(first.every(Number.isFinite)).toBe(true);
    expect(layoutPurity(first, group)).toBeGreaterThan(0.97);
    const again = await umap2(vectors, n, 32, { seed: 9 });
    expect(Array.from(again)).toEqual(Array.from(first));
    const otherSeed = await umap2(vectors, n, 32, { seed: 10 });
    expect(Array.from(otherSeed)).not.toEqual(Array.from(first));
  });

  it('lays out duplicate points and tiny sets without failing', async () => {
    const dim = 8;
    const vectors = new Float32Array(40 * dim);
    for (let i = 0; i < 40; i++) vectors[i * dim + (i < 20 ? 0 : 1)] = 1; // two groups of 20 identical points
    const coords = await umap2(vectors, 40, dim, { seed: 1 });
    expect(coords.every(Number.isFinite)).toBe(true);
    const group = Int32Array.from({ length: 40 }, (_, i) => (i < 20 ? 0 : 1));
    expect(layoutPurity(coords, group)).toBe(1);
    await expect(umap2(new Float32Array(3 * dim), 3, dim)).rejects.toThrow(/at least 4 points/);
  });

  it('adapts the epochs to the point count', () => {
    expect(umapEpochs(500)).toBe(200);
    expect(umapEpochs(2000)).toBe(100);
    expect(umapEpochs(8000)).toBe(30);
    expect(umapEpochs(20_000)).toBe(30);
  });
});

describe('fuzzyUnion', () => {
  it('is symmetric with weights in (0, 1] and no self loops', async () => {
    const { vectors } = plantedClusters(3, 30, 16, 5);
    const unit = normaliseRows(vectors, 90, 16);
    const edges = fuzzyUnion(await cosineKnn(unit, 90, 16, 10, 1), 90);
    const weight = new Map<string, number>();
    for (let e = 0; e < edges.rows.length; e++) {
      expect(edges.rows[e]).not.toBe(edges.cols[e]);
      expect(edges.weights[e]).toBeGreaterThan(0);
      expect(edges.weights[e]).toBeLessThanOrEqual(1);
      weight.set(`${edges.rows[e]}:${edges.cols[e]}`, edges.weights[e]);
    }
    expect(weight.size).toBe(edges.rows.length); // no edge listed twice
    for (const [key, w] of weight) {
      const [i, j] = key.split(':');
      expect(weight.get(`${j}:${i}`)).toBe(w);
    }
  });
});

describe('cosineKnn', () => {
  it('lists self first, then neighbours by increasing cosine distance (exact below the limit)', async () => {
    const unit = clusteredUnitVectors(300, 16, { seed: 2, clusters: 8 });
    const knn = await cosineKnn(unit, 300, 16, 5, 1);
    expect(knn.method).toBe('exact');
    expect(knn.width).toBe(6);
    for (let row = 0; row < 300; row++) {
      expect(knn.indices[row * 6]).toBe(row);
      for (let j = 2; j < 6; j++) expect(knn.distances[row * 6 + j]).toBeGreaterThanOrEqual(knn.distances[row * 6 + j - 1]);
    }
  });

  it('above the exact limit uses a one-thread HNSW graph: reproducible, and close to exact', async () => {
    const n = EXACT_KNN_LIMIT + 500;
    const dim = 16;
    const unit = clusteredUnitVectors(n, dim, { seed: 4, clusters: 32 });
    const first = await cosineKnn(unit, n, dim, 10, 3);
    const second = await cosineKnn(unit, n, dim, 10, 3);
    expect(first.method).toBe('hnsw');
    expect(Array.from(second.indices)).toEqual(Array.from(first.indices));
    // Recall against an exact scan of 200 rows.
    let hits = 0;
    for (let row = 0; row < 200; row++) {
      const scores = Array.from({ length: n }, (_, other) => {
        let s = 0;
        for (let j = 0; j < dim; j++) s += unit[row * dim + j] * unit[other * dim + j];
        return { other, s: other === row ? -Infinity : s };
      }).sort((a, b) => b.s - a.s);
      const truth = new Set(scores.slice(0, 10).map((x) => x.other));
      for (let j = 1; j <= 10; j++) if (truth.has(first.indices[row * 11 + j])) hits++;
    }
    expect(hits / 2000).toBeGreaterThan(0.9);
  });
});
