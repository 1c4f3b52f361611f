import { describe, expect, it } from 'vitest';
import { createExactIndex, exactTopK } from '../retrieval/exact.index.js';
import { createHnswIndex } from '../retrieval/hnsw.index.js';
import { clusteredUnitVectors } from '../retrieval/synthetic-vectors.js';
import { MAX_RANKING_DEPTH, rankRows, type RankingInput } from './ranking.js';

const DIM = 16;
const N = 3_000;
const vectors = clusteredUnitVectors(N, DIM, { clusters: 20, seed: 31 });
const query = clusteredUnitVectors(1, DIM, { clusters: 20, seed: 32, centresSeed: 31 });
const exact = createExactIndex(vectors, DIM);
// One thread and a seed: a reproducible graph. A tiny search width makes HNSW answers depend on k.
const hnsw = createHnswIndex(vectors, DIM, { threads: 1, seed: 5, expansionSearch: 16, connectivity: 4, expansionAdd: 16 });
const exclude = (row: number) => row % 7 === 0;

describe('rankRows', () => {
  for (const [name, index] of [['exact', exact], ['hnsw', hnsw]] as const) {
    for (const diversity of [0, 0.4]) {
      it(`${name}, diversity ${diversity}: every depth gives a prefix of one ranking (no duplicates, nothing excluded)`, () => {
        const input: RankingInput = { index, vectors, dim: DIM, query, exclude, diversity };
        const deep = rankRows(input, 900);
        expect(deep.rows.length).toBe(900);
        expect(new Set(deep.rows).size).toBe(900);
        expect(deep.rows.some(exclude)).toBe(false);
        for (const depth of [1, 21, 100, 101, 250, 401]) {
          const shallow = rankRows(input, depth);
          expect(shallow.rows, `depth ${depth}`).toEqual(deep.rows.slice(0, depth));
          expect(shallow.complete).toBe(false);
        }
      });
    }
  }

  it('without diversity on the exact index equals plain exact top-k', () => {
    const ranking = rankRows({ index: exact, vectors, dim: DIM, query, exclude, diversity: 0 }, 300);
    expect(ranking.rows).toEqual(Array.from(exactTopK(vectors, DIM, query, 300, exclude).ids));
  });

  it('reports a complete ranking when fewer rows are allowed than asked', () => {
    const few = (row: number) => row >= 150;
    for (const index of [exact, hnsw]) {
      for (const diversity of [0, 0.5]) {
        const ranking = rankRows({ index, vectors, dim: DIM, query, exclude: few, diversity }, 500);
        expect(ranking.rows.length).toBe(150);
        expect(ranking.complete).toBe(true);
      }
    }
    expect(MAX_RANKING_DEPTH).toBe(5_000);
  });
});
