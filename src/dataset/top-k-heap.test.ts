import { describe, expect, it } from 'vitest';
import { createRng } from './random.js';
import { TopKHeap } from './top-k-heap.js';

describe('TopKHeap', () => {
  it('keeps the k best of a stream, best first, ties to the lower row', () => {
    const rng = createRng(9);
    // Scores on a coarse grid so that ties are frequent; rows offered in shuffled order.
    const pairs = Array.from({ length: 500 }, (_, row) => ({ row, score: Math.floor(rng.next() * 40) / 40 }));
    const offered = [...pairs].sort(() => rng.next() - 0.5);
    for (const k of [1, 7, 64, 500, 600]) {
      const top = new TopKHeap(Math.min(k, 500));
      for (const { row, score } of offered) top.offer(row, score);
      const expected = [...pairs].sort((a, b) => b.score - a.score || a.row - b.row).slice(0, k);
      const result = top.toResult();
      expect([...result.ids]).toEqual(expected.map((p) => p.row));
      expect([...result.scores]).toEqual(expected.map((p) => Math.fround(p.score)));
    }
  });

  it('keeps nothing with capacity 0', () => {
    const top = new TopKHeap(0);
    expect(top.offer(1, 1)).toBe(false);
    expect(top.toResult().ids.length).toBe(0);
  });

  it('items() lists the kept rows best first without emptying; NaN is skipped; clear() starts over', () => {
    const top = new TopKHeap(5);
    top.offer(3, 1);
    expect(top.offer(4, NaN)).toBe(false);
    top.offer(1, 2);
    expect(Array.from(top.items())).toEqual([1, 3]);
    expect(top.size).toBe(2);
    top.clear();
    top.offer(9, 0.5);
    expect(Array.from(top.items())).toEqual([9]);
  });
});
