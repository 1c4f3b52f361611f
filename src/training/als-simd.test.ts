import { describe, expect, it } from 'vitest';
import { compiledWat } from '../model/testing/wat-bytes.js';
import { createRng } from '../dataset/random.js';
import { TwoTowerModel } from '../model/two-tower.model.js';
import { ALS_SIMD_WASM_BASE64 } from './als-simd-wasm.js';
import { alsKernel, type AlsHalf, type AlsKernel } from './als-kernel.js';
import { alsSimdModule, alsSimdSupported } from './als-simd.js';
import { confidenceMatrix, domainGramians, fitImplicitAls, solveTableRows } from './implicit-als.js';
import { twoDomainZipfEvents } from './als-test-data.js';


describe('the WebAssembly SIMD kernel of implicit ALS', () => {
  it('is the committed compilation of als-simd.wat (run `npm run wasm` after editing the WAT)', async () => {
    expect(await compiledWat(new URL('./als-simd.wat', import.meta.url))).toBe(ALS_SIMD_WASM_BASE64);
  });

  it('runs on this Node (WebAssembly SIMD validates); exact solves report the JS kernel', async () => {
    expect(alsSimdSupported()).toBe(true);
    const data = twoDomainZipfEvents(2, 30, 40, 200);
    const model = TwoTowerModel.create({ users: 30, items: 40, dim: 8, layers: [], objective: 'implicit-als', alsCgSteps: 0, seed: 5 });
    expect((await fitImplicitAls(model, data, { epochs: 1 })).alsKernel).toBe('js');
    model.dispose();
  });

  // dim 10 pads rows to 16 floats, 64 is the default, 20 pads to 24 (a 4-row and 1-row mix of masks either way).
  for (const f of [10, 20, 64]) {
    it(`solves the same rows as the float64 JS kernel within float32 rounding (dim ${f})`, async () => {
      const users = 300;
      const items = 500;
      const data = twoDomainZipfEvents(21, users, items, 3000);
      const { byUser, byItem } = confidenceMatrix(data, users, items, 40);
      const solve = async (simd: boolean) => {
        const model = TwoTowerModel.create({ users, items, dim: f, layers: [], objective: 'implicit-als', alsCgSteps: 3, seed: 5 });
        const before = model.userTable.weights.slice();
        const steps = new Float32Array(users).fill(1).fill(0.5, 0, 30);
        await solveTableRows(model.userTable, model.itemTable, byUser, byItem.domains, { alpha: 40, reg: 0.1, cgSteps: 3, steps, simd });
        const out = { before, after: model.userTable.weights.slice() };
        model.dispose();
        return out;
      };
      const js = await solve(false);
      const simd = await solve(true);
      let worst = 0;
      let scale = 0;
      for (let k = 0; k < js.after.length; k++) {
        worst = Math.max(worst, Math.abs(simd.after[k]! - js.after[k]!));
        scale = Math.max(scale, Math.abs(js.after[k]!));
      }
      // Float32 sums of 64 products on rows of size ~1: agreement to ~1e-4 of the largest entry.
      expect(worst / scale).toBeLessThan(2e-4);
      expect(js.after.reduce((s, v, k) => s + Math.abs(v - js.before[k]!), 0)).toBeGreaterThan(1);
      expect(new Set(byUser.domains)).toEqual(new Set([0, 1, 2, 3]));
    });
  }

  /** `domainGramians`' JS loop (before the SIMD quads): the reference its SIMD path must equal bit for bit. */
  it('sums the Gramian and objective chunks bit-identically to the JS kernel (float64, same order), dims 8, 10, 64 and odd 7, 9 (JS quads)', () => {
    const rng = createRng(3, { resumable: true });
    const simd = alsKernel(alsSimdModule());
    const js = alsKernel(null);
    expect(simd.name).toBe('simd');
    for (const f of [8, 10, 64, 7, 9]) {
      // Several Gramian chunks (1,024 rows) and objective chunks (512 rows), a short last one of each.
      const rows = 2100;
      const users = 1100;
      const y = Float32Array.from({ length: rows * f }, () => rng.next() - 0.5);
      const yDomains = Uint8Array.from({ length: rows }, () => Math.floor(rng.next() * 4));
      const x = Float32Array.from({ length: users * f }, () => rng.next() - 0.5);
      const domains = Uint8Array.from({ length: users }, () => Math.floor(rng.next() * 4));
      const offsets = new Int32Array(users + 1);
      for (let u = 0; u < users; u++) offsets[u + 1] = offsets[u]! + (domains[u] === 0 ? 0 : Math.floor(rng.next() * 4));
      const cols = Int32Array.from({ length: offsets[users]! }, () => Math.floor(rng.next() * rows));
      const confidence = Float32Array.from({ length: offsets[users]! }, () => 40 * rng.next());
      const sums = (kernel: AlsKernel) => {
        const scratch = kernel.createScratch(f, 1);
        const chunks = Math.ceil(rows / kernel.gramRows);
        const partials = new Float64Array(chunks * kernel.gramPartialSize(f));
        for (let c = 0; c < chunks; c++) kernel.gramChunk(y, f, yDomains, c, partials, scratch);
        const grams = new Float64Array(4 * f * f);
        kernel.reduceGrams(partials, chunks, f, grams);
        const h: AlsHalf = { f, cgSteps: 0, reg: 0.1, y, x, offsets, cols, confidence, domains, yDomains, frozen: new Uint8Array(users), steps: null, grams };
        kernel.newStep(scratch);
        const objectiveChunks = kernel.objectiveChunks(h);
        const objective = new Float64Array(2 * objectiveChunks);
        for (let c = 0; c < objectiveChunks; c++) kernel.objectiveChunk(h, c, objective, scratch);
        return { partials, objective };
      };
      const a = sums(simd);
      const b = sums(js);
      expect(Buffer.from(a.partials.buffer).equals(Buffer.from(b.partials.buffer))).toBe(true);
      expect(Buffer.from(a.objective.buffer).equals(Buffer.from(b.objective.buffer))).toBe(true);
    }
  });

  it('fits to the same objective as the JS kernel over several sweeps, bit-identical on 1, 2 and 3 threads', async () => {
    const users = 700;
    const items = 900;
    const data = twoDomainZipfEvents(9, users, items, 6000);
    const fit = async (threads: number, simd: boolean) => {
      const model = TwoTowerModel.create({ users, items, dim: 12, layers: [], objective: 'implicit-als', alsCgSteps: 3, seed: 5 });
      model.userTable.freezeRows(0, 40);
      model.itemTable.setRowLearningRateMultiplier(0, 100, 0.3);
      const result = await fitImplicitAls(model, data, { epochs: 4, threads, simd });
      expect(result.alsKernel).toBe(simd ? 'simd' : 'js');
      const out = { users: model.userTable.weights.slice(), items: model.itemTable.weights.slice(), loss: result.history.at(-1)!.loss };
      model.dispose();
      return out;
    };
    const js = await fit(1, false);
    const one = await fit(1, true);
    expect(Math.abs(one.loss - js.loss) / Math.abs(js.loss)).toBeLessThan(1e-4);
    for (const threads of [2, 3]) {
      const many = await fit(threads, true);
      expect(Buffer.from(many.users.buffer).equals(Buffer.from(one.users.buffer))).toBe(true);
      expect(Buffer.from(many.items.buffer).equals(Buffer.from(one.items.buffer))).toBe(true);
      expect(many.loss).toBe(one.loss);
    }
  });
});
