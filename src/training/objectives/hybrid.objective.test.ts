import { describe, expect, it } from 'vitest';
import { createRng } from '../../dataset/random.js';
import { buildHistoryBags } from '../../model/history-bags.js';
import type { TokenBags } from '../../model/token-hash.js';
import { TwoTowerModel, type TwoTowerConfig } from '../../model/two-tower.model.js';
import { fitImplicitAls } from '../implicit-als.js';
import { profileTopShares, TOP_SHARES } from './hybrid.objective.js';
import { objectiveNamed } from './index.js';

/**
 * Planted structure: users in 6 groups, each choosing from its own block of 40 items (low
 * offsets more often), 3 training events and 1 validation event per user. Every item carries
 * its block's tag (token = block) and its own token (6 + item), so the tags tell what the
 * rarely seen items' rows cannot.
 */
function planted(seed: number) {
  const groups = 6;
  const usersPerGroup = 30;
  const block = 40;
  const rng = createRng(seed, { resumable: true });
  const train = { users: [] as number[], items: [] as number[] };
  const validation = { users: [] as number[], items: [] as number[] };
  const seen: Set<number>[] = [];
  for (let g = 0; g < groups; g++) {
    for (let k = 0; k < usersPerGroup; k++) {
      const user = g * usersPerGroup + k;
      const chosen = new Set<number>();
      while (chosen.size < 4) chosen.add(g * block + Math.floor(block * rng.next() ** 1.5));
      const list = [...chosen];
      for (const item of list.slice(0, 3)) {
        train.users.push(user);
        train.items.push(item);
      }
      validation.users.push(user);
      validation.items.push(list[3]!);
      seen[user] = new Set(list.slice(0, 3));
    }
  }
  const items = groups * block;
  const offsets = new Int32Array(items + 1);
  const ids = new Int32Array(2 * items);
  for (let i = 0; i < items; i++) {
    offsets[i + 1] = 2 * (i + 1);
    ids[2 * i] = Math.floor(i / block);
    ids[2 * i + 1] = groups + i;
  }
  const itemTokens: TokenBags = { offsets, ids };
  return {
    users: groups * usersPerGroup,
    items,
    train: { users: Int32Array.from(train.users), items: Int32Array.from(train.items) },
    validation: { users: Int32Array.from(validation.users), items: Int32Array.from(validation.items) },
    seen,
    itemTokens,
  };
}

type Planted = ReturnType<typeof planted>;

/** HR@10 of the validation item against every item the user has not trained on, by inner product. */
function validationHitRate(model: TwoTowerModel, data: Planted): number {
  const u = model.embedUsers();
  const v = model.embedItems();
  const d = model.outputDim;
  let hits = 0;
  for (let k = 0; k < data.validation.users.length; k++) {
    const user = data.validation.users[k]!;
    const target = data.validation.items[k]!;
    const score = (i: number) => {
      let s = 0;
      for (let a = 0; a < d; a++) s += u[user * d + a]! * v[i * d + a]!;
      return s;
    };
    const s = score(target);
    let above = 0;
    for (let i = 0; i < data.items; i++) if (i !== target && !data.seen[user]!.has(i) && score(i) > s) above++;
    if (above < 10) hits++;
  }
  return hits / data.validation.users.length;
}

function hybridModel(data: Planted, extra: Partial<TwoTowerConfig> = {}): TwoTowerModel {
  const model = TwoTowerModel.create(
    { users: data.users, items: data.items, dim: 8, layers: [16, 8], tokenBuckets: 6 + data.items, userHistory: true, objective: 'hybrid', alsSweeps: 6, alsAlpha: 10, alsRegularization: 1, temperature: 0.2, seed: 5, ...extra },
    { itemTokens: data.itemTokens },
  );
  model.setUserHistories(buildHistoryBags(data.train.users, data.train.items, data.users));
  return model;
}

const FIT = { batchSize: 64, learningRate: 0.01, seed: 9, threads: 1 };

