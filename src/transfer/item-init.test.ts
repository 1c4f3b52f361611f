import { describe, expect, it } from 'vitest';
import { TwoTowerModel } from '../model/two-tower.model.js';
import { alignDomains } from './alignment.js';
import { initNewItemsFromCoUsers } from './item-init.js';

describe('initNewItemsFromCoUsers', () => {
  // Source rows: users 10, 11, 12; items 100, 101. Target: users 12, 10, 11; items 200, 201, 202.
  const source = { userDbIds: Int32Array.of(10, 11, 12), itemDbIds: Int32Array.of(100, 101) };
  const target = { userDbIds: Int32Array.of(12, 10, 11), itemDbIds: Int32Array.of(200, 201, 202) };
  const a = alignDomains(source, target);
  // Model rows: users [12, 10, 11], items [200, 201, 202, 100, 101].

  it('places a new item around the pretrained mean, towards its users\' source rows, at the pretrained spread; others keep their rows', () => {
    const model = TwoTowerModel.create({ users: 3, items: 5, dim: 2, layers: [2], seed: 1 });
    const w = model.itemTable.weights;
    w.set([9, 9], 0); // target items 200, 201, 202: "random" rows
    w.set([8, 8], 2);
    w.set([7, 7], 4);
    w.set([3, 0], 6); // source item 100
    w.set([0, 4], 8); // source item 101
    model.itemTable.freezeRows(2, 3); // a frozen row is never overwritten
    // Source: user row 1 (db 10) chose 100 and 101, user row 0 (db 12) chose 101; user row 2 (db 11) none.
    const sourceEvents = { users: Int32Array.of(1, 1, 0), items: Int32Array.of(3, 4, 4) };
    // Target: 200 chosen by rows 1 and 0; 201 by row 2 only (no source history); 202 by row 0 (frozen).
    const targetEvents = { users: Int32Array.of(1, 0, 2, 0), items: Int32Array.of(0, 0, 1, 2) };
    expect(initNewItemsFromCoUsers(model, a, sourceEvents, targetEvents)).toBe(1);
    // User means: row 1 = (1.5, 2), row 0 = (0, 4); item 200: c = (0.75, 3). Pretrained mean m = (1.5, 2),
    // spread = rms of (1.5, -2) and (-1.5, 2) = 2.5; c - m = (-0.75, 1) has norm 1.25, so the row is m + 2 (c - m).
    expect(w[0]).toBeCloseTo(0, 5);
    expect(w[1]).toBeCloseTo(4, 5);
    expect(Array.from(w.subarray(2, 10))).toEqual([8, 8, 7, 7, 3, 0, 0, 4]);
    model.dispose();
  });
});
