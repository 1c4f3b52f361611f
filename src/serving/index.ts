/** Serving: recommendations and similar items from each domain's active model, held in memory. */
export { Recommender, MAX_PAGE_SIZE, RECENT_HISTORY, HISTORY_LIMIT } from './recommender.js';
export { encodeCursor, decodeCursor, POPULAR_RANKING, type CursorPayload } from './cursor.js';
export { MAX_RANKING_DEPTH } from './ranking.js';
export { DEFAULT_CACHE_TTL_MS, DEFAULT_CACHE_USERS } from './serving-cache.js';
export { mmrSelect, intraListSimilarity } from './mmr.js';
export { HNSW_ARTIFACT, ITEM_IDS_ARTIFACT, ITEM_VECTORS_ARTIFACT } from './domain-state.js';
export type {
  LoadedDomainState,
  Recommendation,
  RecommendationFilter,
  RecommendationPage,
  RecommendationTier,
  RecommenderOptions,
  RecommendRequest,
  ServingLogger,
  SimilarItem,
  SimilarItemsResult,
} from './recommendation.types.js';
