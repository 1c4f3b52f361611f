import { describe, expect, it } from 'vitest';
import { clusteredUnitVectors } from '../retrieval/synthetic-vectors.js';
import { exactTopK } from '../retrieval/exact.index.js';
import { intraListSimilarity, mmrSelect } from './mmr.js';

const DIM = 16;
const vectors = clusteredUnitVectors(600, DIM, { clusters: 6, seed: 4, spread: 0.5 });
const query = clusteredUnitVectors(1, DIM, { clusters: 6, seed: 9, centresSeed: 4 });
const top = exactTopK(vectors, DIM, query, 200);
const pool = { rows: top.ids, scores: top.scores };

describe('mmrSelect', () => {
  it('with lambda 0 keeps the relevance order', () => {
    expect(mmrSelect(pool, vectors, DIM, 0, 50)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    // The generic loop agrees with the shortcut: lambda 1e-12 changes no order on these scores.
    expect(mmrSelect(pool, vectors, DIM, 1e-12, 50)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('lowers intra-list similarity as lambda grows, and starts with the most relevant item', () => {
    const rowsOf = (order: number[]) => order.map((i) => pool.rows[i]!);
    const plain = intraListSimilarity(rowsOf(mmrSelect(pool, vectors, DIM, 0, 20)), vectors, DIM);
    const some = intraListSimilarity(rowsOf(mmrSelect(pool, vectors, DIM, 0.5, 20)), vectors, DIM);
    const much = intraListSimilarity(rowsOf(mmrSelect(pool, vectors, DIM, 0.8, 20)), vectors, DIM);
    expect(some).toBeLessThan(plain - 0.1);
    expect(much).toBeLessThan(some);
    expect(mmrSelect(pool, vectors, DIM, 0.8, 20)[0]).toBe(0);
  });

  it('is deterministic, picks each candidate once, and continues a ranking consistently', () => {
    const full = mmrSelect(pool, vectors, DIM, 0.5, 60);
    expect(mmrSelect(pool, vectors, DIM, 0.5, 60)).toEqual(full);
    expect(new Set(full).size).toBe(60);
    // Picking 20, then continuing with those 20 as already picked, gives the same 60.
    const head = mmrSelect(pool, vectors, DIM, 0.5, 20);
    const picked = new Set(head);
    const restIdx = Array.from({ length: pool.rows.length }, (_, i) => i).filter((i) => !picked.has(i));
    const rest = { rows: restIdx.map((i) => pool.rows[i]!), scores: restIdx.map((i) => pool.scores[i]!) };
    const tail = mmrSelect(rest, vectors, DIM, 0.5, 40, head.map((i) => pool.rows[i]!)).map((j) => restIdx[j]!);
    expect([...head, ...tail]).toEqual(full);
  });

  it('returns what there is when asked for more', () => {
    const small = { rows: [3, 7], scores: [0.9, 0.1] };
    expect(mmrSelect(small, vectors, DIM, 0.5, 10)).toEqual([0, 1]);
    expect(mmrSelect({ rows: [], scores: [] }, vectors, DIM, 0.5, 10)).toEqual([]);
  });
});
