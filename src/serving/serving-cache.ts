import { LruCache } from './lru-cache.js';
import type { Ranking } from './ranking.js';

/** Default time a user's cached history and rankings are served without reading the database again. */
export const DEFAULT_CACHE_TTL_MS = 60_000;
/** Default users whose history and rankings are cached per domain. */
export const DEFAULT_CACHE_USERS = 10_000;
/** Rankings kept per user (one per distinct filter / diversity / excludeSeen combination). */
const RANKINGS_PER_USER = 8;

/**
 * What one user's requests to one loaded domain share: who they are to the model (tier, query,
 * history) and the rankings already computed for them, keyed by the request's shape.
 */
export interface CachedUser<R> {
  resolved: R;
  rankings: Map<string, Ranking>;
  expiresAt: number;
}

/**
 * Per-domain cache of users' resolution and rankings, so repeat requests and next pages cost
 * no database read and no index search. Correctness comes from invalidation, not the TTL:
 * `forget` is called when events of the user are recorded (in this process directly, in other
 * processes through EVENTS_CHANNEL) and the whole cache goes with its domain state on
 * activation or reload. The TTL bounds staleness for writes that bypass Graft (direct SQL).
 * An entry read before an invalidation is never stored after it (`ticket`).
 */
export class ServingCache<R> {
  private readonly users: LruCache<string, CachedUser<R>>;
  private sequence = 0;

  constructor(
    capacity: number,
    readonly ttlMs: number,
  ) {
    this.users = new LruCache(ttlMs > 0 ? capacity : 0);
  }

  get enabled(): boolean {
    return this.users.capacity > 0;
  }

  get size(): number {
    return this.users.size;
  }

  /** Taken before reading a user from the database; `store` drops the entry if anything was forgotten since. */
  ticket(): number {
    return this.sequence;
  }

  get(userId: string, now = Date.now()): CachedUser<R> | undefined {
    const entry = this.users.get(userId);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= now) {
      this.users.delete(userId);
      return undefined;
    }
    return entry;
  }

  /** Caches a freshly resolved user; returns the entry (to add rankings to), or undefined when not kept. */
  store(userId: string, resolved: R, ticket: number, now = Date.now()): CachedUser<R> | undefined {
    if (!this.enabled || ticket !== this.sequence) return undefined;
    const entry: CachedUser<R> = { resolved, rankings: new Map(), expiresAt: now + this.ttlMs };
    this.users.set(userId, entry);
    return entry;
  }

  /** Keeps a ranking of a cached user (the oldest of more than RANKINGS_PER_USER goes). */
  addRanking(entry: CachedUser<R>, key: string, ranking: Ranking): void {
    entry.rankings.set(key, ranking);
    if (entry.rankings.size > RANKINGS_PER_USER) entry.rankings.delete(entry.rankings.keys().next().value as string);
  }

  /** Drops the named users, or everyone when `userIds` is undefined. */
  forget(userIds?: Iterable<string>): void {
    this.sequence++;
    if (userIds === undefined) {
      this.users.clear();
      return;
    }
    for (const id of userIds) this.users.delete(id);
  }
}
