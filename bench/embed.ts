/**
 * Tower outputs for a whole catalogue (`TwoTowerModel.embedItems` / `embedUsers`): what every
 * validation pass, every hybrid top-share candidate and every registered model pays. Compares,
 * in the same run and on the same model, the library's chunked forward (each chunk's values
 * copied out inside its `tf.tidy`, which returns nothing) with the same loop returning the
 * chunk's Float32Array from `tf.tidy`: tidy walks a returned value key by key looking for
 * tensors, so that costs a pass over every float. Both must give the same vectors.
 *
 *   npm run build && node dist/bench/embed.js [--items 40000] [--dim 64] [--layers 128,64] [--repeats 5]
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/model/backend.js';
import { EMBED_CHUNK as CHUNK, TwoTowerModel } from '../src/model/two-tower.model.js';
import type { Tower } from '../src/model/tower.js';
import { arg } from './bench-args.js';

const ITEMS = Number(arg('items', '40000'));
const DIM = Number(arg('dim', '64'));
const LAYERS = arg('layers', '128,64').split(',').map(Number);
const REPEATS = Number(arg('repeats', '5'));

/** The loop as it was: the chunk's values returned from tf.tidy. */
function embedReturningFromTidy(tower: Tower, ids: Int32Array): Float32Array {
  const out = new Float32Array(ids.length * tower.outputDim);
  for (let start = 0; start < ids.length; start += CHUNK) {
    const chunk = ids.subarray(start, Math.min(ids.length, start + CHUNK));
    const input = tower.fillInput(chunk, 0);
    const values = tf.tidy(() => tower.forward(tf.tensor2d(input, [chunk.length, tower.inputDim])).dataSync());
    out.set(values, start * tower.outputDim);
  }
  return out;
}

const backend = await initBackend({});
const model = TwoTowerModel.create({ users: 10, items: ITEMS, dim: DIM, layers: LAYERS, seed: 7 });
const ids = Int32Array.from({ length: ITEMS }, (_, i) => i);
const tower = model.tower('item');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = (fn: () => Float32Array) => {
  const t = performance.now();
  const out = fn();
  return { ms: performance.now() - t, out };
};

const library: number[] = [];
const returning: number[] = [];
let same = true;
for (let r = 0; r < REPEATS; r++) {
  // Alternated, so drift on a shared machine falls on both.
  const a = time(() => model.embedItems());
  const b = time(() => embedReturningFromTidy(tower, ids));
  library.push(a.ms);
  returning.push(b.ms);
  same &&= a.out.length === b.out.length && a.out.every((v, i) => v === b.out[i]);
}
process.stdout.write(
  `backend ${backend.backend}; ${ITEMS} items, dim ${DIM}, layers [${LAYERS.join(', ')}], ${REPEATS} repeats, median ms:\n` +
    `| embedItems (values copied inside tf.tidy) | values returned from tf.tidy | speed-up | identical vectors |\n|---:|---:|---:|---|\n` +
    `| ${median(library).toFixed(0)} | ${median(returning).toFixed(0)} | ${(median(returning) / median(library)).toFixed(1)}x | ${same ? 'yes' : 'NO'} |\n`,
);
model.dispose();
