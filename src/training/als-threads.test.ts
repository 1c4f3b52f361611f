import { describe, expect, it } from 'vitest';
import { TwoTowerModel } from '../model/two-tower.model.js';
import { resolvePretrainSettings } from '../workflows/settings/run-settings.js';
import { AlsThreads, releaseShared, sharedCopy } from './als-threads.js';
import { confidenceMatrix, domainGramians, fitImplicitAls, implicitObjective, solveTableRows, type ConfidenceRows } from './implicit-als.js';
import { twoDomainZipfEvents } from './als-test-data.js';

function alsModel(users: number, items: number, dim: number, alsCgSteps: number) {
  return TwoTowerModel.create({ users, items, dim, layers: [], objective: 'implicit-als', alsCgSteps, seed: 5 });
}

/**
 * The per-row conjugate gradient the solver used before rows were batched (one row at a time,
 * single running sums): the reference the batched solver must agree with.
 */
function perRowCg(x: Float32Array, y: Float32Array, rows: ConfidenceRows, grams: Float64Array, f: number, reg: number, steps: number): Float32Array {
  const out = x.slice();
  const apply = (r: number, v: Float64Array) => {
    const g = rows.domains[r]! * f * f;
    const ap = new Float64Array(f);
    for (let a = 0; a < f; a++) {
      let s = reg * v[a]!;
      for (let b = 0; b < f; b++) s += grams[g + a * f + b]! * v[b]!;
      ap[a] = s;
    }
    for (let k = rows.offsets[r]!; k < rows.offsets[r + 1]!; k++) {
      const o = rows.cols[k]! * f;
      let dot = 0;
      for (let a = 0; a < f; a++) dot += y[o + a]! * v[a]!;
      for (let a = 0; a < f; a++) ap[a] += rows.confidence[k]! * dot * y[o + a]!;
    }
    return ap;
  };
  for (let r = 0; r + 1 < rows.offsets.length; r++) {
    if (rows.offsets[r] === rows.offsets[r + 1]) {
      out.fill(0, r * f, (r + 1) * f);
      continue;
    }
    const sol = Float64Array.from(x.subarray(r * f, (r + 1) * f));
    const ax = apply(r, sol);
    const res = new Float64Array(f);
    for (let k = rows.offsets[r]!; k < rows.offsets[r + 1]!; k++) {
      for (let a = 0; a < f; a++) res[a] += (1 + rows.confidence[k]!) * y[rows.cols[k]! * f + a]!;
    }
    for (let a = 0; a < f; a++) res[a] -= ax[a]!;
    const dir = res.slice();
    let rr = res.reduce((s, v) => s + v * v, 0);
    for (let step = 0; step < steps && rr > 1e-20; step++) {
      const ap = apply(r, dir);
      const pAp = dir.reduce((s, v, a) => s + v * ap[a]!, 0);
      if (!(pAp > 0)) break;
      const alpha = rr / pAp;
      for (let a = 0; a < f; a++) {
        sol[a] += alpha * dir[a]!;
        res[a] -= alpha * ap[a]!;
      }
      const next = res.reduce((s, v) => s + v * v, 0);
      for (let a = 0; a < f; a++) dir[a] = res[a]! + (next / rr) * dir[a]!;
      rr = next;
    }
    out.set(sol, r * f);
  }
  return out;
}

