import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { isGraftError } from '../errors.js';
import type { NamedWeight } from './named-weight.js';
import { describeEachBackend } from './testing/each-backend.js';
import type { TokenBags } from './token-hash.js';
import type { HistoryBags } from './tower.js';
import { TwoTowerModel, type TwoTowerConfig } from './two-tower.model.js';
import { InBatchSoftmaxTask } from './in-batch-softmax.task.js';

const config: TwoTowerConfig = { users: 6, items: 5, dim: 4, layers: [8, 3], tokenBuckets: 7, temperature: 0.2, logQ: true, seed: 3 };
// Item 4 has no tokens; item 0 repeats a bucket-colliding tag set.
const itemTokens: TokenBags = { offsets: Int32Array.of(0, 2, 3, 6, 7, 7), ids: Int32Array.of(1, 4, 2, 0, 4, 6, 3) };
const userTokens: TokenBags = { offsets: Int32Array.of(0, 1, 1, 3, 3, 4, 4), ids: Int32Array.of(5, 1, 2, 5) };
const counts = [9, 1, 3, 0, 6];
// Item 2 appears twice: an accidental hit to mask. User 1 appears twice: its row gets a summed gradient.
const batch = {
  users: Int32Array.of(1, 4, 1, 2, 0),
  items: Int32Array.of(2, 0, 3, 2, 4),
  weights: Float32Array.of(1, 2, 0.5, 1, 1.5),
};

function weight(weights: NamedWeight[], name: string): NamedWeight {
  const w = weights.find((x) => x.name === name);
  if (!w) throw new Error(`missing ${name}`);
  return w;
}

// User histories over item rows: user 1's history holds its positive item 2 twice (left out
// of the pool in training), user 3's past the 2-item cap, user 5 has none.
const userHistories: HistoryBags = { offsets: Int32Array.of(0, 2, 6, 7, 10, 11, 11), ids: Int32Array.of(1, 3, 2, 0, 2, 4, 4, 2, 0, 1, 3) };
const historyCap = 2;

interface ReferenceOptions {
  /** The history rows pooled for example i (what the model kept after history dropout). */
  pooled?: (i: number) => ArrayLike<number>;
  /** Uniformly sampled negatives appended to the in-batch candidates. */
  negatives?: Int32Array;
  /** Item audiences over user rows: the item tower also pools them (last `historyCap`, the example's user left out of its positive's). */
  audiences?: HistoryBags;
}

/**
 * Independent dense reference: tables as tf.variables, tf.gather, bags as a [B, buckets]
 * averaging matrix; with `histories`, the user tower also pools item rows through a
 * [B, items] averaging matrix (last `historyCap` entries, the example's positive left out).
 */
