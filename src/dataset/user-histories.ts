import type { Interactions, UserHistories } from './dataset.js';

/**
 * Per-user histories (CSR) from any interactions, e.g. a split's train part, so training and
 * evaluation see train-only histories. A stable counting sort by user: each user's items keep
 * the input order, which is time order for interactions read from the database or split from them.
 *
 * @example
 * const h = buildHistories(split.train, ds.users.size);
 * const seen = h.items.subarray(h.offsets[u], h.offsets[u + 1]);
 */
export function buildHistories(interactions: Interactions, nUsers: number): UserHistories {
  const n = interactions.users.length;
  const offsets = new Int32Array(nUsers + 1);
  const users = interactions.users;
  for (let i = 0; i < n; i++) {
    const u = users[i];
    if (u < 0 || u >= nUsers) throw new RangeError(`user index ${u} at interaction ${i} is outside [0, ${nUsers})`);
    offsets[u + 1]++;
  }
  for (let u = 0; u < nUsers; u++) offsets[u + 1] += offsets[u];
  const cursor = offsets.slice(0, nUsers);
  const items = new Int32Array(n);
  const times = new Float64Array(n);
  const weights = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const at = cursor[users[i]]++;
    items[at] = interactions.items[i];
    times[at] = interactions.times[i];
    weights[at] = interactions.weights[i];
  }
  return { offsets, items, times, weights };
}

/** Items of user `u` in a history (a view, not a copy). */
export function historyOf(histories: UserHistories, user: number): Int32Array {
  return histories.items.subarray(histories.offsets[user], histories.offsets[user + 1]);
}
