import type { GraftDatabase } from '../db/connect.js';
import { GraftError } from '../errors.js';
import { startActivationWatcher, type ActivationWatcher } from './activation-watcher.js';
import { cursorEncoder, decodeCursor, POPULAR_RANKING } from './cursor.js';
import { describeState, indexQuery, type DomainState } from './domain-state.js';
import { DomainStates } from './domain-states.js';
import { compileExclusion, validateFilter } from './item-filter.js';
import { explain, popularSlice, similarItem, type PageRow } from './page-rows.js';
import { ladderDepth, MAX_RANKING_DEPTH, rankRows, type Ranking } from './ranking.js';
import { checkCursorFits, checkDiversity, checkFirst, requestFingerprint } from './request-checks.js';
import { DEFAULT_CACHE_TTL_MS, DEFAULT_CACHE_USERS, ServingCache } from './serving-cache.js';
import type { LoadedDomainState, Recommendation, RecommendationPage, RecommenderOptions, RecommendRequest, ServingLogger, SimilarItemsResult } from './recommendation.types.js';
import { UserPrecomputer } from './user-precomputer.js';
import { UserResolver, type ResolvedUser } from './user-resolver.js';

export { MAX_PAGE_SIZE } from './request-checks.js';
export { HISTORY_LIMIT, RECENT_HISTORY } from './user-resolver.js';

const DEFAULT_HNSW_THRESHOLD = 50_000;

const SILENT: ServingLogger = { info: () => undefined, warn: () => undefined };

/**
 * Serves recommendations and similar items from each domain's active model, held in memory.
 * One instance per process; GraphQL resolvers call it. It coordinates the serving parts:
 * `DomainStates` (loading, activation, HNSW builds), `UserResolver` (tiers), `ServingCache`
 * per state and `UserPrecomputer`, and ranking (`rankRows`, filters, MMR, cursors, explanations).
 *
 * @example
 * const recommender = new Recommender(await connect());
 * await recommender.watchActivations();
 * const page = await recommender.recommend({ userId: 'u17', domain: 'cloth', first: 20 });
 * const next = await recommender.recommend({ userId: 'u17', domain: 'cloth', first: 20, after: page.endCursor });
 */
export class Recommender {
  private readonly domains: DomainStates;
  private readonly users: UserResolver;
  private readonly precomputer: UserPrecomputer;
  /** Each loaded domain state's cache of users' history and rankings: it goes with its state. */
  private readonly caches = new WeakMap<DomainState, ServingCache<ResolvedUser>>();
  private readonly cacheUsers: number;
  private readonly cacheTtlMs: number;
  private readonly cacheCounts = { hits: 0, userHits: 0, misses: 0 };
  private readonly logger: ServingLogger;
  private watcher: ActivationWatcher | null = null;
  private closed = false;

  constructor(
    private readonly gdb: GraftDatabase,
    options: RecommenderOptions = {},
  ) {
    const hnswThreshold = options.hnswThreshold ?? DEFAULT_HNSW_THRESHOLD;
    if (!Number.isInteger(hnswThreshold) || hnswThreshold < 0) {
      throw new GraftError('BAD_INPUT', `hnswThreshold = ${options.hnswThreshold} is not a non-negative integer; leave it out for ${DEFAULT_HNSW_THRESHOLD}`);
    }
    const logger = (this.logger = options.logger ?? SILENT);
    this.cacheTtlMs = options.cacheTtlMs ?? 0;
    this.cacheUsers = options.cacheUsers ?? DEFAULT_CACHE_USERS;
    if (!Number.isFinite(this.cacheTtlMs) || this.cacheTtlMs < 0) {
      throw new GraftError('BAD_INPUT', `cacheTtlMs = ${options.cacheTtlMs} is not a duration; pass milliseconds >= 0 (0 turns the cache off), e.g. ${DEFAULT_CACHE_TTL_MS}`);
    }
    if (!Number.isInteger(this.cacheUsers) || this.cacheUsers < 0) {
      throw new GraftError('BAD_INPUT', `cacheUsers = ${options.cacheUsers} is not a non-negative integer; leave it out for ${DEFAULT_CACHE_USERS}`);
    }
    const precomputeUsers = options.precomputeUsers ?? 0;
    if (!Number.isInteger(precomputeUsers) || precomputeUsers < 0) {
      throw new GraftError('BAD_INPUT', `precomputeUsers = ${options.precomputeUsers} is not a non-negative integer; pass how many active users to precompute per domain, or 0 for none`);
    }
    this.users = new UserResolver(gdb, options.userCacheSize ?? 10_000);
    this.precomputer = new UserPrecomputer(gdb, {
      limit: precomputeUsers,
      logger,
      cacheOf: (state) => this.cacheOf(state),
      inService: (state) => !this.closed && this.domains.current(state.domain) === state,
    });
    this.domains = new DomainStates(gdb, {
      hnswThreshold,
      logger,
      onIndexReady: (state) => this.precomputer.start(state),
      describe: (state) => this.describe(state),
    });
  }

