import { describe, expect, it } from 'vitest';
import { createRng, shuffleInPlace } from './random.js';

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
