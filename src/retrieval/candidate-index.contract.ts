/**
 * The behaviour every `CandidateIndex` implementation must show. Each implementation's test
 * file calls `runCandidateIndexContract` once; implementation-specific tests sit beside it.
 */
import { describe, expect, it } from 'vitest';
import { isGraftError } from '../errors.js';
import type { CandidateIndex, SearchResult } from './candidate-index.js';
import { clusteredUnitVectors } from './synthetic-vectors.js';

export interface CandidateIndexFactory {
  /** Builds the index over [n, dim] row-major `vectors`. */
  build(vectors: Float32Array, dim: number): CandidateIndex;
  /** Loads what `toBytes()` wrote (the vectors are those it was built from). */
  load(bytes: Uint8Array, vectors: Float32Array, dim: number): CandidateIndex;
}

const DIM = 16;
const N = 2_000;

/** Reference: every row scored in float64, sorted by score then row. */
function naiveTopK(vectors: Float32Array, dim: number, query: Float32Array, k: number, exclude?: (row: number) => boolean): { ids: number[]; scores: number[] } {
  const n = vectors.length / dim;
  const scored: { row: number; score: number }[] = [];
  for (let row = 0; row < n; row++) {
    if (exclude?.(row)) continue;
    let score = 0;
    for (let j = 0; j < dim; j++) score += vectors[row * dim + j] * query[j];
    scored.push({ row, score });
  }
  scored.sort((a, b) => b.score - a.score || a.row - b.row);
  const top = scored.slice(0, k);
  return { ids: top.map((s) => s.row), scores: top.map((s) => s.score) };
}

function overlap(found: Int32Array, expected: number[]): number {
  const wanted = new Set(expected);
  let hits = 0;
  for (const row of found) if (wanted.has(row)) hits++;
  return expected.length === 0 ? 1 : hits / expected.length;
}

/** Best first, distinct rows in range, each score the row's inner product with the query. */
function expectWellFormed(result: SearchResult, vectors: Float32Array, dim: number, query: Float32Array): void {
  const n = vectors.length / dim;
  expect(result.ids.length).toBe(result.scores.length);
  expect(new Set(result.ids).size).toBe(result.ids.length);
  for (let i = 0; i < result.ids.length; i++) {
    const row = result.ids[i];
    expect(row).toBeGreaterThanOrEqual(0);
    expect(row).toBeLessThan(n);
    let score = 0;
    for (let j = 0; j < dim; j++) score += vectors[row * dim + j] * query[j];
    expect(result.scores[i]).toBeCloseTo(score, 5);
    if (i > 0) expect(result.scores[i]).toBeLessThanOrEqual(result.scores[i - 1]);
  }
}

