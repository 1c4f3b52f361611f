import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { isGraftError } from '../errors.js';
import { EmbeddingTable } from './embedding-table.js';
import { createRng } from '../dataset/random.js';
import { describeEachBackend } from './testing/each-backend.js';

function randomGrads(n: number, seed: number): Float32Array {
  const rng = createRng(seed, { resumable: true });
  return Float32Array.from({ length: n }, () => rng.normal());
}

describe('EmbeddingTable', () => {
  it('gathers rows, also into a strided buffer', () => {
    const table = new EmbeddingTable({ rows: 5, dim: 3, seed: 1 });
    const rows = table.gather(Int32Array.of(4, 0));
    expect(Array.from(rows)).toEqual([...table.weights.subarray(12, 15), ...table.weights.subarray(0, 3)]);
    const wide = new Float32Array(2 * 5);
    table.gatherInto(Int32Array.of(1, 2), wide, 1, 5);
    expect(Array.from(wide)).toEqual([0, ...table.weights.subarray(3, 6), 0, 0, ...table.weights.subarray(6, 9), 0]);
  });

  it('initialises deterministically for a seed with the requested scale', () => {
    const a = new EmbeddingTable({ rows: 2000, dim: 8, seed: 3, init: { kind: 'normal', scale: 0.1 } });
    const b = new EmbeddingTable({ rows: 2000, dim: 8, seed: 3, init: { kind: 'normal', scale: 0.1 } });
    const c = new EmbeddingTable({ rows: 2000, dim: 8, seed: 4, init: { kind: 'normal', scale: 0.1 } });
    expect(a.weights).toEqual(b.weights);
    expect(a.weights).not.toEqual(c.weights);
    const std = Math.sqrt(a.weights.reduce((s, x) => s + x * x, 0) / a.weights.length);
    expect(std).toBeGreaterThan(0.095);
    expect(std).toBeLessThan(0.105);
    const u = new EmbeddingTable({ rows: 1000, dim: 8, seed: 3, init: { kind: 'uniform', scale: 0.2 } });
    expect(Math.max(...u.weights.map(Math.abs))).toBeLessThanOrEqual(0.2);
  });

  it('sums the gradients of duplicate ids before the optimizer step', () => {
    for (const optimizer of ['adam', 'adagrad'] as const) {
      const a = new EmbeddingTable({ rows: 4, dim: 3, seed: 1, optimizer });
      const b = new EmbeddingTable({ rows: 4, dim: 3, seed: 1, optimizer });
      const g = randomGrads(9, 2);
      a.applyGradients(Int32Array.of(2, 0, 2), g, 0.1);
      const summed = new Float32Array(6);
      for (let k = 0; k < 3; k++) {
        summed[k] = g[k] + g[6 + k];
        summed[3 + k] = g[3 + k];
      }
      b.applyGradients(Int32Array.of(2, 0), summed, 0.1);
      expect(a.weights).toEqual(b.weights);
      // One Adam step on the summed gradient, not two steps.
      a.applyGradients(Int32Array.of(2), g.subarray(0, 3), 0.1);
      b.applyGradients(Int32Array.of(2), g.subarray(0, 3), 0.1);
      expect(a.weights).toEqual(b.weights);
    }
  });

  it('changes only touched rows', () => {
    const table = new EmbeddingTable({ rows: 6, dim: 4, seed: 1 });
    const before = table.exportWeights();
    table.applyGradients(Int32Array.of(1, 4), randomGrads(8, 1), 0.05);
    for (let r = 0; r < 6; r++) {
      const row = (w: Float32Array) => Array.from(w.subarray(r * 4, r * 4 + 4));
      if (r === 1 || r === 4) expect(row(table.weights)).not.toEqual(row(before));
      else expect(row(table.weights)).toEqual(row(before));
    }
  });

  it('keeps frozen rows bit-identical while the others train', () => {
    const table = new EmbeddingTable({ rows: 10, dim: 4, seed: 1, l2: 0.01 });
    table.freezeRows(0, 5);
    const before = table.exportWeights();
    const ids = Int32Array.from({ length: 10 }, (_, i) => i);
    for (let step = 0; step < 5; step++) table.applyGradients(ids, randomGrads(40, step), 0.1);
    expect(table.weights.subarray(0, 20)).toEqual(before.subarray(0, 20));
    for (let r = 5; r < 10; r++) expect(table.weights.subarray(r * 4, r * 4 + 4)).not.toEqual(before.subarray(r * 4, r * 4 + 4));
    // Unfrozen later, a row starts Adam fresh: its first step moves each weight by ~lr.
    table.unfreezeRows(0, 1);
    const row0 = table.weights.slice(0, 4);
    table.applyGradients(Int32Array.of(0), Float32Array.of(1, -2, 3, -4), 0.1);
    for (let k = 0; k < 4; k++) expect(Math.abs(table.weights[k] - row0[k])).toBeCloseTo(0.1, 5);
  });

  it('bias-corrects lazy Adam with the table\'s step count (as PyTorch SparseAdam): hand-computed steps', () => {
    const table = new EmbeddingTable({ rows: 3, dim: 2, seed: 1, optimizerOptions: { biasCorrection: 'table' } });
    const lr = 0.01;
    // Table step 1: row 1 with g = (1, 1): m = 0.1, v = 0.001, corrections 1/0.1 and 1/0.001 -> a step of lr.
    let before = table.weights.slice(2, 4);
    table.applyGradients(Int32Array.of(1), Float32Array.of(1, 1), lr);
    expect(table.weights[2] - before[0]).toBeCloseTo(-0.01, 6);
    // Table steps 2 and 3: row 0 only.
    for (let step = 0; step < 2; step++) table.applyGradients(Int32Array.of(0), Float32Array.of(1, 1), lr);
    // Table step 4: row 1 again with g = -1 (its 2nd touch): m = 0.09 * 1 + 0.1 * -1 = -0.01, v = 0.000999 + 0.001 = 0.001999,
    // corrected with t = 4: the row moves by -lr * (-0.01 / 0.3439) / sqrt(0.001999 / 0.003994) = +0.00041102 (per-row t = 2: +0.00052632).
    // Row 2, first touched at table step 4 with g = (0.5, -0.5): m = 0.05, v = 0.00025 -> lr * (0.05 / 0.3439) / sqrt(0.00025 / 0.003994) = 0.0058113 (per-row: lr).
    before = table.weights.slice(2, 6);
    table.applyGradients(Int32Array.of(1, 2), Float32Array.of(-1, -1, 0.5, -0.5), lr);
    expect(table.weights[2] - before[0]).toBeCloseTo(0.00041102, 7);
    expect(table.weights[4] - before[2]).toBeCloseTo(-0.0058113, 6);
    expect(table.weights[5] - before[3]).toBeCloseTo(0.0058113, 6);
  });

  it('gives a row first touched late a full-size Adam step (per-row bias correction)', () => {
    const table = new EmbeddingTable({ rows: 3, dim: 2, seed: 1, optimizerOptions: { biasCorrection: 'row' } });
    for (let step = 0; step < 200; step++) table.applyGradients(Int32Array.of(0), Float32Array.of(1, 1), 0.01);
    const late = table.weights.slice(4, 6);
    table.applyGradients(Int32Array.of(2), Float32Array.of(0.5, -0.5), 0.01);
    expect(table.weights[4] - late[0]).toBeCloseTo(-0.01, 6);
    expect(table.weights[5] - late[1]).toBeCloseTo(0.01, 6);
  });

  it('applies L2 to touched rows only', () => {
    const table = new EmbeddingTable({ rows: 2, dim: 3, seed: 1, l2: 1, optimizer: 'adagrad' });
    const before = table.exportWeights();
    table.applyGradients(Int32Array.of(0), new Float32Array(3), 0.1);
    for (let k = 0; k < 3; k++) expect(Math.abs(table.weights[k])).toBeLessThan(Math.abs(before[k]));
    expect(table.weights.subarray(3)).toEqual(before.subarray(3));
  });

  it('grows with trainable new rows and keeps the old ones', () => {
    const table = new EmbeddingTable({ rows: 3, dim: 2, seed: 1 });
    table.freezeRows();
    const before = table.exportWeights();
    table.grow(2, { kind: 'zeros', scale: 0 });
    expect(table.rows).toBe(5);
    expect(table.weights.subarray(0, 6)).toEqual(before);
    expect(Array.from(table.weights.subarray(6))).toEqual([0, 0, 0, 0]);
    table.applyGradients(Int32Array.of(0, 4), Float32Array.of(1, 1, 1, 1), 0.1);
    expect(table.weights.subarray(0, 6)).toEqual(before);
    expect(table.weights[8]).toBeCloseTo(-0.1, 5);
  });

  it('round-trips through bytes', () => {
    const table = new EmbeddingTable({ rows: 7, dim: 5, seed: 9 });
    table.freezeRows(2, 4);
    const copy = EmbeddingTable.fromBytes(table.toBytes());
    expect(copy.rows).toBe(7);
    expect(copy.dim).toBe(5);
    expect(copy.weights).toEqual(table.weights);
    expect(copy.frozen).toEqual(table.frozen);
    expect(() => EmbeddingTable.fromBytes(table.toBytes().subarray(0, 40))).toThrow(/truncated/);
  });

  it('rejects ids outside the table with a BAD_INPUT error naming the id', () => {
    const table = new EmbeddingTable({ rows: 3, dim: 2 });
    let error: unknown;
    try {
      table.gather(Int32Array.of(5));
    } catch (e) {
      error = e;
    }
    expect(isGraftError(error, 'BAD_INPUT')).toBe(true);
    expect((error as Error).message).toContain('row id 5');
  });
});

