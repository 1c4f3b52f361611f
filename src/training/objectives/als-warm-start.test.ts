import { describe, expect, it } from 'vitest';
import { createRng } from '../../dataset/random.js';
import { buildHistoryBags } from '../../model/history-bags.js';
import { TwoTowerModel, type TwoTowerConfig } from '../../model/two-tower.model.js';
import { fitImplicitAls } from '../implicit-als.js';
import { warmStartRows } from './als-warm-start.js';
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
