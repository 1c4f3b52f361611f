import { describe, expect, it } from 'vitest';
import { createRng } from '../dataset/random.js';
import { TwoTowerModel, type TwoTowerConfig } from '../model/two-tower.model.js';
import { objectiveNamed } from './objectives/index.js';
import type { TrainingData } from './example-mixture.js';

/**
 * 30 users in two groups, each choosing 3 items from its own half of 20 items, low ids far
 * more often (item 0 and 10 are each group's head), so counts vary from 0 to ~25.
 */
function skewed(seed: number) {
  const rng = createRng(seed, { resumable: true });
  const users: number[] = [];
  const items: number[] = [];
  for (let u = 0; u < 30; u++) {
    const chosen = new Set<number>();
    while (chosen.size < 3) chosen.add((u % 2) * 10 + Math.floor(10 * rng.next() ** 3));
    for (const i of chosen) {
      users.push(u);
      items.push(i);
    }
  }
  return { users: Int32Array.from(users), items: Int32Array.from(items) };
}

const FIT = { epochs: 4, batchSize: 64, learningRate: 0.01, seed: 9, threads: 1 };

function alsModel(extra: Partial<TwoTowerConfig> = {}): TwoTowerModel {
  return TwoTowerModel.create({ users: 30, items: 20, dim: 4, layers: [], userHistory: false, objective: 'implicit-als', alsAlpha: 10, alsRegularization: 1, seed: 3, ...extra });
}

function countsOf(items: Int32Array, rows: number): number[] {
  const counts = new Array<number>(rows).fill(0);
  for (const i of items) counts[i]++;
  return counts;
}

/** Item rows by descending inner product with user `u`'s row (ties by row). */
function ranking(model: TwoTowerModel, u: number): number[] {
  const d = model.outputDim;
  const user = model.embedUsers(Int32Array.of(u));
  const v = model.embedItems();
  const score = (i: number) => {
    let s = 0;
    for (let a = 0; a < d; a++) s += user[a]! * v[i * d + a]!;
    return s;
  };
  return Array.from({ length: model.items }, (_, i) => i).sort((a, b) => score(b) - score(a) || a - b);
}

