import type { GraftDatabase } from '../db/connect.js';
import { GraftError } from '../errors.js';
import { LruCache } from './lru-cache.js';
import { indexQuery, type DomainState, type ModelMatrix } from './domain-state.js';
import type { RecommendationTier } from './recommendation.types.js';
import { readServingUser } from './serving-repository.js';

/** Recent history items that make a cold-start query and explain recommendations. */
export const RECENT_HISTORY = 50;
/** Distinct history items read per request (the seen-items exclusion of heavier users covers their most recent ones). */
export const HISTORY_LIMIT = 10_000;

/** Who is asking and what we know of them, resolved once per request (or precomputed). */
export interface ResolvedUser {
  tier: RecommendationTier;
  reason: string | null;
  /** What the index searches with (see `indexQuery`); null = popularity. */
  query: Float32Array | null;
  /** Catalogue positions of the user's items in the domain, most recent first. */
  history: number[];
  /** Model rows of the most recent history items (at most RECENT_HISTORY): what explains a recommendation. */
  recent: number[];
}

/** A user's row of one model version (null: the model has none), cached: rows never change. */
interface CachedRow {
  vector: Float32Array | null;
}

/**
 * Resolves users into tiers (PERSONAL, TRANSFERRED, COLD_START, POPULAR) against a domain's
 * state: one statement per user, their model row read only the first time (rows of a model
 * version never change, so they are kept in an LRU of `rowCacheSize`).
 */
export class UserResolver {
  private readonly rows: LruCache<string, CachedRow>;

  constructor(
    private readonly gdb: GraftDatabase,
    rowCacheSize: number,
  ) {
    this.rows = new LruCache(rowCacheSize);
  }

  async resolve(state: DomainState, userId: string): Promise<ResolvedUser> {
    const model = state.model;
    const rowKey = model ? `${model.modelId}\u0000${userId}` : '';
    const known = model ? this.rows.get(rowKey) : undefined;
    const found = await readServingUser(this.gdb, userId, state.domainId, model && !known ? model.modelId : null, HISTORY_LIMIT);
    if (found === undefined || model === null) return resolveFound(state, userId, found, null);
    let row = known;
    if (!row) {
      row = { vector: userVector(model, userId, found.vector) };
      this.rows.set(rowKey, row);
    }
    return resolveFound(state, userId, found, row.vector);
  }

  clear(): void {
    this.rows.clear();
  }
}

/** A stored user row as a unit vector (null: no row, or a zero row). */
export function userVector(model: ModelMatrix, userId: string, stored: number[] | null): Float32Array | null {
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
export function resolveFound(state: DomainState, userId: string, found: { history: number[] } | undefined, vector: Float32Array | null): ResolvedUser {
  const model = state.model;
  const history: number[] = [];
  for (const id of found?.history ?? []) {
    const p = state.catalogue.positionOfItem(id);
    if (p >= 0) history.push(p);
  }
  const popular = (reason: string): ResolvedUser => ({ tier: 'POPULAR', reason, query: null, history, recent: [] });
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
