import { describe, expect, it } from 'vitest';
import { pairedBootstrap, relativeGain } from './paired-bootstrap.js';
import { rngFromState } from '../dataset/random.js';

/** Per-user pairs whose differences are 0.3 + uniform noise in [-1, 1] (true mean 0.3). */
function pairs(users: number, seed: number): [Float32Array, Float32Array] {
  const random = rngFromState(seed).next;
  const b = Float32Array.from({ length: users }, () => random());
  const a = b.map((value) => value + 0.3 + (random() * 2 - 1));
  return [a, b];
}

describe('pairedBootstrap', () => {
  it('has a CI around the true mean difference that narrows with more users', () => {
    const small = pairedBootstrap(...pairs(400, 1));
    const large = pairedBootstrap(...pairs(6400, 2));
    for (const { mean, ci } of [small, large]) {
      expect(ci[0]).toBeLessThan(0.3);
      expect(ci[1]).toBeGreaterThan(0.3);
      expect(ci[0]).toBeLessThan(mean);
      expect(ci[1]).toBeGreaterThan(mean);
    }
    // width shrinks like 1/sqrt(users): 16x the users, about a quarter of the width
    const ratio = (large.ci[1] - large.ci[0]) / (small.ci[1] - small.ci[0]);
    expect(ratio).toBeGreaterThan(0.15);
    expect(ratio).toBeLessThan(0.35);
  });

  it('gives a zero-width interval for a constant difference and is seeded', () => {
    const b = Float32Array.from({ length: 50 }, (_, n) => n / 50);
    const a = b.map((value) => value + 0.25);
    const { mean, ci } = pairedBootstrap(a, b);
    expect(mean).toBeCloseTo(0.25, 6);
    expect(ci[0]).toBeCloseTo(0.25, 6);
    expect(ci[1]).toBeCloseTo(0.25, 6);
    const [x, y] = pairs(100, 3);
    expect(pairedBootstrap(x, y, { seed: 5 })).toEqual(pairedBootstrap(x, y, { seed: 5 }));
  });

  it('rejects misaligned arrays', () => {
    expect(() => pairedBootstrap(new Float32Array(3), new Float32Array(4))).toThrow(/aligned/);
  });
});

describe('relativeGain', () => {
  it('is the change relative to the baseline', () => {
    expect(relativeGain(0.12, 0.1)).toBeCloseTo(0.2, 12);
    expect(relativeGain(0, 0)).toBe(0);
    expect(relativeGain(0.1, 0)).toBe(Infinity);
  });
});
