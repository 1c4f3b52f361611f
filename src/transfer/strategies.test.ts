import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../model/backend.js';
import type { NamedWeight } from '../model/named-weight.js';
import { TwoTowerModel } from '../model/two-tower.model.js';
import { alignDomains, mapSourceInteractions, type Alignment } from './alignment.js';
import { graftModel } from './graft-model.js';
import { createStrategy } from './strategies.js';
import type { TransferStrategyName } from './transfer-strategy.js';

/*
 * Strategy contract: after fine-tuning, everything a strategy freezes is bit-identical and
 * everything it trains has moved. One small source model, grafted once per strategy.
 */

const DIM = 8;
const SOURCE_USERS = Int32Array.from({ length: 30 }, (_, i) => 1 + i); // db ids 1..30
const SOURCE_ITEMS = Int32Array.from({ length: 20 }, (_, i) => 101 + i);
const TARGET_USERS = Int32Array.from({ length: 20 }, (_, i) => 21 + i); // 21..40: 10 shared, 10 new
const TARGET_ITEMS = Int32Array.from({ length: 12 }, (_, i) => 201 + i);
const bags = (n: number, buckets: number) => ({
  offsets: Int32Array.from({ length: n + 1 }, (_, i) => i),
  ids: Int32Array.from({ length: n }, (_, i) => (i * 7) % buckets),
});

function randomBatch(users: number, items: number, n: number, seed: number) {
  let s = seed;
  const next = (m: number) => ((s = (s * 1103515245 + 12345) >>> 0) % m);
  return { users: Int32Array.from({ length: n }, () => next(users)), items: Int32Array.from({ length: n }, () => next(items)) };
}

let source: { config: TwoTowerModel['config']; weights: NamedWeight[] };
let alignment: Alignment;

beforeAll(async () => {
  await initBackend({ prefer: 'cpu' });
  const model = TwoTowerModel.create({ users: 30, items: 20, dim: DIM, layers: [16, 8], tokenBuckets: 64, seed: 1 }, { itemTokens: bags(20, 64) });
  for (let s = 0; s < 5; s++) model.trainStep(randomBatch(30, 20, 32, s + 1), 0.05);
  source = { config: model.config, weights: model.exportWeights() };
  model.dispose();
  alignment = alignDomains({ userDbIds: SOURCE_USERS, itemDbIds: SOURCE_ITEMS }, { userDbIds: TARGET_USERS, itemDbIds: TARGET_ITEMS });
});

function fineTuned(name: TransferStrategyName, freezeLayers?: number) {
  const model = graftModel(source, alignment, bags(alignment.itemDbIds.length, 64), 9);
  createStrategy(name, { freezeLayers }).apply(model, alignment);
  const before = new Map(model.exportWeights().map((w) => [w.name, w.data]));
  const replay = mapSourceInteractions(alignment, randomBatch(30, 20, 64, 77));
  for (let s = 0; s < 6; s++) {
    // Target examples cover every target user and item; replay touches pretrained rows too.
    const target = { users: Int32Array.from({ length: 24 }, (_, i) => i % 20), items: Int32Array.from({ length: 24 }, (_, i) => (i * 5 + s) % 12) };
    model.trainStep({ users: Int32Array.of(...target.users, ...replay.users.subarray(0, 8)), items: Int32Array.of(...target.items, ...replay.items.subarray(0, 8)) }, 0.05);
  }
  const after = new Map(model.exportWeights().map((w) => [w.name, w.data]));
  model.dispose();
  const rows = (name: string, pick: (row: number) => boolean) => {
    const a = before.get(name)!;
    const b = after.get(name)!;
    const out = { same: 0, changed: 0 };
    for (let r = 0; r < a.length / DIM; r++) {
      if (!pick(r)) continue;
      const same = a.subarray(r * DIM, (r + 1) * DIM).every((x, d) => Object.is(x, b[r * DIM + d]));
      if (same) out.same++;
      else out.changed++;
    }
    return out;
  };
  const dense = (name: string) => before.get(name)!.every((x, i) => Object.is(x, after.get(name)![i]));
  return {
    pretrainedUsers: rows('user.embedding', (r) => alignment.userSourceRow[r]! >= 0 && r < alignment.targetUsers),
    newUsers: rows('user.embedding', (r) => alignment.userSourceRow[r]! < 0),
    newItems: rows('item.embedding', (r) => r < alignment.targetItems),
    tokenTable: dense('token.embedding'),
    layer1Frozen: dense('user.dense.0.kernel') && dense('item.dense.0.kernel'),
    layer2Frozen: dense('user.dense.1.kernel') && dense('item.dense.1.kernel'),
  };
}

describe('grafting', () => {
  it('copies pretrained rows and dense layers, starts new users at the mean of pretrained rows', () => {
    const model = graftModel(source, alignment, bags(alignment.itemDbIds.length, 64), 9);
    const w = new Map(model.exportWeights().map((x) => [x.name, x.data]));
    const src = new Map(source.weights.map((x) => [x.name, x.data]));
    const users = w.get('user.embedding')!;
    // target row 0 is db id 21 = source row 20
    expect(Array.from(users.subarray(0, DIM))).toEqual(Array.from(src.get('user.embedding')!.subarray(20 * DIM, 21 * DIM)));
    const mean = new Float64Array(DIM);
    const srcUsers = src.get('user.embedding')!;
    for (let r = 0; r < 30; r++) for (let d = 0; d < DIM; d++) mean[d] += srcUsers[r * DIM + d]! / 30;
    const newRow = users.subarray(10 * DIM, 11 * DIM); // db id 31: new in the target
    newRow.forEach((x, d) => expect(x).toBeCloseTo(mean[d]!, 5));
    expect(Array.from(w.get('user.dense.1.kernel')!)).toEqual(Array.from(src.get('user.dense.1.kernel')!));
    expect(Array.from(w.get('token.embedding')!)).toEqual(Array.from(src.get('token.embedding')!));
    model.dispose();
  });
});

