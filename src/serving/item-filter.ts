import { GraftError } from '../errors.js';
import type { ItemCatalogue } from './item-catalogue.js';
import type { RecommendationFilter } from './recommendation.types.js';

/** A filter list longer than this is a client bug, not a filter. */
export const MAX_FILTER_VALUES = 1_000;

/** True for catalogue positions that must not be returned. */
export type PositionExclusion = (position: number) => boolean;

/** Checks a filter's shape; BAD_INPUT names the field and the fix. */
export function validateFilter(filter: RecommendationFilter | null | undefined): void {
  if (filter === null || filter === undefined) return;
  for (const field of ['tagsAny', 'tagsNone', 'excludeItemIds'] as const) {
    const values = filter[field];
    if (values === null || values === undefined) continue;
    if (!Array.isArray(values) || values.some((v) => typeof v !== 'string')) {
      throw new GraftError('BAD_INPUT', `filter.${field} must be a list of strings, got ${JSON.stringify(values)?.slice(0, 80)}`);
    }
    if (values.length > MAX_FILTER_VALUES) {
      throw new GraftError('BAD_INPUT', `filter.${field} has ${values.length} values; pass at most ${MAX_FILTER_VALUES}`);
    }
  }
}

/**
 * Compiles what a request may not see into one predicate over catalogue positions: the user's
 * own items (`seen`), `excludeItemIds` (ids not in the catalogue are ignored: a client's cart
 * may hold items the catalogue does not), `tagsNone` (unknown tags ignored) and `tagsAny`
 * (unknown tags match nothing, so `tagsAny: ['no-such-tag']` excludes everything).
 * Returns undefined when nothing is excluded, so indexes can skip the callback entirely.
 */
export function compileExclusion(catalogue: ItemCatalogue, filter: RecommendationFilter | null | undefined, seen: Iterable<number>): PositionExclusion | undefined {
  const blocked = new Set<number>(seen);
  for (const externalId of filter?.excludeItemIds ?? []) {
    const p = catalogue.positionOfExternalId(externalId);
    if (p >= 0) blocked.add(p);
  }
  const anyTags = filter?.tagsAny ?? [];
  const wanted = anyTags.length > 0 ? catalogue.tagMask(anyTags) : undefined;
  const unwanted = catalogue.tagMask(filter?.tagsNone ?? []);
  if (wanted === null) return () => true;
  if (blocked.size === 0 && wanted === undefined && unwanted === null) return undefined;
  return (p) => blocked.has(p) || (wanted !== undefined && !catalogue.hasTagIn(p, wanted)) || (unwanted !== null && catalogue.hasTagIn(p, unwanted));
}
