import { describe, expect, it } from 'vitest';
import type { EvaluationReport } from '../evaluation/evaluate.js';
import { compareWithBaseline, describeGuard } from './transfer-report.js';

/** A report whose users 0..n-1 score `hr@10` = hits[u] (1 or 0). */
function report(hits: number[]): EvaluationReport {
  const values = Float32Array.from(hits);
  const mean = hits.reduce((a, b) => a + b, 0) / hits.length;
  return {
    protocol: 'sampled', negatives: 99, ks: [10], seed: 1, ties: 'mean', users: hits.length, rows: hits.length, candidates: 100,
    metrics: { 'hr@10': mean }, strata: [{ label: '0', users: hits.length, metrics: { 'hr@10': mean } }],
    perUser: { users: Int32Array.from(hits, (_, u) => u), values: { 'hr@10': values } },
  };
}

/** 400 users, the first `share` of them hit. */
const hitsFor = (share: number) => Array.from({ length: 400 }, (_, u) => (u < share * 400 ? 1 : 0));

describe('compareWithBaseline', () => {
  it('flags a transfer that beats its baseline but not popularity on the same users, and says which comparison failed', () => {
    const r = compareWithBaseline(report(hitsFor(0.5)), report(hitsFor(0.2)), report(hitsFor(0.6)), { seed: 3 });
    expect(r.gain['hr@10']!.ci95[0]).toBeGreaterThan(0);
    expect(r.gainOverPopularity['hr@10']!.value).toBeCloseTo(-0.1, 6);
    expect(r.gainOverPopularity['hr@10']!.ci95[1]).toBeLessThan(0);
    expect(r.guard).toEqual({ beatsBaseline: true, beatsPopularity: false });
    expect(r.negativeTransfer).toBe(true);
    expect(describeGuard(r)).toBe('negative transfer: the hr@10 gain interval over popularity does not lie above 0');
  });

  it('passes only when both intervals lie above 0', () => {
    const r = compareWithBaseline(report(hitsFor(0.5)), report(hitsFor(0.2)), report(hitsFor(0.3)), { seed: 3 });
    expect(r.guard).toEqual({ beatsBaseline: true, beatsPopularity: true });
    expect(r.negativeTransfer).toBe(false);
    const below = compareWithBaseline(report(hitsFor(0.5)), report(hitsFor(0.5)), report(hitsFor(0.3)), { seed: 3 });
    expect(below.guard).toEqual({ beatsBaseline: false, beatsPopularity: true });
    expect(below.negativeTransfer).toBe(true);
  });

  it('refuses to compare when no test user was evaluated, saying so instead of naming an empty metric list', () => {
    const none = report([]);
    none.users = 0;
    expect(() => compareWithBaseline(none, none, none, {})).toThrow(/no test user could be evaluated/);
  });
});
