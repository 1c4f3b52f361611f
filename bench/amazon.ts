/**
 * Quality on real data: the Amazon Sport / Cloth release in ../shared/data (never copied into
 * the project). Cloth is the target, Sport the source; both use their given train/test files,
 * the sampled protocol (999 negatives drawn uniformly from training items the user has not
 * interacted with, seed 2040) as in the cross-domain literature, HR@10 and NDCG@10.
 *
 *   npm run build && node dist/bench/amazon.js [--data ../shared/data/amazon-sport-cloth] [--epochs 10]
 *        [--only cloth|transfer] [--strategies FEATURE_EXTRACTION,PARTIAL,FULL] [--json out.json]
 *
 * Runs on a fresh embedded PGlite in a temp folder: import both train files, train a
 * Cloth-only model (target-only), pretrain on Sport, transfer with each strategy (with and
 * without source replay), and the same for a sparse variant of Cloth (at most 2 training
 * interactions per user, fixed seed). Prints a markdown table.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, type GraftDatabase } from '../src/db/connect.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { importEventsFile } from '../src/logs/index.js';
import { readDataset } from '../src/dataset/read-dataset.js';
import { evaluateWithPopularity } from '../src/evaluation/evaluate.js';
import { popularityScorer } from '../src/evaluation/popularity.scorer.js';
import type { TransferStrategyName } from '../src/transfer/transfer-strategy.js';
import { evaluationData } from '../src/workflows/evaluation-data.js';
import { DEFAULT_EVALUATION, DEFAULT_MODEL, DEFAULT_TRAINING, type ModelSettings, type TrainingSettings } from '../src/workflows/model-settings.js';
import { prepareDataset, type PreparedDomain } from '../src/workflows/prepared-domain.js';
import { capTrainPerUser, prepareTransfer } from '../src/workflows/prepare-transfer.js';
import { pretrain } from '../src/workflows/pretrain.workflow.js';
import { registerTrainedModel } from '../src/workflows/register-trained-model.js';
import { transfer } from '../src/workflows/transfer.workflow.js';

const argv = process.argv.slice(2);
const arg = (name: string, fallback?: string) => {
  const at = argv.indexOf(`--${name}`);
  return at === -1 ? fallback : argv[at + 1];
};
const DATA = resolve(arg('data', '../shared/data/amazon-sport-cloth')!);
const EPOCHS = Number(arg('epochs', '10'));
const ONLY = arg('only');
const STRATEGIES = (arg('strategies', 'FEATURE_EXTRACTION,PARTIAL,FULL')!).split(',') as TransferStrategyName[];
const REPLAY = (arg('replay', '0,0.5')!).split(',').map(Number);
const VARIANTS = (arg('variants', 'full,sparse')!).split(',') as Array<'full' | 'sparse'>;
const EVALUATION = { ...DEFAULT_EVALUATION, protocol: 'sampled' as const, negatives: 999, ks: [10], seed: 2040 };
const MODEL: ModelSettings = {
  ...DEFAULT_MODEL,
  dim: Number(arg('dim', String(DEFAULT_MODEL.dim))),
  temperature: Number(arg('temperature', String(DEFAULT_MODEL.temperature))),
  l2: Number(arg('l2', '0')),
  layers: (arg('layers', DEFAULT_MODEL.layers.join(','))!).split(',').filter(Boolean).map(Number),
};
const TRAINING: TrainingSettings = { ...DEFAULT_TRAINING, epochs: EPOCHS, learningRate: Number(arg('lr', String(DEFAULT_TRAINING.learningRate))) };

interface Row {
  setting: string;
  variant: string;
  hr10: number;
  ndcg10: number;
  seconds: number;
  note?: string;
}
const rows: Row[] = [];
const report = (r: Row) => {
  rows.push(r);
  process.stderr.write(`${r.variant.padEnd(8)} ${r.setting.padEnd(44)} HR@10 ${r.hr10.toFixed(4)}  NDCG@10 ${r.ndcg10.toFixed(4)}  ${r.seconds.toFixed(1)} s ${r.note ?? ''}\n`);
};

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'graft-amazon-'));
  const gdb = await connect({ dataDir: dir, databaseUrl: '' });
  try {
    await migrateToLatest(gdb.db);
    for (const [domain, folder] of [['sport', 'sport_cloth'], ['cloth', 'cloth_sport']] as const) {
      const s = await importEventsFile(gdb, join(DATA, folder, 'train.txt'), { domain, header: false, columns: ['user', 'item', 'weight'] });
      process.stderr.write(`imported ${domain}: ${s.rows} events\n`);
    }
    const split = { kind: 'file' as const, path: join(DATA, 'cloth_sport', 'test.txt'), format: 'tsv' as const };
    const cloth = await prepareDataset(await readDataset(gdb, 'cloth'), { split, tokenBuckets: MODEL.tokenBuckets });
    for (const variant of VARIANTS) {
      const target = variant === 'sparse' ? capTrainPerUser(cloth, 2, 2040) : cloth;
      popularityRow(target, variant);
      if (ONLY !== 'transfer') await clothOnly(gdb, target, variant);
    }
    if (ONLY !== 'cloth') await transfers(gdb, split);
    const table = [
      '| Cloth training data | model | HR@10 | NDCG@10 | wall s |',
      '|---|---|---:|---:|---:|',
      ...rows.map((r) => `| ${r.variant} | ${r.setting}${r.note ? ` (${r.note})` : ''} | ${r.hr10.toFixed(4)} | ${r.ndcg10.toFixed(4)} | ${r.seconds.toFixed(0)} |`),
    ].join('\n');
    process.stdout.write(`${table}\n`);
    const out = arg('json');
    if (out) writeFileSync(out, JSON.stringify(rows, null, 2));
  } finally {
    await gdb.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function popularityRow(target: PreparedDomain, variant: string) {
  const started = performance.now();
  const data = evaluationData(withValidation(target), target.test, target.userDbIds.length, target.itemDbIds.length);
  const { popularity } = evaluateWithPopularity(popularityScorer(data.popularity), data, EVALUATION);
  report({ setting: 'popularity', variant, hr10: popularity.metrics['hr@10']!, ndcg10: popularity.metrics['ndcg@10']!, seconds: (performance.now() - started) / 1000 });
}

async function clothOnly(gdb: GraftDatabase, target: PreparedDomain, variant: string) {
  const started = performance.now();
  const trained = await pretrain(target, { model: MODEL, training: TRAINING, evaluation: EVALUATION });
  report({ setting: 'Cloth only (two-tower, target-only)', variant, hr10: trained.metrics.test['hr@10']!, ndcg10: trained.metrics.test['ndcg@10']!, seconds: (performance.now() - started) / 1000, note: `${trained.metrics.training.epochs} epochs` });
}

async function transfers(gdb: GraftDatabase, split: { kind: 'file'; path: string; format: 'tsv' }) {
  let started = performance.now();
  const sport = await prepareDataset(await readDataset(gdb, 'sport'), { split: { kind: 'none' }, tokenBuckets: MODEL.tokenBuckets });
  const source = await pretrain(sport, { model: MODEL, training: TRAINING, evaluation: EVALUATION });
  const record = await registerTrainedModel(gdb, { domain: 'sport', kind: 'PRETRAIN' }, source);
  process.stderr.write(`pretrained on sport in ${((performance.now() - started) / 1000).toFixed(1)} s (${source.metrics.training.epochs} epochs)\n`);
  for (const variant of VARIANTS) {
    const prepared = await prepareTransfer(gdb, record.id, 'cloth', { split, coldStartShare: 0, maxTargetTrainPerUser: variant === 'sparse' ? 2 : undefined, seed: 2040 });
    let baselineReported = false;
    for (const strategy of STRATEGIES) {
      for (const replayWeight of REPLAY) {
        started = performance.now();
        const { report: r } = await transfer(prepared, {
          strategy,
          freezeLayers: strategy === 'PARTIAL' ? 1 : undefined,
          replayWeight,
          replayFraction: 1,
          training: TRAINING,
          evaluation: EVALUATION,
          seed: MODEL.seed,
        });
        const seconds = (performance.now() - started) / 1000;
        if (!baselineReported) {
          report({ setting: 'target-only baseline (same budget, in the transfer job)', variant, hr10: r.baseline['hr@10']!, ndcg10: r.baseline['ndcg@10']!, seconds: 0 });
          baselineReported = true;
        }
        const g = r.gain['hr@10']!;
        report({
          setting: `Sport -> Cloth ${strategy}${strategy === 'PARTIAL' ? ' (freeze 1)' : ''}, replay ${replayWeight}`,
          variant,
          hr10: r.metrics['hr@10']!,
          ndcg10: r.metrics['ndcg@10']!,
          seconds,
          note: `gain ${g.value >= 0 ? '+' : ''}${g.value.toFixed(4)} [${g.ci95[0].toFixed(4)}, ${g.ci95[1].toFixed(4)}]${r.negativeTransfer ? ', negative transfer' : ''}`,
        });
      }
    }
  }
}

function withValidation(p: PreparedDomain) {
  if (!p.validation) return p.train;
  const cat = <T extends Int32Array | Float32Array>(a: T, b: T, make: (n: number) => T) => {
    const out = make(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  };
  return {
    users: cat(p.train.users, p.validation.users, (n) => new Int32Array(n)),
    items: cat(p.train.items, p.validation.items, (n) => new Int32Array(n)),
  };
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
