import type { DomainState, ModelMatrix } from './domain-state.js';
import type { PositionExclusion } from './item-filter.js';

/** Recent history items named as the reason for a recommendation. */
const BECAUSE_OF = 3;

/** One ranked row of a page: catalogue position, score, model row (-1: popularity). */
export interface PageRow {
  position: number;
  score: number;
  row: number;
}

/**
 * The popularity ranking from `offset`: the domain's items by event count, allowed ones only.
 * `depth` (>= offset + first) says how far to look to tell whether a next page exists.
 */
export function popularSlice(state: DomainState, exclusion: PositionExclusion | undefined, offset: number, first: number, depth: number): { rows: PageRow[]; more: boolean } {
  const rows: PageRow[] = [];
  let seen = 0;
  for (let i = 0; i < state.popularOrder.length && seen < depth; i++) {
    const position = state.popularOrder[i]!;
    if (exclusion?.(position)) continue;
    if (seen >= offset && seen < offset + first) rows.push({ position, score: state.eventCounts[position]!, row: -1 });
    seen++;
  }
  return { rows, more: seen > offset + first };
}

/**
 * The (at most 3) recent history items most similar to `row`, best first (ties: lower row
 * first); only positive similarities explain anything. A running top-3, no allocation per item.
 */
export function explain(model: ModelMatrix, row: number, recent: number[], state: DomainState): number[] {
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

/** A catalogue item as a similar-items entry. */
export function similarItem(state: DomainState, position: number, score: number, i: number) {
  const c = state.catalogue;
  return { itemId: c.itemIds[position]!, externalId: c.externalIds[position]!, title: c.titles[position] ?? null, tags: c.tagsOf(position), score, rank: i + 1 };
}
