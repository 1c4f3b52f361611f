import { createRng } from '../src/dataset/random.js';

/** `bench/als`'s matrix: the Amazon Sport shape (users, items, events). */
export const ALS_BENCH_USERS = 9_928;
export const ALS_BENCH_ITEMS = 30_796;
export const ALS_BENCH_EVENTS = 92_612;

/**
 * The events of `bench/als` (and `bench/als-schedstat`): users uniform, items Zipf-like (item
 * i drawn with probability about 1 / (i + 10)), seed 11. The numpy peer
 * (`../shared/peers/als_numpy.py`) draws the same events from the same PRNG stream.
 */
export function alsBenchMatrix(): { users: Int32Array; items: Int32Array } {
  const rng = createRng(11, { resumable: true });
  const users = new Int32Array(ALS_BENCH_EVENTS);
  const items = new Int32Array(ALS_BENCH_EVENTS);
  for (let k = 0; k < ALS_BENCH_EVENTS; k++) {
    users[k] = Math.floor(rng.next() * ALS_BENCH_USERS);
    items[k] = Math.min(ALS_BENCH_ITEMS - 1, Math.floor(10 * (Math.pow((ALS_BENCH_ITEMS + 10) / 10, rng.next()) - 1)));
  }
  return { users, items };
}
