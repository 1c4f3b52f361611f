import type { GraftDatabase } from '../db/connect.js';
import { GraftError } from '../errors.js';
import type { CandidateIndex } from '../retrieval/candidate-index.js';
import { startActivationWatcher, type ActivationWatcher } from './activation-watcher.js';
import { cursorEncoder, decodeCursor, POPULAR_RANKING, type CursorPayload } from './cursor.js';
import { buildAndSaveHnsw, describeState, indexQuery, loadDomainState, type DomainState, type ModelMatrix } from './domain-state.js';
import { compileExclusion, validateFilter, type PositionExclusion } from './item-filter.js';
import { LruCache } from './lru-cache.js';
import { ladderDepth, MAX_RANKING_DEPTH, RANKING_LADDER, rankRows, type Ranking } from './ranking.js';
import { DEFAULT_CACHE_TTL_MS, DEFAULT_CACHE_USERS, ServingCache } from './serving-cache.js';
import type {
  LoadedDomainState,
  Recommendation,
  RecommendationFilter,
  RecommendationPage,
  RecommendationTier,
  RecommenderOptions,
  RecommendRequest,
  ServingLogger,
  SimilarItemsResult,
} from './recommendation.types.js';
import { readUsersToPrecompute, readServingUser, readServingUsers } from './serving-repository.js';

/** Largest page. */
export const MAX_PAGE_SIZE = 500;
/** Recent history items that make a cold-start query and explain recommendations. */
export const RECENT_HISTORY = 50;
/** Distinct history items read per request (the seen-items exclusion of heavier users covers their most recent ones). */
export const HISTORY_LIMIT = 10_000;
const BECAUSE_OF = 3;
const DEFAULT_HNSW_THRESHOLD = 50_000;
/** Users read per statement while precomputing. */
const PRECOMPUTE_BATCH = 500;
/** Longest stretch of precomputation between two turns of the event loop (requests go on meanwhile). */
const PRECOMPUTE_SLICE_MS = 5;

const SILENT: ServingLogger = { info: () => undefined, warn: () => undefined };

interface DomainEntry {
  current: DomainState | null;
  loading: Promise<DomainState> | null;
  /** The active model id that triggered the load in flight (watcher de-duplication). */
  loadingFor: string | null | undefined;
  generation: number;
  applied: number;
}

/** A user's row of one model version (null: the model has none), cached: rows never change. */
interface CachedUser {
  vector: Float32Array | null;
}

/** Who is asking and what we know of them, resolved once per request. */
interface Resolved {
  tier: RecommendationTier;
  reason: string | null;
  /** What the index searches with (see `indexQuery`); null = popularity. */
  query: Float32Array | null;
  /** Catalogue positions of the user's items in the domain, most recent first. */
  history: number[];
  /** Model rows of the most recent history items (at most RECENT_HISTORY): what explains a recommendation. */
  recent: number[];
}

/**
 * Serves recommendations and similar items from each domain's active model, held in memory.
 * One instance per process; GraphQL resolvers call it. Domains load on first use (concurrent
 * first requests share one load); `watchActivations` swaps in newly activated models.
 *
 * @example
 * const recommender = new Recommender(await connect());
 * await recommender.watchActivations();
 * const page = await recommender.recommend({ userId: 'u17', domain: 'cloth', first: 20 });
 * const next = await recommender.recommend({ userId: 'u17', domain: 'cloth', first: 20, after: page.endCursor });
 */
export class Recommender {
  private readonly entries = new Map<string, DomainEntry>();
  private readonly users: LruCache<string, CachedUser>;
  private readonly hnswBuilds = new Map<string, Promise<CandidateIndex | null>>();
  private readonly hnswThreshold: number;
  private readonly logger: ServingLogger;
  /** Each loaded domain state's cache of users' history and rankings: it goes with its state. */
  private readonly caches = new WeakMap<DomainState, ServingCache<Resolved>>();
  private readonly cacheUsers: number;
  private readonly cacheTtlMs: number;
  private readonly cacheCounts = { hits: 0, userHits: 0, misses: 0 };
  private readonly precomputeUsers: number;
  /** The precomputation of each loaded domain state (resolves to the users stored). */
  private readonly precomputations = new WeakMap<DomainState, Promise<number>>();
  private watcher: ActivationWatcher | null = null;
  private closed = false;

