import { describe, expect, it } from 'vitest';
import { capTrainPerUser, holdOutColdStartUsers } from './prepare-transfer.js';
import type { Examples, PreparedDomain } from './prepared-domain.js';

/** `users` users with `perUser` training rows each (item = user * 100 + position, in time order); validation = each user's last. */
function prepared(users: number, perUser: number): PreparedDomain {
  const rows = (positions: number[]): Examples => {
    const u: number[] = [];
    const i: number[] = [];
    // Interleave users like a time-ordered log does.
    for (const p of positions) for (let user = 0; user < users; user++) {
      u.push(user);
      i.push(user * 100 + p);
    }
    return { users: Int32Array.from(u), items: Int32Array.from(i), weights: new Float32Array(u.length).fill(1) };
  };
  return {
    domain: 'd',
    domainId: 1,
    userDbIds: Int32Array.from({ length: users }, (_, k) => k + 1),
    itemDbIds: Int32Array.from({ length: users * 100 }, (_, k) => k + 1),
    train: rows(Array.from({ length: perUser - 1 }, (_, p) => p)),
    validation: rows([perUser - 1]),
    test: { users: new Int32Array(0), items: new Int32Array(0), weights: new Float32Array(0) },
    split: { kind: 'none' },
    unknownTestPairs: 0,
    dropped: { header: 0, unknownUser: 0, unknownItem: 0 },
    coldStartTestUsers: 0,
  };
}

function rowsByUser(...sets: Array<Examples | undefined>): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const set of sets) set?.users.forEach((u, k) => out.set(u, [...(out.get(u) ?? []), set.items[k]!]));
  return out;
}

describe('capTrainPerUser', () => {
  it('keeps exactly N of each user\'s rows, validation carve included, a random choice rather than always the most recent', () => {
    const before = prepared(300, 10);
    const capped = capTrainPerUser(before, 2, 7);
    const original = rowsByUser(before.train, before.validation);
    const kept = rowsByUser(capped.train, capped.validation);
    const validation = rowsByUser(capped.validation);
    let keptTheLast = 0;
    for (const [user, items] of original) {
      const mine = kept.get(user)!;
      // Row by row: two rows, both the user's own, distinct, and validation is the later of them.
      expect(mine).toHaveLength(2);
      expect(new Set(mine).size).toBe(2);
      for (const item of mine) expect(items).toContain(item);
      expect(validation.get(user)).toEqual([Math.max(...mine)]);
      if (mine.includes(items.at(-1)!)) keptTheLast++;
    }
    // 2 of 10 drawn at random keep the most recent row for about 20% of users (the old cap: always).
    expect(keptTheLast / original.size).toBeGreaterThan(0.1);
    expect(keptTheLast / original.size).toBeLessThan(0.3);
    // Popularity and seen items are built from train + validation: 2 rows per user in all.
    expect(capped.train.users.length + capped.validation!.users.length).toBe(600);
  });

  it('leaves users with at most N rows as they were, and is the same for the same seed', () => {
    const before = prepared(50, 2);
    const capped = capTrainPerUser(before, 3, 1);
    expect(Array.from(capped.train.items)).toEqual(Array.from(before.train.items));
    expect(Array.from(capped.validation!.items)).toEqual(Array.from(before.validation!.items));
    const again = capTrainPerUser(prepared(300, 10), 2, 7);
    expect(Array.from(again.train.items)).toEqual(Array.from(capTrainPerUser(prepared(300, 10), 2, 7).train.items));
  });

  it('keeps a single row in train (nothing to validate on) when N is 1', () => {
    const capped = capTrainPerUser(prepared(20, 5), 1, 3);
    expect(capped.train.users.length).toBe(20);
    expect(capped.validation!.users.length).toBe(0);
  });
});

describe('holdOutColdStartUsers', () => {
  it('moves the whole history of the drawn users into test and says which users it drew', () => {
    const before = prepared(200, 4);
    const { prepared: after, users, userDbIds } = holdOutColdStartUsers(before, () => true, 0.2, 5);
    expect(users).toBe(userDbIds.length);
    expect(users).toBeGreaterThan(20);
    const held = new Set(Array.from(userDbIds, (id) => id - 1));
    for (const u of after.train.users) expect(held.has(u)).toBe(false);
    for (const u of after.validation!.users) expect(held.has(u)).toBe(false);
    expect(after.test.users.length).toBe(users * 4);
  });
});
