import { describe, expect, it } from 'vitest';
import { createRng } from '../../dataset/random.js';
import { buildHistoryBags } from '../../model/history-bags.js';
import type { NamedWeight } from '../../model/named-weight.js';
import type { TokenBags } from '../../model/token-hash.js';
import { TwoTowerModel, type TwoTowerConfig } from '../../model/two-tower.model.js';
import { objectiveNamed } from './index.js';

/** 120 users in 4 groups, each choosing 4 of its group's 30 items (low offsets more often); every item tagged with its group. */
function planted(seed: number) {
  const rng = createRng(seed, { resumable: true });
  const users: number[] = [];
  const items: number[] = [];
  for (let user = 0; user < 120; user++) {
    const group = user % 4;
    const chosen = new Set<number>();
    while (chosen.size < 4) chosen.add(group * 30 + Math.floor(30 * rng.next() ** 1.5));
    for (const item of chosen) {
      users.push(user);
      items.push(item);
    }
  }
  const offsets = new Int32Array(121);
  const ids = new Int32Array(120);
  for (let i = 0; i < 120; i++) {
    offsets[i + 1] = i + 1;
    ids[i] = Math.floor(i / 30);
  }
  const itemTokens: TokenBags = { offsets, ids };
  return { users: 120, items: 120, train: { users: Int32Array.from(users), items: Int32Array.from(items) }, itemTokens };
}

type Planted = ReturnType<typeof planted>;

function softmaxModel(data: Planted, extra: Partial<TwoTowerConfig> = {}): TwoTowerModel {
  const model = TwoTowerModel.create(
    { users: data.users, items: data.items, dim: 8, layers: [16, 8], tokenBuckets: 4, userHistory: true, temperature: 0.2, seed: 5, refineItemRows: true, ...extra },
    { itemTokens: data.itemTokens },
  );
  model.setUserHistories(buildHistoryBags(data.train.users, data.train.items, data.users));
  if (extra.itemAudience) model.setItemAudiences(buildHistoryBags(data.train.items, data.train.users, data.items));
  return model;
}

/** A validator that returns the given values in turn, one per epoch (both stages share it). */
function scripted(values: number[]) {
  let call = 0;
  return () => {
    if (call >= values.length) throw new Error(`validator called ${call + 1} times; the script has ${values.length} values`);
    return values[call++]!;
  };
}

const FIT = { batchSize: 32, learningRate: 0.01, seed: 9, threads: 1 };

function byName(weights: NamedWeight[]): Map<string, Float32Array> {
  return new Map(weights.map((w) => [w.name, w.data]));
}

/** The two models' weights that differ, by name. */
function differing(a: TwoTowerModel, b: TwoTowerModel): string[] {
  const left = byName(a.exportWeights());
  const right = byName(b.exportWeights());
  expect([...left.keys()].sort()).toEqual([...right.keys()].sort());
  return [...left.keys()].filter((name) => Array.from(left.get(name)!).some((v, i) => v !== right.get(name)![i])).sort();
}

