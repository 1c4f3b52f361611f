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

/** One precomputation's view of invalidations since it began. */
export interface PrecomputeTicket {
  /** Users forgotten since the precomputation began: their reads may predate their events. */
  forgotten: Set<string>;
  /** Everyone was forgotten (e.g. the events listener reconnected): stop. */
  cancelled: boolean;
}

/**
 * Per-domain cache of users' resolution and rankings, so repeat requests and next pages cost
 * no database read and no index search. Correctness comes from invalidation, not the TTL:
 * `forget` is called when events of the user are recorded (in this process directly, in other
 * processes through EVENTS_CHANNEL) and the whole cache goes with its domain state on
 * activation or reload. The TTL bounds staleness for writes that bypass Graft (direct SQL).
 * An entry read before an invalidation is never stored after it (`ticket`).
 *
 * Besides the LRU of users seen, a domain's most recently active users can be precomputed
 * when its state loads (`beginPrecompute`): their entries have no TTL and are not evicted,
 * so their first request costs neither a database read nor an index search either.
 */
export class ServingCache<R> {
  private readonly users: LruCache<string, CachedUser<R>>;
  /** Users precomputed when the domain state loaded: no TTL, no LRU; gone only when forgotten. */
  private readonly precomputed = new Map<string, CachedUser<R>>();
  /** Precomputations in progress: each remembers who was forgotten while it read. */
  private readonly precomputing = new Set<PrecomputeTicket>();
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

  /** Users held from a precomputation (see `beginPrecompute`). */
  get precomputedSize(): number {
    return this.precomputed.size;
  }

  /** Taken before reading a user from the database; `store` drops the entry if anything was forgotten since. */
  ticket(): number {
    return this.sequence;
  }

  get(userId: string, now = Date.now()): CachedUser<R> | undefined {
    const pinned = this.precomputed.get(userId);
    if (pinned !== undefined) return pinned;
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

  /**
   * Starts precomputing users (read in batches, possibly for minutes): from now until
   * `endPrecompute`, users forgotten are remembered, so an entry read before their events is
   * never stored after them (`storePrecomputed` refuses it), and forgetting everyone cancels.
   */
  beginPrecompute(): PrecomputeTicket {
    const ticket: PrecomputeTicket = { forgotten: new Set(), cancelled: false };
    this.precomputing.add(ticket);
    return ticket;
  }

  /**
   * Keeps a precomputed user with their first ranking until they are forgotten (no TTL: only
   * events written outside Graft, without a NOTIFY, go unseen until the next activation or
   * reload). False when the user was forgotten since the ticket was taken.
   */
  storePrecomputed(ticket: PrecomputeTicket, userId: string, resolved: R, rankings: Iterable<[string, Ranking]>): boolean {
    if (ticket.cancelled || ticket.forgotten.has(userId) || !this.precomputing.has(ticket)) return false;
    this.users.delete(userId);
    this.precomputed.set(userId, { resolved, rankings: new Map(rankings), expiresAt: Number.POSITIVE_INFINITY });
    return true;
  }

  /** Ends a precomputation (also when it failed or was cancelled). */
  endPrecompute(ticket: PrecomputeTicket): void {
    this.precomputing.delete(ticket);
  }

  /** Drops the named users, or everyone when `userIds` is undefined (which also cancels precomputations). */
  forget(userIds?: Iterable<string>): void {
    this.sequence++;
    if (userIds === undefined) {
      this.users.clear();
      this.precomputed.clear();
      for (const ticket of this.precomputing) ticket.cancelled = true;
      return;
    }
    for (const id of userIds) {
      this.users.delete(id);
      this.precomputed.delete(id);
      for (const ticket of this.precomputing) ticket.forgotten.add(id);
    }
  }
}
