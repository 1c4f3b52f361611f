import { buildHistoryBags } from '../model/history-bags.js';
import { afterEach, describe, expect, it } from 'vitest';
import { createRng } from '../dataset/random.js';
import { useBackend } from '../model/testing/each-backend.js';
import { TwoTowerModel, type TwoTowerConfig } from '../model/two-tower.model.js';
import { ExampleMixture, type TrainingData } from './example-mixture.js';
import { defaultTowerThreads, MIN_BATCHES_PER_THREAD, TowerThreads } from './tower-threads.js';
import { train } from './train.js';

// The worker threads run the compiled package (`npm test` builds it first; `npm run build` otherwise).

const USERS = 300;
const ITEMS = 120;
const CLUSTERS = 6;

/** Users in clusters, each liking its own block of items; `perUser` training events each, seeded. */
function planted(perUser: number, seed: number): TrainingData {
  const rng = createRng(seed, { resumable: true });
  const users: number[] = [];
  const items: number[] = [];
  const block = ITEMS / CLUSTERS;
  for (let u = 0; u < USERS; u++) {
    const c = u % CLUSTERS;
    for (let k = 0; k < perUser; k++) {
      users.push(u);
      items.push(c * block + Math.floor(block * rng.next() ** 2));
    }
  }
  return { users: Int32Array.from(users), items: Int32Array.from(items) };
}

/** Each user's training items as a history bag. */
function histories(data: TrainingData) {
  const lists: number[][] = Array.from({ length: USERS }, () => []);
  data.users.forEach((u, i) => lists[u].push(data.items[i]));
  const offsets = new Int32Array(USERS + 1);
  lists.forEach((l, u) => (offsets[u + 1] = offsets[u] + l.length));
  return { offsets, ids: Int32Array.from(lists.flat()) };
}

/** Token bags: every item has its cluster's token and one of its own. */
function itemTokens() {
  const offsets = new Int32Array(ITEMS + 1);
  const ids: number[] = [];
  for (let i = 0; i < ITEMS; i++) {
    ids.push(Math.floor(i / (ITEMS / CLUSTERS)), 10 + (i % 7));
    offsets[i + 1] = ids.length;
  }
  return { offsets, ids: Int32Array.from(ids) };
}

