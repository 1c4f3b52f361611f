import { GraftError } from '../errors.js';
import type { HistoryBags } from './tower.js';

/**
 * Per-user histories over item rows (CSR) from parallel (user, item) example arrays, each
 * user's items in the order given (pass events in time order: the user tower pools the
 * last `userHistoryLength` of them). Users with rows >= `users` are an error.
 *
 * @example
 * model.setUserHistories(buildHistoryBags(train.users, train.items, model.users));
 */
export function buildHistoryBags(users: Int32Array, items: Int32Array, nUsers: number): HistoryBags {
  if (users.length !== items.length) {
    throw new GraftError('BAD_INPUT', `history has ${users.length} users but ${items.length} items; pass parallel arrays`);
  }
  const offsets = new Int32Array(nUsers + 1);
  for (let i = 0; i < users.length; i++) {
    const u = users[i];
    if (!(u >= 0 && u < nUsers)) throw new GraftError('BAD_INPUT', `history user row ${u} is outside 0..${nUsers - 1}; pass the number of user rows`);
    offsets[u + 1]++;
  }
  for (let u = 0; u < nUsers; u++) offsets[u + 1] += offsets[u];
  const cursor = offsets.slice(0, nUsers);
  const ids = new Int32Array(users.length);
  for (let i = 0; i < users.length; i++) ids[cursor[users[i]]++] = items[i];
  return { offsets, ids };
}