describe('implicit ALS on several threads', () => {
  it('batched conjugate gradient agrees with the per-row solver it replaced', async () => {
    const f = 10; // odd halves of the 4 x 2 blocks and of the 4-wide sums are exercised too
    const data = twoDomainZipfEvents(21, 300, 500, 3000);
    const model = alsModel(300, 500, f, 3);
    const { byUser, byItem } = confidenceMatrix(data, 300, 500, 40);
    const grams = domainGramians(model.itemTable.weights, f, byItem.domains);
    const expected = perRowCg(model.userTable.weights, model.itemTable.weights, byUser, grams, f, 0.1, 3);
    const before = model.userTable.weights.slice();
    // The float64 JS kernel (the SIMD kernel's float32 sums agree to ~1e-4, als-simd.test.ts).
    await solveTableRows(model.userTable, model.itemTable, byUser, byItem.domains, { alpha: 40, reg: 0.1, cgSteps: 3, simd: false });
    const got = model.userTable.weights;
    let worst = 0;
    for (let k = 0; k < got.length; k++) worst = Math.max(worst, Math.abs(got[k]! - expected[k]!) / (1e-3 + Math.abs(expected[k]!)));
    expect(worst).toBeLessThan(1e-4);
    // The solve moved the rows (the comparison is not between two copies of the start).
    expect(got.reduce((s, v, k) => s + Math.abs(v - before[k]!), 0)).toBeGreaterThan(1);
    // Both domain masks and users without events occur.
    expect(new Set(byUser.domains)).toEqual(new Set([0, 1, 2, 3]));
    model.dispose();
  });

  for (const [cgSteps, simd] of [[3, true], [3, false], [0, true]] as const) {
    it(`gives bit-identical factors and objective on 1, 2 and 3 threads (${cgSteps === 0 ? 'exact solves' : `${cgSteps} CG steps`}, SIMD ${simd ? 'on' : 'off'}, frozen and damped rows)`, async () => {
      // More rows than one Gramian chunk (1,024) and one objective chunk (512) on both sides.
      const users = 2500;
      const items = 3000;
      const data = twoDomainZipfEvents(9, users, items, 12000);
      const fit = async (threads: number) => {
        const model = alsModel(users, items, 8, cgSteps);
        model.userTable.freezeRows(0, 40);
        model.itemTable.setRowLearningRateMultiplier(0, 100, 0.3);
        const steps: number[] = [];
        const result = await fitImplicitAls(model, data, { epochs: 2, threads, simd, onStep: (p) => steps.push(p.loss) });
        const { byUser, byItem } = confidenceMatrix(data, users, items, model.config.alsAlpha);
        const recomputed = implicitObjective(model.userTable, model.itemTable, byUser, byItem.domains, model.config.alsRegularization) / byUser.cols.length;
        const out = { users: model.userTable.weights.slice(), items: model.itemTable.weights.slice(), loss: result.history.at(-1)!.loss, steps, recomputed, threads: result.threads };
        model.dispose();
        return out;
      };
      const one = await fit(1);
      // The loss the fit reports is the one-thread objective of its factors, bit for bit.
      expect(one.loss).toBe(one.recomputed);
      expect(one.steps).toHaveLength(4);
      for (const threads of [2, 3]) {
        const many = await fit(threads);
        expect(many.threads).toBe(threads);
        expect(Buffer.from(many.users.buffer).equals(Buffer.from(one.users.buffer))).toBe(true);
        expect(Buffer.from(many.items.buffer).equals(Buffer.from(one.items.buffer))).toBe(true);
        expect(many.loss).toBe(one.loss);
        expect(many.steps).toEqual(one.steps);
        expect(many.recomputed).toBe(one.recomputed);
      }
    });
  }

  it('keeps each table its own array across a threaded fit, with the final rows in it; callbacks see the rows of the sweep just run', async () => {
    const users = 300;
    const items = 400;
    const data = twoDomainZipfEvents(6, users, items, 3000);
    const rowsAfter = async (threads: number) => {
      const model = alsModel(users, items, 8, 3);
      const own = { users: model.userTable.weights, items: model.itemTable.weights };
      const seen: number[] = [];
      await fitImplicitAls(model, data, { epochs: 3, threads, onEpoch: () => void seen.push(model.userTable.weights[5]!, model.itemTable.weights[7]!) });
      expect(model.userTable.weights).toBe(own.users);
      expect(model.itemTable.weights).toBe(own.items);
      expect(own.users.buffer).toBeInstanceOf(ArrayBuffer);
      const out = { users: own.users.slice(), items: own.items.slice(), seen };
      model.dispose();
      return out;
    };
    const one = await rowsAfter(1);
    const two = await rowsAfter(2);
    expect(Buffer.from(two.users.buffer).equals(Buffer.from(one.users.buffer))).toBe(true);
    expect(Buffer.from(two.items.buffer).equals(Buffer.from(one.items.buffer))).toBe(true);
    // Every epoch's callback read that epoch's rows (they move from sweep to sweep).
    expect(two.seen).toEqual(one.seen);
    expect(new Set(one.seen).size).toBe(6);
  });

  it('sums the Gramians and the objective and solves every row once on three threads, as one thread does', async () => {
    const f = 8;
    const users = 1000;
    const data = twoDomainZipfEvents(4, users, 400, 5000);
    const model = alsModel(users, 400, f, 3);
    const { byUser, byItem } = confidenceMatrix(data, users, 400, 40);
    const x = sharedCopy(model.userTable.weights);
    const half = { f, cgSteps: 3, reg: 0.1, y: sharedCopy(model.itemTable.weights), x, offsets: sharedCopy(byUser.offsets), cols: sharedCopy(byUser.cols), confidence: sharedCopy(byUser.confidence), domains: sharedCopy(byUser.domains), yDomains: sharedCopy(byItem.domains), frozen: sharedCopy(model.userTable.frozen), steps: null };
    const pool = AlsThreads.open([half], 3);
    try {
      const grams = await pool.gramians(0);
      expect(Buffer.from(grams.buffer, grams.byteOffset, grams.byteLength).equals(Buffer.from(domainGramians(model.itemTable.weights, f, byItem.domains).buffer))).toBe(true);
      expect(await pool.objective(0)).toBe(implicitObjective(model.userTable, model.itemTable, byUser, byItem.domains, 0.1));
      expect(await pool.solve(0)).toBe(true);
      // Chunks of 128 rows, each thread taking whichever is next: how many each gets depends on timing, never the rows' values.
      expect(pool.rowsByThread).toHaveLength(3);
      expect(pool.rowsByThread.reduce((a, b) => a + b, 0)).toBe(users);
    } finally {
      await pool.close();
    }
    await solveTableRows(model.userTable, model.itemTable, byUser, byItem.domains, { alpha: 40, reg: 0.1, cgSteps: 3 });
    expect(Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(model.userTable.weights.buffer))).toBe(true);
    model.dispose();
  });

  it('hands the warm worker of a closed pool to the next pool, which then uses its own arrays and dimension', async () => {
    for (const f of [8, 4, 8]) {
      const users = 700;
      const data = twoDomainZipfEvents(13, users, 300, 3000);
      const model = alsModel(users, 300, f, 3);
      const { byUser, byItem } = confidenceMatrix(data, users, 300, 40);
      const half = { f, cgSteps: 3, reg: 0.1, y: sharedCopy(model.itemTable.weights), x: sharedCopy(model.userTable.weights), offsets: sharedCopy(byUser.offsets), cols: sharedCopy(byUser.cols), confidence: sharedCopy(byUser.confidence), domains: sharedCopy(byUser.domains), yDomains: sharedCopy(byItem.domains), frozen: sharedCopy(model.userTable.frozen), steps: null };
      const pool = AlsThreads.open([half], 2);
      try {
        await pool.gramians(0);
        expect(await pool.solve(0)).toBe(true);
      } finally {
        await pool.close();
      }
      await solveTableRows(model.userTable, model.itemTable, byUser, byItem.domains, { alpha: 40, reg: 0.1, cgSteps: 3 });
      expect(Buffer.from(half.x.buffer, half.x.byteOffset, half.x.byteLength).equals(Buffer.from(model.userTable.weights.buffer))).toBe(true);
      model.dispose();
    }
  });

  it('reuses a released shared buffer of the same size for the next copy, with the new values', () => {
    const first = sharedCopy(Float32Array.of(1, 2, 3, 4, 5, 6, 7));
    releaseShared([first, first.subarray(2)]);
    const next = sharedCopy(Float32Array.of(9, 8, 7, 6, 5, 4, 3));
    expect(next.buffer).toBe(first.buffer);
    expect(Array.from(next)).toEqual([9, 8, 7, 6, 5, 4, 3]);
    // Taken once: another copy of that size gets a buffer of its own.
    expect(sharedCopy(Float32Array.of(0, 0, 0, 0, 0, 0, 0)).buffer).not.toBe(first.buffer);
  });

  it('refuses a thread count that is not a whole number from 1 to 256, naming it', async () => {
    const data = twoDomainZipfEvents(2, 20, 20, 60);
    const model = alsModel(20, 20, 4, 3);
    for (const threads of [0, -1, 1.5, 257, Number.NaN]) {
      await expect(fitImplicitAls(model, data, { epochs: 1, threads })).rejects.toThrow(`threads = ${threads}; use an integer from 1 to 256`);
    }
    model.dispose();
    for (const threads of [0, 2.5, 1000]) {
      expect(() => resolvePretrainSettings({ objective: 'implicit-als', threads })).toThrow(/threads/);
    }
    expect(resolvePretrainSettings({ objective: 'implicit-als', threads: 2 }).training.threads).toBe(2);
    expect(resolvePretrainSettings({ objective: 'implicit-als' }).training.threads).toBeUndefined();
    expect(resolvePretrainSettings({ objective: 'softmax', threads: 2 }).training.threads).toBe(2);
  });
});
