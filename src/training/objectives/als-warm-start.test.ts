import { describe, expect, it } from 'vitest';
import { createRng } from '../../dataset/random.js';
import { buildHistoryBags } from '../../model/history-bags.js';
import { TwoTowerModel, type TwoTowerConfig } from '../../model/two-tower.model.js';
import { fitImplicitAls } from '../implicit-als.js';
import { warmStartNewRows, warmStartRows } from './als-warm-start.js';
import { objectiveNamed } from './index.js';

/** 60 users in 3 groups, each choosing 5 of its group's 20 items; item 59 and user 59 have no events. */
function planted() {
  const rng = createRng(3, { resumable: true });
  const users: number[] = [];
  const items: number[] = [];
  for (let user = 0; user < 59; user++) {
    const group = user % 3;
    const chosen = new Set<number>();
    while (chosen.size < 5) chosen.add(Math.min(58, group * 20 + Math.floor(20 * rng.next())));
    for (const item of chosen) {
      users.push(user);
      items.push(item);
    }
  }
  return { users: Int32Array.from(users), items: Int32Array.from(items) };
}

const SIZE = { users: 60, items: 60 };

function model(extra: Partial<TwoTowerConfig> = {}): TwoTowerModel {
  return TwoTowerModel.create({ ...SIZE, dim: 8, layers: [16, 8], userHistory: true, temperature: 0.2, seed: 5, ...extra });
}

