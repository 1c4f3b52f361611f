/**
 * Implicit ALS on 1 and 2 threads when the machine is not quiet (Linux only): one
 * `fitImplicitAls` per thread count, alternating, on the `bench/als` matrix (CG 3, dim 64).
 * For each fit it reads every thread's `/proc/self/task/<tid>/schedstat` (time run, and time
 * runnable but waiting for a CPU). It prints the wall time per sweep, and the same time minus
 * the calling thread's wait for a CPU: the latter is what the fit would take if no other
 * process held the cores. This is an estimate. Sleeping at a barrier (waiting for the other
 * thread) is kept in, and under load that sleep grows, so the estimate errs long. It also
 * assumes the runtime's helper threads (GC, compilers) would find a free core. `--window
 * steady` measures sweeps 2..N only, after the warm-up; `whole` (the default) measures the
 * whole fit up to its last sweep, including the confidence build and the worker's boot.
 *
 *   npm run build && node dist/bench/als-schedstat.js [--rounds 3] [--sweeps 5] [--window whole|steady]
 */
import { readFileSync, readdirSync } from 'node:fs';
import { TwoTowerModel } from '../src/model/two-tower.model.js';
import { fitImplicitAls } from '../src/training/implicit-als.js';
import { ALS_BENCH_ITEMS as ITEMS, ALS_BENCH_USERS as USERS, alsBenchMatrix } from './als-matrix.js';
import { arg } from './bench-args.js';

const ROUNDS = Number(arg('rounds', '3'));
const SWEEPS = Number(arg('sweeps', '5'));
const STEADY = arg('window', 'whole') === 'steady';

/** Per thread id: [ns run, ns waiting for a CPU]. */
function schedstat(): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const [run, wait] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      out.set(tid, [run!, wait!]);
    } catch {
      // The thread ended in between.
    }
  }
  return out;
}

async function main() {
  const { users, items } = alsBenchMatrix(); // the same matrix as bench/als
  const me = String(process.pid);
  for (let round = 0; round < ROUNDS; round++) {
    for (const threads of round % 2 === 0 ? [1, 2] : [2, 1]) {
      const model = TwoTowerModel.create({ users: USERS, items: ITEMS, dim: 64, layers: [], objective: 'implicit-als', alsCgSteps: 3, seed: 3 });
      let before = STEADY ? undefined : schedstat();
      let started = performance.now();
      let after = before!;
      let ended = started;
      await fitImplicitAls(model, { users, items }, {
        epochs: SWEEPS,
        threads,
        onEpoch: ({ epoch }) => {
          if (STEADY && epoch === 1) {
            before = schedstat();
            started = performance.now();
          }
          if (epoch === SWEEPS) {
            after = schedstat();
            ended = performance.now();
          }
        },
      });
      model.dispose();
      const sweeps = STEADY ? SWEEPS - 1 : SWEEPS;
      const wait = (after.get(me)![1] - before!.get(me)![1]) / 1e6;
      const wall = ended - started;
      const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
      process.stdout.write(`round ${round + 1}, ${threads} thread${threads === 1 ? '' : 's'}: ${(wall / sweeps).toFixed(0)} ms/sweep wall, ${((wall - wait) / sweeps).toFixed(0)} without the calling thread's wait for a CPU (load ${load})\n`);
      for (const [tid, [run, waited]] of after) {
        const [run0, waited0] = before!.get(tid) ?? [0, 0];
        if (run - run0 > 5e6) process.stdout.write(`  thread ${tid === me ? 'calling' : tid}: ran ${((run - run0) / 1e6).toFixed(0)} ms, waited for a CPU ${((waited - waited0) / 1e6).toFixed(0)} ms\n`);
      }
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
