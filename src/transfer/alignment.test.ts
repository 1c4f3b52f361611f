import { describe, expect, it } from 'vitest';
import { alignDomains, mapSourceInteractions } from './alignment.js';

describe('alignDomains', () => {
  // Source model rows: users 10, 11, 12, 13; items 100, 101 (source domain).
  const source = { userDbIds: Int32Array.of(10, 11, 12, 13), itemDbIds: Int32Array.of(100, 101) };
  // Target dataset rows: users 12, 20, 10; items 200, 201, 202.
  const target = { userDbIds: Int32Array.of(12, 20, 10), itemDbIds: Int32Array.of(200, 201, 202) };

  it('keeps target rows first, maps shared users to their source rows, appends source-only users and items', () => {
    const a = alignDomains(source, target);
    expect(Array.from(a.userDbIds)).toEqual([12, 20, 10, 11, 13]);
    expect(Array.from(a.userSourceRow)).toEqual([2, -1, 0, 1, 3]);
    expect(Array.from(a.itemDbIds)).toEqual([200, 201, 202, 100, 101]);
    expect(Array.from(a.itemSourceRow)).toEqual([-1, -1, -1, 0, 1]);
    expect(a.targetUsers).toBe(3);
    expect(a.targetItems).toBe(3);
    expect(a.overlap).toEqual({
      usersInBoth: 2, targetOnlyUsers: 1, usersWithoutTargetHistory: 2,
      targetUsers: 3, sourceUsers: 4, targetItems: 3, sourceItems: 2, sharedItems: 0,
    });
  });

  it('maps source interactions onto the transferred rows for replay', () => {
    const a = alignDomains(source, target);
    // (user row 0 = db 10, item row 1 = db 101), (user 3 = db 13, item 0 = db 100)
    const mapped = mapSourceInteractions(a, { users: Int32Array.of(0, 3), items: Int32Array.of(1, 0), weights: Float32Array.of(1, 0.5) });
    expect(Array.from(mapped.users)).toEqual([2, 4]);
    expect(Array.from(mapped.items)).toEqual([4, 3]);
    expect(Array.from(mapped.weights)).toEqual([1, 0.5]);
  });

  it('refuses domains without shared users and says how to link them', () => {
    expect(() => alignDomains(source, { userDbIds: Int32Array.of(99), itemDbIds: Int32Array.of(1) })).toThrow(/no user of the target domain.*same user ids/);
  });
});
