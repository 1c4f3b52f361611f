import { describe, expect, it } from 'vitest';
import { createRng } from '../dataset/random.js';
import { TwoTowerModel } from '../model/two-tower.model.js';
import { confidenceMatrix, fitImplicitAls, implicitObjective, solveTableRows } from './implicit-als.js';

/** Two groups of users, each choosing from its own half of the items (low ids more often). */
function blocks(seed: number, users = 40, items = 20, perUser = 4) {
  const rng = createRng(seed, { resumable: true });
  const us: number[] = [];
  const is: number[] = [];
  for (let u = 0; u < users; u++) {
    const half = u % 2;
    const chosen = new Set<number>();
    while (chosen.size < perUser) chosen.add(half * (items / 2) + Math.floor((items / 2) * rng.next() ** 2));
    for (const i of chosen) {
      us.push(u);
      is.push(i);
    }
  }
  return { users: Int32Array.from(us), items: Int32Array.from(is), userCount: users, itemCount: items };
}

function alsModel(users: number, items: number, extra: { alsAlpha?: number; alsRegularization?: number; dim?: number } = {}) {
  return TwoTowerModel.create({ users, items, dim: extra.dim ?? 4, layers: [], objective: 'implicit-als', seed: 3, ...extra });
}

/** The objective by its definition: every pair sharing a domain, observed ones with confidence 1 + c. */
function bruteForceObjective(model: TwoTowerModel, pairs: Map<string, number>, domains: { users: Uint8Array; items: Uint8Array }, reg: number): number {
  const f = model.config.dim;
  const x = model.userTable.weights;
  const y = model.itemTable.weights;
  let total = 0;
  for (let u = 0; u < model.users; u++) {
    for (let i = 0; i < model.items; i++) {
      let s = 0;
      for (let a = 0; a < f; a++) s += x[u * f + a]! * y[i * f + a]!;
      const c = pairs.get(`${u},${i}`);
      if (c !== undefined) total += (1 + c) * (1 - s) * (1 - s);
      else if ((domains.users[u]! & domains.items[i]!) !== 0) total += s * s;
    }
  }
  let norms = 0;
  for (const v of [...x, ...y]) norms += v * v;
  return total + reg * norms;
}

