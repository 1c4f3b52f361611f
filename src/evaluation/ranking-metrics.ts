/**
 * Ranking metrics from the positions of relevant items, with ties handled explicitly.
 *
 * Positions are 0-based. A relevant item's position is known only up to its tie group:
 * the block of candidates sharing its score starts at `start` (the number of candidates
 * with a strictly greater score) and has `size` members, `relevant` of them relevant.
 *
 * Tie conventions (`TiePolicy`):
 * - `mean` (default): the expected metric when ties are broken uniformly at random.
 *   Exact, not sampled: each relevant item's position is uniform over its group, so
 *   hits and DCG follow by linearity; HR and RR use the hypergeometric law of where
 *   a group's relevant items land. This is fair to scorers with many equal scores
 *   (popularity counts) without flattering them.
 * - `pessimistic`: relevant items are placed after every tied candidate.
 * - `optimistic`: relevant items are placed before every tied candidate (inflates
 *   constant scorers; only for comparison with papers that do this).
 *
 * Definitions (binary relevance, `R` = number of relevant items of the user, including
 * relevant items that are not candidates, which count as misses):
 * - `hr@K`     1 if any relevant item is in the top K.
 * - `recall@K` hits in top K / R (not / min(K, R)).
 * - `ndcg@K`   DCG@K / IDCG@K, DCG term 1 / log2(position + 2), IDCG over min(K, R) ideal positions.
 * - `mrr`      1 / (position of the first relevant item + 1), over the whole list.
 */
export type TiePolicy = 'mean' | 'pessimistic' | 'optimistic';

/** Candidates sharing one score that hold relevant items: positions `start .. start + size - 1`. */
export interface RelevantTieGroup {
  start: number;
  size: number;
  relevant: number;
}

/** Metrics of one user (or one test interaction); arrays are indexed like `ks`. */
export interface RankMetrics {
  hr: number[];
  recall: number[];
  ndcg: number[];
  rr: number;
}

/** DCG discount of a 0-based position. */
export function discount(position: number): number {
  return 1 / Math.log2(position + 2);
}

/** Ideal DCG@k for `relevantCount` relevant items. */
export function idealDcg(k: number, relevantCount: number): number {
  let sum = 0;
  for (let p = 0; p < Math.min(k, relevantCount); p++) sum += discount(p);
  return sum;
}

/**
 * Metrics for one user from the tie groups of the relevant items that are candidates.
 *
 * @param groups relevant tie groups, any order (empty when no relevant item is a candidate)
 * @param relevantCount R, all relevant items of the user (>= sum of `relevant` over groups)
 * @example
 * // one relevant item tied with 3 others right after 5 better candidates
 * rankMetrics([{ start: 5, size: 4, relevant: 1 }], 1, [10], 'mean'); // hr@10 = 1, rr = mean of 1/6..1/9
 */
export function rankMetrics(groups: readonly RelevantTieGroup[], relevantCount: number, ks: readonly number[], ties: TiePolicy): RankMetrics {
  const resolved = groups.map((g) => resolveTies(g, ties)).sort((a, b) => a.start - b.start);
  const hr: number[] = [];
  const recall: number[] = [];
  const ndcg: number[] = [];
  for (const k of ks) {
    let hits = 0;
    let dcg = 0;
    let missAll = 1;
    for (const { start, size, relevant } of resolved) {
      const inTop = Math.max(0, Math.min(size, k - start)); // slots of this group within the top k
      if (inTop === 0) continue;
      hits += (relevant * inTop) / size;
      let groupDcg = 0;
      for (let p = start; p < start + inTop; p++) groupDcg += discount(p);
      dcg += (relevant * groupDcg) / size;
      // P(no relevant item of the group among its inTop leading slots) = C(size-relevant, inTop) / C(size, inTop)
      let none = 1;
      for (let j = 0; j < inTop && none > 0; j++) none *= Math.max(0, size - relevant - j) / (size - j);
      missAll *= none;
    }
    hr.push(1 - missAll);
    recall.push(relevantCount > 0 ? hits / relevantCount : 0);
    const ideal = idealDcg(k, relevantCount);
    ndcg.push(ideal > 0 ? dcg / ideal : 0);
  }
  return { hr, recall, ndcg, rr: reciprocalRank(resolved[0]) };
}

/** E[1 / (first relevant position + 1)] within the first relevant group. */
function reciprocalRank(group: RelevantTieGroup | undefined): number {
  if (group === undefined) return 0;
  const { start, size, relevant } = group;
  // survival s_j = P(first relevant offset >= j) = C(size - j, relevant) / C(size, relevant)
  let survival = 1;
  let rr = 0;
  for (let j = 0; j <= size - relevant && survival > 1e-12; j++) {
    const next = (survival * (size - j - relevant)) / (size - j);
    rr += (survival - next) / (start + j + 1);
    survival = next;
  }
  return rr;
}

/** Pessimistic/optimistic conventions are groups of only the relevant items, placed last/first. */
function resolveTies(group: RelevantTieGroup, ties: TiePolicy): RelevantTieGroup {
  if (ties === 'mean') return group;
  const start = ties === 'pessimistic' ? group.start + group.size - group.relevant : group.start;
  return { start, size: group.relevant, relevant: group.relevant };
}