function rms(values: Float32Array, rows: number[], dim: number): number {
  let sum = 0;
  for (const r of rows) for (let x = 0; x < dim; x++) sum += values[r * dim + x]! ** 2;
  return Math.sqrt(sum / (rows.length * dim));
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('warmStartRows', () => {
  it("overwrites the rows with events by the ALS solution at the draw's scale, and nothing else", async () => {
    const data = planted();
    const m = model();
    const drawnUsers = Float32Array.from(m.userTable.weights);
    const drawnItems = Float32Array.from(m.itemTable.weights);
    const dense = m.exportWeights().filter((w) => w.name.includes('.dense.'));
    const solved = await warmStartRows(m, data, { threads: 1 });
    expect(solved?.aborted).toBe(false);

    // The solution the warm start used: the same solve on an ID-rows model of the same seed.
    const als = TwoTowerModel.create({ ...SIZE, dim: 8, layers: [], objective: 'implicit-als', seed: 5 });
    await fitImplicitAls(als, data, { epochs: m.config.alsSweeps, threads: 1 });
    for (const [table, reference, drawn] of [
      [m.userTable, als.userTable, drawnUsers],
      [m.itemTable, als.itemTable, drawnItems],
    ] as const) {
      const withEvents = range(59);
      // Same directions: each row a positive multiple of the solution's, one factor for the whole table.
      const scale = table.weights[0]! / reference.weights[0]!;
      expect(scale).toBeGreaterThan(0);
      for (const r of withEvents) for (let x = 0; x < 8; x++) expect(table.weights[r * 8 + x]).toBeCloseTo(reference.weights[r * 8 + x]! * scale, 5);
      // ... at the random draw's size.
      expect(rms(table.weights, withEvents, 8)).toBeCloseTo(rms(drawn, withEvents, 8), 5);
      // The row without events keeps its draw.
      expect(Array.from(table.weights.subarray(59 * 8, 60 * 8))).toEqual(Array.from(drawn.subarray(59 * 8, 60 * 8)));
    }
    // The dense layers are not touched.
    const after = new Map(m.exportWeights().map((w) => [w.name, w.data]));
    for (const w of dense) expect(Array.from(after.get(w.name)!)).toEqual(Array.from(w.data));
    als.dispose();
    m.dispose();
  });

  it('keeps frozen rows as they are', async () => {
    const m = model();
    m.itemTable.freezeRows(0, 10);
    const before = Float32Array.from(m.itemTable.weights.subarray(0, 80));
    await warmStartRows(m, planted(), { threads: 1 });
    expect(Array.from(m.itemTable.weights.subarray(0, 80))).toEqual(Array.from(before));
    expect(Array.from(m.itemTable.weights.subarray(80, 160))).not.toEqual(Array.from(before.subarray(0, 80)));
    m.dispose();
  });

  it('returns the aborted solve and leaves the rows at their draw', async () => {
    const m = model();
    const before = Float32Array.from(m.itemTable.weights);
    const controller = new AbortController();
    controller.abort();
    const solved = await warmStartRows(m, planted(), { threads: 1, signal: controller.signal });
    expect(solved?.aborted).toBe(true);
    expect(Array.from(m.itemTable.weights)).toEqual(Array.from(before));
    m.dispose();
  });
});

describe('warmStartNewRows (a transfer\'s new rows)', () => {
  /** A grafted model: the user rows and items 0-29 carry a solve of every event (the "source"); items 30-59 and users 50-59 are new, at their draw. */
  async function grafted() {
    const data = planted();
    const source = TwoTowerModel.create({ ...SIZE, dim: 8, layers: [], objective: 'implicit-als', seed: 11 });
    await fitImplicitAls(source, data, { epochs: 10, threads: 1 });
    const m = model();
    const users = Int32Array.from(range(60), (u) => (u < 50 ? u : -1));
    const items = Int32Array.from(range(60), (i) => (i < 30 ? i : -1));
    // The source rows at a trained model's small scale (the warm start must not depend on it).
    for (let x = 0; x < 50 * 8; x++) m.userTable.weights[x] = source.userTable.weights[x]! * 0.03;
    for (let x = 0; x < 30 * 8; x++) m.itemTable.weights[x] = source.itemTable.weights[x]! * 0.03;
    source.dispose();
    return { data, m, grafted: { users, items } };
  }

  it("solves the new rows against the grafted ones, at the draw's scale, and leaves the grafted rows, the rows without events and the layers as they were", async () => {
    const { data, m, grafted: g } = await grafted();
    const usersBefore = Float32Array.from(m.userTable.weights);
    const itemsBefore = Float32Array.from(m.itemTable.weights);
    const dense = m.exportWeights().filter((w) => w.name.includes('.dense.'));
    const solved = await warmStartNewRows(m, data, g, { threads: 1 });
    expect(solved?.aborted).toBe(false);
    // Grafted rows bit-identical.
    expect(Array.from(m.userTable.weights.subarray(0, 50 * 8))).toEqual(Array.from(usersBefore.subarray(0, 50 * 8)));
    expect(Array.from(m.itemTable.weights.subarray(0, 30 * 8))).toEqual(Array.from(itemsBefore.subarray(0, 30 * 8)));
    // New rows with events moved, at the draw's root mean square; the row without events (59) kept its draw.
    const newItems = range(29).map((i) => 30 + i);
    const newUsers = range(9).map((u) => 50 + u);
    expect(Array.from(m.itemTable.weights.subarray(30 * 8, 59 * 8))).not.toEqual(Array.from(itemsBefore.subarray(30 * 8, 59 * 8)));
    expect(rms(m.itemTable.weights, newItems, 8)).toBeCloseTo(rms(itemsBefore, newItems, 8), 5);
    expect(rms(m.userTable.weights, newUsers, 8)).toBeCloseTo(rms(usersBefore, newUsers, 8), 5);
    expect(Array.from(m.itemTable.weights.subarray(59 * 8))).toEqual(Array.from(itemsBefore.subarray(59 * 8)));
    expect(Array.from(m.userTable.weights.subarray(59 * 8))).toEqual(Array.from(usersBefore.subarray(59 * 8)));
    const after = new Map(m.exportWeights().map((w) => [w.name, w.data]));
    for (const w of dense) expect(Array.from(after.get(w.name)!)).toEqual(Array.from(w.data));
    // Nothing stays frozen in the model that was not frozen before.
    expect(Array.from(m.itemTable.frozen).every((f) => f === 0)).toBe(true);
    m.dispose();
  });

  it('places a new item with its own users: nearer (cosine) to the mean grafted row of its group than to the others', async () => {
    const { data, m, grafted: g } = await grafted();
    await warmStartNewRows(m, data, g, { threads: 1 });
    const row = (t: Float32Array, r: number) => Array.from(t.subarray(r * 8, (r + 1) * 8));
    const cos = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0) / Math.hypot(...a) / Math.hypot(...b);
    const groupMean = (group: number) => {
      const mean = new Array<number>(8).fill(0);
      for (let u = group; u < 50; u += 3) row(m.userTable.weights, u).forEach((v, x) => (mean[x]! += v));
      return mean;
    };
    const means = [0, 1, 2].map(groupMean);
    let placed = 0;
    // Items are group * 20 + k: 30-39 are group 1's, 40-58 group 2's.
    for (let item = 30; item < 59; item++) {
      const own = Math.min(2, Math.floor(item / 20));
      const scores = means.map((mean) => cos(row(m.itemTable.weights, item), mean));
      if (scores.indexOf(Math.max(...scores)) === own) placed++;
    }
    expect(placed).toBeGreaterThanOrEqual(27);
    m.dispose();
  });

  it('keeps rows the strategy froze, and returns an aborted solve with the rows untouched', async () => {
    const { data, m, grafted: g } = await grafted();
    m.itemTable.freezeRows(30, 40);
    const before = Float32Array.from(m.itemTable.weights);
    await warmStartNewRows(m, data, g, { threads: 1 });
    expect(Array.from(m.itemTable.weights.subarray(30 * 8, 40 * 8))).toEqual(Array.from(before.subarray(30 * 8, 40 * 8)));
    const other = await grafted();
    const untouched = Float32Array.from(other.m.itemTable.weights);
    const controller = new AbortController();
    controller.abort();
    expect((await warmStartNewRows(other.m, other.data, other.grafted, { threads: 1, signal: controller.signal }))?.aborted).toBe(true);
    expect(Array.from(other.m.itemTable.weights)).toEqual(Array.from(untouched));
    m.dispose();
    other.m.dispose();
  });
});

