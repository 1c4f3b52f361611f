/**
 * AUTO's validation pass for one trial of an ALS-rows objective: the carve ranked at every
 * weight of the popularity profile (`POPULARITY_PROFILE`, 8 weights). Two ways, same run,
 * alternating, identical results (checked):
 *   - per weight: `evaluate` on the model widened by the bias coordinate, once per weight
 *     (what AUTO did before `evaluateItemBiases`);
 *   - one pass: `evaluateItemBiases`, the candidates' dot products once, ranked per weight.
 * Random unit-scale vectors at a shared pair's shape (defaults: Sport -> Phone's Phone side,
 * 4,998 carve users, 13,655 items), dim 64, one carve event per user, sampled-999, seed 2040.
 *
 *   npm run build && node dist/bench/validation-profile.js [--users 4998] [--items 13655] [--dim 64] [--rounds 3]
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { createRng } from '../src/dataset/random.js';
import { biasedEmbeddingScorer } from '../src/evaluation/embedding.scorer.js';
import { evaluate, evaluateItemBiases, type EvaluationData } from '../src/evaluation/evaluate.js';
import { POPULARITY_PROFILE } from '../src/workflows/auto-transfer.js';
import { arg } from './bench-args.js';

const USERS = Number(arg('users', '4998'));
const ITEMS = Number(arg('items', '13655'));
const DIM = Number(arg('dim', '64'));
const ROUNDS = Number(arg('rounds', '3'));
const TRAIN_PER_USER = 7;

const random = createRng(2040);
const U = Float32Array.from({ length: USERS * DIM }, () => random.normal() / Math.sqrt(DIM));
const V = Float32Array.from({ length: ITEMS * DIM }, () => random.normal() / Math.sqrt(DIM));
// Training histories with a skewed (Zipf-like) item distribution, one carve event per user.
const zipf = () => Math.min(ITEMS - 1, Math.floor(ITEMS * random.next() ** 3));
const offsets = new Int32Array(USERS + 1);
const trainItems = new Int32Array(USERS * TRAIN_PER_USER);
for (let u = 0; u < USERS; u++) {
  for (let k = 0; k < TRAIN_PER_USER; k++) trainItems[u * TRAIN_PER_USER + k] = zipf();
  offsets[u + 1] = (u + 1) * TRAIN_PER_USER;
}
const popularity = new Float32Array(ITEMS);
for (const item of trainItems) popularity[item]!++;
for (let i = 0; i < ITEMS; i++) popularity[i] = Math.max(1, popularity[i]!);
const data: EvaluationData = {
  trainHistories: { offsets, items: trainItems },
  test: { users: Int32Array.from({ length: USERS }, (_, u) => u), items: Int32Array.from({ length: USERS }, () => zipf()) },
  popularity,
};
const options = { protocol: 'sampled' as const, negatives: 999, ks: [10], seed: 2040 };
const logCounts = popularity.map((c) => Math.log1p(c));
const biases = POPULARITY_PROFILE.map((beta) => (beta === 0 ? undefined : logCounts.map((v) => beta * v)));

const widened = (bias: Float32Array | undefined) => biasedEmbeddingScorer(U, V, DIM, bias);

const contestants: Record<string, () => number[]> = {
  'per weight (evaluate x 8)': () => biases.map((bias) => evaluate(widened(bias), data, options).metrics['ndcg@10']!),
  'one pass (evaluateItemBiases)': () => evaluateItemBiases({ users: U, items: V, dim: DIM }, data, options, biases).map((r) => r.metrics['ndcg@10']!),
};
const times: Record<string, number[]> = {};
let reference: number[] | undefined;
for (let round = 0; round < ROUNDS; round++) {
  const names = Object.keys(contestants);
  for (const name of round % 2 === 0 ? names : names.reverse()) {
    const cpu = process.cpuUsage();
    const started = performance.now();
    const values = contestants[name]!();
    const wall = performance.now() - started;
    const { user, system } = process.cpuUsage(cpu);
    (times[name] ??= []).push((user + system) / 1000);
    if (reference && values.some((v, n) => v !== reference![n])) throw new Error(`${name} disagrees: ${values} vs ${reference}`);
    reference ??= values;
    process.stderr.write(`round ${round + 1} ${name}: ${wall.toFixed(0)} ms wall, ${((user + system) / 1000).toFixed(0)} ms CPU, load ${loadavg()[0]!.toFixed(2)}\n`);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`${USERS} carve users x ${ITEMS} items, dim ${DIM}, sampled-999, ${POPULARITY_PROFILE.length} weights; ndcg@10 per weight (both ways): ${reference!.map((v) => v.toFixed(4)).join(' ')}\n`);
console.log('| validation pass of one profiled trial | CPU ms, median of ' + ROUNDS + ' | rounds |');
console.log('|---|---:|---|');
const base = median(times['per weight (evaluate x 8)']!);
for (const [name, xs] of Object.entries(times)) console.log(`| ${name} | ${median(xs).toFixed(0)} (${(base / median(xs)).toFixed(2)}x) | ${xs.map((x) => x.toFixed(0)).join(' / ')} |`);