  constructor(
    private readonly gdb: GraftDatabase,
    options: RecommenderOptions = {},
  ) {
    this.hnswThreshold = options.hnswThreshold ?? DEFAULT_HNSW_THRESHOLD;
    if (!Number.isInteger(this.hnswThreshold) || this.hnswThreshold < 0) {
      throw new GraftError('BAD_INPUT', `hnswThreshold = ${options.hnswThreshold} is not a non-negative integer; leave it out for ${DEFAULT_HNSW_THRESHOLD}`);
    }
    this.logger = options.logger ?? SILENT;
    this.users = new LruCache(options.userCacheSize ?? 10_000);
    this.cacheTtlMs = options.cacheTtlMs ?? 0;
    this.cacheUsers = options.cacheUsers ?? DEFAULT_CACHE_USERS;
    if (!Number.isFinite(this.cacheTtlMs) || this.cacheTtlMs < 0) {
      throw new GraftError('BAD_INPUT', `cacheTtlMs = ${options.cacheTtlMs} is not a duration; pass milliseconds >= 0 (0 turns the cache off), e.g. ${DEFAULT_CACHE_TTL_MS}`);
    }
    if (!Number.isInteger(this.cacheUsers) || this.cacheUsers < 0) {
      throw new GraftError('BAD_INPUT', `cacheUsers = ${options.cacheUsers} is not a non-negative integer; leave it out for ${DEFAULT_CACHE_USERS}`);
    }
    this.precomputeUsers = options.precomputeUsers ?? 0;
    if (!Number.isInteger(this.precomputeUsers) || this.precomputeUsers < 0) {
      throw new GraftError('BAD_INPUT', `precomputeUsers = ${options.precomputeUsers} is not a non-negative integer; pass how many active users to precompute per domain, or 0 for none`);
    }
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

    const state = await this.state(req.domain);
    const model = state.model;
    // A cached user skips the database; a cached ranking also skips the index search.
    const cache = this.cacheOf(state);
    let cached = cache.get(req.userId);
    let user: Resolved;
    const userWasCached = cached !== undefined;
    if (cached) {
      user = cached.resolved;
    } else {
      const ticket = cache.ticket();
      if (cache.enabled || this.precomputeUsers > 0) this.cacheCounts.misses++;
      user = await this.resolveUser(state, req.userId);
      cached = cache.store(req.userId, user, ticket);
    }
    checkCursorFits(cursor, state, user, req.userId);
    const depth = Math.min(offset + first + 1, MAX_RANKING_DEPTH);

    let rows: { position: number; score: number; row: number }[];
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
    const state = await this.state(domain);
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
      return { modelId: null, modelVersion: null, items: rows.map((r, i) => this.similar(state, r.position, r.score, i)) };
    }
    const index = model.hnsw ?? model.exact;
    // Inner-product models: the items the model would rank first for a taste that is exactly this item's direction.
    const query = indexQuery(model, model.vectors.subarray(row * model.dim, (row + 1) * model.dim));
    const found = index.search(query, count, { exclude: (r) => r === row });
    return {
      modelId: model.modelId,
      modelVersion: model.version,
      items: Array.from(found.ids, (r, i) => this.similar(state, model.rowPosition[r]!, found.scores[i]!, i)),
    };
  }

  /** Loads the domain if it is not in memory yet (concurrent callers share one load) and describes what is served. */
  async ensureLoaded(domain: string): Promise<LoadedDomainState> {
    this.assertOpen();
    return this.describe(await this.state(domain));
  }

  /**
   * Reads the domain again (its active model, catalogue and popularity) and swaps the new state
   * in when ready; requests meanwhile use the old one. What the activation watcher calls; call it
   * after changing a catalogue to serve new items before the next activation.
   */
  async reload(domain: string): Promise<LoadedDomainState> {
    this.assertOpen();
    return this.describe(await this.load(domain));
  }

  /**
   * Drops what this process cached of users in a domain (their history and rankings), or of
   * every user of the domain when `userIds` is left out. Called for events recorded through
   * this process; other processes' writes arrive through EVENTS_CHANNEL (`watchActivations`).
   */
  forgetUsers(domain: string, userIds?: Iterable<string>): void {
    const current = this.entries.get(domain)?.current;
    if (!current) return;
    this.caches.get(current)?.forget(userIds);
    // Everyone forgotten (e.g. the events listener reconnected): precompute them again.
    if (userIds === undefined && this.precomputations.has(current)) this.startPrecompute(current, true);
  }

  /**
   * Resolves when the precomputation of the domain's loaded state (see
   * RecommenderOptions.precomputeUsers) has finished, with the users it stored; 0 when
   * nothing is precomputed (option off, no active model, domain not loaded). With an HNSW
   * index still building, precomputation waits for it.
   */
  async precomputed(domain: string): Promise<number> {
    const state = await this.state(domain);
    const model = state.model;
    if (this.precomputeUsers === 0 || !model) return 0;
    if (model.wantsHnsw && !model.hnsw) await this.hnswBuilds.get(model.modelId);
    return (await this.precomputations.get(state)) ?? 0;
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
    return [...this.entries.values()].flatMap((e) => (e.current ? [this.describe(e.current)] : []));
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
      domains: () => [...this.entries.keys()],
      onActiveModel: (domain, modelId) => this.activeModelSeen(domain, modelId),
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
    this.entries.clear();
    this.users.clear();
  }

  private cacheOf(state: DomainState): ServingCache<Resolved> {
    let cache = this.caches.get(state);
    if (!cache) {
      cache = new ServingCache<Resolved>(this.cacheUsers, this.cacheTtlMs);
      this.caches.set(state, cache);
    }
    return cache;
  }

  private similar(state: DomainState, position: number, score: number, i: number) {
    const c = state.catalogue;
    return { itemId: c.itemIds[position]!, externalId: c.externalIds[position]!, title: c.titles[position] ?? null, tags: c.tagsOf(position), score, rank: i + 1 };
  }

  private assertOpen(): void {
    if (this.closed) throw new GraftError('UNAVAILABLE', 'the recommender is closed; create a new Recommender');
  }

  private state(domain: string): Promise<DomainState> {
    const entry = this.entries.get(domain);
    if (entry?.current) return Promise.resolve(entry.current);
    if (entry?.loading) return entry.loading;
    return this.load(domain);
  }

  /** Starts a load; the newest load to finish among those started last wins (an older one finishing later is dropped). */
  private load(domain: string, forModel?: string | null): Promise<DomainState> {
    let entry = this.entries.get(domain);
    if (!entry) {
      entry = { current: null, loading: null, loadingFor: undefined, generation: 0, applied: 0 };
      this.entries.set(domain, entry);
    }
    const own = entry;
    const generation = ++own.generation;
    const promise = loadDomainState(this.gdb, domain, {
      hnswThreshold: this.hnswThreshold,
      logger: this.logger,
      // A first load reads whatever is active: once it knows which model, the watcher's report of that same model is not news.
      onActiveModelRead: (modelId) => {
        if (own.generation === generation && own.loadingFor === undefined) own.loadingFor = modelId;
      },
    }).then(
      (state) => {
        if (generation > own.applied && !this.closed) {
          own.current = state;
          own.applied = generation;
          this.logger.info(this.describe(state), 'serving domain loaded');
          this.saveMatrixArtifacts(state);
          this.startHnswBuild(state);
          // Rankings are per index kind: with an HNSW index coming, precompute once it is in.
          if (!state.model?.wantsHnsw || state.model.hnsw) this.startPrecompute(state);
        }
        return own.current ?? state;
      },
      (error: unknown) => {
        // Nothing cached for a domain that failed its first load (e.g. NOT_FOUND: it may be created later).
        if (own.current === null && own.generation === generation && this.entries.get(domain) === own) this.entries.delete(domain);
        throw error;
      },
    );
    own.loading = promise;
    own.loadingFor = forModel;
    promise.then(
      () => this.loadSettled(own, promise),
      () => this.loadSettled(own, promise),
    );
    return promise;
  }

  private loadSettled(entry: DomainEntry, promise: Promise<DomainState>): void {
    if (entry.loading !== promise) return;
    entry.loading = null;
    entry.loadingFor = undefined;
  }

  private activeModelSeen(domain: string, modelId: string | null): void {
    if (this.closed) return;
    const entry = this.entries.get(domain);
    if (!entry) return; // not loaded here: its first request reads the active model anyway
    if (entry.loading && entry.loadingFor === modelId) return;
    if (!entry.loading && entry.current && (entry.current.model?.modelId ?? null) === modelId) return;
    this.logger.info({ domain, modelId }, 'active model changed; reloading the domain');
    this.load(domain, modelId).catch((error: Error) => this.logger.warn({ domain, modelId, error: error.message }, 'reloading the domain failed; still serving the previous state'));
  }

  /** First load of a model anywhere: keep its item rows as binary artifacts so the next load is one read. */
  private saveMatrixArtifacts(state: DomainState): void {
    const model = state.model;
    const save = model?.saveArtifacts;
    if (!model || !save) return;
    model.saveArtifacts = null;
    if (this.closed) return;
    save().catch((error: Error) => this.logger.warn({ domain: state.domain, modelId: model.modelId, error: error.message }, 'saving the item matrix artifacts failed; the next load reads the embeddings table'));
  }

  /** Above the threshold without a saved index: serve exactly now, build HNSW on a worker thread, save it, swap it in. */
  private startHnswBuild(state: DomainState): void {
    const model = state.model;
    if (!model || !model.wantsHnsw || model.hnsw) return;
    let build = this.hnswBuilds.get(model.modelId);
    if (!build) {
      this.logger.info({ domain: state.domain, modelId: model.modelId, rows: model.rowPosition.length }, 'building the HNSW index in the background');
      build = buildAndSaveHnsw(this.gdb, model, () => !this.closed).catch((error: Error) => {
        this.logger.warn({ domain: state.domain, modelId: model.modelId, error: error.message }, 'building the HNSW index failed; serving with the exact index');
        return null;
      });
      this.hnswBuilds.set(model.modelId, build);
      void build.finally(() => this.hnswBuilds.delete(model.modelId));
    }
    void build.then((index) => {
      if (index && !model.hnsw) {
        model.hnsw = index;
        this.logger.info({ domain: state.domain, modelId: model.modelId }, 'HNSW index ready');
      }
      this.startPrecompute(state);
    });
  }

  /**
   * The user's tier, query vector and history in the domain: one statement (their model row is
   * read only the first time: rows of a model version never change, so they are cached).
   */
  private async resolveUser(state: DomainState, userId: string): Promise<Resolved> {
    const model = state.model;
    const vectorKey = model ? `${model.modelId}\u0000${userId}` : '';
    const knownVector = model ? this.users.get(vectorKey) : undefined;
    const found = await readServingUser(this.gdb, userId, state.domainId, model && !knownVector ? model.modelId : null, HISTORY_LIMIT);
    if (found === undefined || model === null) return resolveFound(state, userId, found, null);
    const user = knownVector ?? this.cacheUserVector(model, userId, vectorKey, found.vector);
    return resolveFound(state, userId, found, user.vector);
  }

  /** Starts (or with `again`, restarts) precomputing the state's most recently active users, unless off or already running. */
  private startPrecompute(state: DomainState, again = false): void {
    if (this.precomputeUsers === 0 || !state.model || this.closed || this.entries.get(state.domain)?.current !== state) return;
    const running = this.precomputations.get(state);
    if (running && !again) return;
    const run = (running ?? Promise.resolve(0)).catch(() => 0).then(() => this.precompute(state));
    this.precomputations.set(state, run);
    run.then(
      (stored) => this.logger.info({ domain: state.domain, modelId: state.model?.modelId, users: stored }, 'users precomputed'),
      (error: Error) => this.logger.warn({ domain: state.domain, error: error.message }, 'precomputing users failed; they are served as they come'),
    );
  }

  /**
   * Reads the domain's most recently active users (then the model's users without events in
   * the domain: TRANSFERRED) in batches and stores each one's resolution
   * and first ranking step (exclude-seen, no filter, no diversity: a plain first page) in the
   * state's cache. Yields to requests every few milliseconds; stops when the state is replaced.
   */
  private async precompute(state: DomainState): Promise<number> {
    const model = state.model!;
    const cache = this.cacheOf(state);
    const ticket = cache.beginPrecompute();
    const current = () => !this.closed && !ticket.cancelled && this.entries.get(state.domain)?.current === state;
    let stored = 0;
    try {
      const ids = await readUsersToPrecompute(this.gdb.db, state.domainId, model.modelId, this.precomputeUsers);
      let sliceStart = performance.now();
      for (let start = 0; start < ids.length && current(); start += PRECOMPUTE_BATCH) {
        const batch = await readServingUsers(this.gdb.db, ids.slice(start, start + PRECOMPUTE_BATCH), state.domainId, model.modelId, HISTORY_LIMIT);
        for (const found of batch) {
          if (!current()) break;
          const user = resolveFound(state, found.externalId, found, userVector(model, found.externalId, found.vector));
          const rankings: Array<[string, Ranking]> = [];
          if (user.query !== null) {
            const index = model.hnsw ?? model.exact;
            const exclusion = compileExclusion(state.catalogue, null, user.history);
            const exclude = exclusion ? (row: number) => exclusion(model.rowPosition[row]!) : undefined;
            const ranking = rankRows({ index, vectors: model.vectors, dim: model.dim, query: user.query, exclude, diversity: 0 }, RANKING_LADDER[0]!);
            rankings.push([`${index.kind}|${requestFingerprint(found.externalId, true, null, 0)}`, ranking]);
          }
          if (cache.storePrecomputed(ticket, found.externalId, user, rankings)) stored++;
          if (performance.now() - sliceStart > PRECOMPUTE_SLICE_MS) {
            await new Promise((resolve) => setImmediate(resolve));
            sliceStart = performance.now();
          }
        }
      }
    } finally {
      cache.endPrecompute(ticket);
    }
    return stored;
  }

  private describe(state: DomainState): LoadedDomainState {
    return describeState(state, this.caches.get(state)?.precomputedSize ?? 0);
  }

  private cacheUserVector(model: ModelMatrix, userId: string, key: string, stored: number[] | null): CachedUser {
    const user = { vector: userVector(model, userId, stored) };
    this.users.set(key, user);
    return user;
  }
}

