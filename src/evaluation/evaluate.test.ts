import { describe, expect, it } from 'vitest';
import { evaluate, evaluateWithPopularity, type EvaluationData } from './evaluate.js';
import { formatReport } from './format-report.js';
import { NegativeSampler } from './negative-sampler.js';
import { popularityScorer } from './popularity.scorer.js';
import type { Scorer } from './scorer.js';
import { histories, matrixScorer } from './test-helpers.js';

const log2 = Math.log2;

describe('evaluate, full protocol', () => {
  // user 0: trained on item 0 (scored highest), test items 2 and 4
  // user 1: no training, test item 0 ranked last of 6
  const scores = [
    [0.9, 0.8, 0.7, 0.6, 0.5, 0.1],
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
  ];
  const popularity = Float32Array.of(5, 4, 3, 2, 1, 6);
  const data: EvaluationData = {
    trainHistories: histories([[0], []]),
    test: { users: Int32Array.of(0, 1, 0), items: Int32Array.of(2, 0, 4) },
    popularity,
  };
  const report = evaluate(matrixScorer(scores), data, { protocol: 'full', ks: [1, 2, 4] });

  it('excludes the training items and ranks test items among the rest', () => {
    const v = report.perUser.values;
    expect(Array.from(report.perUser.users)).toEqual([0, 1]);
    // user 0 candidates in order: 1, 2*, 3, 4*, 5 -> relevant at positions 1 and 3
    expect(v['hr@1']![0]).toBe(0);
    expect(v['hr@2']![0]).toBe(1);
    expect(v['recall@2']![0]).toBeCloseTo(0.5, 6);
    expect(v['recall@4']![0]).toBeCloseTo(1, 6);
    expect(v['ndcg@2']![0]).toBeCloseTo(1 / log2(3) / (1 + 1 / log2(3)), 6);
    expect(v['ndcg@4']![0]).toBeCloseTo((1 / log2(3) + 1 / log2(5)) / (1 + 1 / log2(3)), 6);
    expect(v['mrr']![0]).toBeCloseTo(1 / 2, 6);
    // user 1: item 0 is last of 6
    expect(v['hr@4']![1]).toBe(0);
    expect(v['mrr']![1]).toBeCloseTo(1 / 6, 6);
  });

  it('averages over users and computes coverage and popularity of the top-K lists', () => {
    expect(report.users).toBe(2);
    expect(report.metrics['mrr']).toBeCloseTo((1 / 2 + 1 / 6) / 2, 6);
    expect(report.metrics['hr@2']).toBeCloseTo(0.5, 6);
    // top-1: user 0 -> item 1, user 1 -> item 5; 6 candidate items
    expect(report.metrics['coverage@1']).toBeCloseTo(2 / 6, 6);
    expect(report.metrics['popularity@1']).toBeCloseTo((4 + 6) / 2, 6);
    // top-2: {1, 2} and {5, 4}
    expect(report.metrics['coverage@2']).toBeCloseTo(4 / 6, 6);
    expect(report.metrics['popularity@2']).toBeCloseTo(((4 + 3) / 2 + (6 + 1) / 2) / 2, 6);
  });

  it('keeps a test item that is also a training item of the user as a candidate', () => {
    const r = evaluate(
      matrixScorer([[0.1, 0.9, 0.5]]),
      { trainHistories: histories([[1]]), test: { users: Int32Array.of(0), items: Int32Array.of(1) }, popularity: Float32Array.of(1, 1, 1) },
      { protocol: 'full', ks: [1] },
    );
    expect(r.metrics['hr@1']).toBe(1);
  });

  it('counts a test item that never occurs in training as a miss and never recommends non-candidates', () => {
    const r = evaluate(
      matrixScorer([[0.1, 0.2, 0.9]]),
      { trainHistories: histories([[0]]), test: { users: Int32Array.of(0), items: Int32Array.of(2) }, popularity: Float32Array.of(1, 1, 0) },
      { protocol: 'full', ks: [1] },
    );
    expect(r.candidates).toBe(2);
    expect(r.metrics['hr@1']).toBe(0);
    expect(r.metrics['mrr']).toBe(0);
    expect(r.metrics['popularity@1']).toBe(1); // recommends item 1, not item 2
  });

  it('gives the popularity baseline the expected rank among tied counts', () => {
    // candidates (item 0 seen): counts 3, 1, 1, 1 -> test item 2 is tied with items 3 and 4 at positions 1..3
    const r = evaluate(
      popularityScorer(Float32Array.of(9, 3, 1, 1, 1)),
      { trainHistories: histories([[0]]), test: { users: Int32Array.of(0), items: Int32Array.of(2) }, popularity: Float32Array.of(9, 3, 1, 1, 1) },
      { protocol: 'full', ks: [2] },
    );
    expect(r.metrics['hr@2']).toBeCloseTo(1 / 3, 6);
    expect(r.metrics['mrr']).toBeCloseTo((1 / 2 + 1 / 3 + 1 / 4) / 3, 6);
  });
});

