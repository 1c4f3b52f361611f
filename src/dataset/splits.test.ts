import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Dataset, Interactions } from './dataset.js';
import { readHeldOutFile, splitCsvLine } from './held-out-file.js';
import { countPerUser } from './interactions.js';
import { createRng } from './random.js';
import { heldOutSplit, leaveOneOutSplit, temporalSplit, timeCutSplit, validationFromTrain } from './splits.js';
import { buildHistories } from './user-histories.js';

/** A random time-sorted log: nUsers users with 1..maxPerUser interactions each, interleaved. */
function fakeDataset(seed: number, nUsers = 40, nItems = 30, maxPerUser = 12): Pick<Dataset, 'interactions' | 'users' | 'items'> {
  const rng = createRng(seed);
  const rows: Array<[number, number, number]> = [];
  for (let u = 0; u < nUsers; u++) {
    const n = 1 + rng.int(maxPerUser);
    for (let k = 0; k < n; k++) rows.push([u, rng.int(nItems), 1_700_000_000_000 + rng.int(1_000_000)]);
  }
  rows.sort((a, b) => a[2] - b[2]);
  const interactions: Interactions = {
    users: Int32Array.from(rows, (r) => r[0]),
    items: Int32Array.from(rows, (r) => r[1]),
    weights: Float32Array.from(rows, (_, i) => 1 + (i % 3)),
    times: Float64Array.from(rows, (r) => r[2]),
  };
  const vocab = (prefix: string, n: number) => {
    const ids = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
    return { ids, dbIds: Int32Array.from(ids, (_, i) => i + 1), index: new Map(ids.map((id, i) => [id, i])), size: n };
  };
  return { interactions, users: vocab('u', nUsers), items: vocab('i', nItems) };
}

/** Each interaction as a "user|item|weight|time" key, as a multiset (sorted list). */
function keys(x: Interactions): string[] {
  return Array.from(x.users, (u, i) => `${u}|${x.items[i]}|${x.weights[i]}|${x.times[i]}`).sort();
}

function isTimeSorted(x: Interactions): boolean {
  for (let i = 1; i < x.times.length; i++) if (x.times[i] < x.times[i - 1]) return false;
  return true;
}

function expectPartition(all: Interactions, parts: Interactions[]): void {
  expect(keys(concat(parts))).toEqual(keys(all));
  for (const p of parts) expect(isTimeSorted(p)).toBe(true);
}