/** A stored user row as a unit vector (null: no row, or a zero row). */
function userVector(model: ModelMatrix, userId: string, stored: number[] | null): Float32Array | null {
  if (!stored) return null;
  if (stored.length !== model.dim) {
    throw new GraftError('INTERNAL', `user "${userId}" has a ${stored.length}-wide row in model "${model.modelId}" whose items are ${model.dim}-wide; the model's embeddings are damaged, re-register it`);
  }
  return unit(Float32Array.from(stored));
}

/**
 * Who the user is to the domain's model, from what was read of them (`found`: undefined for an
 * unknown user) and their unit row (null: none): the tier, the index query and the history.
 */
function resolveFound(state: DomainState, userId: string, found: { history: number[] } | undefined, vector: Float32Array | null): Resolved {
  const model = state.model;
  const history: number[] = [];
  for (const id of found?.history ?? []) {
    const p = state.catalogue.positionOfItem(id);
    if (p >= 0) history.push(p);
  }
  const popular = (reason: string): Resolved => ({ tier: 'POPULAR', reason, query: null, history, recent: [] });
  if (model === null) return popular(`domain "${state.domain}" has no active model; showing popular items`);
  // Not cached when unknown: the user may be created any moment.
  if (found === undefined) return popular(`user "${userId}" is unknown; showing popular items`);
  const historyCount = found.history.length;
  const recent = recentRows(model, history);
  if (vector) {
    return { tier: historyCount > 0 ? 'PERSONAL' : 'TRANSFERRED', reason: null, query: indexQuery(model, vector), history, recent };
  }
  const direction = recent.length > 0 ? meanDirection(model, recent) : null;
  if (direction) return { tier: 'COLD_START', reason: null, query: indexQuery(model, direction), history, recent };
  return popular(
    historyCount === 0
      ? `user "${userId}" has no history in domain "${state.domain}" and no row in model version ${model.version}; showing popular items`
      : `user "${userId}" has no row in model version ${model.version} and none of their items in domain "${state.domain}" has one either; showing popular items`,
  );
}