  /**
   * A page of recommendations for one user in one domain. The tier says what produced it;
   * pages are slices of one deterministic ranking per model version (see `after`).
   */
  async recommend(req: RecommendRequest): Promise<RecommendationPage> {
    this.assertOpen();
    const first = checkFirst(req.first);
    const diversity = checkDiversity(req.diversity);
    if (typeof req.userId !== 'string' || req.userId === '') {
      throw new GraftError('BAD_INPUT', `userId ${JSON.stringify(req.userId)} is not a user id; pass the external user id, e.g. "u17"`);
    }
    validateFilter(req.filter);
    const excludeSeen = req.excludeSeen ?? true;
    const cursor = req.after === null || req.after === undefined ? null : decodeCursor(req.after);
    const offset = cursor?.offset ?? 0;
    if (offset + first > MAX_RANKING_DEPTH) {
      throw new GraftError(
        'BAD_INPUT',
        `rank ${offset + first} is past the deepest rank served (${MAX_RANKING_DEPTH}); narrow the request with a filter instead of paging further`,
      );
    }
    const fingerprint = requestFingerprint(req.userId, excludeSeen, req.filter, diversity);
    if (cursor?.request !== undefined && cursor.request !== fingerprint) {
      throw new GraftError(
        'BAD_INPUT',
        `cursor ${JSON.stringify(req.after)} was issued for another request (user, filter, diversity or excludeSeen differ); repeat the first page's arguments, or request the first page again without \`after\``,
      );
    }

    const state = await this.domains.get(req.domain);
    const model = state.model;
    // A cached user skips the database; a cached ranking also skips the index search.
    const cache = this.cacheOf(state);
    let cached = cache.get(req.userId);
    let user: ResolvedUser;
    const userWasCached = cached !== undefined;
    if (cached) {
      user = cached.resolved;
    } else {
      const ticket = cache.ticket();
      if (cache.enabled || this.precomputer.enabled) this.cacheCounts.misses++;
      user = await this.users.resolve(state, req.userId);
      cached = cache.store(req.userId, user, ticket);
    }
    checkCursorFits(cursor, state, user, req.userId);
    const depth = Math.min(offset + first + 1, MAX_RANKING_DEPTH);

    let rows: PageRow[];
    let more: boolean;
    let indexKind: 'exact' | 'hnsw' | undefined;
    let searched = false;
    if (user.query === null || model === null) {
      const exclusion = compileExclusion(state.catalogue, req.filter, excludeSeen ? user.history : []);
      ({ rows, more } = popularSlice(state, exclusion, offset, first, depth));
    } else {
      const index = cursor?.index === 'exact' || !model.hnsw ? model.exact : model.hnsw;
      indexKind = index.kind;
      const rankingKey = `${index.kind}|${fingerprint}`;
      let ranking: Ranking | undefined = cached?.rankings.get(rankingKey);
      if (ranking === undefined || (!ranking.complete && ranking.rows.length < depth)) {
        const exclusion = compileExclusion(state.catalogue, req.filter, excludeSeen ? user.history : []);
        const exclude = exclusion ? (row: number) => exclusion(model.rowPosition[row]!) : undefined;
        // Cached: rank to the end of the ladder step (same cost), so the next pages are slices of it.
        ranking = rankRows({ index, vectors: model.vectors, dim: model.dim, query: user.query, exclude, diversity }, cached ? ladderDepth(depth) : depth);
        if (cached) cache.addRanking(cached, rankingKey, ranking);
        searched = true;
      }
      const { rows: ranked, scores } = ranking;
      rows = ranked.slice(offset, offset + first).map((row, i) => ({ row, position: model.rowPosition[row]!, score: scores[offset + i]! }));
      more = ranked.length > offset + first;
    }

    if (userWasCached) this.cacheCounts[searched ? 'userHits' : 'hits']++;
    const recent = user.recent;
    const items: Recommendation[] = rows.map((r, i) => ({
      itemId: state.catalogue.itemIds[r.position]!,
      externalId: state.catalogue.externalIds[r.position]!,
      title: state.catalogue.titles[r.position] ?? null,
      tags: state.catalogue.tagsOf(r.position),
      score: r.score,
      rank: offset + i + 1,
      tier: user.tier,
      becauseOf: user.tier === 'POPULAR' || model === null || req.explain === false ? [] : explain(model, r.row, recent, state),
    }));
    const ranking = user.tier === 'POPULAR' || model === null ? { modelId: POPULAR_RANKING, version: 0 } : { modelId: model.modelId, version: model.version };
    const cursorAt = cursorEncoder({ ...ranking, index: indexKind, request: fingerprint });
    const cursorOf = (i: number) => cursorAt(offset + i + 1);
    return {
      domain: state.domain,
      modelId: user.tier === 'POPULAR' ? null : (model?.modelId ?? null),
      modelVersion: user.tier === 'POPULAR' ? null : (model?.version ?? null),
      tier: user.tier,
      fallbackReason: user.reason,
      items,
      startCursor: items.length > 0 ? cursorOf(0) : null,
      endCursor: items.length > 0 ? cursorOf(items.length - 1) : null,
      hasNextPage: more && offset + first < MAX_RANKING_DEPTH,
      hasPreviousPage: offset > 0,
      cursorOf,
    };
  }

