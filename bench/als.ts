/**
 * Implicit-ALS sweep time: exact Cholesky row solves against N conjugate-gradient steps per
 * row (src/training/implicit-als.ts), on a generated matrix of the Amazon Sport shape
 * (10k users x 31k items, 93k events, Zipf-like item popularity), dim 64, alpha 40, λ 0.1.
 * Solvers (and thread counts) alternate per round (the machine is noisy); per solver: median
 * ms per sweep (both halves, wall) and the process's CPU ms per sweep (all threads; under load
 * the steadier figure for one thread), and the objective per observed pair after the run's
 * sweeps (how well it fits). `--exact false` leaves the Cholesky solver out.
 *
 * `--kernel simd,js` alternates the conjugate-gradient kernels too (WebAssembly SIMD float32,
 * JS float64; default simd, which falls back to JS where SIMD is unsupported: the table says
 * which ran).
 *
 *   npm run build && node dist/bench/als.js [--rounds 3] [--sweeps 5] [--cg 2,3,5] [--dim 64] [--threads 1,2] [--exact true] [--kernel simd,js]
 */
import { TwoTowerModel } from '../src/model/two-tower.model.js';
import { alsSimdSupported } from '../src/training/als-simd.js';
import { confidenceMatrix, fitImplicitAls, implicitObjective } from '../src/training/implicit-als.js';
import { ALS_BENCH_ITEMS as ITEMS, ALS_BENCH_USERS as USERS, alsBenchMatrix } from './als-matrix.js';
import { arg } from './bench-args.js';

const ROUNDS = Number(arg('rounds', '3'));
const SWEEPS = Number(arg('sweeps', '5'));
const CG = arg('cg', '2,3,5').split(',').map(Number);
const DIM = Number(arg('dim', '64'));
const THREADS = arg('threads', '1')!.split(',').map(Number);
const EXACT = arg('exact', 'true') !== 'false';
const KERNELS = arg('kernel', 'simd')!.split(',').map((k) => k === 'simd');

async function run(data: { users: Int32Array; items: Int32Array }, cgSteps: number, threads: number, simd: boolean): Promise<{ msPerSweep: number; cpuMsPerSweep: number; objective: number }> {
  const model = TwoTowerModel.create({ users: USERS, items: ITEMS, dim: DIM, layers: [], objective: 'implicit-als', alsCgSteps: cgSteps, seed: 3 });
  try {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const result = await fitImplicitAls(model, data, { epochs: SWEEPS, threads, simd });
    if (cgSteps > 0 && (result.alsKernel === 'simd') !== (simd && alsSimdSupported())) throw new Error(`asked for ${simd ? 'simd' : 'js'}, ran ${result.alsKernel}`);
    const msPerSweep = (performance.now() - started) / SWEEPS;
    const used = process.cpuUsage(cpu);
    const cpuMsPerSweep = (used.user + used.system) / 1000 / SWEEPS;
    const { byUser, byItem } = confidenceMatrix(data, USERS, ITEMS, model.config.alsAlpha);
    const objective = implicitObjective(model.userTable, model.itemTable, byUser, byItem.domains, model.config.alsRegularization) / byUser.cols.length;
    return { msPerSweep, cpuMsPerSweep, objective };
  } finally {
    model.dispose();
  }
}

async function main() {
  const data = alsBenchMatrix();
  const kernelName = (simd: boolean) => (simd && alsSimdSupported() ? 'WebAssembly SIMD float32' : 'JS float64');
  const solvers = (EXACT ? [0, ...CG] : CG).flatMap((cg) =>
    THREADS.flatMap((threads) =>
      (cg === 0 ? [false] : KERNELS).map((simd) => ({ cg, threads, simd, name: `${cg === 0 ? 'exact (Cholesky)' : `conjugate gradient, ${cg} steps, ${kernelName(simd)}`}, ${threads} thread${threads === 1 ? '' : 's'}` })),
    ),
  );
  const times = new Map<string, number[]>(solvers.map((s) => [s.name, []]));
  const cpuTimes = new Map<string, number[]>(solvers.map((s) => [s.name, []]));
  const objectives = new Map<string, number>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of round % 2 === 0 ? solvers : [...solvers].reverse()) {
      const r = await run(data, s.cg, s.threads, s.simd);
      times.get(s.name)!.push(r.msPerSweep);
      cpuTimes.get(s.name)!.push(r.cpuMsPerSweep);
      objectives.set(s.name, r.objective);
      process.stderr.write(`round ${round + 1} ${s.name}: ${r.msPerSweep.toFixed(0)} ms/sweep (CPU ${r.cpuMsPerSweep.toFixed(0)} ms), objective ${r.objective.toFixed(4)}\n`);
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const first = median(times.get(solvers[0]!.name)!);
  const lines = [
    `| row solver | ms / sweep (median of ${ROUNDS}) | CPU ms / sweep (all threads) | rows / s | speed-up over the first row | objective per pair after ${SWEEPS} sweeps |`,
    '|---|---:|---:|---:|---:|---:|',
    ...solvers.map((s) => {
      const ms = median(times.get(s.name)!);
      return `| ${s.name} | ${ms.toFixed(0)} | ${median(cpuTimes.get(s.name)!).toFixed(0)} | ${Math.round(((USERS + ITEMS) * 1000) / ms).toLocaleString('en-US')} | ${(first / ms).toFixed(2)}x | ${objectives.get(s.name)!.toFixed(4)} |`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
