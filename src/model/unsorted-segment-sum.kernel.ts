import * as tf from '@tensorflow/tfjs';

interface DataBackend {
  readSync(dataId: object): ArrayLike<number>;
  write(values: Float32Array | Int32Array, shape: number[], dtype: tf.DataType): object;
}

/**
 * A JS `UnsortedSegmentSum` kernel in O(segmentIds x inner + numSegments x inner).
 * TF.js needs it for the gradient of `tf.gather` (and so of `tf.layers.embedding`), and the
 * wasm backend ships without it. Graft's own engine never calls it (tables scatter their
 * gradients in JS); it is registered so plain TF.js models also train on wasm.
 *
 * x: [n, ...inner], segmentIds: [n] (or any shape that is a prefix of x's), numSegments
 * -> [numSegments, ...inner]; ids outside [0, numSegments) are dropped, as in TensorFlow.
 */
export const unsortedSegmentSumKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (attrs as unknown as { numSegments: number }).numSegments;
  const data = backend as DataBackend;
  const values = data.readSync(x.dataId);
  const ids = data.readSync(segmentIds.dataId);
  const n = ids.length;
  const inner = n === 0 ? 0 : values.length / n;
  const out = x.dtype === 'int32' ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
  for (let i = 0; i < n; i++) {
    const segment = ids[i];
    if (segment < 0 || segment >= numSegments) continue;
    const dst = segment * inner;
    const src = i * inner;
    for (let k = 0; k < inner; k++) out[dst + k] += values[src + k];
  }
  const shape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  return { dataId: data.write(out, shape, x.dtype), shape, dtype: x.dtype };
};

/** Registers the JS kernel for `backendName` unless that backend already has one. Returns true if it registered. */
export function registerUnsortedSegmentSum(backendName: string): boolean {
  if (tf.getKernel('UnsortedSegmentSum', backendName) !== undefined) return false;
  tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName, kernelFunc: unsortedSegmentSumKernel });
  return true;
}
