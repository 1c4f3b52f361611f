/**
 * What precomputing users costs a serving process: time to precompute N users once the domain
 * is loaded, and the memory they hold (heap + array buffers retained, measured by dropping
 * them again). Runs on the database `bench/serve` leaves behind (100k items, 10k users).
 *
 *   npm run build && node dist/bench/serve.js --cache off --seconds 1 --recall 0   # leaves graft_bench_serve_100000
 *   node --expose-gc dist/bench/precompute.js [--users 10000] [--database-url postgres://postgres@127.0.0.1:5432/graft_bench_serve_100000]
 */
import { connect } from '../src/db/connect.js';
import { Recommender } from '../src/serving/index.js';
import { arg } from './bench-args.js';

const USERS = Number(arg('users', '10000'));
const URL = arg('database-url', 'postgres://postgres@127.0.0.1:5432/graft_bench_serve_100000');
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const retained = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

const gdb = await connect({ databaseUrl: URL });
try {
  const plain = new Recommender(gdb);
  let t = performance.now();
  await plain.ensureLoaded('shop');
  const loadMs = performance.now() - t;
  await plain.close();

  const warm = new Recommender(gdb, { precomputeUsers: USERS });
  await warm.ensureLoaded('shop');
  t = performance.now();
  const stored = await warm.precomputed('shop');
  const precomputeMs = performance.now() - t;
  const withUsers = retained();
  warm.forgetUsers('shop', Array.from({ length: USERS }, (_, u) => `u${u}`));
  const without = retained();
  await warm.close();
  process.stdout.write(
    `domain load ${(loadMs / 1000).toFixed(1)} s; ${stored.toLocaleString('en-US')} users precomputed in ${(precomputeMs / 1000).toFixed(1)} s ` +
      `(${((1000 * precomputeMs) / Math.max(1, stored)).toFixed(0)} µs each); they hold ${((withUsers - without) / 1e6).toFixed(1)} MB = ${((withUsers - without) / Math.max(1, stored)).toFixed(0)} B per user\n`,
  );
} finally {
  await gdb.close();
}
