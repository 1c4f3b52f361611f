import { afterEach, describe, expect, it } from 'vitest';
import { compiledWat } from './testing/wat-bytes.js';
import { createRng } from '../dataset/random.js';
import { isGraftError } from '../errors.js';
import { describeEachBackend } from './testing/each-backend.js';
import * as tf from '@tensorflow/tfjs';
import { DenseOptimizer } from './dense-optimizer.js';
import { setTowerKernelEnabled, towerKernel } from './tower-kernel.js';
import { TOWER_SIMD_WASM_BASE64 } from './tower-simd-wasm.js';
import { TwoTowerModel, type ModelGradients, type TrainBatch, type TwoTowerConfig } from './two-tower.model.js';

describe("the WebAssembly SIMD kernel of the towers' dense part", () => {
  it('is the committed compilation of tower-simd.wat (run `npm run wasm` after editing the WAT)', async () => {
    expect(await compiledWat(new URL('./tower-simd.wat', import.meta.url))).toBe(TOWER_SIMD_WASM_BASE64);
  });

  it('refuses a step whose logits cannot fit in a WebAssembly memory, before writing anything, naming the fix', () => {
    const kernel = towerKernel()!;
    const rows = 40_000;
    const tower = { input: new Float32Array(rows * 4), rows, widths: [4, 4], kernels: [new Float32Array(16)], biases: [new Float32Array(4)], residual: false, idDim: 4, normalize: true, inputGradient: true, trainable: [true] };
    let error: unknown;
    try {
      kernel.step(tower, tower, { temperature: 0.1 });
    } catch (e) {
      error = e;
    }
    expect(isGraftError(error, 'BAD_INPUT')).toBe(true);
    expect((error as Error).message).toMatch(/40000 examples against 40000 candidates needs 6\.\d GiB .* use a smaller batchSize \(at most about 23,170\) or fewer uniformNegatives/);
    // The kernel still works afterwards.
    const small = { ...tower, input: new Float32Array(8 * 4), rows: 8 };
    expect(Number.isFinite(kernel.step(small, small, { temperature: 0.1 }).loss)).toBe(true);
  });

  it('runs on this Node (WebAssembly SIMD validates) and can be turned off', () => {
    expect(towerKernel()).not.toBeNull();
    expect(setTowerKernelEnabled(false)).toBe(true);
    expect(towerKernel()).toBeNull();
    expect(setTowerKernelEnabled(true)).toBe(false);
  });
});

const USERS = 40;
const ITEMS = 30;

/** A batch of `size` examples with repeated items (accidental hits to mask) and weights. */
function batchOf(size: number, seed: number): TrainBatch {
  const rng = createRng(seed);
  const users = Int32Array.from({ length: size }, () => rng.int(USERS));
  const items = Int32Array.from({ length: size }, () => rng.int(ITEMS));
  const weights = Float32Array.from({ length: size }, () => 0.5 + rng.next());
  return { users, items, weights };
}

/** Bags of `per` ids below `bound` for `count` entities (some empty). */
function bags(count: number, per: number, bound: number, seed: number) {
  const rng = createRng(seed);
  const offsets = new Int32Array(count + 1);
  const ids: number[] = [];
  for (let e = 0; e < count; e++) {
    const n = e % 5 === 4 ? 0 : 1 + rng.int(per);
    for (let t = 0; t < n; t++) ids.push(rng.int(bound));
    offsets[e + 1] = ids.length;
  }
  return { offsets, ids: Int32Array.from(ids) };
}

interface Case {
  name: string;
  config: TwoTowerConfig;
  tokens?: Parameters<typeof TwoTowerModel.create>[1];
  /** Set up the model after creation (histories, freezing, weights). */
  setup?: (model: TwoTowerModel) => void;
  size: number;
}

const counts = Array.from({ length: ITEMS }, (_, i) => (i * 7) % 11);

