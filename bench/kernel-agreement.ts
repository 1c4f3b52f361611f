/**
 * How far training on the towers' SIMD kernel and on the TF.js ops drift apart (issue 20; the
 * FEATURE_EXTRACTION question in BENCHMARKS.md). The softmax defaults (`graft train`'s model)
 * train on one domain's events (a DisenCDR `train.txt`: user, item, weight per line), for each seed:
 *
 * 1. from the same initialisation for `--epochs` epochs, once on the kernel and once on the
 *    TF.js ops (`setTowerKernelEnabled(false)`): the per-epoch losses and the relative distance
 *    |a - b| / |b| of every final variable;
 * 2. from one shared state after `--warm` epochs, one more epoch on each (same batches, same
 *    dropout draws): the distance one epoch of float32 rounding makes.
 *
 * `--dump F` writes the TF.js run's final weights of the first seed; `--compare F` reads such a
 * file from another process (e.g. `GRAFT_BACKEND=cpu`, a second rounding of the same maths)
 * and prints its distance from this run's TF.js weights: the yardstick for the kernel's.
 *
 *   npm run build && node dist/bench/kernel-agreement.js --events ../shared/data/amazon-sport-phone/sport_phone/train.txt [--seeds 1,2] [--epochs 10] [--warm 2] [--dump F | --compare F]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { initBackend } from '../src/model/backend.js';
import { setTowerKernelEnabled } from '../src/model/tower-kernel.js';
import { TwoTowerModel } from '../src/model/two-tower.model.js';
import type { NamedWeight } from '../src/model/named-weight.js';
import { fitModel, setUserHistoriesFrom } from '../src/workflows/fit-and-evaluate.js';
import { DEFAULT_MODEL, DEFAULT_TRAINING, modelConfig, towerTokensFor } from '../src/workflows/model-settings.js';
import type { Examples } from '../src/workflows/prepared-domain.js';

const argv = process.argv.slice(2);
const arg = (name: string, fallback?: string) => {
  const at = argv.indexOf(`--${name}`);
  return at === -1 ? fallback : argv[at + 1];
};
const EVENTS = arg('events');
if (!EVENTS) throw new Error('--events <train.txt> is required (user, item, weight per line)');
const SEEDS = arg('seeds', '1')!.split(',').map(Number);
const EPOCHS = Number(arg('epochs', '10'));
const WARM = Number(arg('warm', '2'));

/** The file's events with users and items numbered in order of first appearance. */
function readEvents(path: string): { data: Examples; users: number; items: number } {
  const users = new Map<string, number>();
  const items = new Map<string, number>();
  const u: number[] = [];
  const i: number[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const [user, item] = line.split('\t');
    if (!user || !item) continue;
    if (!users.has(user)) users.set(user, users.size);
    if (!items.has(item)) items.set(item, items.size);
    u.push(users.get(user)!);
    i.push(items.get(item)!);
  }
  return { data: { users: Int32Array.from(u), items: Int32Array.from(i) }, users: users.size, items: items.size };
}

/** Relative distance |a - b| / |b| of each variable of two models' weights (same names, same order). */
function distances(a: readonly NamedWeight[], b: readonly NamedWeight[]): string {
  return a
    .map((w, k) => {
      let diff = 0;
      let norm = 0;
      for (let j = 0; j < w.data.length; j++) {
        diff += (w.data[j] - b[k].data[j]) ** 2;
        norm += b[k].data[j] ** 2;
      }
      return `${w.name} ${Math.sqrt(diff / norm).toExponential(1)}`;
    })
    .join(', ');
}

async function main() {
  const backend = await initBackend({});
  const { data, users, items } = readEvents(EVENTS!);
  process.stdout.write(`${EVENTS}: ${data.users.length} events, ${users} users, ${items} items; backend ${backend.backend}\n`);
  const train = async (model: TwoTowerModel, kernel: boolean, epochs: number, seed: number) => {
    setTowerKernelEnabled(kernel);
    const result = await fitModel(model, data, undefined, { ...DEFAULT_TRAINING, epochs, patience: 0 }, seed);
    return result.history.map((e) => e.loss);
  };
  const fresh = (seed: number) => {
    const config = modelConfig({ ...DEFAULT_MODEL, seed }, users, items);
    const model = TwoTowerModel.create(config, towerTokensFor(config, undefined));
    setUserHistoriesFrom(model, data);
    return model;
  };
  for (const seed of SEEDS) {
    const runs: { name: string; losses: number[]; weights: NamedWeight[] }[] = [];
    for (const kernel of [true, false]) {
      const model = fresh(seed);
      const losses = await train(model, kernel, EPOCHS, seed);
      runs.push({ name: kernel ? 'kernel' : 'TF.js ops', losses, weights: model.exportWeights() });
      model.dispose();
    }
    process.stdout.write(`\nseed ${seed}, ${EPOCHS} epochs from the same initialisation\n`);
    for (const r of runs) process.stdout.write(`  ${r.name.padEnd(9)} losses ${r.losses.map((l) => l.toFixed(5)).join(' ')}\n`);
    process.stdout.write(`  kernel against TF.js ops: ${distances(runs[0].weights, runs[1].weights)}\n`);
    const compare = arg('compare');
    if (compare && seed === SEEDS[0]) {
      const other = JSON.parse(readFileSync(compare, 'utf8')) as { backend: string; weights: { name: string; data: number[] }[] };
      const weights = other.weights.map((w) => ({ ...w, data: Float32Array.from(w.data) })) as unknown as NamedWeight[];
      process.stdout.write(`  TF.js ops on ${other.backend} (${compare}) against TF.js ops here: ${distances(weights, runs[1].weights)}\n`);
      process.stdout.write(`  TF.js ops on ${other.backend} against the kernel here: ${distances(weights, runs[0].weights)}\n`);
    }
    const dump = arg('dump');
    if (dump && seed === SEEDS[0]) writeFileSync(dump, JSON.stringify({ backend: backend.backend, weights: runs[1].weights.map((w) => ({ name: w.name, data: Array.from(w.data) })) }));

    // One epoch from a shared state: clones start with the same weights, generator and a fresh optimizer.
    const base = fresh(seed);
    await train(base, true, WARM, seed);
    const after: NamedWeight[][] = [];
    for (const kernel of [true, false]) {
      const copy = base.clone();
      setUserHistoriesFrom(copy, data);
      await train(copy, kernel, 1, seed);
      after.push(copy.exportWeights());
      copy.dispose();
    }
    base.dispose();
    process.stdout.write(`  one epoch from the state after ${WARM}, kernel against TF.js ops: ${distances(after[0], after[1])}\n`);
  }
  setTowerKernelEnabled(true);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