describe('transfer strategies keep frozen parts bit-identical and train the rest', () => {
  it('FEATURE_EXTRACTION: only new rows train', () => {
    const r = fineTuned('FEATURE_EXTRACTION');
    expect(r.pretrainedUsers).toEqual({ same: 10, changed: 0 });
    expect(r.tokenTable && r.layer1Frozen && r.layer2Frozen).toBe(true);
    expect(r.newUsers.changed).toBe(10);
    expect(r.newItems.changed).toBe(12);
  });

  it('PARTIAL freezeLayers 2: pretrained rows and MLP layer 1 frozen, layer 2 trains', () => {
    const r = fineTuned('PARTIAL', 2);
    expect(r.pretrainedUsers).toEqual({ same: 10, changed: 0 });
    expect(r.tokenTable).toBe(true);
    expect(r.layer1Frozen).toBe(true);
    expect(r.layer2Frozen).toBe(false);
    expect(r.newUsers.changed).toBe(10);
  });

  it('PARTIAL freezeLayers 1: only layer 0 (pretrained rows, tokens) frozen', () => {
    const r = fineTuned('PARTIAL', 1);
    expect(r.pretrainedUsers.changed).toBe(0);
    expect(r.layer1Frozen || r.layer2Frozen).toBe(false);
  });

  it('FULL: everything trains, pretrained rows included', () => {
    const r = fineTuned('FULL');
    expect(r.pretrainedUsers.changed).toBe(10);
    expect(r.tokenTable || r.layer1Frozen || r.layer2Frozen).toBe(false);
  });

  it('rejects freezeLayers beyond the towers', () => {
    const model = graftModel(source, alignment, bags(alignment.itemDbIds.length, 64), 9);
    expect(() => createStrategy('PARTIAL', { freezeLayers: 4 }).apply(model, alignment)).toThrow(/exceeds the 3 layers/);
    model.dispose();
  });
});

describe('item bias under transfer', () => {
  let biased: { config: TwoTowerModel['config']; weights: NamedWeight[] };

  beforeAll(() => {
    const model = TwoTowerModel.create({ users: 30, items: 20, dim: DIM, layers: [16, 8], tokenBuckets: 64, seed: 1, itemBias: true }, { itemTokens: bags(20, 64) });
    for (let s = 0; s < 5; s++) model.trainStep(randomBatch(30, 20, 32, s + 1), 0.05);
    biased = { config: model.config, weights: model.exportWeights() };
    model.dispose();
  });

  const biasOf = (weights: NamedWeight[]) => weights.find((w) => w.name === 'item.bias')!.data;

  function run(name: TransferStrategyName) {
    const model = graftModel(biased, alignment, bags(alignment.itemDbIds.length, 64), 9);
    const grafted = Float32Array.from(model.itemBiasTable!.weights);
    createStrategy(name).apply(model, alignment);
    const replay = mapSourceInteractions(alignment, randomBatch(30, 20, 64, 77));
    for (let s = 0; s < 6; s++) {
      const target = { users: Int32Array.from({ length: 24 }, (_, i) => i % 20), items: Int32Array.from({ length: 24 }, (_, i) => (i * 5 + s) % 12) };
      model.trainStep({ users: Int32Array.of(...target.users, ...replay.users.subarray(0, 8)), items: Int32Array.of(...target.items, ...replay.items.subarray(0, 8)) }, 0.05);
    }
    const after = Float32Array.from(model.itemBiasTable!.weights);
    const replayed = new Set(Array.from(replay.items.subarray(0, 8)));
    model.dispose();
    return { grafted, after, replayed };
  }

  it('grafts pretrained biases, starts new items at 0', () => {
    const { grafted } = run('FEATURE_EXTRACTION');
    const src = biasOf(biased.weights);
    expect(Array.from(src).some((x) => x !== 0)).toBe(true);
    for (let r = 0; r < alignment.itemDbIds.length; r++) {
      const from = alignment.itemSourceRow[r]!;
      expect(grafted[r]).toBe(from >= 0 ? src[from] : 0);
    }
  });

  it('FEATURE_EXTRACTION: pretrained biases bit-identical, new items train theirs', () => {
    const { grafted, after, replayed } = run('FEATURE_EXTRACTION');
    expect(replayed.size).toBeGreaterThan(0);
    for (let r = alignment.targetItems; r < after.length; r++) expect(Object.is(after[r], grafted[r])).toBe(true);
    for (let r = 0; r < alignment.targetItems; r++) expect(after[r]).not.toBe(grafted[r]);
  });

  it('adds a zero bias table when the source has none (bias added at transfer time)', () => {
    const model = graftModel({ config: { ...source.config, itemBias: true }, weights: source.weights }, alignment, bags(alignment.itemDbIds.length, 64), 9);
    expect(model.itemBiasTable!.rows).toBe(alignment.itemDbIds.length);
    expect(model.itemBiasTable!.weights.every((b) => b === 0)).toBe(true);
    expect(model.outputDim).toBe(9);
    model.dispose();
  });

  it('FULL: replayed pretrained biases train too (at the reduced rate)', () => {
    const { grafted, after, replayed } = run('FULL');
    for (const r of replayed) expect(after[r]).not.toBe(grafted[r]);
  });
});
