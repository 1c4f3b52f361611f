/**
 * The classic cross-domain reference, measured instead of quoted: implicit ALS
 * (Hu, Koren & Volinsky 2008: confidence 1 + alpha for observed pairs, every other pair a
 * zero with confidence 1, solved exactly per row) on the joined user x (Sport + Cloth items)
 * matrix of the Amazon release in ../shared/data, and on Cloth alone; evaluated on Cloth's
 * given test file with the project's sampled protocol (999 uniform negatives from Cloth
 * training items the user has not seen, seed 2040, HR@10 / NDCG@10, ties = expected rank),
 * next to popularity in the same run.
 *
 *   npm run build && node dist/bench/als-reference.js [--data ../shared/data/amazon-sport-cloth]
 *     [--factors 64] [--alpha 1,10,40] [--reg 0.1] [--iterations 15] [--seed 7] [--transfer]
 *
 * Reads the files directly (user ids as given: the same person in both domains), so the
 * negatives are drawn for the same users with the same seed but under another user
 * indexing than bench/transfer's database read: the protocol is the same, the draws differ.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { embeddingScorer, evaluate, popularityScorer, type EvaluationData, type EvaluationOptions } from '../src/evaluation/index.js';
import { createRng } from '../src/dataset/random.js';
import { csr, solveRows, transpose } from './implicit-als.js';
import { arg } from './bench-args.js';

const DATA = resolve(arg('data', '../shared/data/amazon-sport-cloth'));
const FACTORS = Number(arg('factors', '64'));
const ALPHAS = arg('alpha', '1,10,40').split(',').map(Number);
const REG = Number(arg('reg', '0.1'));
const ITERATIONS = Number(arg('iterations', '15'));
const SEED = Number(arg('seed', '7'));
/** Also the transfer ladder: Sport users frozen + Cloth items solved, then refit on Cloth alone. */
const TRANSFER = process.argv.includes('--transfer');
const EVALUATION: EvaluationOptions = { protocol: 'sampled', negatives: 999, ks: [10], seed: 2040 };
const log = (m: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${m}\n`);

function readPairs(path: string): [number, number][] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [u, i] = line.split('\t');
      return [Number(u), Number(i)];
    });
}

/** Alternating exact solves; `start` warm-starts from given factors (a transfer), else random items. */
function als(
  userRows: { offsets: Int32Array; cols: Int32Array },
  nItems: number,
  alpha: number,
  start?: { users: Float64Array; items: Float64Array },
): { users: Float64Array; items: Float64Array } {
  const nUsers = userRows.offsets.length - 1;
  const itemRows = transpose(userRows, nItems);
  const rng = createRng(SEED);
  const users = start ? start.users.slice() : new Float64Array(nUsers * FACTORS);
  const items = start ? start.items.slice() : Float64Array.from({ length: nItems * FACTORS }, () => rng.normal() * 0.01);
  for (let it = 0; it < ITERATIONS; it++) {
    solveRows(userRows, items, users, FACTORS, alpha, REG);
    solveRows(itemRows, users, items, FACTORS, alpha, REG);
  }
  return { users, items };
}

function main() {
  const sport = readPairs(join(DATA, 'sport_cloth', 'train.txt'));
  const clothTrain = readPairs(join(DATA, 'cloth_sport', 'train.txt'));
  const clothTest = readPairs(join(DATA, 'cloth_sport', 'test.txt'));
  const max = (pairs: [number, number][], at: 0 | 1) => pairs.reduce((m, p) => Math.max(m, p[at]), -1);
  const nUsers = 1 + Math.max(max(sport, 0), max(clothTrain, 0), max(clothTest, 0));
  const nCloth = 1 + Math.max(max(clothTrain, 1), max(clothTest, 1));
  const nSport = 1 + max(sport, 1);
  // Evaluation data over Cloth items only.
  const clothRows = csr(clothTrain, nUsers);
  const popularity = new Float32Array(nCloth);
  for (let k = 0; k < clothRows.cols.length; k++) popularity[clothRows.cols[k]!]++;
  const data: EvaluationData = {
    trainHistories: { offsets: clothRows.offsets, items: clothRows.cols },
    test: { users: Int32Array.from(clothTest, ([u]) => u), items: Int32Array.from(clothTest, ([, i]) => i) },
    popularity,
  };
  const rows: string[] = [];
  const row = (model: string, report: { metrics: Record<string, number>; users: number }, seconds: number) => {
    rows.push(`| ${model} | ${report.metrics['hr@10']!.toFixed(4)} | ${report.metrics['ndcg@10']!.toFixed(4)} | ${report.users} | ${seconds.toFixed(0)} |`);
    log(rows.at(-1)!);
  };
  let t = performance.now();
  row('popularity (Cloth training counts)', evaluate(popularityScorer(popularity), data, EVALUATION), (performance.now() - t) / 1000);
  // Joined matrix: Cloth items keep their index, Sport items follow.
  const joined = csr([...clothTrain, ...sport.map(([u, i]): [number, number] => [u, nCloth + i])], nUsers);
  for (const alpha of ALPHAS) {
    for (const [name, matrix, nItems] of [
      ['Cloth alone', clothRows, nCloth],
      ['joined Sport + Cloth', joined, nCloth + nSport],
    ] as const) {
      t = performance.now();
      const { users, items } = als(matrix, nItems, alpha);
      const scorer = embeddingScorer(Float32Array.from(users), Float32Array.from(items.subarray(0, nCloth * FACTORS)), FACTORS);
      row(`implicit ALS, ${name} (factors ${FACTORS}, alpha ${alpha}, reg ${REG}, ${ITERATIONS} iterations)`, evaluate(scorer, data, EVALUATION), (performance.now() - t) / 1000);
    }
  }
  if (TRANSFER) {
    // The factorisation analogue of the strategies: Sport alone, then Cloth items solved
    // against the frozen Sport user factors (feature extraction), then both sides refit on
    // Cloth alone from there (fine-tuning without replay); joint training is the row above.
    const alpha = ALPHAS[ALPHAS.length - 1]!;
    t = performance.now();
    const sportModel = als(csr(sport, nUsers), nSport, alpha);
    const clothItems = new Float64Array(nCloth * FACTORS);
    solveRows(transpose(clothRows, nCloth), sportModel.users, clothItems, FACTORS, alpha, REG);
    const frozen = embeddingScorer(Float32Array.from(sportModel.users), Float32Array.from(clothItems), FACTORS);
    row(`implicit ALS transfer: Sport users frozen, Cloth items solved against them (alpha ${alpha})`, evaluate(frozen, data, EVALUATION), (performance.now() - t) / 1000);
    t = performance.now();
    const tuned = als(clothRows, nCloth, alpha, { users: sportModel.users, items: clothItems });
    const fineTuned = embeddingScorer(Float32Array.from(tuned.users), Float32Array.from(tuned.items), FACTORS);
    row(`implicit ALS transfer: then both refit on Cloth alone, ${ITERATIONS} iterations (alpha ${alpha})`, evaluate(fineTuned, data, EVALUATION), (performance.now() - t) / 1000);
  }
  process.stdout.write(['| model | HR@10 | NDCG@10 | test users | wall s |', '|---|---:|---:|---:|---:|', ...rows, ''].join('\n'));
}

main();