// Odd widths and batch sizes that are not multiples of 4 or 8 reach the kernel's padding and
// its one-row remainder; every case is compared with the TF.js autodiff path of the same model.
const cases: Case[] = [
  { name: 'ID only, logQ', config: { users: USERS, items: ITEMS, dim: 16, layers: [32, 16], temperature: 0.1, logQ: true, seed: 4 }, size: 24 },
  {
    name: 'odd widths, tokens on both towers, history, both dropouts, item bias, weights',
    config: { users: USERS, items: ITEMS, dim: 5, layers: [7, 3], tokenBuckets: 13, temperature: 0.2, logQ: true, itemBias: true, userHistory: true, userHistoryLength: 4, userIdDropout: 0.3, historyDropout: 0.2, tokenDropout: 0.1, seed: 9 },
    tokens: { itemTokens: bags(ITEMS, 4, 13, 1), userTokens: bags(USERS, 3, 13, 2) },
    setup: (model) => model.setUserHistories(bags(USERS, 6, ITEMS, 3)),
    size: 11,
  },
  { name: 'uniform negatives (a [B, C] logit bias), 1-row remainder', config: { users: USERS, items: ITEMS, dim: 8, layers: [12, 8], temperature: 0.05, logQ: true, uniformNegatives: 5, seed: 2 }, size: 9 },
  { name: 'no hidden layer, one dense layer', config: { users: USERS, items: ITEMS, dim: 6, layers: [10], temperature: 0.1, logQ: false, seed: 5 }, size: 7 },
  {
    name: 'PARTIAL: layer 0 and layer 1 frozen, the top trains',
    config: { users: USERS, items: ITEMS, dim: 8, layers: [16, 12, 8], temperature: 0.1, logQ: true, seed: 6 },
    setup: (model) => {
      model.setTrainable(0, false);
      model.setTrainable(1, false);
    },
    size: 13,
  },
  {
    name: 'FEATURE_EXTRACTION: every dense layer frozen, the rows train through them',
    config: { users: USERS, items: ITEMS, dim: 8, layers: [16, 8], temperature: 0.1, logQ: true, userHistory: true, seed: 10 },
    setup: (model) => {
      model.setUserHistories(bags(USERS, 5, ITEMS, 6));
      model.setTrainable(1, false);
      model.setTrainable(2, false);
    },
    size: 12,
  },
  {
    name: 'a frozen middle layer between trainable ones (the gradient passes through it)',
    config: { users: USERS, items: ITEMS, dim: 8, layers: [16, 12, 8], temperature: 0.1, logQ: true, seed: 7 },
    setup: (model) => model.setTrainable(2, false),
    size: 16,
  },
  {
    name: 'hybrid towers: residual top, inner-product scoring',
    config: { users: USERS, items: ITEMS, dim: 8, layers: [16, 8], objective: 'hybrid', temperature: 0.5, logQ: true, seed: 8 },
    setup: (model) => {
      // A residual top starts at zero; give it weights so the residual and the MLP both matter.
      const weights = model.exportWeights().map((w) => (w.kind === 'dense' ? { ...w, data: w.data.map((_, i) => Math.sin(i + w.data.length)) } : w));
      model.loadWeights(weights);
    },
    size: 10,
  },
];

function gradientsOf(c: Case, kernel: boolean): ModelGradients {
  const previous = setTowerKernelEnabled(kernel);
  try {
    const model = TwoTowerModel.create(c.config, c.tokens);
    c.setup?.(model);
    model.setItemFrequencies(counts);
    const out = model.gradients(batchOf(c.size, c.config.seed ?? 1));
    model.dispose();
    return out;
  } finally {
    setTowerKernelEnabled(previous);
  }
}

/** The largest gradient of a step: float32 rounding errors are relative to it (a sum that cancels to ~0 keeps the error of its terms). */
function largest(g: ModelGradients): number {
  let scale = 0;
  for (const values of [...Object.values(g.dense), ...Object.values(g.tables).map((t) => t.grads)]) for (const x of values) scale = Math.max(scale, Math.abs(x));
  return scale;
}