describe('softmax objective: item-row refinement', () => {
  it('trains the item rows alone after the joint fit and keeps them when they beat its best validation', async () => {
    const data = planted(1);
    const refined = softmaxModel(data, { itemAudience: true });
    const joint = softmaxModel(data, { itemAudience: true, refineItemRows: false });
    const early = { patience: 1, restoreBest: true };
    // Joint stage: best at epoch 2, stopped at 3; refinement: best at its epoch 1 (0.3 > 0.2), stopped at its 2.
    const result = await objectiveNamed('softmax').fit(refined, data.train, { ...FIT, epochs: 4, validate: scripted([0.1, 0.2, 0.15, 0.3, 0.25]), earlyStopping: early });
    const twin = await objectiveNamed('softmax').fit(joint, data.train, { ...FIT, epochs: 4, validate: scripted([0.1, 0.2, 0.15]), earlyStopping: early });
    expect(twin.refinedEpochs).toBeUndefined();
    expect([result.bestEpoch, result.refinedEpochs, result.bestValidation, result.epochs]).toEqual([2, 1, 0.3, 5]);
    expect(result.history.map((h) => [h.epoch, h.validation])).toEqual([[1, 0.1], [2, 0.2], [3, 0.15], [4, 0.3], [5, 0.25]]);
    // Only the item rows moved: the dense layers, the user rows (pooled by the item audience) and the tag rows are the joint fit's.
    expect(differing(refined, joint)).toEqual(['item.embedding']);
    // Every layer trainable again and no row left frozen.
    for (const name of ['user', 'item'] as const) {
      const tower = refined.tower(name);
      for (let layer = 0; layer < tower.layerCount; layer++) expect(tower.isTrainable(layer)).toBe(true);
    }
    for (const table of [refined.userTable, refined.itemTable, refined.tokenTable!]) expect(table.frozen.every((f) => f === 0)).toBe(true);
    refined.dispose();
    joint.dispose();
  });

  it('puts the joint fit back when the refined rows do not beat its best validation', async () => {
    const data = planted(2);
    const refined = softmaxModel(data);
    const joint = softmaxModel(data, { refineItemRows: false });
    const early = { patience: 1, restoreBest: true };
    const result = await objectiveNamed('softmax').fit(refined, data.train, { ...FIT, epochs: 3, validate: scripted([0.1, 0.2, 0.15, 0.2, 0.19]), earlyStopping: early });
    await objectiveNamed('softmax').fit(joint, data.train, { ...FIT, epochs: 3, validate: scripted([0.1, 0.2, 0.15]), earlyStopping: early });
    // A tie is not a gain: the joint fit's weights, every one bit for bit.
    expect([result.bestEpoch, result.refinedEpochs, result.bestValidation, result.epochs]).toEqual([2, 0, 0.2, 5]);
    expect(differing(refined, joint)).toEqual([]);
    refined.dispose();
    joint.dispose();
  });

  it('decides by the run\'s measure when the fit is given one (select), not by the per-epoch metric', async () => {
    const data = planted(5);
    const early = { patience: 1, restoreBest: true };
    const fit = async (select: number[]) => {
      const model = softmaxModel(data);
      const result = await objectiveNamed('softmax').fit(model, data.train, { ...FIT, epochs: 3, validate: scripted([0.1, 0.2, 0.15, 0.3, 0.25]), select: scripted(select), earlyStopping: early });
      return { model, result };
    };
    const joint = softmaxModel(data, { refineItemRows: false });
    await objectiveNamed('softmax').fit(joint, data.train, { ...FIT, epochs: 3, validate: scripted([0.1, 0.2, 0.15]), earlyStopping: early });
    // The per-epoch metric says better (0.3 > 0.2), the run's measure says worse (0.05 < 0.06): put back.
    const worse = await fit([0.06, 0.05]);
    expect([worse.result.refinedEpochs, worse.result.bestValidation]).toEqual([0, 0.2]);
    expect(differing(worse.model, joint)).toEqual([]);
    const better = await fit([0.06, 0.07]);
    expect(better.result.refinedEpochs).toBe(1);
    expect(differing(better.model, joint)).toEqual(['item.embedding']);
    for (const m of [worse.model, better.model, joint]) m.dispose();
  });

  it('leaves rows a transfer froze as they were, and does nothing without early stopping', async () => {
    const data = planted(3);
    const model = softmaxModel(data);
    model.itemTable.freezeRows(0, 60);
    const start = model.itemTable.weights.slice();
    const result = await objectiveNamed('softmax').fit(model, data.train, { ...FIT, epochs: 3, validate: scripted([0.1, 0.2, 0.15, 0.3, 0.25]), earlyStopping: { patience: 1, restoreBest: true } });
    expect(result.refinedEpochs).toBe(1);
    expect(Array.from(model.itemTable.weights.slice(0, 60 * 8))).toEqual(Array.from(start.slice(0, 60 * 8)));
    expect(Array.from(model.itemTable.weights.slice(60 * 8))).not.toEqual(Array.from(start.slice(60 * 8)));
    expect(Array.from(model.itemTable.frozen.slice(58, 62))).toEqual([1, 1, 0, 0]);
    model.dispose();

    const plain = softmaxModel(data);
    const noEarly = await objectiveNamed('softmax').fit(plain, data.train, { ...FIT, epochs: 2, validate: scripted([0.1, 0.2]) });
    expect([noEarly.epochs, noEarly.refinedEpochs]).toEqual([2, undefined]);
    plain.dispose();
  });

  it('refines on worker threads as on one: the same rule, the dense layers untouched', async () => {
    const data = planted(4);
    const refined = softmaxModel(data);
    const joint = softmaxModel(data, { refineItemRows: false });
    const early = { patience: 1, restoreBest: true };
    const options = { ...FIT, threads: 2, batchSize: 16 };
    const result = await objectiveNamed('softmax').fit(refined, data.train, { ...options, epochs: 3, validate: scripted([0.1, 0.2, 0.15, 0.3, 0.25]), earlyStopping: early });
    await objectiveNamed('softmax').fit(joint, data.train, { ...options, epochs: 3, validate: scripted([0.1, 0.2, 0.15]), earlyStopping: early });
    expect(result.refinedEpochs).toBe(1);
    expect(differing(refined, joint)).toEqual(['item.embedding']);
    refined.dispose();
    joint.dispose();
  });
});
