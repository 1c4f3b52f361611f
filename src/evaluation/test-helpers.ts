import type { Scorer } from './scorer.js';

/** Test helper: a scorer over an explicit `[users][items]` score matrix. */
export function matrixScorer(rows: number[][]): Scorer {
  const nItems = rows[0]?.length ?? 0;
  return {
    nItems,
    score(users: Int32Array): Float32Array {
      const out = new Float32Array(users.length * nItems);
      users.forEach((user, b) => out.set(rows[user]!, b * nItems));
      return out;
    },
  };
}

/** Test helper: CSR training histories from per-user item lists. */
export function histories(perUser: number[][]): { offsets: Int32Array; items: Int32Array } {
  const offsets = new Int32Array(perUser.length + 1);
  perUser.forEach((items, user) => (offsets[user + 1] = offsets[user]! + items.length));
  return { offsets, items: Int32Array.from(perUser.flat()) };
}
