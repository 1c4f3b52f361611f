import { describe, expect, it } from 'vitest';
import { createRng, deriveSeed, mixSeed, rngFromState, shuffleInPlace } from './random.js';
import { NegativeSampler } from '../evaluation/negative-sampler.js';
import { pairedBootstrap } from '../evaluation/paired-bootstrap.js';

describe('createRng', () => {
  it('repeats its sequence for a seed and differs across seeds', () => {
    const a = createRng(1);
    const b = createRng(1);
    const c = createRng(2);
    const sa = Array.from({ length: 20 }, () => a.next());
    expect(Array.from({ length: 20 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 20 }, () => c.next())).not.toEqual(sa);
  });

  it('draws uniform floats in [0, 1) and ints in [0, n)', () => {
    const rng = createRng(5);
    const buckets = new Array(10).fill(0);
    const n = 100_000;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const x = rng.next();
      if (!(x >= 0 && x < 1)) outside++;
      else buckets[Math.floor(x * 10)]++;
    }
    expect(outside).toBe(0);
    for (const count of buckets) expect(Math.abs(count / n - 0.1)).toBeLessThan(0.01);
    for (let i = 0; i < 1000; i++) {
      const k = rng.int(7);
      expect(Number.isInteger(k) && k >= 0 && k < 7).toBe(true);
    }
  });

  it('draws standard normals', () => {
    const rng = createRng(9);
    let sum = 0;
    let sq = 0;
    const n = 50_000;
    for (let i = 0; i < n; i++) {
      const x = rng.normal();
      sum += x;
      sq += x * x;
    }
    expect(Math.abs(sum / n)).toBeLessThan(0.03);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.03);
  });

  it('shuffles to a permutation', () => {
    const a = shuffleInPlace(Int32Array.from({ length: 50 }, (_, i) => i), createRng(4));
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(a)).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

// Pinned outputs of the three generators Graft had before they became this one module
// (dataset, model engine, evaluation), recorded from that code: every stream (and so the
// evaluation's negatives, and every figure in BENCHMARKS.md measured with them) is unchanged.
describe('one PRNG, the same streams as before', () => {
  it('draws the sampled protocol\'s negatives exactly as before (seed 2040)', () => {
    const pool = Int32Array.from({ length: 5000 }, (_, i) => i * 2);
    const sampler = new NegativeSampler(pool, 10_000);
    const expected: Record<number, { first: number[]; hash: number }> = { 0: {"first": [5798, 1788, 4466, 974, 9320], "hash": 889457710}, 1: {"first": [5710, 7252, 500, 6038, 9402], "hash": -807807234}, 977: {"first": [6624, 7868, 22, 1128, 6654], "hash": 1560413472} };
    for (const [user, want] of Object.entries(expected)) {
      const drawn = sampler.draw(999, sampler.stream(2040, Number(user)), [Int32Array.from([0, 2, 4, 6, 8])]);
      let hash = 0;
      for (let i = 0; i < drawn.length; i++) hash = (Math.imul(hash, 31) + drawn[i]!) | 0;
      expect({ first: Array.from(drawn.slice(0, 5)), hash }).toEqual(want);
    }
    const small = new NegativeSampler(Int32Array.from({ length: 30 }, (_, i) => i), 30);
    expect(Array.from(small.draw(20, small.stream(7, 3), [Int32Array.from([1, 2])]))).toEqual([8, 10, 25, 12, 5, 17, 0, 16, 9, 11, 15, 13, 14, 23, 19, 18, 6, 26, 3, 20]);
  });

  it('resamples the paired bootstrap exactly as before', () => {
    const a = Float32Array.from({ length: 50 }, (_, i) => (i * 7) % 3);
    const b = Float32Array.from({ length: 50 }, (_, i) => (i * 5) % 2);
    expect(pairedBootstrap(a, b, { seed: 2040 })).toEqual({"mean": 0.48, "ci": [0.2, 0.72]});
  });

  it('keeps the data generator\'s and the model engine\'s streams', () => {
    const data = createRng(42);
    expect([data.next(), data.int(1000), data.normal(), data.normal(), data.normal()]).toEqual([0.1778232182841748, 631, 0.841542716071553, -0.8378801417393776, -0.9733174618678769]);
    const engine = createRng(7, { resumable: true });
    expect([engine.next(), engine.int(1000), engine.normal(), engine.normal(), engine.state()]).toEqual([0.7227507401257753, 987, 0.707618737640758, 0.14257808828251878, -1306820889]);
    expect(deriveSeed(2040, 'user-table')).toBe(252293231);
  });

  it('resumes a resumable stream from its state', () => {
    const rng = createRng(11, { resumable: true });
    rng.normal();
    const saved = rng.state();
    const ahead = [rng.next(), rng.normal()];
    rng.restore(saved);
    expect([rng.next(), rng.normal()]).toEqual(ahead);
    expect(rngFromState(mixSeed(2040, 5)).next()).toBe(rngFromState(mixSeed(2040, 5)).next());
  });
});