function concat(parts: Interactions[]): Interactions {
  const cat = <T extends Int32Array | Float32Array | Float64Array>(f: (p: Interactions) => T, make: (n: number) => T) => {
    const out = make(parts.reduce((s, p) => s + f(p).length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(f(p) as never, at);
      at += f(p).length;
    }
    return out;
  };
  return {
    users: cat((p) => p.users, (n) => new Int32Array(n)),
    items: cat((p) => p.items, (n) => new Int32Array(n)),
    weights: cat((p) => p.weights, (n) => new Float32Array(n)),
    times: cat((p) => p.times, (n) => new Float64Array(n)),
  };
}

describe('buildHistories', () => {
  it('matches a naive per-user grouping in time order', () => {
    const ds = fakeDataset(1);
    const h = buildHistories(ds.interactions, ds.users.size);
    expect(h.offsets.length).toBe(ds.users.size + 1);
    expect(h.offsets[ds.users.size]).toBe(ds.interactions.users.length);
    for (let u = 0; u < ds.users.size; u++) {
      const naive: number[] = [];
      const naiveTimes: number[] = [];
      ds.interactions.users.forEach((v, i) => {
        if (v === u) {
          naive.push(ds.interactions.items[i]);
          naiveTimes.push(ds.interactions.times[i]);
        }
      });
      expect(Array.from(h.items.subarray(h.offsets[u], h.offsets[u + 1]))).toEqual(naive);
      expect(Array.from(h.times.subarray(h.offsets[u], h.offsets[u + 1]))).toEqual(naiveTimes);
    }
  });

  it('gives empty rows to users without interactions', () => {
    const h = buildHistories({ users: Int32Array.of(2), items: Int32Array.of(5), weights: Float32Array.of(1), times: Float64Array.of(0) }, 4);
    expect(Array.from(h.offsets)).toEqual([0, 0, 0, 1, 1]);
  });
});

describe('temporalSplit', () => {
  it('puts each eligible user\'s last N in test and keeps the rest', () => {
    const ds = fakeDataset(2);
    const { train, test } = temporalSplit(ds, { lastN: 2 });
    expectPartition(ds.interactions, [train, test]);
    const total = countPerUser(ds.interactions, ds.users.size);
    const inTest = countPerUser(test, ds.users.size);
    const trainHist = buildHistories(train, ds.users.size);
    const testHist = buildHistories(test, ds.users.size);
    for (let u = 0; u < ds.users.size; u++) {
      expect(inTest[u]).toBe(total[u] > 2 ? 2 : 0);
      if (inTest[u] === 0) continue;
      // Every test interaction is no earlier than every train interaction of that user.
      const lastTrain = trainHist.times[trainHist.offsets[u + 1] - 1];
      expect(testHist.times[testHist.offsets[u]]).toBeGreaterThanOrEqual(lastTrain);
    }
  });

  it('rejects a non-positive lastN', () => {
    expect(() => temporalSplit(fakeDataset(2), { lastN: 0 })).toThrow(/lastN 0 is not a positive integer/);
  });
});

describe('timeCutSplit', () => {
  it('splits at the cut', () => {
    const ds = fakeDataset(3);
    const cut = new Date(1_700_000_500_000);
    const { train, test } = timeCutSplit(ds, { cut });
    expectPartition(ds.interactions, [train, test]);
    expect(train.times.every((t) => t < cut.getTime())).toBe(true);
    expect(test.times.every((t) => t >= cut.getTime())).toBe(true);
    expect(train.times.length).toBeGreaterThan(0);
    expect(test.times.length).toBeGreaterThan(0);
  });
});

describe('leaveOneOutSplit', () => {
  it.each(['last', 'random'] as const)('holds out exactly one interaction of each user with two or more (%s)', (mode) => {
    const ds = fakeDataset(4);
    const { train, test } = leaveOneOutSplit(ds, { mode, seed: 7 });
    expectPartition(ds.interactions, [train, test]);
    const total = countPerUser(ds.interactions, ds.users.size);
    const inTest = countPerUser(test, ds.users.size);
    for (let u = 0; u < ds.users.size; u++) expect(inTest[u]).toBe(total[u] > 1 ? 1 : 0);
  });

  it('is deterministic for a seed and differs across seeds (random)', () => {
    const ds = fakeDataset(5);
    const a = leaveOneOutSplit(ds, { mode: 'random', seed: 1 });
    const b = leaveOneOutSplit(ds, { mode: 'random', seed: 1 });
    const c = leaveOneOutSplit(ds, { mode: 'random', seed: 2 });
    expect(keys(a.test)).toEqual(keys(b.test));
    expect(keys(a.test)).not.toEqual(keys(c.test));
  });

  it('last mode takes the latest interaction', () => {
    const ds = fakeDataset(6);
    const { test } = leaveOneOutSplit(ds, { mode: 'last' });
    const h = buildHistories(ds.interactions, ds.users.size);
    for (let k = 0; k < test.users.length; k++) {
      const u = test.users[k];
      expect(test.times[k]).toBe(h.times[h.offsets[u + 1] - 1]);
    }
  });
});

describe('heldOutSplit', () => {
  it('keeps every interaction in train, maps known pairs and counts unknown ones', () => {
    const ds = fakeDataset(7);
    const split = heldOutSplit(ds, [
      { user: 'u3', item: 'i4' },
      { user: 'u5', item: 'nope' },
      { user: 'ghost', item: 'i1' },
      { user: 'ghost', item: 'nope2' },
      { user: 'u0', item: 'i0' },
    ]);
    expect(keys(split.train)).toEqual(keys(ds.interactions));
    expect(Array.from(split.test.users)).toEqual([3, 0]);
    expect(Array.from(split.test.items)).toEqual([4, 0]);
    expect(split.unknown).toEqual({ pairs: 3, users: 1, items: 2 });
    expect(split.dropped).toEqual({ header: 0, unknownUser: 2, unknownItem: 1 });
    const lastTime = ds.interactions.times[ds.interactions.times.length - 1];
    expect(split.test.times.every((t) => t > lastTime)).toBe(true);
  });

  it('reads pairs from TSV and CSV files, by column number or header name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graft-heldout-'));
    const tsv = join(dir, 'test.txt');
    writeFileSync(tsv, 'u1\ti2\t1\nu3\ti4\t1\n\n');
    expect(await readHeldOutFile(tsv, { format: 'tsv' })).toEqual([
      { user: 'u1', item: 'i2', line: 1 },
      { user: 'u3', item: 'i4', line: 2 },
    ]);
    const csv = join(dir, 'test.csv');
    writeFileSync(csv, 'item,"user id"\r\n"i,9",u1\r\ni2,u2\r\n');
    expect(await readHeldOutFile(csv, { format: 'csv', columns: { user: 'user id', item: 'item' } })).toEqual([
      { user: 'u1', item: 'i,9', line: 2 },
      { user: 'u2', item: 'i2', line: 3 },
    ]);
    await expect(readHeldOutFile(join(dir, 'missing.txt'), { format: 'tsv' })).rejects.toThrow(/does not exist/);
    await expect(readHeldOutFile(csv, { format: 'csv', columns: { user: 'who', item: 'item' } })).rejects.toThrow(/no column "who"/);
  });

  it('counts a first line naming neither a known user nor a known item as a header read as data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graft-heldout-'));
    const file = join(dir, 'test.txt');
    writeFileSync(file, 'user\titem\nu3\ti4\nu2\tnope\n');
    const split = heldOutSplit(fakeDataset(7), await readHeldOutFile(file, { format: 'tsv' }));
    expect(split.dropped).toEqual({ header: 1, unknownUser: 0, unknownItem: 1 });
    expect(split.test.users.length).toBe(1);
  });

  it('keeps test users without events in the dataset that coldStartUsers names, after the dataset\'s users, in file order', () => {
    const ds = fakeDataset(7);
    const n = ds.users.size;
    const split = heldOutSplit(
      ds,
      [
        { user: 'cold-b', item: 'i1' },
        { user: 'u2', item: 'i2' },
        { user: 'cold-a', item: 'i3' },
        { user: 'cold-b', item: 'i4' },
        { user: 'stranger', item: 'i0' },
      ],
      { coldStartUsers: new Map([['cold-a', 901], ['cold-b', 902]]) },
    );
    expect(split.addedUsers).toEqual({ ids: ['cold-b', 'cold-a'], dbIds: Int32Array.from([902, 901]) });
    expect(Array.from(split.test.users)).toEqual([n, 2, n + 1, n]);
    expect(split.dropped).toEqual({ header: 0, unknownUser: 1, unknownItem: 0 });
    // Train is untouched: the added users have no training interactions.
    expect(keys(split.train)).toEqual(keys(ds.interactions));
  });

  it('splits CSV lines with quotes', () => {
    expect(splitCsvLine('a,"b,""c""",d')).toEqual(['a', 'b,"c"', 'd']);
  });
});