describe('implicit ALS', () => {
  it('sums duplicate pairs, scales replayed events by the replay weight and drops zero weights', () => {
    const { byUser: rows, byItem } = confidenceMatrix(
      {
        users: Int32Array.of(0, 0, 1, 1),
        items: Int32Array.of(2, 2, 0, 1),
        weights: Float32Array.of(1, 0.5, 0, 2),
        replay: { users: Int32Array.of(1), items: Int32Array.of(0), weight: 0.25 },
      },
      2,
      3,
      10,
    );
    expect(Array.from(rows.offsets)).toEqual([0, 1, 3]);
    expect(Array.from(rows.cols)).toEqual([2, 0, 1]);
    // user 0 item 2: 10 x (1 + 0.5); user 1 item 0: its own event has weight 0, the replayed one 0.25.
    expect(Array.from(rows.confidence)).toEqual([15, 2.5, 20]);
    expect(Array.from(byItem.offsets)).toEqual([0, 1, 2, 3]);
    expect(Array.from(byItem.cols)).toEqual([1, 1, 0]);
    // Domains: bit 1 = primary events, bit 2 = replayed ones (a zero-weight event makes no member).
    expect(Array.from(rows.domains)).toEqual([1, 3]);
    expect(Array.from(byItem.domains)).toEqual([2, 1, 1]);
  });

  it('names an event outside the tables', () => {
    expect(() => confidenceMatrix({ users: Int32Array.of(5), items: Int32Array.of(0) }, 2, 3, 1)).toThrow(/user row 5 is outside the user table \(0\.\.1\)/);
    expect(() => confidenceMatrix({ users: Int32Array.of(0), items: Int32Array.of(-1) }, 2, 3, 1)).toThrow(/item row -1 is outside/);
  });

  it('computes the objective over the pairs sharing a domain through the Gramians', () => {
    const data = blocks(1, 8, 6, 2);
    // Users 8 and 9 have replayed events only; user 10 and item 6 none at all.
    const model = alsModel(data.userCount + 3, data.itemCount + 1, { alsAlpha: 5 });
    const { byUser: rows, byItem } = confidenceMatrix(
      { ...data, replay: { users: Int32Array.of(8, 9, 1), items: Int32Array.of(0, 5, 2), weight: 0.5 } },
      model.users,
      model.items,
      5,
    );
    const pairs = new Map<string, number>();
    for (let u = 0; u < model.users; u++) for (let k = rows.offsets[u]!; k < rows.offsets[u + 1]!; k++) pairs.set(`${u},${rows.cols[k]}`, rows.confidence[k]!);
    const domains = { users: rows.domains, items: byItem.domains };
    expect(implicitObjective(model.userTable, model.itemTable, rows, byItem.domains, 0.3)).toBeCloseTo(bruteForceObjective(model, pairs, domains, 0.3), 6);
    model.dispose();
  });

  it('solves each row to the minimum of the objective (zero gradient in every coordinate)', async () => {
    const data = blocks(2, 10, 8, 3);
    const model = alsModel(data.userCount, data.itemCount, { alsAlpha: 8 });
    const reg = model.config.alsRegularization;
    const { byUser: rows, byItem } = confidenceMatrix(
      { ...data, replay: { users: Int32Array.of(0, 3), items: Int32Array.of(7, 1), weight: 0.3 } },
      model.users,
      model.items,
      8,
    );
    await solveTableRows(model.userTable, model.itemTable, rows, byItem.domains, { alpha: 8, reg });
    const x = model.userTable.weights;
    const objective = () => implicitObjective(model.userTable, model.itemTable, rows, byItem.domains, reg);
    const base = objective();
    const h = 1e-3;
    for (const at of [0, 5, 17, 38]) {
      const keep = x[at]!;
      x[at] = keep + h;
      const up = objective();
      x[at] = keep - h;
      const down = objective();
      x[at] = keep;
      // A minimum: the central difference vanishes and both sides are higher.
      expect(Math.abs(up - down) / (2 * h)).toBeLessThan(2e-3);
      expect(up).toBeGreaterThan(base);
      expect(down).toBeGreaterThan(base);
    }
    model.dispose();
  });

  it('treats a user without events as unknown to the items, not as negative for all of them', async () => {
    const data = blocks(7, 20, 10, 3);
    const itemsAfter = async (silentUserRow: number[]) => {
      // Users 20 and 21 have no events; their (fixed) rows must not shape the item solve.
      const model = alsModel(22, data.itemCount);
      model.userTable.weights.set(silentUserRow, 20 * 4);
      model.userTable.freezeRows(20, 22);
      await fitImplicitAls(model, data, { epochs: 2 });
      const items = model.itemTable.weights.slice();
      model.dispose();
      return items;
    };
    expect(await itemsAfter([5, 5, 5, 5, -3, 2, 0, 1])).toEqual(await itemsAfter([0, 0, 0, 0, 0, 0, 0, 0]));
  });

  it('conjugate-gradient steps converge to the exact solve', async () => {
    const data = blocks(8, 12, 10, 3);
    const solved = async (cgSteps: number) => {
      const model = alsModel(data.userCount, data.itemCount, { alsAlpha: 8 });
      const { byUser, byItem } = confidenceMatrix(data, model.users, model.items, 8);
      await solveTableRows(model.userTable, model.itemTable, byUser, byItem.domains, { alpha: 8, reg: 0.1, cgSteps });
      const rows = model.userTable.weights.slice();
      model.dispose();
      return rows;
    };
    const exact = await solved(0);
    const distance = (v: Float32Array) => Math.sqrt(v.reduce((s, x, k) => s + (x - exact[k]!) ** 2, 0));
    const one = distance(await solved(1));
    // f = 4: four CG steps solve a 4-dim system exactly (up to rounding).
    expect(distance(await solved(4))).toBeLessThan(1e-4 * Math.hypot(...exact));
    expect(distance(await solved(2))).toBeLessThan(one);
  });

  it('never raises the objective from one half-sweep to the next, and separates the two groups', async () => {
    const data = blocks(3);
    const model = alsModel(data.userCount, data.itemCount, { alsAlpha: 10 });
    const losses: number[] = [];
    const result = await fitImplicitAls(model, data, { epochs: 6, onStep: (p) => losses.push(p.loss) });
    expect(result.epochs).toBe(6);
    expect(losses).toHaveLength(12);
    for (let k = 1; k < losses.length; k++) expect(losses[k]!).toBeLessThanOrEqual(losses[k - 1]! * (1 + 1e-6));
    // Raw inner products: users score their own half of the catalogue above the other half.
    const u = model.embedUsers();
    const v = model.embedItems();
    const f = model.outputDim;
    const score = (user: number, item: number) => {
      let s = 0;
      for (let a = 0; a < f; a++) s += u[user * f + a]! * v[item * f + a]!;
      return s;
    };
    let own = 0;
    let otherHalf = 0;
    for (let user = 0; user < data.userCount; user++) {
      for (let item = 0; item < data.itemCount; item++) {
        if (Math.floor(item / (data.itemCount / 2)) === user % 2) own += score(user, item);
        else otherHalf += score(user, item);
      }
    }
    expect(own).toBeGreaterThan(5 * Math.abs(otherHalf));
    model.dispose();
  });

  it('leaves frozen rows bit-identical and moves damped rows (multiplier < 1) less', async () => {
    const data = blocks(4);
    const run = async (prepare: (m: TwoTowerModel) => void) => {
      const model = alsModel(data.userCount, data.itemCount);
      prepare(model);
      const before = { users: model.userTable.weights.slice(), items: model.itemTable.weights.slice() };
      await fitImplicitAls(model, data, { epochs: 3 });
      const after = { users: model.userTable.weights.slice(), items: model.itemTable.weights.slice() };
      model.dispose();
      return { before, after };
    };
    const frozen = await run((m) => {
      m.userTable.freezeRows(0, 10);
      m.itemTable.freezeRows(0, 5);
    });
    expect(frozen.after.users.subarray(0, 10 * 4)).toEqual(frozen.before.users.subarray(0, 10 * 4));
    expect(frozen.after.items.subarray(0, 5 * 4)).toEqual(frozen.before.items.subarray(0, 5 * 4));
    expect(frozen.after.users.subarray(10 * 4)).not.toEqual(frozen.before.users.subarray(10 * 4));
    expect(frozen.after.items.subarray(5 * 4)).not.toEqual(frozen.before.items.subarray(5 * 4));

    const distance = (r: { before: { users: Float32Array }; after: { users: Float32Array } }) =>
      r.after.users.reduce((s, v, k) => s + (v - r.before.users[k]!) ** 2, 0);
    const free = await run(() => {});
    const anchored = await run((m) => m.userTable.setRowLearningRateMultiplier(0, m.users, 0.1));
    const pinned = await run((m) => m.userTable.setRowLearningRateMultiplier(0, m.users, 0));
    expect(distance(anchored)).toBeLessThan(distance(free) / 2);
    expect(distance(anchored)).toBeGreaterThan(0);
    expect(pinned.after.users).toEqual(pinned.before.users);
  });

  it('validates, keeps the best sweep and stops early like gradient training', async () => {
    const data = blocks(5);
    const model = alsModel(data.userCount, data.itemCount);
    // A metric that peaks at sweep 2: restore must put sweep 2's rows back.
    const curve = [0.1, 0.5, 0.3, 0.2, 0.1];
    let atBest: Float32Array | undefined;
    const result = await fitImplicitAls(model, data, {
      epochs: 5,
      validate: (m, epoch) => {
        if (epoch === 2) atBest = m.userTable.weights.slice();
        return curve[epoch - 1]!;
      },
      earlyStopping: { patience: 2, restoreBest: true },
    });
    expect(result.bestEpoch).toBe(2);
    expect(result.stoppedEarly).toBe(true);
    expect(result.epochs).toBe(4);
    expect(model.userTable.weights).toEqual(atBest);
    model.dispose();
  });

  it('returns aborted when the signal fires', async () => {
    const data = blocks(6);
    const model = alsModel(data.userCount, data.itemCount);
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    const result = await fitImplicitAls(model, data, { epochs: 3, signal: controller.signal });
    expect(result.aborted).toBe(true);
    expect(result.epochs).toBe(0);
    model.dispose();
  });
});
