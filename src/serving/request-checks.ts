import { GraftError } from '../errors.js';
import { POPULAR_RANKING, type CursorPayload } from './cursor.js';
import type { DomainState } from './domain-state.js';
import type { RecommendationFilter } from './recommendation.types.js';
import type { ResolvedUser } from './user-resolver.js';

/** Largest page. */
export const MAX_PAGE_SIZE = 500;

export function checkFirst(first: number): number {
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw new GraftError('BAD_INPUT', `first = ${first} is out of range; ask for 1 to ${MAX_PAGE_SIZE} items per page`);
  }
  return first;
}

export function checkDiversity(diversity: number | null | undefined): number {
  if (diversity === null || diversity === undefined) return 0;
  if (typeof diversity !== 'number' || !(diversity >= 0 && diversity <= 1)) {
    throw new GraftError('BAD_INPUT', `diversity = ${diversity} is out of range; pass a number from 0 (pure relevance) to 1 (most diverse), e.g. 0.3`);
  }
  return diversity;
}

/** A cursor must come from the ranking this request would produce now. */
export function checkCursorFits(cursor: CursorPayload | null, state: DomainState, user: ResolvedUser, userId: string): void {
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

/** Base-36 FNV-1a of what shapes a ranking besides the model: a cursor is only valid for the same. */
export function requestFingerprint(userId: string, excludeSeen: boolean, filter: RecommendationFilter | null | undefined, diversity: number): string {
  const norm = (values: string[] | null | undefined) => [...new Set(values ?? [])].sort();
  const text = JSON.stringify([userId, excludeSeen, norm(filter?.tagsAny), norm(filter?.tagsNone), norm(filter?.excludeItemIds), diversity]);
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(36);
}
