import type { CandidateIndex } from '../retrieval/candidate-index.js';
import { mmrSelect } from './mmr.js';

/** Deepest rank a request may reach (offset + first): deeper pages cost more than anyone reads. */
export const MAX_RANKING_DEPTH = 5_000;

/**
 * The ranking is built in fixed steps: step i extends the ranking to LADDER[i] items from a
 * candidate pool of its own. A page at depth d computes every step up to the first >= d, so
 * page 3 sees exactly the ranking page 1 saw, continued: with an approximate index (HNSW) or
 * MMR, top-200 is not in general top-100 plus 100 more, but step 2 here is by construction.
 * The first step is small because a first page (typically 20) is most of the traffic, and
 * with a selective filter an HNSW search costs in proportion to k.
 */
export const RANKING_LADDER: readonly number[] = [50, 100, 200, 400, 800, 1_600, 3_200, MAX_RANKING_DEPTH];

/** The ladder step a ranking to `depth` computes anyway: ranking that deep costs the same and serves the next pages too. */
export function ladderDepth(depth: number): number {
  for (const step of RANKING_LADDER) if (step >= depth) return step;
  return MAX_RANKING_DEPTH;
}

/** MMR pool for a step reaching `step` items: 4x (so at least 200), at most 2,000 extra candidates. */
export function mmrPoolSize(step: number): number {
  return Math.min(4 * step, step + 2_000);
}

export interface RankingInput {
  index: CandidateIndex;
  /** The items' rows ([size, dim], L2-normalised, in index row order), for MMR similarities. */
  vectors: Float32Array;
  dim: number;
  /** The index's query (`indexQuery`: [dim] for cosine models, [dim + 1] for inner-product ones). */
  query: Float32Array;
  /** Rows never to return. */
  exclude?: (row: number) => boolean;
  /** MMR lambda in [0, 1]; 0 = by score. */
  diversity: number;
}

export interface Ranking {
  /** Index rows, rank order. */
  rows: number[];
  /** Relevance (query . row) of each, also under MMR. */
  scores: number[];
  /** True when every allowed row is ranked (no deeper page exists). */
  complete: boolean;
}

/**
 * The first `depth` rows (<= MAX_RANKING_DEPTH) of the request's ranking; the same rows in the
 * same order whatever `depth` is asked, so pages are slices of one list.
 *
 * @example
 * const { rows } = rankRows({ index, vectors, dim, query, diversity: 0 }, offset + first + 1);
 */
export function rankRows(input: RankingInput, depth: number): Ranking {
  const { index, query, exclude, diversity } = input;
  if (index.kind === 'exact' && diversity === 0) {
    // Exact top-k with its total order (score, then row) is prefix-consistent already: one scan.
    const found = index.search(query, depth, { exclude });
    return { rows: Array.from(found.ids), scores: Array.from(found.scores), complete: found.ids.length < depth };
  }
  const rows: number[] = [];
  const scores: number[] = [];
  const ranked = new Set<number>();
  for (const step of RANKING_LADDER) {
    const poolSize = Math.min(index.size, diversity > 0 ? mmrPoolSize(step) : step);
    const pool = index.search(query, poolSize, { exclude });
    const candRows: number[] = [];
    const candScores: number[] = [];
    for (let i = 0; i < pool.ids.length; i++) {
      if (ranked.has(pool.ids[i]!)) continue;
      candRows.push(pool.ids[i]!);
      candScores.push(pool.scores[i]!);
    }
    // The last step needed stops at `depth`: greedy picks are a prefix of a longer run's picks.
    const take = Math.min(step, depth) - rows.length;
    const order = diversity > 0 ? mmrSelect({ rows: candRows, scores: candScores }, input.vectors, input.dim, diversity, take, rows) : firstN(candRows.length, take);
    for (const i of order) {
      rows.push(candRows[i]!);
      scores.push(candScores[i]!);
      ranked.add(candRows[i]!);
    }
    // The index returns k rows whenever k are allowed: a short pool means nothing is left beyond it.
    const exhausted = pool.ids.length < poolSize || poolSize === index.size;
    if (exhausted && order.length === candRows.length) return { rows, scores, complete: true };
    if (rows.length >= depth || step >= depth) break;
  }
  return { rows, scores, complete: false };
}

function firstN(available: number, take: number): number[] {
  return Array.from({ length: Math.max(0, Math.min(available, take)) }, (_, i) => i);
}