function checkFirst(first: number): number {
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new GraftError('BAD_INPUT', `first = ${first} is out of range; ask for 1 to ${MAX_PAGE_SIZE} items per page`);
  }
  return first;
}

function checkDiversity(diversity: number | null | undefined): number {
  if (diversity === null || diversity === undefined) return 0;
  if (typeof diversity !== 'number' || !(diversity >= 0 && diversity <= 1)) {
    throw new GraftError('BAD_INPUT', `diversity = ${diversity} is out of range; pass a number from 0 (pure relevance) to 1 (most diverse), e.g. 0.3`);
  }
  return diversity;
}

/** A cursor must come from the ranking this request would produce now. */
function checkCursorFits(cursor: CursorPayload | null, state: DomainState, user: Resolved, userId: string): void {
  if (!cursor) return;
  const model = state.model;
  const again = 'request the first page again without `after`';
  if (cursor.modelId === POPULAR_RANKING) {
    if (user.tier !== 'POPULAR' && model) {
      throw new GraftError('BAD_INPUT', `cursor was issued for the popular items of domain "${state.domain}", but user "${userId}" is now served by model version ${model.version}; ${again}`);
    }
    return;
  }
  if (!model || model.modelId !== cursor.modelId) {
    const now = model ? `now version ${model.version}` : 'the domain has no active model now';
    throw new GraftError('BAD_INPUT', `cursor was issued by model version ${cursor.version} of domain "${state.domain}", which is no longer active (${now}); ${again}`);
  }
  if (user.tier === 'POPULAR') {
    throw new GraftError('BAD_INPUT', `cursor was issued by model version ${cursor.version} of domain "${state.domain}", but this request is now answered with popular items (${user.reason}); ${again}`);
  }
}

