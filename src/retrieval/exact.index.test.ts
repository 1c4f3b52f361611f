import { describe, expect, it } from 'vitest';
import { runCandidateIndexContract } from './candidate-index.contract.js';
import { createExactIndex, loadExactIndex } from './exact.index.js';
import { createHnswIndex } from './hnsw.index.js';
import { clusteredUnitVectors } from './synthetic-vectors.js';

runCandidateIndexContract('exact', {
  build: (vectors, dim) => createExactIndex(vectors, dim),
  load: (bytes) => loadExactIndex(bytes),
});

describe('exact index', () => {
  const dim = 12;
  // 3,001 rows: not a multiple of the 4-row blocks, so the remainder path runs too.
  const vectors = clusteredUnitVectors(3_001, dim, { seed: 3 });
  // Rows 10 and 20 duplicate row 2000: three equal scores.
  vectors.copyWithin(10 * dim, 2_000 * dim, 2_001 * dim);
  vectors.copyWithin(20 * dim, 2_000 * dim, 2_001 * dim);
  const index = createExactIndex(vectors, dim);

  it('returns exactly the naive top k, ties broken by lower row', () => {
    const query = vectors.slice(2_000 * dim, 2_001 * dim);
    const scores = Array.from({ length: 3_001 }, (_, row) => {
      let s = 0;
      for (let j = 0; j < dim; j++) s += vectors[row * dim + j] * query[j];
      return { row, s };
    }).sort((a, b) => b.s - a.s || a.row - b.row);
    const result = index.search(query, 25);
    expect([...result.ids]).toEqual(scores.slice(0, 25).map((x) => x.row));
    expect([...result.ids.slice(0, 3)]).toEqual([10, 20, 2_000]);
  });

  it('asks the exclude filter only about rows that would enter the top k', () => {
    const asked = new Set<number>();
    index.search(vectors.subarray(0, dim), 10, { exclude: (row) => (asked.add(row), false) });
    expect(asked.size).toBeLessThan(300);
  });

  it('refuses HNSW bytes', () => {
    const hnsw = createHnswIndex(vectors.subarray(0, 50 * dim), dim);
    expect(() => loadExactIndex(hnsw.toBytes())).toThrow(/holds? an? "hnsw" index/);
  });
});