export function runCandidateIndexContract(name: string, factory: CandidateIndexFactory): void {
  describe(`CandidateIndex contract: ${name}`, () => {
    const vectors = clusteredUnitVectors(N, DIM, { clusters: 32, seed: 11 });
    const queries = clusteredUnitVectors(20, DIM, { clusters: 32, seed: 12, centresSeed: 11 });
    const query = (q: number) => queries.subarray(q * DIM, (q + 1) * DIM);
    const index = factory.build(vectors, DIM);

    it('reports its size and dim', () => {
      expect(index.size).toBe(N);
      expect(index.dim).toBe(DIM);
    });

    it('returns k rows best first, scored by inner product, matching a naive scan', () => {
      let recall = 0;
      for (let q = 0; q < 20; q++) {
        const result = index.search(query(q), 10);
        expect(result.ids.length).toBe(10);
        expectWellFormed(result, vectors, DIM, query(q));
        recall += overlap(result.ids, naiveTopK(vectors, DIM, query(q), 10).ids) / 20;
      }
      expect(recall).toBeGreaterThanOrEqual(0.95);
    });

    it('never returns excluded rows and still returns k', () => {
      // Recall is a property of the index over many queries, not of one query: an
      // approximate index may miss a few rows on a given query.
      let recall = 0;
      for (let q = 0; q < 5; q++) {
        // Drop the best 50 rows and a third of the rest: the index must look deeper than k.
        const best = new Set(naiveTopK(vectors, DIM, query(q), 50).ids);
        const exclude = (row: number) => best.has(row) || row % 3 === 0;
        const result = index.search(query(q), 20, { exclude });
        expect(result.ids.length).toBe(20);
        for (const row of result.ids) expect(exclude(row)).toBe(false);
        expectWellFormed(result, vectors, DIM, query(q));
        recall += overlap(result.ids, naiveTopK(vectors, DIM, query(q), 20, exclude).ids) / 5;
      }
      expect(recall).toBeGreaterThanOrEqual(0.9);
    });

    it('returns every allowed row when fewer than k are allowed, and k when exactly k are', () => {
      const allowed = [5, 17, 404, 999, 1_234, 1_500, 1_999];
      const onlyAllowed = (row: number) => !allowed.includes(row);
      const few = index.search(query(0), 10, { exclude: onlyAllowed });
      expect([...few.ids].sort((a, b) => a - b)).toEqual(allowed);
      expect([...few.ids]).toEqual(naiveTopK(vectors, DIM, query(0), 10, onlyAllowed).ids);
      expectWellFormed(few, vectors, DIM, query(0));

      const exactlyK = index.search(query(1), allowed.length, { exclude: onlyAllowed });
      expect([...exactlyK.ids].sort((a, b) => a - b)).toEqual(allowed);

      expect(index.search(query(2), 10, { exclude: () => true }).ids.length).toBe(0);
    });

    it('returns all rows when k exceeds the size, and none for k = 0', () => {
      const small = clusteredUnitVectors(30, DIM, { clusters: 4, seed: 13 });
      const smallIndex = factory.build(small, DIM);
      const result = smallIndex.search(query(0), 100);
      expect([...result.ids]).toEqual(naiveTopK(small, DIM, query(0), 100).ids);
      expectWellFormed(result, small, DIM, query(0));
      expect(index.search(query(0), 0).ids.length).toBe(0);
    });

    it('handles an empty catalogue, also through toBytes and load', () => {
      const empty = factory.build(new Float32Array(0), DIM);
      expect(empty.size).toBe(0);
      expect(empty.search(query(0), 5).ids.length).toBe(0);
      const loaded = factory.load(empty.toBytes(), new Float32Array(0), DIM);
      expect(loaded.size).toBe(0);
      expect(loaded.search(query(0), 5).ids.length).toBe(0);
    });

    it('rejects a query of another dim with BAD_INPUT naming both dims and the fix', () => {
      let error: unknown;
      try {
        index.search(new Float32Array(DIM + 1), 5);
      } catch (caught) {
        error = caught;
      }
      expect(isGraftError(error, 'BAD_INPUT')).toBe(true);
      expect((error as Error).message).toMatch(new RegExp(`dim ${DIM + 1}.*dim ${DIM}.*embed the query`));
      expect(() => index.search(query(0), -1)).toThrow(/k = -1/);
    });

    it('rejects vectors that are not whole rows of dim', () => {
      expect(() => factory.build(new Float32Array(DIM * 3 + 1), DIM)).toThrow(/not a multiple of dim 16/);
    });

    it('gives the same results after toBytes and load', () => {
      const loaded = factory.load(index.toBytes(), vectors, DIM);
      expect(loaded.kind).toBe(index.kind);
      expect(loaded.size).toBe(N);
      expect(loaded.dim).toBe(DIM);
      for (let q = 0; q < 20; q++) {
        const exclude = (row: number) => row % 7 === q % 7;
        for (const options of [undefined, { exclude }]) {
          const before = index.search(query(q), 15, options);
          const after = loaded.search(query(q), 15, options);
          expect([...after.ids]).toEqual([...before.ids]);
          expect([...after.scores]).toEqual([...before.scores]);
        }
      }
    });

    it('rejects bytes that are not an index', () => {
      expect(() => factory.load(new Uint8Array(100), vectors, DIM)).toThrow(/not a serialised candidate index/);
    });

    it('finds >= 95% of the exact top 20 on 20k clustered vectors (dim 64)', () => {
      const dim = 64;
      const items = clusteredUnitVectors(20_000, dim, { seed: 21 });
      const probes = clusteredUnitVectors(50, dim, { seed: 22, centresSeed: 21 });
      const big = factory.build(items, dim);
      let recall = 0;
      for (let q = 0; q < 50; q++) {
        const probe = probes.subarray(q * dim, (q + 1) * dim);
        recall += overlap(big.search(probe, 20).ids, naiveTopK(items, dim, probe, 20).ids) / 50;
      }
      expect(recall).toBeGreaterThanOrEqual(0.95);
    });
  });
}
