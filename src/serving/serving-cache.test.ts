import { describe, expect, it } from 'vitest';
import type { Ranking } from './ranking.js';
import { ServingCache } from './serving-cache.js';

const ranking = (rows: number[]): Ranking => ({ rows, scores: rows.map(() => 1), complete: false });

describe('ServingCache', () => {
  it('serves an entry until its TTL, then forgets it', () => {
    const cache = new ServingCache<string>(10, 1_000);
    const entry = cache.store('alice', 'resolved', cache.ticket(), 0)!;
    cache.addRanking(entry, 'hnsw|x', ranking([3, 1, 2]));
    expect(cache.get('alice', 999)?.rankings.get('hnsw|x')?.rows).toEqual([3, 1, 2]);
    expect(cache.get('alice', 1_000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('never stores what was read before an invalidation (the ticket is stale)', () => {
    const cache = new ServingCache<string>(10, 60_000);
    const ticket = cache.ticket();
    cache.forget(['bob']); // an event arrives while alice's history is being read
    expect(cache.store('alice', 'stale', ticket)).toBeUndefined();
    expect(cache.get('alice')).toBeUndefined();
    expect(cache.store('alice', 'fresh', cache.ticket())).toBeDefined();
  });

  it('forgets named users or everyone', () => {
    const cache = new ServingCache<string>(10, 60_000);
    for (const u of ['a', 'b', 'c']) cache.store(u, u, cache.ticket());
    cache.forget(['a', 'nobody']);
    expect([cache.get('a'), cache.get('b')?.resolved]).toEqual([undefined, 'b']);
    cache.forget();
    expect(cache.size).toBe(0);
  });

  it('keeps at most `capacity` users (least recently used go) and 8 rankings per user', () => {
    const cache = new ServingCache<string>(2, 60_000);
    cache.store('a', 'a', cache.ticket());
    cache.store('b', 'b', cache.ticket());
    cache.get('a');
    cache.store('c', 'c', cache.ticket());
    expect([cache.get('a')?.resolved, cache.get('b'), cache.get('c')?.resolved]).toEqual(['a', undefined, 'c']);
    const entry = cache.get('a')!;
    for (let i = 0; i < 10; i++) cache.addRanking(entry, `k${i}`, ranking([i]));
    expect([...entry.rankings.keys()]).toEqual(['k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9']);
  });

  it('is off with a TTL of 0: nothing is stored', () => {
    const cache = new ServingCache<string>(10, 0);
    expect(cache.enabled).toBe(false);
    expect(cache.store('a', 'a', cache.ticket())).toBeUndefined();
  });
  it('keeps precomputed users past the TTL and the LRU capacity, until they are forgotten', () => {
    const cache = new ServingCache<string>(1, 1_000);
    const ticket = cache.beginPrecompute();
    expect(cache.storePrecomputed(ticket, 'alice', 'a', [['hnsw|x', ranking([4, 5])]])).toBe(true);
    expect(cache.storePrecomputed(ticket, 'bob', 'b', [])).toBe(true);
    cache.endPrecompute(ticket);
    cache.store('carol', 'c', cache.ticket(), 0);
    cache.store('dave', 'd', cache.ticket(), 0); // the LRU holds one: carol goes, the precomputed stay
    expect(cache.get('alice', 10_000_000)?.rankings.get('hnsw|x')?.rows).toEqual([4, 5]);
    expect(cache.get('bob', 10_000_000)?.resolved).toBe('b');
    expect(cache.get('carol', 0)).toBeUndefined();
    expect(cache.precomputedSize).toBe(2);
    cache.forget(['alice']);
    expect(cache.get('alice')).toBeUndefined();
    expect(cache.precomputedSize).toBe(1);
    cache.forget();
    expect(cache.precomputedSize).toBe(0);
  });

  it('never stores a precomputed user forgotten since the precomputation began; forgetting everyone cancels it', () => {
    const cache = new ServingCache<string>(10, 0); // precomputation works with the TTL cache off
    const ticket = cache.beginPrecompute();
    cache.forget(['alice']); // her event arrives while the batch with her is being read
    expect(cache.storePrecomputed(ticket, 'alice', 'stale', [])).toBe(false);
    expect(cache.storePrecomputed(ticket, 'bob', 'b', [])).toBe(true);
    expect(cache.get('alice')).toBeUndefined();
    cache.forget();
    expect(ticket.cancelled).toBe(true);
    expect(cache.storePrecomputed(ticket, 'carol', 'c', [])).toBe(false);
    cache.endPrecompute(ticket);
    const later = cache.beginPrecompute();
    expect(cache.storePrecomputed(later, 'alice', 'fresh', [])).toBe(true);
    cache.endPrecompute(later);
    expect(cache.storePrecomputed(later, 'dave', 'late', [])).toBe(false); // ended: nothing more is stored
    expect(cache.get('alice')?.resolved).toBe('fresh');
  });
});
