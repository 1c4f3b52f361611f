import { describe, expect, it } from 'vitest';
import { embeddingScorer } from './embedding.scorer.js';
import { itemPopularity, popularityScorer } from './popularity.scorer.js';
import { rngFromState } from '../dataset/random.js';

describe('embeddingScorer', () => {
  it('equals naive dot products for odd shapes and any user order', () => {
    const random = rngFromState(11).next;
    const dim = 5;
    const nUsers = 7;
    const nItems = 13;
    const users = Float32Array.from({ length: nUsers * dim }, () => random() - 0.5);
    const items = Float32Array.from({ length: nItems * dim }, () => random() - 0.5);
    const picked = Int32Array.of(6, 0, 3, 3, 1);
    const scores = embeddingScorer(users, items, dim).score(picked);
    expect(scores.length).toBe(picked.length * nItems);
    picked.forEach((user, b) => {
      for (let i = 0; i < nItems; i++) {
        let dot = 0;
        for (let k = 0; k < dim; k++) dot += users[user * dim + k]! * items[i * dim + k]!;
        expect(scores[b * nItems + i]).toBeCloseTo(dot, 5);
      }
    });
  });

  it('scoreItems gives exactly the entries of score', () => {
    const random = rngFromState(12).next;
    const dim = 64;
    const users = Float32Array.from({ length: 5 * dim }, () => random() - 0.5);
    const items = Float32Array.from({ length: 21 * dim }, () => random() - 0.5);
    const scorer = embeddingScorer(users, items, dim);
    const row = scorer.score(Int32Array.of(3));
    const picked = Int32Array.of(20, 0, 7, 7);
    expect(Array.from(scorer.scoreItems!(3, picked))).toEqual(Array.from(picked, (item) => row[item]));
  });

  it('rejects matrices whose length is not a multiple of dim and unknown users', () => {
    expect(() => embeddingScorer(new Float32Array(10), new Float32Array(12), 4)).toThrow(/multiples of dim 4/);
    expect(() => embeddingScorer(new Float32Array(8), new Float32Array(12), 4).score(Int32Array.of(2))).toThrow(/user index 2/);
  });
});

describe('popularity', () => {
  it('counts training interactions per item and scores every user with them', () => {
    const counts = itemPopularity(Int32Array.of(0, 2, 2, 3, 2), 4);
    expect(Array.from(counts)).toEqual([1, 0, 3, 1]);
    expect(Array.from(popularityScorer(counts).score(Int32Array.of(5, 9)))).toEqual([1, 0, 3, 1, 1, 0, 3, 1]);
  });
});