describe('evaluate, strata', () => {
  it('assigns users by their number of training interactions and reports empty strata', () => {
    const trainCounts = [0, 1, 2, 3, 6, 21, 25];
    const nItems = 30;
    const train = trainCounts.map((count) => Array.from({ length: count }, (_, n) => n));
    const data: EvaluationData = {
      trainHistories: histories(train),
      test: { users: Int32Array.from(trainCounts, (_, u) => u), items: new Int32Array(trainCounts.length).fill(29) },
      popularity: new Float32Array(nItems).fill(1),
    };
    // item 29 scores highest for every user: every hr@1 is 1
    const scorer = matrixScorer(trainCounts.map(() => Array.from({ length: nItems }, (_, i) => i)));
    const r = evaluate(scorer, data, { protocol: 'full', ks: [1] });
    expect(r.strata.map((s) => [s.label, s.users])).toEqual([
      ['0', 1],
      ['1-2', 2],
      ['3-5', 1],
      ['6-20', 1],
      ['>20', 2],
    ]);
    expect(r.strata.every((s) => s.metrics['hr@1'] === 1)).toBe(true);
    const only = evaluate(scorer, data, { protocol: 'full', ks: [1], users: Int32Array.of(0) });
    expect(only.strata.map((s) => s.users)).toEqual([1, 0, 0, 0, 0]);
    expect(only.strata[1]!.metrics['hr@1']).toBe(0);
    expect(formatReport(only)).toContain('train >20');
  });
});

describe('evaluate, sampled protocol', () => {
  const nUsers = 6;
  const nItems = 300;
  const train = Array.from({ length: nUsers }, (_, u) => Array.from({ length: 40 }, (_, n) => (u * 37 + n * 7) % nItems));
  const data: EvaluationData = {
    trainHistories: histories(train),
    test: { users: Int32Array.from({ length: nUsers }, (_, u) => u), items: Int32Array.from({ length: nUsers }, (_, u) => (u * 53 + 5) % nItems) },
    popularity: new Float32Array(nItems).fill(1),
  };
  const byIndex = (sign: number): Scorer => matrixScorer(Array.from({ length: nUsers }, () => Array.from({ length: nItems }, (_, i) => sign * i)));
  const options = { protocol: 'sampled' as const, negatives: 50, seed: 7, ks: [10] };

  it('ranks the test item against the seeded negatives the sampler draws', () => {
    const report = evaluate(byIndex(1), data, options);
    const pool = Int32Array.from({ length: nItems }, (_, i) => i);
    const sampler = new NegativeSampler(pool, nItems);
    for (let u = 0; u < nUsers; u++) {
      const item = data.test.items[u]!;
      const negatives = sampler.draw(50, sampler.stream(7, u), [Int32Array.from(train[u]!), Int32Array.of(item)]);
      const greater = negatives.filter((other) => other > item).length;
      expect(report.perUser.values['mrr']![u]).toBeCloseTo(1 / (greater + 1), 6);
      expect(report.perUser.values['hr@10']![u]).toBe(greater < 10 ? 1 : 0);
    }
  });

  it('uses identical negatives for different scorers', () => {
    // score = item and score = -item: the two ranks of each test item add up to the number of negatives
    const up = evaluate(byIndex(1), data, options);
    const down = evaluate(byIndex(-1), data, options);
    for (let u = 0; u < nUsers; u++) {
      const rankUp = 1 / up.perUser.values['mrr']![u]! - 1;
      const rankDown = 1 / down.perUser.values['mrr']![u]! - 1;
      expect(rankUp + rankDown).toBeCloseTo(50, 3);
    }
  });

  it('gives the same report whether the scorer scores whole rows or only the sampled items', () => {
    const random = Array.from({ length: nUsers }, (_, u) => Array.from({ length: nItems }, (_, i) => Math.sin(u * 1000 + i)));
    const rowsOnly = matrixScorer(random);
    const withItems: Scorer = {
      nItems,
      score: (users) => rowsOnly.score(users),
      scoreItems: (user, items) => Float32Array.from(items, (item) => random[user]![item]!),
    };
    expect(evaluate(withItems, data, options)).toEqual(evaluate(rowsOnly, data, options));
  });

  it('evaluates popularity on the same users beside the model', () => {
    const { model, popularity } = evaluateWithPopularity(byIndex(1), data, { ...options, users: Int32Array.of(4, 1, 1) });
    expect(Array.from(model.perUser.users)).toEqual([1, 4]);
    expect(Array.from(popularity.perUser.users)).toEqual([1, 4]);
    // constant popularity: the test item is tied with all 50 negatives
    expect(popularity.metrics['hr@10']).toBeCloseTo(10 / 51, 6);
    expect(model.negatives).toBe(50);
  });
});