describe('the softmax fit with rowInit implicit-als', () => {
  const FIT = { epochs: 1, batchSize: 32, learningRate: 0.01, seed: 9, threads: 1 };

  function fitted(extra: Partial<TwoTowerConfig>, prepare?: (m: TwoTowerModel) => void) {
    const data = planted();
    const m = model(extra);
    m.setUserHistories(buildHistoryBags(data.users, data.items, SIZE.users));
    prepare?.(m);
    return { m, data };
  }

  it('starts a fresh model at the ALS rows, and a model whose weights were loaded at its own', async () => {
    const fresh = { random: fitted({ rowInit: 'random' }), als: fitted({ rowInit: 'implicit-als' }) };
    expect(fresh.als.m.rowsAtInitialiser).toBe(true);
    await objectiveNamed('softmax').fit(fresh.random.m, fresh.random.data, FIT);
    await objectiveNamed('softmax').fit(fresh.als.m, fresh.als.data, FIT);
    expect(fresh.als.m.rowsAtInitialiser).toBe(false);
    // The same draw and the same steps: only the start differs.
    expect(Array.from(fresh.als.m.itemTable.weights)).not.toEqual(Array.from(fresh.random.m.itemTable.weights));

    // Weights loaded (as a graft or a clone has them): the fit keeps them, whatever rowInit says.
    const start = model().exportWeights();
    const loaded = {
      random: fitted({ rowInit: 'random' }, (m) => m.loadWeights(start)),
      als: fitted({ rowInit: 'implicit-als' }, (m) => m.loadWeights(start)),
    };
    expect(loaded.als.m.rowsAtInitialiser).toBe(false);
    await objectiveNamed('softmax').fit(loaded.random.m, loaded.random.data, FIT);
    await objectiveNamed('softmax').fit(loaded.als.m, loaded.als.data, FIT);
    expect(Array.from(loaded.als.m.itemTable.weights)).toEqual(Array.from(loaded.random.m.itemTable.weights));
    for (const f of [fresh.random, fresh.als, loaded.random, loaded.als]) f.m.dispose();
  });

  it('warm-starts once: the start happens before the first fit only', async () => {
    // Zero epochs: the rows are only what the start made of them.
    const a = fitted({ rowInit: 'implicit-als' });
    const drawn = Float32Array.from(a.m.itemTable.weights);
    await objectiveNamed('softmax').fit(a.m, a.data, { ...FIT, epochs: 0 });
    const started = Float32Array.from(a.m.itemTable.weights);
    expect(Array.from(started)).not.toEqual(Array.from(drawn));
    await objectiveNamed('softmax').fit(a.m, a.data, FIT);
    const afterFirst = Float32Array.from(a.m.itemTable.weights);
    await objectiveNamed('softmax').fit(a.m, a.data, { ...FIT, epochs: 0 });
    expect(Array.from(a.m.itemTable.weights)).toEqual(Array.from(afterFirst));
    const copy = a.m.clone();
    expect(copy.rowsAtInitialiser).toBe(false);
    copy.dispose();
    a.m.dispose();
  });

  it('refuses an unknown rowInit, naming the choices', () => {
    expect(() => model({ rowInit: 'svd' as never })).toThrow(/config.rowInit = "svd" is unknown; use random or implicit-als/);
  });
});
