import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { InBatchSoftmaxTask } from './in-batch-softmax.task.js';
import { describeEachBackend } from './testing/each-backend.js';

/** Reference loss in plain JS: rows of u, v as number[][]; bias(i, j) added to logits; w optional. */
function referenceLoss(u: number[][], v: number[][], t: number, bias: (i: number, j: number) => number, w?: number[]): number {
  const b = u.length;
  const dot = (x: number[], y: number[]) => x.reduce((s, xi, k) => s + xi * y[k], 0);
  let total = 0;
  let weightSum = 0;
  for (let i = 0; i < b; i++) {
    const logits = v.map((vj, j) => dot(u[i], vj) / t + bias(i, j));
    const max = Math.max(...logits);
    const lse = max + Math.log(logits.reduce((s, l) => s + Math.exp(l - max), 0));
    const weight = w ? w[i] : 1;
    total += weight * (lse - logits[i]);
    weightSum += weight;
  }
  return total / weightSum;
}

function unitRows(b: number, d: number, seed: number): number[][] {
  let s = seed;
  const rand = () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1;
  return Array.from({ length: b }, () => {
    const row = Array.from({ length: d }, rand);
    const n = Math.hypot(...row);
    return row.map((x) => x / n);
  });
}

describeEachBackend('InBatchSoftmaxTask', () => {
  const u = unitRows(4, 3, 11);
  const v = unitRows(4, 3, 23);
  const lossOf = (task: InBatchSoftmaxTask, items: number[], weights?: number[]) =>
    tf.tidy(() => task.loss(tf.tensor2d(u), tf.tensor2d(v), task.prepare(Int32Array.from(items), weights ? Float32Array.from(weights) : undefined)).dataSync()[0]);

  it('is the mean cross-entropy against the diagonal at the temperature', () => {
    const task = new InBatchSoftmaxTask({ items: 10, temperature: 0.1 });
    expect(lossOf(task, [0, 1, 2, 3])).toBeCloseTo(referenceLoss(u, v, 0.1, () => 0), 4);
  });

  it('masks accidental hits: another row with the same item is not a negative', () => {
    const task = new InBatchSoftmaxTask({ items: 10, temperature: 0.1 });
    const items = [5, 1, 5, 3];
    const mask = (i: number, j: number) => (j !== i && items[j] === items[i] ? -1e9 : 0);
    expect(lossOf(task, items)).toBeCloseTo(referenceLoss(u, v, 0.1, mask), 4);
    expect(lossOf(task, items)).not.toBeCloseTo(referenceLoss(u, v, 0.1, () => 0), 2);
  });

  it('subtracts log q of each candidate when logQ is on', () => {
    const counts = [10, 1, 4, 0, 5];
    const total = counts.reduce((s, c) => s + Math.max(c, 1), 0);
    const task = new InBatchSoftmaxTask({ items: 5, temperature: 0.2, logQ: true });
    task.setItemFrequencies(counts);
    const items = [0, 1, 2, 3];
    const logQ = (j: number) => Math.log(Math.max(counts[items[j]], 1) / total);
    expect(lossOf(task, items)).toBeCloseTo(referenceLoss(u, v, 0.2, (_i, j) => -logQ(j)), 4);
    // With uniform frequencies the correction is a constant shift: no effect.
    const uniform = new InBatchSoftmaxTask({ items: 5, temperature: 0.2, logQ: true });
    uniform.setItemFrequencies([3, 3, 3, 3, 3]);
    expect(lossOf(uniform, items)).toBeCloseTo(referenceLoss(u, v, 0.2, () => 0), 4);
  });

  it('adds uniform negatives from the items with examples, corrected by their expected count per batch', () => {
    const counts = [10, 1, 4, 0, 5];
    const total = counts.reduce((s, c) => s + Math.max(c, 1), 0);
    const task = new InBatchSoftmaxTask({ items: 5, temperature: 0.2, logQ: true, uniformNegatives: 3, seed: 9 });
    task.setItemFrequencies(counts);
    const items = [0, 1, 2, 3];
    const prepared = task.prepare(Int32Array.from(items));
    const candidates = Array.from(prepared.candidates!);
    expect(candidates.slice(0, 4)).toEqual(items);
    // Item 3 has no examples: never drawn.
    for (const c of candidates.slice(4)) expect([0, 1, 2, 4]).toContain(c);
    const expected = (item: number) => (4 * Math.max(counts[item], 1)) / total + (counts[item] > 0 ? 3 / 4 : 0);
    const bias = (i: number, j: number) => (j !== i && candidates[j] === items[i] ? -1e9 : -Math.log(expected(candidates[j])));
    const vAll = [...v, ...unitRows(3, 3, 31)];
    const loss = tf.tidy(() => task.loss(tf.tensor2d(u), tf.tensor2d(vAll), prepared).dataSync()[0]);
    expect(loss).toBeCloseTo(referenceLoss(u, vAll, 0.2, bias), 4);
    // Same seed, same draws.
    const again = new InBatchSoftmaxTask({ items: 5, temperature: 0.2, logQ: true, uniformNegatives: 3, seed: 9 });
    again.setItemFrequencies(counts);
    expect(Array.from(again.prepare(Int32Array.from(items)).candidates!)).toEqual(candidates);
  });

  it('adds a per-candidate item bias to the logits', () => {
    const task = new InBatchSoftmaxTask({ items: 10, temperature: 0.1 });
    const b = [0.5, -1, 2, 0];
    const loss = tf.tidy(() => task.loss(tf.tensor2d(u), tf.tensor2d(v), task.prepare(Int32Array.of(0, 1, 2, 3)), tf.tensor2d([b])).dataSync()[0]);
    expect(loss).toBeCloseTo(referenceLoss(u, v, 0.1, (_i, j) => b[j]), 4);
  });

  it('weights examples in the mean', () => {
    const task = new InBatchSoftmaxTask({ items: 10, temperature: 0.1 });
    const w = [1, 0, 3, 0.5];
    expect(lossOf(task, [0, 1, 2, 3], w)).toBeCloseTo(referenceLoss(u, v, 0.1, () => 0, w), 4);
  });
});

describe('InBatchSoftmaxTask validation', () => {
  it('rejects items outside the model and non-positive weight sums', () => {
    const task = new InBatchSoftmaxTask({ items: 3 });
    expect(() => task.prepare(Int32Array.of(0, 3))).toThrow(/item 3 is outside/);
    expect(() => task.prepare(Int32Array.of(0, 1), Float32Array.of(0, 0))).toThrow(/sum to 0/);
    expect(() => new InBatchSoftmaxTask({ items: 3, temperature: 0 })).toThrow(/temperature/);
    expect(() => new InBatchSoftmaxTask({ items: 3, uniformNegatives: 1.5 })).toThrow(/uniformNegatives = 1.5/);
  });
});
