/**
 * The serving library's public shapes. The GraphQL layer maps them one to one onto its
 * object types, so names and nullability here are the API's.
 */

/**
 * Which knowledge produced a page:
 * `PERSONAL` the model's row for the user, who has history in the domain;
 * `TRANSFERRED` the model's (transferred) row for a user with no history in the domain, served from source-domain knowledge;
 * `COLD_START` no model row, but history in the domain (recorded after training): the mean of their recent items;
 * `POPULAR` event counts of the domain (no active model, unknown user, or nothing to go on).
 */
export type RecommendationTier = 'PERSONAL' | 'TRANSFERRED' | 'COLD_START' | 'POPULAR';

/** Restrictions on what may be recommended; evaluated in memory against the loaded catalogue. */
export interface RecommendationFilter {
  /** The item has at least one of these tags. Null or empty: no restriction. Unknown tags match nothing. */
  tagsAny?: string[] | null;
  /** The item has none of these tags. Unknown tags are ignored. */
  tagsNone?: string[] | null;
  /** External item ids never to return (e.g. the cart). Ids not in the catalogue are ignored. */
  excludeItemIds?: string[] | null;
}

export interface RecommendRequest {
  /** External user id (global across domains). */
  userId: string;
  domain: string;
  /** Page size, 1..500. */
  first: number;
  /** `endCursor` (or any item cursor) of the previous page; absent for the first page. */
  after?: string | null;
  /** Never return the user's own items of this domain. Default true. */
  excludeSeen?: boolean;
  filter?: RecommendationFilter | null;
  /** MMR trade-off in [0, 1]: 0 (or null) = pure relevance, 1 = as diverse as the candidate pool allows. */
  diversity?: number | null;
  /**
   * Compute `becauseOf` for each item (default true). False leaves every `becauseOf` empty
   * and skips the work (a similarity per recent history item and recommendation): for
   * callers that do not show explanations.
   */
  explain?: boolean;
}

export interface Recommendation {
  /** `items.id`. */
  itemId: number;
  externalId: string;
  /** Title and tags as the catalogue held them when the domain was loaded (so callers need no lookup). */
  title: string | null;
  tags: string[];
  /**
   * Model tiers: cosine between the query and the item, or for inner-product models
   * u·v / (|u| max|v|) (same order as u·v; see ModelMatrix.indexVectors). POPULAR: the
   * item's event count in the domain.
   */
  score: number;
  /** 1-based, global across pages. */
  rank: number;
  tier: RecommendationTier;
  /** `items.id` of the user's recent history items most similar to this one, best first, at most 3; [] for POPULAR and TRANSFERRED. */
  becauseOf: number[];
}

export interface RecommendationPage {
  domain: string;
  /** The model the page came from; null for POPULAR. */
  modelId: string | null;
  modelVersion: number | null;
  tier: RecommendationTier;
  /** Why the page is not personal, e.g. `domain "x" has no active model; showing popular items`; null otherwise. */
  fallbackReason: string | null;
  items: Recommendation[];
  startCursor: string | null;
  endCursor: string | null;
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  /** The cursor of the page's i-th item (Relay edges), encoded when asked for: most clients read only `endCursor`. */
  cursorOf(i: number): string;
}

export interface SimilarItem {
  itemId: number;
  externalId: string;
  title: string | null;
  tags: string[];
  /** Cosine between the two items' embeddings; the event count when no model could answer (then modelId is null). */
  score: number;
  rank: number;
}

export interface SimilarItemsResult {
  /** Null when the answer is the domain's popular items (no active model, or the item has no embedding yet). */
  modelId: string | null;
  modelVersion: number | null;
  items: SimilarItem[];
}

/** What `Recommender` holds in memory for one domain. */
export interface LoadedDomainState {
  domain: string;
  modelId: string | null;
  modelVersion: number | null;
  /** Items that can be recommended: rows of the item matrix with a model, catalogue items without one. */
  items: number;
  /** `exact` also while an HNSW index is being built in the background. */
  indexKind: 'exact' | 'hnsw' | 'popularity';
  loadedAt: Date;
  /** Users held precomputed (see RecommenderOptions.precomputeUsers). */
  precomputedUsers: number;
}

/** Anything pino-like. */
export interface ServingLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface RecommenderOptions {
  /** Catalogues with more items than this are served through HNSW; default 50,000. */
  hnswThreshold?: number;
  logger?: ServingLogger;
  /** Users whose model row is cached (per model version; rows never change). Default 10,000. */
  userCacheSize?: number;
  /**
   * How long a user's history and computed rankings are reused (ms). Default 0: off, every
   * request reads the user's history. Turn it on where recorded events reach `forgetUsers`:
   * the GraphQL server does (60,000 by default: its recordEvents calls it, and on Postgres
   * events recorded or imported by other processes arrive through EVENTS_CHANNEL once
   * `watchActivations` runs); the TTL bounds staleness for writes made around Graft.
   */
  cacheTtlMs?: number;
  /** Users per domain whose history and rankings are cached. Default 10,000. */
  cacheUsers?: number;
  /**
   * When a domain with an active model loads (first use, activation, reload), precompute this
   * many of its most recently active users (then the model's users without events in the
   * domain, the TRANSFERRED tier) in the background: their history, query and first
   * ranking step (the page a plain `recommendations(first: <= 50)` asks for), held until their
   * next event or the next activation, so their first request reads nothing and searches
   * nothing. ~3 KB per user (bench/precompute). Default 0: off. Works with the cache off; needs `forgetUsers`
   * to see recorded events, like the cache (the GraphQL server does).
   */
  precomputeUsers?: number;
}