describe('hybrid objective', () => {
  it('starts as its ID rows: the residual top adds zero until it trains', () => {
    const data = planted(1);
    const model = hybridModel(data);
    expect(Array.from(model.embedUsers())).toEqual(Array.from(model.userTable.weights));
    expect(Array.from(model.embedItems())).toEqual(Array.from(model.itemTable.weights));
    model.dispose();
  });

  it('solves the ID rows by ALS, then trains the top above them: the loss falls, the rows stay the ALS solution', async () => {
    const data = planted(2);
    const model = hybridModel(data);
    const result = await objectiveNamed('hybrid').fit(model, data.train, { ...FIT, epochs: 4 });
    // Stage 1 alone on a twin model: the same sweeps from the same initial rows.
    const twin = hybridModel(data);
    await fitImplicitAls(twin, data.train, { epochs: 6, threads: 1 });
    expect(Array.from(model.userTable.weights)).toEqual(Array.from(twin.userTable.weights));
    expect(Array.from(model.itemTable.weights)).toEqual(Array.from(twin.itemTable.weights));
    expect(result.epochs).toBe(4);
    expect(result.history[3]!.loss).toBeLessThan(result.history[0]!.loss);
    const last = model.tower('user').kernels[1]!.dataSync();
    expect(Math.max(...Array.from(last, Math.abs))).toBeGreaterThan(0);
    // The top moved the towers off their ID rows; the tables' freeze masks are as before (nothing frozen).
    expect(Array.from(model.embedItems())).not.toEqual(Array.from(model.itemTable.weights));
    expect(model.userTable.frozen.every((f) => f === 0)).toBe(true);
    expect(model.itemTable.frozen.every((f) => f === 0)).toBe(true);
    model.dispose();
    twin.dispose();
  });

  it('keeps rows frozen before the fit bit-identical and their masks after it', async () => {
    const data = planted(3);
    const model = hybridModel(data);
    model.userTable.freezeRows(0, 30);
    model.itemTable.freezeRows(0, 40);
    const before = { users: model.userTable.weights.slice(0, 30 * 8), items: model.itemTable.weights.slice(0, 40 * 8), otherItems: model.itemTable.weights.slice(40 * 8) };
    await objectiveNamed('hybrid').fit(model, data.train, { ...FIT, epochs: 2 });
    expect(Array.from(model.userTable.weights.slice(0, 30 * 8))).toEqual(Array.from(before.users));
    expect(Array.from(model.itemTable.weights.slice(0, 40 * 8))).toEqual(Array.from(before.items));
    expect(Array.from(model.itemTable.weights.slice(40 * 8))).not.toEqual(Array.from(before.otherItems));
    expect(Array.from(model.userTable.frozen.slice(28, 32))).toEqual([1, 1, 0, 0]);
    expect(Array.from(model.itemTable.frozen.slice(38, 42))).toEqual([1, 1, 0, 0]);
    model.dispose();
  });

  it('on planted structure is no worse than ALS alone on the validation metric (the carve picks the epochs, 0 keeps ALS)', async () => {
    const data = planted(4);
    const als = hybridModel(data);
    await fitImplicitAls(als, data.train, { epochs: 6, threads: 1 });
    const alsHitRate = validationHitRate(als, data);
    const model = hybridModel(data);
    const result = await objectiveNamed('hybrid').fit(model, data.train, {
      ...FIT,
      epochs: 8,
      validate: (m) => validationHitRate(m, data),
      earlyStopping: { patience: 3, restoreBest: true },
    });
    const hybridHitRate = validationHitRate(model, data);
    expect(hybridHitRate).toBeGreaterThanOrEqual(alsHitRate);
    expect(result.bestValidation).toBeCloseTo(hybridHitRate, 6);
    // With the carve's events the epochs are chosen the same way, then the model refits on train + validation.
    const refit = hybridModel(data);
    // The copy that chose them, without the carve's events, is handed over in the shape delivered (the popularity term is chosen on it).
    const copies: { hitRate: number; items: Float32Array }[] = [];
    const onCarveFreeModel = (m: TwoTowerModel) => void copies.push({ hitRate: validationHitRate(m, data), items: m.embedItems() });
    const chosen = await objectiveNamed('hybrid').fit(refit, data.train, { ...FIT, epochs: 8, validate: (m) => validationHitRate(m, data), validationEvents: data.validation, onCarveFreeModel });
    expect(copies).toHaveLength(1);
    expect(copies[0]!.hitRate).toBeCloseTo(chosen.bestValidation!, 6);
    expect(Array.from(copies[0]!.items)).not.toEqual(Array.from(refit.embedItems()));
    expect(chosen.bestEpoch).toBeDefined();
    expect(chosen.epochs).toBe(chosen.bestEpoch);
    expect(chosen.bestValidation).toBeGreaterThanOrEqual(alsHitRate);
    // A top that trained is kept at the share the carve chose; none without one.
    if (chosen.bestEpoch! > 0) for (const tower of ['user', 'item'] as const) expect([...TOP_SHARES, 0]).toContain(chosen.topShare![tower]);
    else expect(chosen.topShare).toBeUndefined();
    for (const m of [als, model, refit]) m.dispose();
  });

  it('scales a residual top exactly: share 0 gives the ID rows, halving then doubling gives the top back bit for bit, each tower by its own share', async () => {
    const data = planted(5);
    const model = hybridModel(data);
    await objectiveNamed('hybrid').fit(model, data.train, { ...FIT, epochs: 2 });
    const trained = { users: model.embedUsers(), items: model.embedItems() };
    expect(Array.from(trained.items)).not.toEqual(Array.from(model.itemTable.weights));
    model.scaleResidualTops(0.5);
    expect(Array.from(model.embedItems())).not.toEqual(Array.from(trained.items));
    model.scaleResidualTops(2);
    expect(Array.from(model.embedUsers())).toEqual(Array.from(trained.users));
    expect(Array.from(model.embedItems())).toEqual(Array.from(trained.items));
    // Each tower by its own share, and a copy of the tops puts them back after a share of 0.
    const tops = model.residualTops();
    model.scaleResidualTops({ user: 0.5, item: 0 });
    expect(Array.from(model.embedItems())).toEqual(Array.from(model.itemTable.weights));
    expect(Array.from(model.embedUsers())).not.toEqual(Array.from(trained.users));
    model.restoreResidualTops(tops);
    expect(Array.from(model.embedUsers())).toEqual(Array.from(trained.users));
    expect(Array.from(model.embedItems())).toEqual(Array.from(trained.items));
    expect(() => model.tower('item').restoreResidual({ kernel: new Float32Array(3), bias: new Float32Array(1) })).toThrow(/item tower: a residual top of 3 \+ 1 weights does not fit this tower's last layer/);
    model.scaleResidualTops(0);
    expect(Array.from(model.embedItems())).toEqual(Array.from(model.itemTable.weights));
    expect(() => model.scaleResidualTops(-1)).toThrow(/residual scale -1; it must be a finite number >= 0/);
    // Towers without a residual top (softmax) are left as they are.
    const softmax = TwoTowerModel.create({ users: data.users, items: data.items, dim: 8, layers: [16, 8], seed: 5 });
    const before = softmax.embedItems();
    softmax.scaleResidualTops(0.5);
    expect(Array.from(softmax.embedItems())).toEqual(Array.from(before));
    for (const m of [model, softmax]) m.dispose();
  });

  it("profiles the tops' shares on the validator, both towers then each alone below them, and leaves the model at the best (ties keep more of the top)", async () => {
    const data = planted(6);
    const model = hybridModel(data);
    await objectiveNamed('hybrid').fit(model, data.train, { ...FIT, epochs: 2 });
    const trained = { user: model.tower('user').kernels[1]!.dataSync().slice(), item: model.tower('item').kernels[1]!.dataSync().slice() };
    const scaleOf = (m: TwoTowerModel, tower: 'user' | 'item') => {
      const k = m.tower(tower).kernels[1]!.dataSync();
      let at = 0;
      while (trained[tower][at] === 0) at++;
      return k[at]! / trained[tower][at]!;
    };
    // A validator that likes a quarter of the user tower's top and a sixteenth of the item tower's.
    const seen: string[] = [];
    const liking = (m: TwoTowerModel) => 1 - Math.abs(scaleOf(m, 'user') - 0.25) - Math.abs(scaleOf(m, 'item') - 0.0625);
    const best = await profileTopShares(
      model,
      (m) => {
        seen.push(`${scaleOf(m, 'user')}/${scaleOf(m, 'item')}`);
        return liking(m);
      },
      (v) => v,
      liking(model),
    );
    expect(seen).toEqual([
      // both towers: from a half down; 1/4 to 1/16 tie, and the first of them is kept
      '0.5/0.5', '0.25/0.25', '0.125/0.125', '0.0625/0.0625', '0.03125/0.03125',
      // the item tower alone below both towers' 1/4 (0 included: the item's top dropped, then restored)
      '0.25/0.125', '0.25/0.0625', '0.25/0.03125', '0.25/0',
      // the user tower alone below 1/4 over the item's 1/16 (1/16 both was measured); never above the towers' share
      '0.125/0.0625', '0.03125/0.0625', '0/0.0625',
    ]);
    expect(best).toEqual({ share: { user: 0.25, item: 0.0625 }, result: 1 });
    expect(Array.from(model.tower('user').kernels[1]!.dataSync())).toEqual(Array.from(trained.user, (w) => Math.fround(w * 0.25)));
    expect(Array.from(model.tower('item').kernels[1]!.dataSync())).toEqual(Array.from(trained.item, (w) => Math.fround(w * 0.0625)));
    // A flat validator keeps the tops as trained, bit for bit.
    model.scaleResidualTops({ user: 4, item: 16 });
    const flat = await profileTopShares(model, () => 0.5, (v) => v, 0.5);
    expect(flat).toEqual({ share: { user: 1, item: 1 }, result: 0.5 });
    expect(Array.from(model.tower('user').kernels[1]!.dataSync())).toEqual(Array.from(trained.user));
    expect(Array.from(model.tower('item').kernels[1]!.dataSync())).toEqual(Array.from(trained.item));
    model.dispose();
  });
});
