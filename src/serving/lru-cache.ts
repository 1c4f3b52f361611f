/** Bounds of an LruCache: entries, and optionally a total weight with how to weigh an entry. */
export interface LruLimits<V> {
  maxEntries: number;
  maxWeight?: number;
  weigh?: (value: V) => number;
}

/**
 * The one least-recently-used cache (serving users, compiled operations, explorer matrices):
 * bounded by entry count (`new LruCache(10_000)`) and optionally by a total weight (bytes, say):
 * embedding matrices are a few MB for a small catalogue and hundreds of MB for a large one,
 * so a count alone would not bound memory. An entry heavier than the whole budget is not kept.
 *
 * @example
 * const cache = new LruCache<string, Float32Array>({ maxEntries: 8, maxWeight: 256 * 2 ** 20, weigh: (v) => v.byteLength });
 * cache.set('model:ITEM', vectors);
 * cache.get('model:ITEM'); // and marks it most recently used
 */
export class LruCache<K, V> {
  private readonly entries = new Map<K, { value: V; weight: number }>();
  private totalWeight = 0;
  private readonly maxEntries: number;
  private readonly maxWeight: number;
  private readonly weigh: (value: V) => number;

  constructor(limits: number | LruLimits<V>) {
    const options = typeof limits === 'number' ? { maxEntries: limits } : limits;
    this.maxEntries = options.maxEntries;
    this.maxWeight = options.maxWeight ?? Number.POSITIVE_INFINITY;
    this.weigh = options.weigh ?? (() => 0);
  }

  /** Most entries kept (0: the cache keeps nothing). */
  get capacity(): number {
    return this.maxEntries;
  }

  get size(): number {
    return this.entries.size;
  }

  get weight(): number {
    return this.totalWeight;
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    // Map keeps insertion order: re-inserting moves the key to the most recent end.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  set(key: K, value: V): void {
    this.delete(key);
    const weight = this.weigh(value);
    if (weight > this.maxWeight || this.maxEntries <= 0) return;
    this.entries.set(key, { value, weight });
    this.totalWeight += weight;
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.totalWeight <= this.maxWeight) break;
      this.entries.delete(oldest);
      this.totalWeight -= entry.weight;
    }
  }

  delete(key: K): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    this.entries.delete(key);
    this.totalWeight -= entry.weight;
    return true;
  }

  clear(): void {
    this.entries.clear();
    this.totalWeight = 0;
  }
}