/**
 * The popularity ranking from `offset`: the domain's items by event count, allowed ones only.
 * `depth` (>= offset + first) says how far to look to tell whether a next page exists.
 */
function popularSlice(state: DomainState, exclusion: PositionExclusion | undefined, offset: number, first: number, depth: number) {
  const rows: { position: number; score: number; row: number }[] = [];
  let seen = 0;
  for (let i = 0; i < state.popularOrder.length && seen < depth; i++) {
    const position = state.popularOrder[i]!;
    if (exclusion?.(position)) continue;
    if (seen >= offset && seen < offset + first) rows.push({ position, score: state.eventCounts[position]!, row: -1 });
    seen++;
  }
  return { rows, more: seen > offset + first };
}

/** Rows of the most recent history items the model knows, at most RECENT_HISTORY. */
function recentRows(model: ModelMatrix, history: number[]): number[] {
  const rows: number[] = [];
  for (const position of history) {
    const row = model.positionRow[position]!;
    if (row >= 0) rows.push(row);
    if (rows.length === RECENT_HISTORY) break;
  }
  return rows;
}

/** Normalised mean of the rows' vectors; null when they cancel out. */
function meanDirection(model: ModelMatrix, rows: number[]): Float32Array | null {
  const mean = new Float32Array(model.dim);
  for (const row of rows) for (let j = 0; j < model.dim; j++) mean[j] += model.vectors[row * model.dim + j]!;
  return unit(mean);
}