function referenceGradients(model: TwoTowerModel, histories?: HistoryBags, options: ReferenceOptions = {}) {
  const weights = model.exportWeights();
  const vars = new Map(weights.map((w) => [w.name, tf.variable(tf.tensor(w.data, w.shape), true, `ref.${w.name}.${Math.random()}`)]));
  const total = counts.reduce((s, c) => s + Math.max(c, 1), 0);
  const b = batch.users.length;
  const negatives = options.negatives ?? new Int32Array(0);
  const candidates = Int32Array.from([...batch.items, ...negatives]);
  const columns = candidates.length;
  // Mixed negatives: the correction is log of the expected count per batch, B q(j) + N / |pool| (pool = items with counts).
  const pool = counts.filter((c) => c > 0).length;
  const correction = (item: number) =>
    negatives.length === 0 ? -Math.log(Math.max(counts[item], 1) / total) : -Math.log((b * Math.max(counts[item], 1)) / total + (counts[item] > 0 ? negatives.length / pool : 0));
  const bias = new Float32Array(b * columns);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < columns; j++) {
      const accidental = j !== i && candidates[j] === batch.items[i];
      bias[i * columns + j] = accidental ? -1e9 : correction(candidates[j]);
    }
  }
  const bagMatrix = (ids: Int32Array, bags: TokenBags) => {
    const m = new Float32Array(ids.length * config.tokenBuckets!);
    ids.forEach((e, i) => {
      const n = bags.offsets[e + 1] - bags.offsets[e];
      for (let t = bags.offsets[e]; t < bags.offsets[e + 1]; t++) m[i * config.tokenBuckets! + bags.ids[t]] += 1 / n;
    });
    return tf.tensor2d(m, [ids.length, config.tokenBuckets!]);
  };
  const historyMatrix = (h: HistoryBags) => {
    const items = config.items;
    const m = new Float32Array(b * items);
    batch.users.forEach((u, i) => {
      const kept: number[] = [];
      const to = h.offsets[u + 1];
      for (let t = Math.max(h.offsets[u], to - historyCap); t < to; t++) if (h.ids[t] !== batch.items[i]) kept.push(h.ids[t]);
      if (options.pooled) kept.splice(0, kept.length, ...Array.from(options.pooled(i)));
      for (const it of kept) m[i * items + it] += 1 / kept.length;
    });
    return tf.tensor2d(m, [b, items]);
  };
  const audienceMatrix = (h: HistoryBags) => {
    const users = config.users;
    const m = new Float32Array(columns * users);
    candidates.forEach((item, j) => {
      const kept: number[] = [];
      const to = h.offsets[item + 1];
      for (let t = Math.max(h.offsets[item], to - historyCap); t < to; t++) if (j >= b || h.ids[t] !== batch.users[j]) kept.push(h.ids[t]);
      for (const u of kept) m[j * users + u] += 1 / kept.length;
    });
    return tf.tensor2d(m, [columns, users]);
  };
  const tower = (name: 'user' | 'item', ids: Int32Array, bags: TokenBags) => {
    const id = tf.gather(vars.get(`${name}.embedding`)!, tf.tensor1d(ids, 'int32'));
    const pooled = tf.matMul(bagMatrix(ids, bags), vars.get('token.embedding')!);
    const parts = [id, pooled];
    if (name === 'user' && histories) parts.push(tf.matMul(historyMatrix(histories), vars.get('item.embedding')!));
    if (name === 'item' && options.audiences) parts.push(tf.matMul(audienceMatrix(options.audiences), vars.get('user.embedding')!));
    let h = tf.concat(parts, 1);
    for (let l = 0; l < 2; l++) {
      h = tf.add(tf.matMul(h, vars.get(`${name}.dense.${l}.kernel`)!), vars.get(`${name}.dense.${l}.bias`)!);
      if (l === 0) h = tf.relu(h);
    }
    return tf.div(h, tf.sqrt(tf.sum(tf.square(h), 1, true)));
  };
  const w = Array.from(batch.weights);
  const wSum = w.reduce((s, x) => s + x, 0);
  const { value, grads } = tf.variableGrads(() => {
    const u = tower('user', batch.users, userTokens);
    const v = tower('item', candidates, itemTokens);
    let logits = tf.add(tf.div(tf.matMul(u, v, false, true), config.temperature!), tf.tensor2d(bias, [b, columns]));
    // Learned item bias (itemBias): one logit offset per candidate column.
    const itemBias = vars.get('item.bias');
    if (itemBias) logits = tf.add(logits, tf.reshape(tf.gather(itemBias, tf.tensor1d(candidates, 'int32')), [1, columns]));
    const logProb = tf.logSoftmax(logits);
    const diagonal = tf.sum(tf.mul(logProb, tf.eye(b, columns)), 1);
    return tf.neg(tf.sum(tf.mul(diagonal, tf.tensor1d(w.map((x) => x / wSum))))) as tf.Scalar;
  });
  const out = {
    loss: value.dataSync()[0],
    grads: Object.fromEntries([...vars].map(([name, v]) => [name, grads[v.name].dataSync().slice() as Float32Array])),
  };
  tf.dispose([value, ...Object.values(grads), ...vars.values()]);
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst).toBeLessThan(tolerance);
}

/** Each sparse table's gradient, scattered into a dense matrix, equals autodiff's (rows `width` wide). */
function expectTableGradients(
  sparse: { tables: Record<string, { ids: ArrayLike<number>; grads: Float32Array }> },
  reference: { grads: Record<string, Float32Array> },
  tables: ReadonlyArray<readonly [string, number]>,
): void {
  for (const [name, width] of tables) {
    const scattered = new Float32Array(reference.grads[name]!.length);
    const { ids, grads } = sparse.tables[name]!;
    Array.from(ids).forEach((row, s) => scattered.set(grads.subarray(s * width, (s + 1) * width), row * width));
    expectClose(scattered, reference.grads[name]!, 1e-4);
  }
}