function expectClose(actual: Float32Array | undefined, expected: Float32Array | undefined, scale: number, what: string): void {
  expect(actual === undefined, `${what}: present on one path only`).toBe(expected === undefined);
  if (!actual || !expected) return;
  expect(actual.length, what).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst, `${what}: largest difference ${worst}, the step's largest gradient ${scale}`).toBeLessThanOrEqual(1e-5 * scale);
}

describeEachBackend('the towers on the host kernel against TF.js autodiff', () => {
  afterEach(() => setTowerKernelEnabled(true));
  for (const c of cases) {
    it(`gives the same loss and gradients: ${c.name}`, () => {
      const reference = gradientsOf(c, false);
      const kernel = gradientsOf(c, true);
      expect(kernel.loss).toBeCloseTo(reference.loss, 5);
      expect(Object.keys(kernel.dense).sort()).toEqual(Object.keys(reference.dense).sort());
      expect(Object.keys(reference.dense).length + Object.keys(reference.tables).length).toBeGreaterThan(0);
      const scale = largest(reference);
      expect(scale).toBeGreaterThan(0);
      for (const name of Object.keys(reference.dense)) expectClose(kernel.dense[name], reference.dense[name], scale, name);
      expect(Object.keys(kernel.tables).sort()).toEqual(Object.keys(reference.tables).sort());
      for (const name of Object.keys(reference.tables)) {
        const [a, b] = [kernel.tables[name], reference.tables[name]];
        expect(a.ids, name).toEqual(b.ids);
        expectClose(a.grads, b.grads, scale, name);
      }
    });
  }

  it('trains to the same losses over many steps (Adam, clipping)', () => {
    const config: TwoTowerConfig = { users: USERS, items: ITEMS, dim: 8, layers: [16, 8], tokenBuckets: 9, temperature: 0.1, logQ: true, seed: 12 };
    const losses = (kernel: boolean) => {
      const previous = setTowerKernelEnabled(kernel);
      try {
        const model = TwoTowerModel.create(config, { itemTokens: bags(ITEMS, 3, 9, 4) });
        model.setItemFrequencies(counts);
        const out: number[] = [];
        for (let s = 0; s < 60; s++) out.push(model.trainStep(batchOf(16, 100 + (s % 7)), 0.01, { clipNorm: 1 }));
        model.dispose();
        return out;
      } finally {
        setTowerKernelEnabled(previous);
      }
    };
    const reference = losses(false);
    const kernel = losses(true);
    expect(reference[59]).toBeLessThan(reference[0]);
    for (let s = 0; s < 60; s++) expect(kernel[s], `step ${s}`).toBeCloseTo(reference[s], 3);
  });

  it("runs the dense optimizer's Adam bit for bit as its JS loop (odd sizes, clipping scales, bias correction over steps)", () => {
    const run = (kernel: boolean) => {
      const previous = setTowerKernelEnabled(kernel);
      try {
        const rng = createRng(31);
        const shapes: number[][] = [[13], [7, 9], [64, 128]];
        const variables = shapes.map((shape) => tf.variable(tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.next() - 0.5), shape)));
        const optimizer = new DenseOptimizer('adam');
        for (let step = 0; step < 12; step++) {
          const gradients = variables.map((v) => Float32Array.from({ length: v.size }, () => (rng.next() - 0.5) * 10 ** (step % 4 - 2)));
          tf.tidy(() => optimizer.apply(variables, gradients, [0.01, 0.003, 0.02], step % 3 === 0 ? 1 : 0.37));
        }
        const out = variables.map((v) => v.dataSync().slice() as Float32Array);
        optimizer.dispose();
        variables.forEach((v) => v.dispose());
        return out;
      } finally {
        setTowerKernelEnabled(previous);
      }
    };
    const loop = run(false);
    const kernel = run(true);
    loop.forEach((values, i) => expect(Buffer.from(kernel[i].buffer).equals(Buffer.from(values.buffer)), `variable ${i}`).toBe(true));
  });
});
