import { describe, expect, it } from 'vitest';
import { LruCache } from './lru-cache.js';

describe('LruCache', () => {
  it('evicts the least recently used entry, counting reads as use', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1); // a is now the most recent
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
    expect(cache.size).toBe(2);
  });

  it('keeps nothing with capacity 0', () => {
    const cache = new LruCache<string, number>(0);
    cache.set('a', 1);
    expect(cache.get('a')).toBeUndefined();
  });

  it('evicts the least recently used entry beyond maxEntries; get refreshes an entry', () => {
    const cache = new LruCache<string, number>({ maxEntries: 2 });
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    cache.set('c', 3);
    expect(cache.has('b')).toBe(false);
    expect(cache.capacity).toBe(2);
  });

  it('keeps the total weight within maxWeight and refuses an entry heavier than the budget', () => {
    const cache = new LruCache<string, Uint8Array>({ maxEntries: 10, maxWeight: 100, weigh: (v) => v.byteLength });
    cache.set('a', new Uint8Array(40));
    cache.set('b', new Uint8Array(40));
    cache.set('c', new Uint8Array(40));
    expect(cache.has('a')).toBe(false);
    expect(cache.weight).toBe(80);
    cache.set('huge', new Uint8Array(101));
    expect(cache.has('huge')).toBe(false);
    expect(cache.weight).toBe(80);
    cache.set('b', new Uint8Array(10)); // replacing an entry re-weighs it
    expect(cache.weight).toBe(50);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.weight).toBe(0);
  });
});