describe('validationFromTrain', () => {
  it('carves the last N train interactions per user, leaving test untouched', () => {
    const ds = fakeDataset(8);
    const split = temporalSplit(ds, { lastN: 1 });
    const v = validationFromTrain(split, { lastN: 1 });
    expectPartition(ds.interactions, [v.train, v.validation, v.test]);
    expect(keys(v.test)).toEqual(keys(split.test));
    const trainCounts = countPerUser(split.train, ds.users.size);
    const valCounts = countPerUser(v.validation, ds.users.size);
    for (let u = 0; u < ds.users.size; u++) expect(valCounts[u]).toBe(trainCounts[u] > 1 ? 1 : 0);
  });

  it('carves a seeded random fraction', () => {
    const ds = fakeDataset(9, 200);
    const split = temporalSplit(ds, { lastN: 1 });
    const a = validationFromTrain(split, { fraction: 0.2, seed: 3 });
    const b = validationFromTrain(split, { fraction: 0.2, seed: 3 });
    expectPartition(ds.interactions, [a.train, a.validation, a.test]);
    expect(keys(a.validation)).toEqual(keys(b.validation));
    const share = a.validation.users.length / split.train.users.length;
    expect(share).toBeGreaterThan(0.15);
    expect(share).toBeLessThan(0.25);
    expect(() => validationFromTrain(split, { fraction: 1.5 })).toThrow(/outside \(0, 1\)/);
  });
});
