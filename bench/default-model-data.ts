/**
 * What `graft train --domain source --split none` trains on after `graft seed --synthetic
 * --scale S`, built in memory from the same generator (no database): the source domain's
 * events in time order, each user's last one carved off for validation (as `prepareDataset`
 * does), event weights 1 (the seed writes weight 1), the items' tags hashed into token bags
 * (`hashTokenBags`, as `prepareDataset`) and the users' histories over the training events
 * (as `pretrain` sets them). Rows: users and items by generator index (the database gives the
 * same counts; only the row numbering differs, which a training step does not care about).
 *
 * `exportDefaultModelRun` writes a run (data, the model's initial weights, the batches in
 * order and the learning rate of each step) as raw little-endian arrays plus `manifest.json`,
 * for the PyTorch replica `bench/peers/torch_default_model.py`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateCrossDomain } from '../seeds/synthetic-domains.js';
import { validationFromTrain } from '../src/dataset/splits.js';
import { buildHistoryBags } from '../src/model/history-bags.js';
import { hashTokenBags, type TokenBags } from '../src/model/token-hash.js';
import type { HistoryBags } from '../src/model/tower.js';
import type { NamedWeight } from '../src/model/named-weight.js';
import type { ResolvedTwoTowerConfig } from '../src/model/two-tower.model.js';

export interface DefaultModelData {
  scale: number;
  users: number;
  items: number;
  /** Events of the source domain (before the validation carve). */
  events: number;
  train: { users: Int32Array; items: Int32Array; weights: Float32Array };
  itemTokens: TokenBags;
  histories: HistoryBags;
  generateMs: number;
}

/** The source domain of `graft seed --synthetic --scale <scale>` (default seed 42), prepared as `graft train --split none` prepares it. */
export function defaultModelData(scale: number, tokenBuckets: number): DefaultModelData {
  const start = performance.now();
  const { source } = generateCrossDomain({ scale });
  const log = source.log;
  const n = source.eventCount;
  const users = source.log.users.reduce((max, u) => Math.max(max, u + 1), 0);
  const all = { users: log.users, items: log.items, weights: new Float32Array(n).fill(1), times: log.times };
  const empty = { users: new Int32Array(0), items: new Int32Array(0), weights: new Float32Array(0), times: new Float64Array(0) };
  const carved = validationFromTrain({ train: all, test: empty }, { lastN: 1 });
  const train = { users: carved.train.users, items: carved.train.items, weights: carved.train.weights };
  const offsets = new Int32Array(source.items.length + 1);
  const tags: string[] = [];
  source.items.forEach((item, i) => {
    for (const tag of item.tags ?? []) tags.push(tag);
    offsets[i + 1] = tags.length;
  });
  const itemTokens = hashTokenBags({ offsets, tokens: tags }, tokenBuckets);
  const histories = buildHistoryBags(train.users, train.items, users);
  return { scale, users, items: source.items.length, events: n, train, itemTokens, histories, generateMs: performance.now() - start };
}

/** One exported run: what the replica needs to take the same steps from the same start. */
export interface ExportedRun {
  data: DefaultModelData;
  config: ResolvedTwoTowerConfig;
  clipNorm: number;
  /** Item counts the logQ correction is set from (`ExampleMixture.itemCounts`). */
  itemCounts: Float64Array;
  /** The model's weights before the first step. */
  initialWeights: NamedWeight[];
  /** The batches in the order trained, each `batchSize` long. */
  batchUsers: Int32Array;
  batchItems: Int32Array;
  /** Learning rate of each exported step (the schedule over one epoch). */
  learningRates: Float64Array;
  batchSize: number;
  stepsPerEpoch: number;
  /** Graft's loss of each exported step, when the run was a loss curve. */
  losses?: Float64Array;
}

/** Writes `run` into `dir` (created): `manifest.json` and one `.bin` file per array. */
export function exportDefaultModelRun(dir: string, run: ExportedRun): void {
  mkdirSync(dir, { recursive: true });
  const files: Record<string, { file: string; dtype: string; shape: number[] }> = {};
  const put = (name: string, array: Int32Array | Float32Array | Float64Array, shape: number[]) => {
    const file = `${name}.bin`;
    writeFileSync(join(dir, file), new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
    const dtype = array instanceof Int32Array ? 'int32' : array instanceof Float32Array ? 'float32' : 'float64';
    files[name] = { file, dtype, shape };
  };
  const { data, config } = run;
  put('history_offsets', data.histories.offsets, [data.histories.offsets.length]);
  put('history_ids', data.histories.ids, [data.histories.ids.length]);
  put('token_offsets', data.itemTokens.offsets, [data.itemTokens.offsets.length]);
  put('token_ids', data.itemTokens.ids, [data.itemTokens.ids.length]);
  put('item_counts', run.itemCounts, [run.itemCounts.length]);
  const steps = run.batchUsers.length / run.batchSize;
  put('batch_users', run.batchUsers, [steps, run.batchSize]);
  put('batch_items', run.batchItems, [steps, run.batchSize]);
  put('learning_rates', run.learningRates, [run.learningRates.length]);
  if (run.losses) put('graft_losses', run.losses, [run.losses.length]);
  for (const w of run.initialWeights) put(`weight.${w.name}`, w.data, [...w.shape]);
  const manifest = {
    scale: data.scale,
    users: config.users,
    items: config.items,
    events: data.events,
    trainExamples: data.train.users.length,
    dim: config.dim,
    layers: config.layers,
    tokenBuckets: config.tokenBuckets,
    temperature: config.temperature,
    logQ: config.logQ,
    userHistory: config.userHistory,
    userHistoryLength: config.userHistoryLength,
    adamBiasCorrection: config.adamBiasCorrection,
    clipNorm: run.clipNorm,
    batchSize: run.batchSize,
    steps,
    stepsPerEpoch: run.stepsPerEpoch,
    weights: run.initialWeights.map((w) => w.name),
    files,
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
}
