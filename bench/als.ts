/**
 * Implicit-ALS sweep time: exact Cholesky row solves against N conjugate-gradient steps per
 * row (src/training/implicit-als.ts), on a generated matrix of the Amazon Sport shape
 * (10k users x 31k items, 93k events, Zipf-like item popularity), dim 64, alpha 40, λ 0.1.
 * Solvers alternate per round (the machine is noisy); per solver: median ms per sweep (both
 * halves), and the objective per observed pair after the run's sweeps (how well it fits).
 *
 *   npm run build && node dist/bench/als.js [--rounds 3] [--sweeps 5] [--cg 2,3,5] [--dim 64]
 */
import { createRng } from '../src/dataset/random.js';
import { TwoTowerModel } from '../src/model/two-tower.model.js';
import { confidenceMatrix, fitImplicitAls, implicitObjective } from '../src/training/implicit-als.js';
import { arg } from './bench-args.js';

const ROUNDS = Number(arg('rounds', '3'));
const SWEEPS = Number(arg('sweeps', '5'));
const CG = arg('cg', '2,3,5').split(',').map(Number);
const DIM = Number(arg('dim', '64'));
const USERS = 9_928;
const ITEMS = 30_796;
const EVENTS = 92_612;

function generate() {
  const rng = createRng(11, { resumable: true });
  const users = new Int32Array(EVENTS);
  const items = new Int32Array(EVENTS);
  for (let k = 0; k < EVENTS; k++) {
    users[k] = Math.floor(rng.next() * USERS);
    // Zipf-like: item i drawn with probability about 1 / (i + 10).
    items[k] = Math.min(ITEMS - 1, Math.floor(10 * (Math.pow((ITEMS + 10) / 10, rng.next()) - 1)));
  }
  return { users, items };
}

async function run(data: { users: Int32Array; items: Int32Array }, cgSteps: number): Promise<{ msPerSweep: number; objective: number }> {
  const model = TwoTowerModel.create({ users: USERS, items: ITEMS, dim: DIM, layers: [], objective: 'implicit-als', alsCgSteps: cgSteps, seed: 3 });
  try {
    const started = performance.now();
    await fitImplicitAls(model, data, { epochs: SWEEPS });
    const msPerSweep = (performance.now() - started) / SWEEPS;
    const { byUser, byItem } = confidenceMatrix(data, USERS, ITEMS, model.config.alsAlpha);
    const objective = implicitObjective(model.userTable, model.itemTable, byUser, byItem.domains, model.config.alsRegularization) / byUser.cols.length;
    return { msPerSweep, objective };
  } finally {
    model.dispose();
  }
}

async function main() {
  const data = generate();
  const solvers = [0, ...CG];
  const times = new Map<number, number[]>(solvers.map((s) => [s, []]));
  const objectives = new Map<number, number>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of round % 2 === 0 ? solvers : [...solvers].reverse()) {
      const r = await run(data, s);
      times.get(s)!.push(r.msPerSweep);
      objectives.set(s, r.objective);
      process.stderr.write(`round ${round + 1} ${s === 0 ? 'cholesky' : `cg ${s}`}: ${r.msPerSweep.toFixed(0)} ms/sweep, objective ${r.objective.toFixed(4)}\n`);
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const exact = median(times.get(0)!);
  const lines = [
    `| row solver | ms / sweep (median of ${ROUNDS}) | rows / s | speed-up | objective per pair after ${SWEEPS} sweeps |`,
    '|---|---:|---:|---:|---:|',
    ...solvers.map((s) => {
      const ms = median(times.get(s)!);
      return `| ${s === 0 ? 'exact (Cholesky)' : `conjugate gradient, ${s} steps`} | ${ms.toFixed(0)} | ${Math.round(((USERS + ITEMS) * 1000) / ms).toLocaleString('en-US')} | ${(exact / ms).toFixed(2)}x | ${objectives.get(s)!.toFixed(4)} |`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
