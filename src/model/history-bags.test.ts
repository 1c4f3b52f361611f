import { describe, expect, it } from 'vitest';
import { buildHistoryBags } from './history-bags.js';

describe('buildHistoryBags', () => {
  it('groups items per user in the order given, users without events empty', () => {
    const bags = buildHistoryBags(Int32Array.of(2, 0, 2, 2), Int32Array.of(5, 1, 3, 5), 4);
    expect(Array.from(bags.offsets)).toEqual([0, 1, 1, 4, 4]);
    expect(Array.from(bags.ids)).toEqual([1, 5, 3, 5]);
  });

  it('rejects a user row outside the table', () => {
    expect(() => buildHistoryBags(Int32Array.of(4), Int32Array.of(0), 4)).toThrow(/user row 4/);
  });
});
