import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe } from 'vitest';
import { registerUnsortedSegmentSum } from '../unsorted-segment-sum.kernel.js';

/** Backends a numeric test runs on: cpu and wasm always, native tensorflow when installed. */
export const testBackends: readonly string[] = ['cpu', 'wasm', ...(await nativeAvailable() ? ['tensorflow'] : [])];

/** Makes `name` the active TF.js backend (loading wasm / native on demand). */
export async function useBackend(name: string): Promise<void> {
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (!(await tf.setBackend(name))) throw new Error(`backend ${name} did not start`);
  await tf.ready();
  registerUnsortedSegmentSum(name);
}

/**
 * Runs a suite once per available backend (`title [cpu]`, `title [wasm]`, ...), so every
 * numeric test is checked on each backend the engine can run on.
 *
 * @example
 * describeEachBackend('embedding gradients', (backend) => { it('matches autodiff', () => { ... }); });
 */
export function describeEachBackend(title: string, suite: (backend: string) => void): void {
  for (const backend of testBackends) {
    describe(`${title} [${backend}]`, () => {
      beforeAll(async () => {
        await useBackend(backend);
      });
      suite(backend);
    });
  }
}

async function nativeAvailable(): Promise<boolean> {
  try {
    const specifier: string = '@tensorflow/tfjs-node';
    await import(specifier);
    return true;
  } catch {
    return false;
  }
}
