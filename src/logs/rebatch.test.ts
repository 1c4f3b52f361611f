import { describe, expect, it } from 'vitest';
import { rebatch } from './rebatch.js';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('rebatch', () => {
  it('merges small batches and splits large ones, keeping order', async () => {
    expect(await collect(rebatch([[1], [2, 3], [], [4, 5, 6, 7, 8]], 3))).toEqual([[1, 2, 3], [4, 5, 6], [7, 8]]);
  });
  it('accepts async iterables and yields nothing for no rows', async () => {
    async function* gen() {
      yield [] as number[];
    }
    expect(await collect(rebatch(gen(), 2))).toEqual([]);
  });
});