  /**
   * Items nearest to one item by the active model's item embeddings (the item itself left out).
   * Without an active model, or for an item the model has no embedding of yet, the answer is the
   * domain's most popular other items, with `modelId: null` and event counts as scores.
   */
  async similarItems(domain: string, itemExternalId: string, first: number): Promise<SimilarItemsResult> {
    this.assertOpen();
    const count = checkFirst(first);
    const state = await this.domains.get(domain);
    const position = state.catalogue.positionOfExternalId(itemExternalId);
    if (position < 0) {
      throw new GraftError(
        'NOT_FOUND',
        `item ${JSON.stringify(itemExternalId)} is not in domain "${domain}"; check the id, or import it with \`graft import-items FILE --domain ${domain}\``,
      );
    }
    const model = state.model;
    const row = model ? model.positionRow[position]! : -1;
    if (model === null || row < 0) {
      const { rows } = popularSlice(state, (p) => p === position, 0, count, count);
      return { modelId: null, modelVersion: null, items: rows.map((r, i) => similarItem(state, r.position, r.score, i)) };
    }
    const index = model.hnsw ?? model.exact;
    // Inner-product models: the items the model would rank first for a taste that is exactly this item's direction.
    const query = indexQuery(model, model.vectors.subarray(row * model.dim, (row + 1) * model.dim));
    const found = index.search(query, count, { exclude: (r) => r === row });
    return {
      modelId: model.modelId,
      modelVersion: model.version,
      items: Array.from(found.ids, (r, i) => similarItem(state, model.rowPosition[r]!, found.scores[i]!, i)),
    };
  }