/** `v` scaled to length 1 in place (returned); null for a zero vector. */
function unit(v: Float32Array): Float32Array | null {
  let norm = 0;
  for (let j = 0; j < v.length; j++) norm += v[j]! * v[j]!;
  if (!(norm > 0)) return null;
  const scale = 1 / Math.sqrt(norm);
  for (let j = 0; j < v.length; j++) v[j] *= scale;
  return v;
}

/**
 * The (at most 3) recent history items most similar to `row`, best first (ties: lower row
 * first); only positive similarities explain anything. A running top-3, no allocation per item.
 */
function explain(model: ModelMatrix, row: number, recent: number[], state: DomainState): number[] {
  if (row < 0 || recent.length === 0) return [];
  const { dim, vectors } = model;
  const base = row * dim;
  const bestRows = [-1, -1, -1];
  const bestSims = [0, 0, 0];
  for (const h of recent) {
    const other = h * dim;
    let sim = 0;
    for (let j = 0; j < dim; j++) sim += vectors[base + j]! * vectors[other + j]!;
    if (!(sim > 0)) continue;
    let at = BECAUSE_OF;
    while (at > 0 && (bestRows[at - 1] === -1 || sim > bestSims[at - 1]! || (sim === bestSims[at - 1] && h < bestRows[at - 1]!))) at--;
    if (at === BECAUSE_OF) continue;
    for (let k = BECAUSE_OF - 1; k > at; k--) {
      bestRows[k] = bestRows[k - 1]!;
      bestSims[k] = bestSims[k - 1]!;
    }
    bestRows[at] = h;
    bestSims[at] = sim;
  }
  const out: number[] = [];
  for (const r of bestRows) if (r >= 0) out.push(state.catalogue.itemIds[model.rowPosition[r]!]!);
  return out;
}

/** Base-36 FNV-1a of what shapes a ranking besides the model: a cursor is only valid for the same. */
function requestFingerprint(userId: string, excludeSeen: boolean, filter: RecommendationFilter | null | undefined, diversity: number): string {
  const norm = (values: string[] | null | undefined) => [...new Set(values ?? [])].sort();
  const text = JSON.stringify([userId, excludeSeen, norm(filter?.tagsAny), norm(filter?.tagsNone), norm(filter?.excludeItemIds), diversity]);
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(36);
}
