import { describe, expect, it } from 'vitest';
import { biasedEmbeddingScorer } from './embedding.scorer.js';
import { evaluate, evaluateItemBiases, type EvaluationData } from './evaluate.js';
import { histories } from './test-helpers.js';
import { createRng } from '../dataset/random.js';

/*
 * evaluateItemBiases ranks sampled candidates once per bias from one set of dot products; each
 * of its reports must equal evaluate() on the model widened by the bias coordinate.
 */
describe('evaluateItemBiases', () => {
  const USERS = 40;
  const ITEMS = 300;
  const DIM = 6;
  const random = createRng(7).next;
  // Coarse values, so that some candidates tie exactly (the tie rule must match too).
  const coarse = () => Math.round((random() - 0.5) * 4) / 2;
  const U = Float32Array.from({ length: USERS * DIM }, coarse);
  const V = Float32Array.from({ length: ITEMS * DIM }, coarse);
  const train: number[][] = Array.from({ length: USERS }, (_, u) => Array.from({ length: 1 + (u % 7) }, (_, k) => (u * 13 + k * 17) % ITEMS));
  // Users 0..29 have test rows (some two or three), the rest none; item 299 never occurs in training.
  const testUsers: number[] = [];
  const testItems: number[] = [];
  for (let u = 0; u < 30; u++) for (let k = 0; k <= u % 3; k++) (testUsers.push(u), testItems.push(k === 2 ? 299 : (u * 31 + k * 7 + 5) % 290));
  const counts = new Float32Array(ITEMS);
  for (const row of train) for (const item of row) counts[item]!++;
  for (let i = 0; i < 290; i++) counts[i] = Math.max(counts[i]!, 1); // every item but 299 is a candidate
  const data: EvaluationData = { trainHistories: histories(train), test: { users: Int32Array.from(testUsers), items: Int32Array.from(testItems) }, popularity: counts };
  const options = { protocol: 'sampled' as const, negatives: 50, ks: [5, 10], seed: 11 };
  const logCounts = counts.map((c) => Math.log1p(c));
  const biases = [undefined, logCounts.map((v) => 0.5 * v), logCounts.map((v) => 2 * v), Float32Array.from({ length: ITEMS }, (_, i) => (i % 2 === 0 ? 0.5 : 0))];

  const widened = (bias: Float32Array | undefined) => biasedEmbeddingScorer(U, V, DIM, bias);

  it('equals evaluate() on the widened model for every bias, metric by metric and user by user', () => {
    const reports = evaluateItemBiases({ users: U, items: V, dim: DIM }, data, options, biases);
    expect(reports).toHaveLength(biases.length);
    biases.forEach((bias, b) => {
      const expected = evaluate(widened(bias), data, options);
      const got = reports[b]!;
      expect(Array.from(got.users)).toEqual(Array.from(expected.perUser.users));
      for (const key of ['hr@5', 'ndcg@5', 'hr@10', 'ndcg@10', 'mrr']) {
        expect(got.metrics[key], `${key}, bias ${b}`).toBe(expected.metrics[key]);
        expect(Array.from(got.perUser[key]!), `${key} per user, bias ${b}`).toEqual(Array.from(expected.perUser.values[key]!));
      }
    });
    // The biases change the ranking (the test would be empty otherwise).
    expect(reports[2]!.metrics['ndcg@10']).not.toBe(reports[0]!.metrics['ndcg@10']);
  });

  it('restricts to the given users as evaluate() does', () => {
    const users = Int32Array.of(3, 1, 35, 3);
    const [got] = evaluateItemBiases({ users: U, items: V, dim: DIM }, data, { ...options, users }, [biases[1]]);
    const expected = evaluate(widened(biases[1]), data, { ...options, users });
    expect(Array.from(got!.users)).toEqual([1, 3]);
    expect(got!.metrics['ndcg@10']).toBe(expected.metrics['ndcg@10']);
  });

  it('refuses the full protocol, a short bias and vectors that do not cover the items, naming the fix', () => {
    const vectors = { users: U, items: V, dim: DIM };
    expect(() => evaluateItemBiases(vectors, data, { ...options, protocol: 'full' }, [undefined])).toThrow(/sampled candidates only.*call evaluate once per bias/);
    expect(() => evaluateItemBiases(vectors, data, options, [new Float32Array(10)])).toThrow(/bias 0 has 10 items.*one value per item/);
    expect(() => evaluateItemBiases({ ...vectors, items: V.subarray(0, 10 * DIM) }, data, options, [undefined])).toThrow(/at least 300 item rows/);
  });
});