/** Mean over users of the share of their top-10 items that lie in their cluster's block. */
function blockPrecision(model: TwoTowerModel): number {
  const u = model.embedUsers();
  const v = model.embedItems();
  const d = model.outputDim;
  const block = ITEMS / CLUSTERS;
  let total = 0;
  for (let user = 0; user < USERS; user++) {
    const scores = Array.from({ length: ITEMS }, (_, i) => {
      let s = 0;
      for (let k = 0; k < d; k++) s += u[user * d + k] * v[i * d + k];
      return s;
    });
    const top = scores.map((s, i) => [s, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 10);
    total += top.filter(([, i]) => Math.floor(i / block) === user % CLUSTERS).length / 10;
  }
  return total / USERS;
}

const config: TwoTowerConfig = {
  users: USERS,
  items: ITEMS,
  dim: 8,
  layers: [16, 8],
  tokenBuckets: 32,
  temperature: 0.2,
  logQ: true,
  seed: 5,
  userHistory: true,
  userHistoryLength: 6,
  historyDropout: 0.3,
  userIdDropout: 0.5,
  tokenDropout: 0.2,
  uniformNegatives: 16,
};

describe('towers trained on worker threads', () => {
  afterEach(async () => {
    await useBackend('wasm');
  });

  it('with one worker thread, trains bit for bit as this thread does (tokens, history, item audience, dropouts, negatives, replay, frozen rows, clipping, schedule)', async () => {
    await useBackend('wasm');
    const data: TrainingData = { ...planted(6, 1), replay: { ...planted(2, 9), weight: 0.4, fraction: 0.3 } };
    const build = () => {
      const model = TwoTowerModel.create({ ...config, itemAudience: true }, { itemTokens: itemTokens() });
      model.setUserHistories(histories(data));
      model.setItemAudiences(buildHistoryBags(data.items, data.users, ITEMS));
      model.userTable.freezeRows(0, 20);
      model.itemTable.setRowLearningRateMultiplier(0, 30, 0.5);
      model.setTrainable(1, false, 'item');
      model.setLearningRateMultiplier(2, 0.3);
      return model;
    };
    const schedule = { warmupSteps: 3, decay: 'cosine' as const };
    const here = build();
    const inProcess = await train(here, data, { epochs: 2, batchSize: 32, learningRate: 0.01, seed: 4, clipNorm: 5, schedule });

    const there = build();
    const mixture = new ExampleMixture(data, 32, createRng(4, { resumable: true }));
    there.setItemFrequencies(mixture.itemCounts(ITEMS));
    const frozenBefore = there.userTable.weights.slice(0, 20 * 8);
    const run = await TowerThreads.start(there, data, { threads: 1, batchSize: 32, seed: 4, learningRate: 0.01, totalSteps: 2 * mixture.stepsPerEpoch, clipNorm: 5, schedule });
    const losses: number[] = [];
    try {
      for (let e = 0; e < 2; e++) {
        const epoch = await run.epoch(e * mixture.stepsPerEpoch);
        expect(epoch.steps).toBe(mixture.stepsPerEpoch);
        losses.push(Array.from(epoch.losses).reduce((a, b) => a + b, 0) / epoch.steps);
      }
    } finally {
      run.close();
    }
    expect(losses).toEqual(inProcess.history.map((h) => h.loss));
    const a = here.exportWeights();
    const b = there.exportWeights();
    expect(b.map((w) => w.name)).toEqual(a.map((w) => w.name));
    a.forEach((w, i) => expect(b[i].data, w.name).toEqual(w.data));
    // The frozen rows stayed, the towers' dense optimizer state came back: one more step agrees too.
    expect(there.userTable.weights.slice(0, 20 * 8)).toEqual(frozenBefore);
    const batch = { users: Int32Array.of(1, 2, 3, 4), items: Int32Array.of(5, 6, 7, 8) };
    expect(there.trainStep(batch, 0.01)).toBe(here.trainStep(batch, 0.01));
    expect(there.exportWeights().map((w) => Array.from(w.data))).toEqual(here.exportWeights().map((w) => Array.from(w.data)));
    here.dispose();
    there.dispose();
  }, 60_000);

  it("on two threads takes a round's steps from the same weights and applies them in thread order at the round's barrier, rows and dense layers: bit for bit", async () => {
    await useBackend('wasm');
    const data = planted(6, 11);
    const seed = 6;
    const lr = 0.01;
    // History pooling (hot item rows in every batch) and item tokens; no dropout and no
    // sampled negatives, whose draws are per thread.
    const build = () => {
      const model = TwoTowerModel.create({ ...config, userIdDropout: 0, historyDropout: 0, tokenDropout: 0, uniformNegatives: 0 }, { itemTokens: itemTokens() });
      model.setUserHistories(histories(data));
      return model;
    };
    const threaded = build();
    const result = await train(threaded, data, { epochs: 2, batchSize: 32, learningRate: lr, seed, threads: 2 });
    expect(result.threads).toBe(2);

    // The same rounds on this thread: step 2r + 1's gradients taken first (nothing applied),
    // then step 2r taken with both dense updates, then step 2r + 1's rows applied.
    const here = build();
    const mixture = new ExampleMixture(data, 32, createRng(seed, { resumable: true }));
    here.setItemFrequencies(mixture.itemCounts(ITEMS));
    const tables = { 'user.embedding': here.userTable, 'item.embedding': here.itemTable, 'token.embedding': here.tokenTable! };
    for (let epoch = 0; epoch < 2; epoch++) {
      mixture.shuffle();
      const steps = mixture.stepsPerEpoch;
      expect(steps % 2).toBe(1); // the last round has one step: thread 1 only syncs
      for (let s = 0; s < steps; s += 2) {
        const second = s + 1 < steps ? here.gradients(mixture.batch(s + 1)) : undefined;
        here.trainStep(mixture.batch(s), lr, {
          denseSync: { exchange: (local) => [{ gradients: local!, learningRate: lr }, ...(second ? [{ gradients: Object.values(second.dense), learningRate: lr }] : [])] },
        });
        if (second) {
          expect(Object.keys(second.tables).sort()).toEqual(Object.keys(tables).sort());
          for (const [name, table] of Object.entries(tables)) table.applyGradients(second.tables[name]!.ids, second.tables[name]!.grads, lr);
        }
      }
    }
    const a = here.exportWeights();
    const b = threaded.exportWeights();
    expect(b.map((w) => w.name)).toEqual(a.map((w) => w.name));
    a.forEach((w, i) => expect(b[i].data, w.name).toEqual(w.data));
    // Both moved (the comparison is not of two untouched models).
    const initial = build().exportWeights();
    for (const name of ['item.embedding', 'user.dense.0.kernel']) expect(a.find((w) => w.name === name)!.data).not.toEqual(initial.find((w) => w.name === name)!.data);
    here.dispose();
    threaded.dispose();
  }, 60_000);

  it('is reproducible for a seed on two threads, with every dropout and sampled negatives', async () => {
    await useBackend('wasm');
    const data = planted(6, 12);
    const fit = async () => {
      const model = TwoTowerModel.create(config, { itemTokens: itemTokens() });
      model.setUserHistories(histories(data));
      await train(model, data, { epochs: 2, batchSize: 32, learningRate: 0.01, seed: 8, threads: 2 });
      const weights = model.exportWeights();
      model.dispose();
      return weights;
    };
    const first = await fit();
    const second = await fit();
    first.forEach((w, i) => expect(second[i].data, w.name).toEqual(w.data));
  }, 60_000);

  it('trains on two threads as well as on one (planted clusters), the tables updated in place', async () => {
    await useBackend('wasm');
    const data = planted(10, 2);
    const fit = async (threads: number) => {
      const model = TwoTowerModel.create({ ...config, userHistory: false, userIdDropout: 0, historyDropout: 0 });
      const before = blockPrecision(model);
      const result = await train(model, data, { epochs: 6, batchSize: 32, learningRate: 0.01, seed: 3, threads });
      return { model, result, before, after: blockPrecision(model) };
    };
    const one = await fit(1);
    const two = await fit(2);
    expect(one.result.threads).toBeUndefined();
    expect(two.result.threads).toBe(2);
    expect(two.result.steps).toBe(one.result.steps);
    expect(two.result.history).toHaveLength(6);
    // Both learn the clusters from chance (1 / 6) to most of the top 10; two threads within 0.1 of one.
    expect(one.after).toBeGreaterThan(0.6);
    expect(two.after).toBeGreaterThan(0.6);
    expect(Math.abs(two.after - one.after)).toBeLessThan(0.1);
    expect(two.before).toBeLessThan(0.4);
    one.model.dispose();
    two.model.dispose();
  }, 120_000);

  it('keeps every dense replica identical over thousands of short rounds, on more threads than cores (checked each epoch)', async () => {
    await useBackend('wasm');
    const data = planted(10, 7);
    for (const threads of [2, 3]) {
      const model = TwoTowerModel.create({ ...config, layers: [8], userHistory: false });
      // Batches of 4: about 750 rounds an epoch per thread count, each a hand-over; a replica
      // that took another update (a slot overwritten while read) fails the epoch's digest check.
      const result = await train(model, data, { epochs: 2, batchSize: 4, learningRate: 0.005, threads });
      expect(result.threads).toBe(threads);
      expect(result.steps).toBe(2 * 750);
      expect(result.history.every((h) => Number.isFinite(h.loss))).toBe(true);
      model.dispose();
    }
  }, 120_000);

  it('stops within a round when the signal aborts, and the next run reuses the parked workers', async () => {
    await useBackend('wasm');
    const data = planted(40, 3);
    const model = TwoTowerModel.create({ ...config, userHistory: false });
    const controller = new AbortController();
    let seen = 0;
    const result = await train(model, data, {
      epochs: 50,
      batchSize: 16,
      learningRate: 0.01,
      threads: 2,
      signal: controller.signal,
      onStep: (p) => {
        seen = Math.max(seen, p.step);
        if (p.step > 20) controller.abort();
      },
    });
    expect(result.aborted).toBe(true);
    expect(result.epochs).toBe(0);
    expect(result.steps).toBeGreaterThan(20);
    expect(result.steps).toBeLessThan(750);
    expect(seen).toBeGreaterThan(20);
    const again = await train(model, planted(4, 4), { epochs: 1, batchSize: 16, learningRate: 0.01, threads: 2 });
    expect(again.threads).toBe(2);
    expect(again.aborted).toBe(false);
    model.dispose();
  }, 60_000);

  it('trains on this thread where the threads cannot (a model without the softmax task; the cpu backend is fine)', async () => {
    await useBackend('wasm');
    const data = planted(4, 5);
    const als = TwoTowerModel.create({ users: USERS, items: ITEMS, dim: 4, layers: [], userHistory: false, objective: 'implicit-als' });
    expect(als.trainsInThreads).toBe(false);
    expect(TowerThreads.available(als)).toBe(false);
    expect(() => als.threadState()).toThrow(/in-batch softmax task/);
    als.dispose();
    await useBackend('cpu');
    const model = TwoTowerModel.create({ ...config, userHistory: false, layers: [8] });
    const result = await train(model, data, { epochs: 1, batchSize: 32, learningRate: 0.01, threads: 2 });
    expect(result.threads).toBe(2);
    model.dispose();
  }, 60_000);

  it('defaults to the cores, one per MIN_BATCHES_PER_THREAD batches an epoch (replay counted), at least one', () => {
    const examples = (batches: number) => ({ users: new Int32Array(Math.round(batches * 256)), items: new Int32Array(Math.round(batches * 256)) });
    const per = MIN_BATCHES_PER_THREAD;
    expect(defaultTowerThreads(examples(per - 1), 256, 2)).toBe(1);
    expect(defaultTowerThreads(examples(2 * per - 1), 256, 2)).toBe(1);
    expect(defaultTowerThreads(examples(2 * per), 256, 2)).toBe(2);
    expect(defaultTowerThreads(examples(100 * per), 256, 2)).toBe(2);
    expect(defaultTowerThreads(examples(100 * per), 256, 8)).toBe(8);
    expect(defaultTowerThreads(examples(0), 256, 8)).toBe(1);
    expect(defaultTowerThreads({ ...examples(per), replay: { ...examples(10 * per), weight: 0.5, fraction: 1 } }, 256, 4)).toBe(2);
    expect(defaultTowerThreads({ ...examples(per), replay: { ...examples(2 * per), weight: 0.5 } }, 256, 4)).toBe(3);
  });

  it('refuses a thread count that is not a positive integer', async () => {
    const model = TwoTowerModel.create({ ...config, userHistory: false });
    await expect(train(model, planted(2, 6), { epochs: 1, learningRate: 0.01, threads: 0 })).rejects.toThrow(/threads = 0; use an integer from 1 to 256/);
    await expect(train(model, planted(2, 6), { epochs: 1, learningRate: 0.01, threads: 1.5 })).rejects.toThrow(/threads = 1.5/);
    await expect(train(model, planted(2, 6), { epochs: 1, learningRate: 0.01, threads: 257 })).rejects.toThrow(/threads = 257/);
    model.dispose();
  });
});