describeEachBackend('TwoTowerModel', () => {
  const create = (overrides: Partial<TwoTowerConfig> = {}) => {
    const model = TwoTowerModel.create({ ...config, ...overrides }, { itemTokens, userTokens });
    model.setItemFrequencies(counts);
    return model;
  };

  it('gives the same gradients as TF.js autodiff through tf.gather on dense tables', () => {
    const model = create();
    const sparse = model.gradients(batch);
    const reference = referenceGradients(model);
    expect(sparse.loss).toBeCloseTo(reference.loss, 4);
    for (const name of ['user.embedding', 'item.embedding', 'token.embedding']) {
      const dense = reference.grads[name];
      const dim = config.dim!;
      const scattered = new Float32Array(dense.length);
      const { ids, grads } = sparse.tables[name];
      ids.forEach((row, s) => scattered.set(grads.subarray(s * dim, (s + 1) * dim), row * dim));
      expectClose(scattered, dense, 1e-4);
      // Only rows that the batch touches carry gradient, each listed once.
      expect(new Set(ids).size).toBe(ids.length);
    }
    expect(Object.keys(sparse.dense).sort()).toEqual(
      ['user', 'item'].flatMap((t) => [0, 1].flatMap((l) => [`${t}.dense.${l}.kernel`, `${t}.dense.${l}.bias`])).sort(),
    );
    for (const [name, g] of Object.entries(sparse.dense)) expectClose(g, reference.grads[name], 1e-4);
    model.dispose();
  });

  it('gives autodiff gradients through the pooled user history (positive left out, capped)', () => {
    const model = create({ userHistory: true, userHistoryLength: historyCap });
    model.setUserHistories(userHistories);
    expect(model.tower('user').inputDim).toBe(3 * config.dim!);
    const sparse = model.gradients(batch);
    const reference = referenceGradients(model, userHistories);
    expect(sparse.loss).toBeCloseTo(reference.loss, 4);
    const dim = config.dim!;
    expectTableGradients(sparse, reference, [['user.embedding', dim], ['item.embedding', dim], ['token.embedding', dim]]);
    // Item 1 is in no batch example as a positive or candidate: its gradient comes only through user 0's pooled history.
    expect(sparse.tables['item.embedding'].ids).toContain(1);
    for (const [name, g] of Object.entries(sparse.dense)) expectClose(g, reference.grads[name], 1e-4);
    model.dispose();
  });

  it('gives autodiff gradients through the pooled item audience (user rows; the example\'s user left out of its positive\'s, capped)', () => {
    // Item 0's audience holds user 5, who is in no batch example; item 2's last two are users 1 and 2, each the user of an example on item 2; item 3's only member is its example's user; item 4 has none.
    const audiences: HistoryBags = { offsets: Int32Array.of(0, 2, 3, 6, 7, 7), ids: Int32Array.of(3, 5, 5, 0, 1, 2, 1) };
    const model = create({ itemAudience: true, itemIdDropout: 0, userHistoryLength: historyCap });
    model.setItemAudiences(audiences);
    expect(model.tower('item').inputDim).toBe(3 * config.dim!);
    const sparse = model.gradients(batch);
    // The pools: the example's user is left out of its positive's audience (as the positive is of the user's history).
    const pooled = Array.from(batch.items, (_, i) => Array.from(model.tower('item').pooledHistory(i)));
    expect(pooled).toEqual([[2], [3, 5], [], [1], []]);
    const reference = referenceGradients(model, undefined, { audiences });
    expect(sparse.loss).toBeCloseTo(reference.loss, 4);
    const dim = config.dim!;
    expectTableGradients(sparse, reference, [['user.embedding', dim], ['item.embedding', dim], ['token.embedding', dim]]);
    // User 5 is in no example: its row's gradient comes only through item 0's audience.
    expect(sparse.tables['user.embedding'].ids).toContain(5);
    for (const [name, g] of Object.entries(sparse.dense)) expectClose(g, reference.grads[name], 1e-4);
    // The audience is an input at serving time too (all of it): a reload, a clone and a worker thread's model keep it.
    const loaded = TwoTowerModel.fromWeights({ ...config, itemAudience: true, userHistoryLength: historyCap }, model.exportWeights(), { itemTokens, userTokens });
    loaded.setItemAudiences(audiences);
    expect(loaded.embedItems()).toEqual(model.embedItems());
    const clone = model.clone();
    expect(clone.itemAudiences).toBe(audiences);
    expect(clone.embedItems()).toEqual(model.embedItems());
    clone.setItemAudiences({ offsets: new Int32Array(6), ids: new Int32Array(0) });
    expect(clone.embedItems().subarray(0, 3)).not.toEqual(model.embedItems().subarray(0, 3));
    // What is refused, naming the fix.
    expect(() => create().setItemAudiences(audiences)).toThrow(/itemAudience = true/);
    expect(() => model.setItemAudiences({ offsets: Int32Array.of(0, 1), ids: Int32Array.of(6) })).toThrow(/item audience user row 6 is outside the user table \(0..5\); build audiences over user rows/);
    expect(() => model.setItemAudiences({ offsets: new Int32Array(7), ids: new Int32Array(0) })).toThrow(/item audience offsets have length 7 .* for 5 items/);
    // Without the audience the ID dropout is not read (the item tower would lose its only input).
    expect(create({ itemIdDropout: 0.5 }).config.itemIdDropout).toBe(0);
    expect(() => create({ itemAudience: true, itemIdDropout: 1 })).toThrow(/itemIdDropout = 1; it must be in \[0, 1\)/);
    expect(() => TwoTowerModel.create({ ...config, objective: 'implicit-als', layers: [], itemAudience: true })).toThrow(/itemAudience with objective implicit-als; ALS solves each item's row from its users itself/);
    expect(() => TwoTowerModel.create({ ...config, objective: 'hybrid', layers: [8, 4], itemAudience: true })).toThrow(/itemAudience with objective hybrid/);
    for (const m of [model, loaded, clone]) m.dispose();
  });

  it('item ID dropout (with the audience, 0.8 by default): a dropped item row enters as zeros and gets no gradient; serving keeps every row', () => {
    const audiences: HistoryBags = { offsets: Int32Array.of(0, 2, 3, 6, 7, 7), ids: Int32Array.of(3, 5, 5, 0, 1, 2, 1) };
    const model = create({ itemAudience: true });
    expect(model.config.itemIdDropout).toBe(0.8);
    model.setItemAudiences(audiences);
    const vectors = model.embedItems();
    let withoutRow = 0;
    for (let draw = 0; draw < 5; draw++) {
      const grads = model.gradients(batch);
      withoutRow += batch.items.length - new Set(grads.tables['item.embedding']?.ids ?? []).size;
    }
    // Over five draws of 5 examples (4 distinct items) at p 0.8, most item rows were left out.
    expect(withoutRow).toBeGreaterThan(5);
    expect(model.embedItems()).toEqual(vectors);
    model.dispose();
  });

  it('gives autodiff gradients with history dropout (over the rows kept), deterministic for a seed', () => {
    const make = () => {
      const m = create({ userHistory: true, userHistoryLength: 4, historyDropout: 0.5 });
      m.setUserHistories(userHistories);
      return m;
    };
    const model = make();
    const sparse = model.gradients(batch);
    const userTower = model.tower('user');
    const kept = Array.from(batch.users, (_, i) => Array.from(userTower.pooledHistory(i)));
    const full = create({ userHistory: true, userHistoryLength: 4 });
    full.setUserHistories(userHistories);
    full.gradients(batch);
    const all = Array.from(batch.users, (_, i) => Array.from(full.tower('user').pooledHistory(i)));
    // Dropout removed some rows (and kept only rows the full pool has).
    expect(kept.flat().length).toBeLessThan(all.flat().length);
    kept.forEach((rows, i) => rows.forEach((row) => expect(all[i]).toContain(row)));
    const reference = referenceGradients(model, userHistories, { pooled: (i) => kept[i] });
    expect(sparse.loss).toBeCloseTo(reference.loss, 4);
    const dim = config.dim!;
    expectTableGradients(sparse, reference, [['user.embedding', dim], ['item.embedding', dim], ['token.embedding', dim]]);
    for (const [name, g] of Object.entries(sparse.dense)) expectClose(g, reference.grads[name], 1e-4);
    const again = make();
    expect(again.gradients(batch).loss).toBe(sparse.loss);
    // Embedding (serving) never drops history.
    full.loadWeights(model.exportWeights());
    expect(model.embedUsers()).toEqual(full.embedUsers());
    for (const m of [model, again, full]) m.dispose();
  });

  it('gives autodiff gradients with uniform negatives (mixture logQ, hits on the positive masked)', () => {
    const model = create({ uniformNegatives: 6 });
    const sparse = model.gradients(batch);
    const negatives = sparse.negatives!;
    expect(negatives.length).toBe(6);
    // Drawn from the items with training examples (item 3 has count 0).
    for (const item of negatives) expect([0, 1, 2, 4]).toContain(item);
    const reference = referenceGradients(model, undefined, { negatives });
    expect(sparse.loss).toBeCloseTo(reference.loss, 4);
    const dim = config.dim!;
    expectTableGradients(sparse, reference, [['user.embedding', dim], ['item.embedding', dim], ['token.embedding', dim]]);
    for (const [name, g] of Object.entries(sparse.dense)) expectClose(g, reference.grads[name], 1e-4);
    const again = create({ uniformNegatives: 6 });
    expect(again.gradients(batch).negatives).toEqual(negatives);
    // Trains without leaking tensors; the clone keeps the negative pool.
    model.trainStep(batch, 0.01, { clipNorm: 1 });
    const before = tf.memory().numTensors;
    for (let step = 0; step < 3; step++) model.trainStep(batch, 0.01, { clipNorm: 1 });
    expect(tf.memory().numTensors).toBe(before);
    const clone = model.clone();
    expect((clone.task as InBatchSoftmaxTask).negativePool()).toEqual(Int32Array.of(0, 1, 2, 4));
    for (const m of [model, again, clone]) m.dispose();
  });

  it('trains for the retrieval task it is given (TFRS Retrieval(loss=...)), the in-batch softmax of its config by default', () => {
    const config: TwoTowerConfig = { users: 6, items: 5, dim: 4, layers: [8], seed: 3 };
    const batch = { users: Int32Array.of(0, 1, 2, 3), items: Int32Array.of(0, 1, 2, 4) };
    const hot = TwoTowerModel.create({ ...config, temperature: 0.5 });
    const given = new InBatchSoftmaxTask({ items: 5, temperature: 0.5 });
    const withTask = TwoTowerModel.create({ ...config, temperature: 0.05 }, {}, { task: given });
    const cold = TwoTowerModel.create({ ...config, temperature: 0.05 });
    expect(withTask.task).toBe(given);
    expect(withTask.gradients(batch).loss).toBeCloseTo(hot.gradients(batch).loss, 5);
    expect(Math.abs(withTask.gradients(batch).loss - cold.gradients(batch).loss)).toBeGreaterThan(1e-3);
    // The clone trains for a copy of the same task.
    const clone = withTask.clone();
    expect(clone.task).not.toBe(given);
    expect(clone.gradients(batch).loss).toBeCloseTo(hot.gradients(batch).loss, 5);
    // A model whose objective takes no gradient steps has no task.
    const als = TwoTowerModel.create({ ...config, layers: [], userHistory: false, objective: 'implicit-als' });
    expect(als.task).toBeUndefined();
    for (const m of [hot, withTask, cold, clone, als]) m.dispose();
  });

  it('gives autodiff gradients for the learned item bias, and scores with it as an inner product', () => {
    for (const extra of [{}, { uniformNegatives: 6 }] as Partial<TwoTowerConfig>[]) {
      const model = create({ itemBias: true, ...extra });
      // Non-zero biases, so the reference sees them in the logits.
      model.itemBiasTable!.weights.set([0.3, -0.2, 0.5, 0.1, -0.4]);
      const sparse = model.gradients(batch);
      const reference = referenceGradients(model, undefined, { negatives: sparse.negatives });
      expect(sparse.loss).toBeCloseTo(reference.loss, 4);
      const dim = config.dim!;
      expectTableGradients(sparse, reference, [['user.embedding', dim], ['item.embedding', dim], ['token.embedding', dim], ['item.bias', 1]]);
      for (const [name, g] of Object.entries(sparse.dense)) expectClose(g, reference.grads[name], 1e-4);
      model.dispose();
    }
    const model = create({ itemBias: true });
    for (let step = 0; step < 5; step++) model.trainStep(batch, 0.05, { clipNorm: 1 });
    const b = model.itemBiasTable!.weights;
    expect(Array.from(b).some((x) => x !== 0)).toBe(true);
    // Scores: <[u, 1], [v, T b]> = u.v + T b, the ranking of the training logit u.v / T + b.
    const plain = TwoTowerModel.fromWeights({ ...config }, model.exportWeights().filter((w) => w.name !== 'item.bias'), { itemTokens, userTokens });
    expect(model.outputDim).toBe(4);
    const users = model.embedUsers();
    const items = model.embedItems();
    const u0 = plain.embedUsers();
    const v0 = plain.embedItems();
    for (let u = 0; u < 6; u++) {
      expect(users[u * 4 + 3]).toBe(1);
      for (let i = 0; i < 5; i++) {
        const dot = (a: Float32Array, x: number, c: Float32Array, y: number, d: number) => Array.from({ length: d }, (_, k) => a[x * d + k] * c[y * d + k]).reduce((s, z) => s + z, 0);
        expect(dot(users, u, items, i, 4)).toBeCloseTo(dot(u0, u, v0, i, 3) + config.temperature! * b[i], 5);
      }
    }
    // Round trip, clone, growth (new items start at bias 0), no tensor leaks.
    const loaded = TwoTowerModel.fromWeights({ ...config, itemBias: true }, model.exportWeights(), { itemTokens, userTokens });
    expect(loaded.embedItems()).toEqual(items);
    const clone = model.clone();
    expect(clone.embedItems()).toEqual(items);
    const before = tf.memory().numTensors;
    model.trainStep(batch, 0.05, { clipNorm: 1 });
    expect(tf.memory().numTensors).toBe(before);
    model.growItems(2, { offsets: Int32Array.of(0, 0, 0), ids: new Int32Array(0) });
    expect(Array.from(model.itemBiasTable!.weights.subarray(5))).toEqual([0, 0]);
    for (const m of [model, plain, loaded, clone]) m.dispose();
  });

  it('without the user ID row: the user tower is its history alone, and the user table never moves', () => {
    const make = () => {
      const m = TwoTowerModel.create({ ...config, userHistory: true, userIdInput: false }, { itemTokens });
      m.setItemFrequencies(counts);
      // Users 0 and 4 share one history; user 5 has none.
      m.setUserHistories({ offsets: Int32Array.of(0, 2, 3, 4, 5, 7, 7), ids: Int32Array.of(1, 3, 0, 2, 4, 1, 3) });
      return m;
    };
    const model = make();
    const users = model.embedUsers();
    const width = model.tower('user').outputDim;
    expect(users.subarray(0, width)).toEqual(users.subarray(4 * width, 5 * width));
    expect(users.subarray(0, width)).not.toEqual(users.subarray(width, 2 * width));
    const grads = model.gradients(batch);
    expect(grads.tables['user.embedding']?.ids.length ?? 0).toBe(0);
    expect(grads.tables['item.embedding'].ids.length).toBeGreaterThan(0);
    const userRows = Float32Array.from(model.userTable.weights);
    for (let step = 0; step < 3; step++) model.trainStep(batch, 0.05);
    expect(model.userTable.weights).toEqual(userRows);
    // The same model with the ID row trains it (the switch is what keeps it still).
    const withId = TwoTowerModel.create({ ...config, userHistory: true }, { itemTokens });
    withId.setItemFrequencies(counts);
    withId.setUserHistories({ offsets: Int32Array.of(0, 2, 3, 4, 5, 7, 7), ids: Int32Array.of(1, 3, 0, 2, 4, 1, 3) });
    expect(withId.gradients(batch).tables['user.embedding'].ids.length).toBeGreaterThan(0);
    // A clone and a reload keep the switch.
    const clone = model.clone();
    expect(clone.embedUsers()).toEqual(model.embedUsers());
    expect(() => TwoTowerModel.create({ ...config, userIdInput: false })).toThrow(/userIdInput = false needs config.userHistory/);
    // The row-solving objectives solve a row per user: they keep it, whole.
    const hybrid = { ...config, objective: 'hybrid' as const, layers: [8, 4], userHistory: true };
    expect(() => TwoTowerModel.create({ ...hybrid, userIdInput: false })).toThrow(/userIdInput = false with objective hybrid/);
    expect(() => TwoTowerModel.create({ ...hybrid, userIdDropout: 0.5 })).toThrow(/userIdDropout = 0.5 with objective hybrid/);
    expect(() => TwoTowerModel.create({ ...config, objective: 'implicit-als', layers: [], userIdInput: false })).toThrow(/userIdInput = false with objective implicit-als/);
    expect(() => TwoTowerModel.create({ ...config, userIdDropout: 1 })).toThrow(/userIdDropout = 1; it must be in \[0, 1\)/);
    for (const m of [model, withId, clone]) m.dispose();
  });

  it('keeps the history path through fromWeights and clone, without leaking tensors', () => {
    const model = create({ userHistory: true });
    model.setUserHistories(userHistories);
    model.trainStep(batch, 0.01, { clipNorm: 1 });
    const before = tf.memory().numTensors;
    for (let step = 0; step < 3; step++) model.trainStep(batch, 0.01, { clipNorm: 1 });
    model.embedUsers();
    expect(tf.memory().numTensors).toBe(before);
    const loaded = TwoTowerModel.fromWeights({ ...config, userHistory: true }, model.exportWeights(), { itemTokens, userTokens });
    loaded.setUserHistories(userHistories);
    expect(loaded.embedUsers()).toEqual(model.embedUsers());
    const clone = model.clone();
    expect(clone.embedUsers()).toEqual(model.embedUsers());
    // The history is an input: changing it changes the user's vector.
    clone.setUserHistories({ offsets: new Int32Array(7), ids: new Int32Array(0) });
    expect(clone.embedUsers().subarray(0, 3)).not.toEqual(model.embedUsers().subarray(0, 3));
    expect(() => create().setUserHistories(userHistories)).toThrow(/userHistory = true/);
    expect(() => model.setUserHistories({ offsets: Int32Array.of(0, 1), ids: Int32Array.of(9) })).toThrow(/item row 9/);
    for (const m of [model, loaded, clone]) m.dispose();
  });

  it('implicit-als: outputs are the raw ID rows (inner products, no normalisation); the config names what ALS cannot have', () => {
    const model = TwoTowerModel.create({ users: 3, items: 4, dim: 5, layers: [], objective: 'implicit-als', seed: 2 });
    expect(model.outputDim).toBe(5);
    expect(model.embedUsers()).toEqual(model.userTable.weights);
    expect(model.embedItems(Int32Array.of(2))).toEqual(model.itemTable.weights.subarray(10, 15));
    expect(() => model.trainStep({ users: Int32Array.of(0), items: Int32Array.of(1) }, 0.1)).toThrow(/not by gradient steps/);
    model.dispose();
    const als = { users: 3, items: 4, objective: 'implicit-als' as const };
    expect(() => TwoTowerModel.create({ ...als, layers: [8] })).toThrow(/config.layers = \[8\] with objective implicit-als.*--layers none/);
    expect(() => TwoTowerModel.create({ ...als, layers: [], userHistory: true })).toThrow(/config.userHistory with objective implicit-als/);
    expect(() => TwoTowerModel.create({ ...als, layers: [], alsRegularization: 0 })).toThrow(/config.alsRegularization = 0/);
    expect(() => TwoTowerModel.create({ ...als, layers: [] }, { itemTokens: { offsets: new Int32Array(5), ids: new Int32Array(0) } })).toThrow(/token bags .* objective implicit-als/);
    expect(() => TwoTowerModel.create({ users: 1, items: 1, objective: 'svd' as never })).toThrow(/config.objective = "svd" is unknown; use softmax or implicit-als/);
  });

  it('does not leak tensors across training steps', () => {
    const model = create({ tokenDropout: 0.3 });
    model.trainStep(batch, 0.01, { clipNorm: 1 });
    const before = tf.memory().numTensors;
    for (let step = 0; step < 5; step++) model.trainStep(batch, 0.01, { clipNorm: 1 });
    model.embedItems();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('reduces the loss on a repeated batch', () => {
    const model = create();
    const first = model.trainStep(batch, 0.05);
    let last = first;
    for (let step = 0; step < 30; step++) last = model.trainStep(batch, 0.05);
    expect(last).toBeLessThan(first * 0.5);
    model.dispose();
  });

  it('leaves a frozen dense layer and frozen table rows bit-identical', () => {
    const model = create();
    model.tower('user').setTrainable(1, false);
    model.itemTable.freezeRows(0, 3);
    const before = model.exportWeights();
    for (let step = 0; step < 3; step++) model.trainStep(batch, 0.05);
    const after = model.exportWeights();
    const same = (name: string) => expect(weight(after, name).data).toEqual(weight(before, name).data);
    const changed = (name: string) => expect(weight(after, name).data).not.toEqual(weight(before, name).data);
    same('user.dense.0.kernel');
    same('user.dense.0.bias');
    changed('user.dense.1.kernel');
    changed('item.dense.0.kernel');
    expect(weight(after, 'item.embedding').data.subarray(0, 12)).toEqual(weight(before, 'item.embedding').data.subarray(0, 12));
    expect(weight(after, 'item.embedding').data.subarray(12)).not.toEqual(weight(before, 'item.embedding').data.subarray(12));
    model.dispose();
  });

  it('leaves every table bit-identical when layer 0 is frozen in both towers (freezeLowest)', () => {
    const model = create();
    model.tower('user').freezeLowest(1);
    model.tower('item').freezeLowest(1);
    const before = model.exportWeights();
    for (let step = 0; step < 3; step++) model.trainStep(batch, 0.05);
    const after = model.exportWeights();
    for (const name of ['user.embedding', 'item.embedding', 'token.embedding']) expect(weight(after, name).data).toEqual(weight(before, name).data);
    expect(weight(after, 'item.dense.0.kernel').data).not.toEqual(weight(before, 'item.dense.0.kernel').data);
    model.dispose();
  });

  it('scales updates by per-layer learning-rate multipliers (0 = no change)', () => {
    const model = create();
    model.setLearningRateMultiplier(2, 0);
    model.setLearningRateMultiplier(0, 0, 'item');
    const before = model.exportWeights();
    model.trainStep(batch, 0.05);
    const after = model.exportWeights();
    expect(weight(after, 'user.dense.1.kernel').data).toEqual(weight(before, 'user.dense.1.kernel').data);
    expect(weight(after, 'item.embedding').data).toEqual(weight(before, 'item.embedding').data);
    expect(weight(after, 'user.embedding').data).not.toEqual(weight(before, 'user.embedding').data);
    model.dispose();
  });

  it('round-trips through exportWeights / fromWeights with identical embeddings', () => {
    const model = create();
    for (let step = 0; step < 3; step++) model.trainStep(batch, 0.05);
    const loaded = TwoTowerModel.fromWeights(config, model.exportWeights(), { itemTokens, userTokens });
    expect(loaded.embedUsers()).toEqual(model.embedUsers());
    expect(loaded.embedItems()).toEqual(model.embedItems());
    expect(loaded.outputDim).toBe(3);
    const clone = model.clone();
    clone.trainStep(batch, 0.05);
    expect(clone.embedItems()).not.toEqual(model.embedItems());
    expect(loaded.embedItems()).toEqual(model.embedItems());
    clone.loadWeights(model.exportWeights());
    expect(clone.embedItems()).toEqual(model.embedItems());
    for (const m of [model, loaded, clone]) m.dispose();
  });

  it('produces L2-normalised outputs, also for users without tokens and for ID-only models', () => {
    const model = create();
    const users = model.embedUsers();
    expect(users.length).toBe(6 * 3);
    for (let i = 0; i < 6; i++) expect(Math.hypot(...users.subarray(i * 3, i * 3 + 3))).toBeCloseTo(1, 5);
    const idOnly = TwoTowerModel.create({ ...config });
    expect(idOnly.tokenTable).toBeUndefined();
    idOnly.setItemFrequencies(counts);
    const loss = idOnly.trainStep(batch, 0.05);
    expect(Number.isFinite(loss)).toBe(true);
    expect(idOnly.embedItems(Int32Array.of(4, 1)).length).toBe(2 * 3);
    for (const m of [model, idOnly]) m.dispose();
  });

  it('scoring inner-product: raw tower outputs (lengths learned), trained through the same towers; other objectives keep theirs', () => {
    const model = create({ scoring: 'inner-product' });
    expect(model.config.scoring).toBe('inner-product');
    const first = model.trainStep(batch, 0.05);
    let last = first;
    for (let step = 0; step < 30; step++) last = model.trainStep(batch, 0.05);
    expect(last).toBeLessThan(first * 0.5);
    const lengths = Array.from({ length: 6 }, (_, i) => Math.hypot(...model.embedUsers().subarray(i * 3, i * 3 + 3)));
    expect(Math.max(...lengths.map((l) => Math.abs(l - 1)))).toBeGreaterThan(0.05);
    // The choice survives export and reload (the stored config carries it).
    const copy = TwoTowerModel.fromWeights(model.config, model.exportWeights(), { itemTokens, userTokens });
    expect(copy.embedItems()).toEqual(model.embedItems());
    for (const m of [model, copy]) m.dispose();
    expect(TwoTowerModel.create({ ...config }).config.scoring).toBe('cosine');
    expect(TwoTowerModel.create({ users: 3, items: 4, layers: [], objective: 'implicit-als' }).config.scoring).toBe('inner-product');
    expect(() => TwoTowerModel.create({ users: 3, items: 4, layers: [], objective: 'implicit-als', scoring: 'cosine' })).toThrow(/config.scoring = cosine with objective implicit-als, which scores by inner-product; leave scoring out/);
    expect(() => TwoTowerModel.create({ ...config, scoring: 'dot' as never })).toThrow(/config.scoring = "dot" is unknown; use cosine or inner-product/);
  });

  it('grows users and items with trainable new rows', () => {
    const model = create();
    const oldItems = model.embedItems();
    model.itemTable.freezeRows();
    model.growItems(2, { offsets: Int32Array.of(0, 1, 1), ids: Int32Array.of(6) });
    model.growUsers(1);
    expect(model.items).toBe(7);
    expect(model.users).toBe(7);
    expectClose(model.embedItems().subarray(0, oldItems.length), oldItems, 1e-6);
    const before = model.itemTable.exportWeights();
    model.trainStep({ users: Int32Array.of(6, 0, 1), items: Int32Array.of(5, 6, 0) }, 0.05);
    const after = model.itemTable.weights;
    expect(after.subarray(0, 20)).toEqual(before.subarray(0, 20));
    expect(after.subarray(20)).not.toEqual(before.subarray(20));
    model.dispose();
  });
});

describe('TwoTowerModel validation', () => {
  it('names bad ids and shapes in BAD_INPUT errors', () => {
    const model = TwoTowerModel.create({ ...config }, { itemTokens });
    let error: unknown;
    try {
      model.trainStep({ users: Int32Array.of(0), items: Int32Array.of(9) }, 0.1);
    } catch (e) {
      error = e;
    }
    expect(isGraftError(error, 'BAD_INPUT')).toBe(true);
    expect((error as Error).message).toContain('item 9');
    expect(() => TwoTowerModel.create({ ...config, items: 4 }, { itemTokens })).toThrow(/offsets have length 6/);
    expect(() => model.tower('user').setTrainable(3, false)).toThrow(/layers 0..2/);
    model.dispose();
  });
});
