import { describe, expect, it } from 'vitest';
import { createRng } from '../dataset/random.js';
import { ExampleMixture } from './example-mixture.js';

const range = (n: number, offset = 0) => Int32Array.from({ length: n }, (_, i) => i + offset);

function epoch(mixture: ExampleMixture) {
  mixture.shuffle();
  const users: number[] = [];
  const weights: number[] = [];
  for (let s = 0; s < mixture.stepsPerEpoch; s++) {
    const b = mixture.batch(s);
    users.push(...b.users);
    weights.push(...(b.weights ?? new Float32Array(b.users.length).fill(1)));
  }
  return { users, weights };
}

describe('ExampleMixture', () => {
  it('visits every example once per epoch, in a seeded order that changes between epochs', () => {
    const data = { users: range(10), items: range(10) };
    const a = new ExampleMixture(data, 4, createRng(7, { resumable: true }));
    const b = new ExampleMixture(data, 4, createRng(7, { resumable: true }));
    const first = epoch(a).users;
    expect([...first].sort((x, y) => x - y)).toEqual([...range(10)]);
    expect(epoch(b).users).toEqual(first);
    expect(epoch(a).users).not.toEqual(first);
    expect(a.batch(0).weights).toBeUndefined();
  });

  it('drops a final batch of one example (no in-batch negatives)', () => {
    expect(new ExampleMixture({ users: range(9), items: range(9) }, 4, createRng(1, { resumable: true })).stepsPerEpoch).toBe(2);
    expect(new ExampleMixture({ users: range(10), items: range(10) }, 4, createRng(1, { resumable: true })).stepsPerEpoch).toBe(3);
  });

  it('mixes in replay examples at the requested share with their weight multiplied', () => {
    const data = {
      users: range(20),
      items: range(20),
      weights: new Float32Array(20).fill(2),
      replay: { users: range(50, 100), items: range(50), weight: 0.25, fraction: 0.5 },
    };
    const mixture = new ExampleMixture(data, 8, createRng(3, { resumable: true }));
    expect(mixture.epochSize).toBe(30);
    const seen = new Set<number>();
    for (let e = 0; e < 5; e++) {
      const { users, weights } = epoch(mixture);
      const replayed = users.map((u, i) => [u, weights[i]]).filter(([u]) => u >= 100);
      expect(replayed.length).toBe(10);
      for (const [u, w] of replayed) {
        expect(w).toBe(0.25);
        seen.add(u);
      }
      expect(users.filter((u) => u < 100).length).toBe(20);
      expect(weights.filter((w) => w === 2).length).toBe(20);
    }
    // Replay draws walk through the whole replay set across epochs.
    expect(seen.size).toBe(50);
    const counts = mixture.itemCounts(50);
    expect(counts[0]).toBeCloseTo(1 + 10 / 50, 10);
    expect(counts[30]).toBeCloseTo(10 / 50, 10);
  });

  it('rejects mismatched arrays and batch sizes below 2', () => {
    expect(() => new ExampleMixture({ users: range(3), items: range(2) }, 4, createRng(1, { resumable: true }))).toThrow(/3 users but 2 items/);
    expect(() => new ExampleMixture({ users: range(3), items: range(3) }, 1, createRng(1, { resumable: true }))).toThrow(/batch size >= 2/);
  });
});
