import { createRng } from '../dataset/random.js';

/** min(sample, size) distinct rows drawn with a seeded partial Fisher-Yates shuffle, ascending. */
export function sampleRows(size: number, sample: number, seed: number): Int32Array {
  const take = Math.min(size, sample);
  if (take === size) return Int32Array.from({ length: size }, (_, i) => i);
  const rng = createRng(seed);
  const pool = Int32Array.from({ length: size }, (_, i) => i);
  for (let i = 0; i < take; i++) {
    const j = i + rng.int(size - i);
    const tmp = pool[i];
    pool[i] = pool[j];
    pool[j] = tmp;
  }
  return pool.slice(0, take).sort();
}