  /** Loads the domain if it is not in memory yet (concurrent callers share one load) and describes what is served. */
  async ensureLoaded(domain: string): Promise<LoadedDomainState> {
    this.assertOpen();
    return this.describe(await this.domains.get(domain));
  }

  /**
   * Reads the domain again (its active model, catalogue and popularity) and swaps the new state
   * in when ready; requests meanwhile use the old one. What the activation watcher calls; call it
   * after changing a catalogue to serve new items before the next activation.
   */
  async reload(domain: string): Promise<LoadedDomainState> {
    this.assertOpen();
    return this.describe(await this.domains.load(domain));
  }

  /**
   * Drops what this process cached of users in a domain (their history and rankings), or of
   * every user of the domain when `userIds` is left out. Called for events recorded through
   * this process; other processes' writes arrive through EVENTS_CHANNEL (`watchActivations`).
   */
  forgetUsers(domain: string, userIds?: Iterable<string>): void {
    const current = this.domains.current(domain);
    if (!current) return;
    this.caches.get(current)?.forget(userIds);
    // Everyone forgotten (e.g. the events listener reconnected): precompute them again.
    if (userIds === undefined && this.precomputer.started(current)) this.precomputer.start(current, true);
  }

  /**
   * Resolves when the precomputation of the domain's loaded state (see
   * RecommenderOptions.precomputeUsers) has finished, with the users it stored; 0 when
   * nothing is precomputed (option off, no active model, domain not loaded). With an HNSW
   * index still building, precomputation waits for it.
   */
  async precomputed(domain: string): Promise<number> {
    const state = await this.domains.get(domain);
    const model = state.model;
    if (!this.precomputer.enabled || !model) return 0;
    if (model.wantsHnsw && !model.hnsw) await this.domains.hnswSettled(model.modelId);
    return this.precomputer.done(state);
  }

  /**
   * Recommendation requests since start by what the cache held: `hits` (user and ranking
   * cached: no database read, no index search), `userHits` (user cached, ranking computed),
   * `misses` (the database was read). All zero while the cache and precomputation are off.
   */
  cacheStats(): { hits: number; userHits: number; misses: number } {
    return { ...this.cacheCounts };
  }

  /** What is in memory, per domain. */
  loaded(): LoadedDomainState[] {
    return this.domains.all().map((state) => this.describe(state));
  }

  /**
   * Starts following activations made by any process: Postgres LISTEN on ACTIVATION_CHANNEL
   * (dedicated connection, reconnects), or on PGlite polling every `pollMs` (default 1,000).
   * A loaded domain whose active model changed is reloaded in the background and swapped
   * atomically. Calling it again does nothing.
   */
  async watchActivations(options: { pollMs?: number } = {}): Promise<void> {
    this.assertOpen();
    if (this.watcher) return;
    this.watcher = await startActivationWatcher(this.gdb, {
      pollMs: options.pollMs,
      logger: this.logger,
      domains: () => this.domains.names(),
      onActiveModel: (domain, modelId) => this.domains.activeModelSeen(domain, modelId),
      onEventsRecorded: ({ domain, users }) => this.forgetUsers(domain, users),
    });
  }

  /** Stops watching and drops what is loaded; the database handle stays open (it is the caller's). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const watcher = this.watcher;
    this.watcher = null;
    await watcher?.stop();
    this.domains.close();
    this.users.clear();
  }

  private cacheOf(state: DomainState): ServingCache<ResolvedUser> {
    let cache = this.caches.get(state);
    if (!cache) {
      cache = new ServingCache<ResolvedUser>(this.cacheUsers, this.cacheTtlMs);
      this.caches.set(state, cache);
    }
    return cache;
  }

  private describe(state: DomainState): LoadedDomainState {
    return describeState(state, this.caches.get(state)?.precomputedSize ?? 0);
  }

  private assertOpen(): void {
    if (this.closed) throw new GraftError('UNAVAILABLE', 'the recommender is closed; create a new Recommender');
  }
}