describe('popularity term (popularityWeight)', () => {
  it('sets each item bias to β·log(1 + n_i), n_i counted over the primary events only (not replay), and leaves the ALS rows as they are', async () => {
    const data = skewed(1);
    const counts = countsOf(data.items, 20);
    expect(Math.max(...counts)).toBeGreaterThan(5);
    const beta = 0.07;
    const model = alsModel({ popularityWeight: beta });
    // Replayed (source) events on item 19 and a zero-weight event on item 18 count for nothing.
    const withReplay: TrainingData = {
      users: Int32Array.of(...data.users, 0),
      items: Int32Array.of(...data.items, 18),
      weights: Float32Array.of(...data.users.map(() => 1), 0),
      replay: { users: Int32Array.of(1, 2, 3), items: Int32Array.of(19, 19, 19), weight: 0.5 },
    };
    await objectiveNamed('implicit-als').fit(model, withReplay, FIT);
    expect(model.outputDim).toBe(5);
    const bias = Array.from(model.itemBiasTable!.weights);
    expect(bias).toEqual(counts.map((n) => Math.fround(beta * Math.log1p(n))));
    // The last column of every item row is its bias, of every user row 1.
    const v = model.embedItems();
    expect(Array.from({ length: 20 }, (_, i) => v[i * 5 + 4])).toEqual(bias);
    expect(Array.from({ length: 30 }, (_, u) => model.embedUsers()[u * 5 + 4])).toEqual(new Array(30).fill(1));
    // The term does not enter the row solves: the rows equal those of the same fit without it.
    const plain = alsModel();
    await objectiveNamed('implicit-als').fit(plain, withReplay, FIT);
    expect(Array.from(model.userTable.weights)).toEqual(Array.from(plain.userTable.weights));
    expect(Array.from(model.itemTable.weights)).toEqual(Array.from(plain.itemTable.weights));
    model.dispose();
    plain.dispose();
  });

  it('β = 0 is the model without the term, bit for bit: no bias table, the same width, weights and embeddings', async () => {
    const data = skewed(2);
    const before = alsModel();
    const zero = alsModel({ popularityWeight: 0 });
    await objectiveNamed('implicit-als').fit(before, data, FIT);
    await objectiveNamed('implicit-als').fit(zero, data, FIT);
    expect(zero.itemBiasTable).toBeUndefined();
    expect(zero.outputDim).toBe(4);
    expect(zero.exportWeights().map((w) => w.name)).toEqual(['user.embedding', 'item.embedding']);
    expect(zero.exportWeights()).toEqual(before.exportWeights());
    expect(Array.from(zero.embedItems())).toEqual(Array.from(before.embedItems()));
    before.dispose();
    zero.dispose();
  });

  it('moves the ranking towards popular items as β grows, to pure popularity at large β', async () => {
    const data = skewed(3);
    const counts = countsOf(data.items, 20);
    const rankOfHead: number[] = [];
    let last: number[] = [];
    for (const beta of [0, 0.01, 0.1, 1, 100]) {
      const model = alsModel({ popularityWeight: beta });
      await objectiveNamed('implicit-als').fit(model, data, FIT);
      const order = ranking(model, 1);
      rankOfHead.push(order.indexOf(0));
      last = order;
      model.dispose();
    }
    // Item 0, the other group's most popular item, climbs for a user who never chose from its group.
    for (let k = 1; k < rankOfHead.length; k++) expect(rankOfHead[k]!).toBeLessThanOrEqual(rankOfHead[k - 1]!);
    expect(rankOfHead[rankOfHead.length - 1]!).toBeLessThan(rankOfHead[0]!);
    // At β = 100 the ranking is by count (ties apart).
    const byCount = [...last].map((i) => counts[i]!);
    for (let k = 1; k < byCount.length; k++) expect(byCount[k]!).toBeLessThanOrEqual(byCount[k - 1]!);
  });

  it('a saved and reloaded model scores identically (item.bias travels with the weights)', async () => {
    const data = skewed(4);
    const model = alsModel({ popularityWeight: 0.2 });
    await objectiveNamed('implicit-als').fit(model, data, FIT);
    const weights = model.exportWeights();
    expect(weights.map((w) => w.name)).toContain('item.bias');
    const loaded = TwoTowerModel.fromWeights(model.config, weights);
    expect(Array.from(loaded.embedItems())).toEqual(Array.from(model.embedItems()));
    expect(Array.from(loaded.embedUsers())).toEqual(Array.from(model.embedUsers()));
    model.dispose();
    loaded.dispose();
  });

  it('is recomputed by every fit from its own events, whatever the rows held or a strategy froze', async () => {
    const data = skewed(5);
    const model = alsModel({ popularityWeight: 0.5 });
    model.itemBiasTable!.weights.fill(9);
    model.itemBiasTable!.freezeRows();
    const fewer = { users: data.users.subarray(0, 30), items: data.items.subarray(0, 30) };
    await objectiveNamed('implicit-als').fit(model, fewer, { ...FIT, epochs: 1 });
    expect(Array.from(model.itemBiasTable!.weights)).toEqual(countsOf(fewer.items, 20).map((n) => Math.fround(0.5 * Math.log1p(n))));
    model.dispose();
  });

  it('hybrid: the term is set with the rows and the softmax stage above them never trains it', async () => {
    const data = skewed(6);
    const model = TwoTowerModel.create({ users: 30, items: 20, dim: 4, layers: [8, 4], userHistory: false, objective: 'hybrid', alsSweeps: 3, alsAlpha: 10, alsRegularization: 1, seed: 3, popularityWeight: 0.3 });
    await objectiveNamed('hybrid').fit(model, data, { ...FIT, epochs: 2 });
    expect(Array.from(model.itemBiasTable!.weights)).toEqual(countsOf(data.items, 20).map((n) => Math.fround(0.3 * Math.log1p(n))));
    expect(model.outputDim).toBe(5);
    model.dispose();
  });

  it('softmax: the term is set before the gradient steps, stays out of the training logits, and adds to the cosine', async () => {
    const data = skewed(6);
    const config = { users: 30, items: 20, dim: 4, layers: [8, 4], userHistory: false, seed: 3 };
    const plain = TwoTowerModel.create(config);
    const withTerm = TwoTowerModel.create({ ...config, popularityWeight: 0.3 });
    const losses: Record<string, number[]> = { plain: [], withTerm: [] };
    await objectiveNamed('softmax').fit(plain, data, { ...FIT, onStep: (s: { loss: number }) => losses.plain!.push(s.loss) });
    await objectiveNamed('softmax').fit(withTerm, data, { ...FIT, onStep: (s: { loss: number }) => losses.withTerm!.push(s.loss) });
    // The same steps (the bias never enters the logits), the same towers.
    expect(losses.withTerm).toEqual(losses.plain);
    expect(losses.plain.length).toBeGreaterThan(0);
    expect(Array.from(withTerm.itemBiasTable!.weights)).toEqual(countsOf(data.items, 20).map((n) => Math.fround(0.3 * Math.log1p(n))));
    expect(withTerm.outputDim).toBe(5);
    // Served score = cosine of the unit tower outputs + β·log(1 + n_i).
    const [u, v] = [plain.embedUsers(Int32Array.of(4)), plain.embedItems()];
    const [ub, vb] = [withTerm.embedUsers(Int32Array.of(4)), withTerm.embedItems()];
    for (let i = 0; i < 20; i++) {
      let cosine = 0;
      let biased = 0;
      for (let j = 0; j < 4; j++) cosine += u[j]! * v[i * 4 + j]!;
      for (let j = 0; j < 5; j++) biased += ub[j]! * vb[i * 5 + j]!;
      expect(biased).toBeCloseTo(cosine + 0.3 * Math.log1p(countsOf(data.items, 20)[i]!), 5);
    }
    plain.dispose();
    withTerm.dispose();
  });

  it('applies to the users given (setPopularityTermUsers): the others rank by their rows alone; clones keep the choice; one flag per user row', async () => {
    const data = skewed(6);
    const model = alsModel({ popularityWeight: 0.5 });
    await objectiveNamed('implicit-als').fit(model, data, FIT);
    const flags = new Uint8Array(30);
    flags.fill(1, 0, 15);
    model.setPopularityTermUsers(flags);
    const users = model.embedUsers();
    const d = model.outputDim;
    expect(Array.from({ length: 30 }, (_, u) => users[u * d + d - 1])).toEqual(Array.from(flags));
    // Users without the term: their rows, bit for bit; with it: the same rows and the 1.
    const rows = model.userTable.weights;
    for (const u of [0, 20]) expect(Array.from(users.subarray(u * d, u * d + d - 1))).toEqual(Array.from(rows.subarray(u * 4, u * 4 + 4)));
    const copy = model.clone();
    expect(Array.from(copy.embedUsers())).toEqual(Array.from(users));
    // Saved with the weights: a reloaded model scores as the stored vectors do.
    const reloaded = TwoTowerModel.fromWeights(model.config, model.exportWeights());
    expect(Array.from(reloaded.embedUsers())).toEqual(Array.from(users));
    reloaded.dispose();
    model.setPopularityTermUsers(undefined);
    expect(model.exportWeights().map((w) => w.name)).not.toContain('user.popularity-term');
    expect(Array.from({ length: 30 }, (_, u) => model.embedUsers()[u * d + d - 1])).toEqual(new Array(30).fill(1));
    expect(() => model.setPopularityTermUsers(new Uint8Array(29))).toThrow(/popularity term users: 29 flags for a model of 30 users; give one per user row/);
    for (const m of [model, copy]) m.dispose();
  });

  it('is refused where it does not apply, with the setting and the fix named', () => {
    expect(() => TwoTowerModel.create({ users: 2, items: 2, dim: 4, popularityWeight: 0.1, itemBias: true })).toThrow(/config.popularityWeight = 0.1 with config.itemBias; .*turn itemBias off/);
    expect(() => alsModel({ popularityWeight: -1 })).toThrow(/config.popularityWeight = -1 with objective implicit-als; it must be a finite number >= 0/);
    expect(() => alsModel({ popularityWeight: Number.POSITIVE_INFINITY })).toThrow(/config.popularityWeight = Infinity/);
  });
});
