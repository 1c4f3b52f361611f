import { describe, expect, it } from 'vitest';
import { evaluate } from './evaluate.js';
import { rankMetrics } from './ranking-metrics.js';
import { rngFromState } from '../dataset/random.js';
import { histories, matrixScorer } from './test-helpers.js';

const log2 = Math.log2;

describe('rankMetrics', () => {
  it('scores one relevant item at a known position', () => {
    const m = rankMetrics([{ start: 2, size: 1, relevant: 1 }], 1, [1, 3], 'mean');
    expect(m.hr).toEqual([0, 1]);
    expect(m.recall).toEqual([0, 1]);
    expect(m.ndcg[0]).toBe(0);
    expect(m.ndcg[1]).toBeCloseTo(1 / log2(4), 12);
    expect(m.rr).toBeCloseTo(1 / 3, 12);
  });

  it('uses hits / R for recall and min(K, R) ideal positions for NDCG', () => {
    const groups = [
      { start: 0, size: 1, relevant: 1 },
      { start: 3, size: 1, relevant: 1 },
    ];
    const m = rankMetrics(groups, 3, [3, 5], 'mean'); // R = 3: one relevant item is not a candidate
    expect(m.hr).toEqual([1, 1]);
    expect(m.recall[0]).toBeCloseTo(1 / 3, 12);
    expect(m.recall[1]).toBeCloseTo(2 / 3, 12);
    expect(m.ndcg[0]).toBeCloseTo(1 / (1 + 1 / log2(3) + 1 / log2(4)), 12);
    expect(m.ndcg[1]).toBeCloseTo((1 + 1 / log2(5)) / (1 + 1 / log2(3) + 1 / log2(4)), 12);
    expect(m.rr).toBe(1);
  });

  it('applies the three tie conventions to one relevant item tied with three others', () => {
    const group = [{ start: 8, size: 4, relevant: 1 }];
    const mean = rankMetrics(group, 1, [10], 'mean');
    expect(mean.hr[0]).toBeCloseTo(0.5, 12);
    expect(mean.ndcg[0]).toBeCloseTo((1 / log2(10) + 1 / log2(11)) / 4, 12);
    expect(mean.rr).toBeCloseTo((1 / 9 + 1 / 10 + 1 / 11 + 1 / 12) / 4, 12);
    const pessimistic = rankMetrics(group, 1, [10], 'pessimistic');
    expect(pessimistic.hr[0]).toBe(0);
    expect(pessimistic.rr).toBeCloseTo(1 / 12, 12);
    const optimistic = rankMetrics(group, 1, [10], 'optimistic');
    expect(optimistic.hr[0]).toBe(1);
    expect(optimistic.ndcg[0]).toBeCloseTo(1 / log2(10), 12);
    expect(optimistic.rr).toBeCloseTo(1 / 9, 12);
  });

  it('computes HR and RR for two relevant items inside one tie group', () => {
    const m = rankMetrics([{ start: 0, size: 4, relevant: 2 }], 2, [1, 2], 'mean');
    expect(m.hr[0]).toBeCloseTo(1 - 2 / 4, 12);
    expect(m.hr[1]).toBeCloseTo(1 - (2 / 4) * (1 / 3), 12);
    // first relevant offset: 0 w.p. 1/2, 1 w.p. 1/3, 2 w.p. 1/6
    expect(m.rr).toBeCloseTo(1 / 2 + 1 / 3 / 2 + 1 / 6 / 3, 12);
  });
});

describe("'mean' ties equal the average over every tie-breaking order", () => {
  /** All orders of `scores` that are non-increasing in score. */
  function tieBreakings(scores: number[]): number[][] {
    const out: number[][] = [];
    const permute = (prefix: number[], rest: number[]): void => {
      if (rest.length === 0) return void out.push(prefix);
      rest.forEach((item, n) => {
        if (prefix.length > 0 && scores[item]! > scores[prefix[prefix.length - 1]!]!) return;
        permute([...prefix, item], rest.filter((_, m) => m !== n));
      });
    };
    permute([], scores.map((_, n) => n));
    return out;
  }

  it.each([1, 2, 3, 4])('random tied case %i', (seed) => {
    const random = rngFromState(seed).next;
    const nItems = 7;
    const scores = Array.from({ length: nItems }, () => Math.floor(random() * 3));
    const relevant = [...new Set([Math.floor(random() * nItems), Math.floor(random() * nItems), Math.floor(random() * nItems)])];
    const ks = [1, 2, 3, 5];
    const report = evaluate(
      matrixScorer([scores]),
      {
        trainHistories: histories([[]]),
        test: { users: new Int32Array(relevant.length), items: Int32Array.from(relevant) },
        popularity: new Float32Array(nItems).fill(1),
      },
      { protocol: 'full', ks },
    );
    const orders = tieBreakings(scores);
    const average = (metric: (order: number[]) => number): number => orders.reduce((sum, order) => sum + metric(order), 0) / orders.length;
    for (const k of ks) {
      const hits = (order: number[]): number => order.slice(0, k).filter((item) => relevant.includes(item)).length;
      const dcg = (order: number[]): number =>
        order.slice(0, k).reduce((sum, item, p) => sum + (relevant.includes(item) ? 1 / log2(p + 2) : 0), 0);
      const ideal = Array.from({ length: Math.min(k, relevant.length) }, (_, p) => 1 / log2(p + 2)).reduce((a, b) => a + b, 0);
      expect(report.metrics[`hr@${k}`]).toBeCloseTo(average((o) => (hits(o) > 0 ? 1 : 0)), 5);
      expect(report.metrics[`recall@${k}`]).toBeCloseTo(average((o) => hits(o) / relevant.length), 5);
      expect(report.metrics[`ndcg@${k}`]).toBeCloseTo(average((o) => dcg(o) / ideal), 5);
    }
    expect(report.metrics['mrr']).toBeCloseTo(average((o) => 1 / (o.findIndex((item) => relevant.includes(item)) + 1)), 5);
  });
});
