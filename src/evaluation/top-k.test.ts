import { describe, expect, it } from 'vitest';
import { seededRandom } from './seeded-random.js';
import { TopK } from './top-k.js';

describe('TopK', () => {
  it('matches a full sort with ties broken by lower item index, whatever the offer order', () => {
    const random = seededRandom(3);
    const scores = Array.from({ length: 500 }, () => Math.floor(random() * 40));
    const expected = scores
      .map((score, item) => ({ score, item }))
      .sort((a, b) => b.score - a.score || a.item - b.item)
      .slice(0, 25)
      .map(({ item }) => item);
    const forward = new TopK(25);
    scores.forEach((score, item) => forward.offer(item, score));
    const backward = new TopK(25);
    for (let item = scores.length - 1; item >= 0; item--) backward.offer(item, scores[item]!);
    expect(Array.from(forward.items())).toEqual(expected);
    expect(Array.from(backward.items())).toEqual(expected);
  });

  it('keeps fewer items than its capacity and skips NaN', () => {
    const top = new TopK(5);
    top.offer(3, 1);
    top.offer(4, NaN);
    top.offer(1, 2);
    expect(Array.from(top.items())).toEqual([1, 3]);
  });
});