describeEachBackend('row-sparse optimizers vs TF.js dense optimizers', () => {
  const rows = 5;
  const dim = 4;
  const ids = Int32Array.from({ length: rows }, (_, i) => i);

  for (const [kind, biasCorrection] of [['adam', 'table'], ['adam', 'row'], ['adagrad', undefined]] as const) {
    it(`${kind}${biasCorrection ? ` (bias correction per ${biasCorrection})` : ''} on rows touched every step equals tf.train.${kind}`, () => {
      const table = new EmbeddingTable({ rows, dim, seed: 5, optimizer: kind, optimizerOptions: { biasCorrection } });
      const variable = tf.variable(tf.tensor2d(table.exportWeights(), [rows, dim]));
      const optimizer = kind === 'adam' ? tf.train.adam(0.05, 0.9, 0.999, 1e-7) : tf.train.adagrad(0.05, 0.1);
      for (let step = 0; step < 25; step++) {
        const g = randomGrads(rows * dim, 100 + step);
        table.applyGradients(ids, g, 0.05);
        tf.tidy(() => optimizer.applyGradients([{ name: variable.name, tensor: tf.tensor2d(g, [rows, dim]) }]));
      }
      const expected = variable.dataSync();
      for (let i = 0; i < expected.length; i++) expect(table.weights[i]).toBeCloseTo(expected[i], 4);
      optimizer.dispose();
      variable.dispose();
    });
  }
});
