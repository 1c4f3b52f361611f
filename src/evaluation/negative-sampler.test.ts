import { describe, expect, it } from 'vitest';
import { NegativeSampler } from './negative-sampler.js';

describe('NegativeSampler', () => {
  const nItems = 200;
  const evenPool = Int32Array.from({ length: nItems / 2 }, (_, n) => 2 * n);
  const train = Int32Array.of(0, 2, 4, 6, 8, 100, 102);
  const test = Int32Array.of(10);

  it('draws distinct pool items outside the user training and test items', () => {
    const sampler = new NegativeSampler(evenPool, nItems);
    const drawn = sampler.draw(40, sampler.stream(2040, 3), [train, test]);
    expect(drawn.length).toBe(40);
    expect(new Set(drawn).size).toBe(40);
    for (const item of drawn) {
      expect(item % 2).toBe(0);
      expect(train.includes(item) || test.includes(item)).toBe(false);
    }
  });

  it('is reproducible for a seed and user and independent of other draws', () => {
    const a = new NegativeSampler(evenPool, nItems);
    const b = new NegativeSampler(evenPool, nItems);
    b.draw(30, b.stream(2040, 99), [train]); // another user's draw first must not matter
    const first = a.draw(20, a.stream(2040, 3), [train, test]);
    const second = b.draw(20, b.stream(2040, 3), [train, test]);
    expect(Array.from(second)).toEqual(Array.from(first));
    const otherUser = a.draw(20, a.stream(2040, 4), [train, test]);
    expect(Array.from(otherUser)).not.toEqual(Array.from(first));
  });

  it('returns every eligible item when fewer exist than requested', () => {
    const sampler = new NegativeSampler(Int32Array.of(1, 2, 3, 4, 5), 10);
    const drawn = sampler.draw(20, sampler.stream(1, 0), [Int32Array.of(2, 9), Int32Array.of(4)]);
    expect(Array.from(drawn).sort()).toEqual([1, 3, 5]);
  });
});
