import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { isGraftError } from '../errors.js';
import { currentBackend, initBackend } from './backend.js';
import { unsortedSegmentSumKernel } from './unsorted-segment-sum.kernel.js';

async function errorOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return undefined;
}

async function installed(pkg: string): Promise<boolean> {
  try {
    const specifier: string = pkg;
    await import(specifier);
    return true;
  } catch {
    return false;
  }
}

// Order matters: failed selections must not pin the process to a backend, and the last test initialises it.
describe('initBackend', () => {
  it('refuses GPU without tfjs-node-gpu, naming the package and how to install it', async () => {
    if (await installed('@tensorflow/tfjs-node-gpu')) return; // a GPU machine: nothing to refuse
    const error = await errorOf(initBackend({ device: 'GPU' }));
    expect(isGraftError(error, 'UNAVAILABLE')).toBe(true);
    expect((error as Error).message).toContain('npm install @tensorflow/tfjs-node-gpu@4.22.0');
    expect((error as Error).message).toContain('CUDA 11.2');
    expect((error as Error).message).toContain('TFJS_NODE_BASE_URI');
    expect(currentBackend()).toBeUndefined();
  });

  it('treats GRAFT_BACKEND as strict and validates it', async () => {
    const saved = process.env.GRAFT_BACKEND;
    try {
      process.env.GRAFT_BACKEND = 'webgpu';
      expect(isGraftError(await errorOf(initBackend()), 'BAD_INPUT')).toBe(true);
      if (!(await installed('@tensorflow/tfjs-node')) && !(await installed('@tensorflow/tfjs-node-gpu'))) {
        process.env.GRAFT_BACKEND = 'tensorflow';
        const error = await errorOf(initBackend());
        expect(isGraftError(error, 'UNAVAILABLE')).toBe(true);
        expect((error as Error).message).toContain('@tensorflow/tfjs-node');
      }
      expect(currentBackend()).toBeUndefined();
    } finally {
      if (saved === undefined) delete process.env.GRAFT_BACKEND;
      else process.env.GRAFT_BACKEND = saved;
    }
  });

  it('picks the best installed backend once, idempotently, with gather gradients working', async () => {
    const info = await initBackend();
    const native = (await installed('@tensorflow/tfjs-node')) || (await installed('@tensorflow/tfjs-node-gpu'));
    expect(info.backend).toBe(native ? 'tensorflow' : 'wasm');
    expect(tf.getBackend()).toBe(info.backend);
    expect(info.device).toBe(info.gpu ? 'GPU' : 'CPU');
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(await initBackend()).toBe(info);
    expect(isGraftError(await errorOf(initBackend({ device: info.gpu ? 'CPU' : 'GPU' })), 'CONFLICT')).toBe(true);
    // The gradient of a gather is UnsortedSegmentSum, which stock wasm lacks.
    const table = tf.variable(tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]));
    const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, tf.tensor1d([2, 0, 2], 'int32'))))(table);
    expect(Array.from(grad.dataSync())).toEqual([1, 1, 0, 0, 2, 2]);
  });
});

describe('unsortedSegmentSumKernel', () => {
  it('sums rows into segments and drops out-of-range ids', async () => {
    await tf.setBackend('cpu');
    const backend = tf.backend();
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]);
    const ids = tf.tensor1d([1, -1, 1, 0], 'int32');
    const out = unsortedSegmentSumKernel({ inputs: { x, segmentIds: ids }, backend, attrs: { numSegments: 3 } }) as tf.TensorInfo;
    expect(out.shape).toEqual([3, 2]);
    const values = (backend as unknown as { readSync(id: object): Float32Array }).readSync(out.dataId);
    expect(Array.from(values)).toEqual([7, 8, 6, 8, 0, 0]);
    backend.disposeData(out.dataId);
  });
});
