/**
 * Popularity baseline on a DisenCDR-format split (train.txt / test.txt, `user \t item \t 1`),
 * to check evaluation conventions against published numbers, and timing of the full and
 * sampled protocols with a random 64-dim embedding scorer of the same size.
 *
 *   npm run bench -- popularity-reference ../shared/data/amazon-sport-cloth/cloth_sport
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  embeddingScorer,
  evaluate,
  evaluateWithPopularity,
  formatReport,
  itemPopularity,
  pairedBootstrap,
  popularityScorer,
  type EvaluationData,
  type TiePolicy,
} from '../src/evaluation/index.js';
import { rngFromState } from '../src/dataset/random.js';

function readPairs(path: string): { users: Int32Array; items: Int32Array } {
  const users: number[] = [];
  const items: number[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const [user, item] = line.split('\t');
    users.push(Number(user));
    items.push(Number(item));
  }
  return { users: Int32Array.from(users), items: Int32Array.from(items) };
}

/** The files' ids are already dense 0-based integers, so they serve as indexes directly. */
function load(folder: string): { data: EvaluationData; nUsers: number; nItems: number } {
  const train = readPairs(join(folder, 'train.txt'));
  const test = readPairs(join(folder, 'test.txt'));
  const nUsers = Math.max(...train.users, ...test.users) + 1;
  const nItems = Math.max(...train.items, ...test.items) + 1;
  const offsets = new Int32Array(nUsers + 1);
  for (const user of train.users) offsets[user + 1]!++;
  for (let u = 0; u < nUsers; u++) offsets[u + 1]! += offsets[u]!;
  const cursor = offsets.slice(0, nUsers);
  const items = new Int32Array(train.items.length);
  train.users.forEach((user, n) => (items[cursor[user]!++] = train.items[n]!));
  return { data: { trainHistories: { offsets, items }, test, popularity: itemPopularity(train.items, nItems) }, nUsers, nItems };
}

const folder = process.argv[2] ?? '/work/shared/data/amazon-sport-cloth/cloth_sport';
const { data, nUsers, nItems } = load(folder);
console.log(`${folder}: ${nUsers} users, ${nItems} items, ${data.trainHistories.items.length} train, ${data.test.users.length} test`);

const popularity = popularityScorer(data.popularity);
for (const ties of ['mean', 'pessimistic', 'optimistic'] as TiePolicy[]) {
  const report = evaluate(popularity, data, { protocol: 'sampled', negatives: 999, seed: 2040, ties });
  console.log(`popularity, sampled-999, seed 2040, ties ${ties}: hr@10 ${report.metrics['hr@10']!.toFixed(4)} ndcg@10 ${report.metrics['ndcg@10']!.toFixed(4)}`);
}
const full = evaluate(popularity, data, { protocol: 'full' });
console.log('\n' + formatReport(full));

// Timing with a model-shaped scorer: random 64-dim towers.
const dim = 64;
const random = rngFromState(7).next;
const userVectors = Float32Array.from({ length: nUsers * dim }, () => random() - 0.5);
const itemVectors = Float32Array.from({ length: nItems * dim }, () => random() - 0.5);
const scorer = embeddingScorer(userVectors, itemVectors, dim);
for (const protocol of ['full', 'sampled'] as const) {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const { model, popularity: baseline } = evaluateWithPopularity(scorer, data, { protocol });
  const wall = (performance.now() - started) / 1000;
  const cpuSeconds = process.cpuUsage(cpu).user / 1e6;
  console.log(`\nrandom 64-dim embeddings + popularity, ${protocol}: ${wall.toFixed(1)} s wall, ${cpuSeconds.toFixed(1)} s CPU for ${model.users} users x ${nItems} items (both reports)`);
  console.log(formatReport(model, baseline));
  const gain = pairedBootstrap(model.perUser.values['ndcg@10']!, baseline.perUser.values['ndcg@10']!);
  console.log(`ndcg@10 random - popularity: ${gain.mean.toFixed(4)} [${gain.ci[0].toFixed(4)}, ${gain.ci[1].toFixed(4)}]`);
}
