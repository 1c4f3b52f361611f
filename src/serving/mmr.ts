/**
 * Greedy maximal marginal relevance (Carbonell & Goldstein, 1998) with `lambda` weighing diversity:
 * each step picks the candidate maximising `(1 - lambda) * score - lambda * max cos(candidate, picked)`.
 * The penalty is 0 while nothing is picked, so the first pick is the most relevant candidate;
 * `lambda = 0` returns the candidates in the order given. Ties go to the earlier candidate, so
 * the result is a pure function of the inputs (pages of one ranking stay consistent).
 *
 * @param candidates index rows and their relevance scores, best first
 * @param vectors [n, dim] row-major, L2-normalised (inner product = cosine)
 * @param picked rows ranked before these candidates (a ranking continued past an earlier pool); they count as picked
 * @returns positions into `candidates`, in pick order, at most `count`
 *
 * @example
 * const order = mmrSelect({ rows, scores }, itemVectors, 64, 0.3, 20);
 */
export function mmrSelect(
  candidates: { rows: ArrayLike<number>; scores: ArrayLike<number> },
  vectors: Float32Array,
  dim: number,
  lambda: number,
  count: number,
  picked: ArrayLike<number> = [],
): number[] {
  const n = candidates.rows.length;
  const want = Math.min(count, n);
  const order: number[] = [];
  if (want <= 0) return order;
  if (lambda === 0) {
    for (let i = 0; i < want; i++) order.push(i);
    return order;
  }
  const maxSim = new Float64Array(n).fill(-Infinity);
  const alive = new Uint8Array(n).fill(1);
  let anyPicked = picked.length > 0;
  for (let p = 0; p < picked.length; p++) raiseSimilarity(maxSim, alive, candidates.rows, vectors, dim, picked[p]!);
  const keep = 1 - lambda;
  while (order.length < want) {
    let best = -1;
    let bestValue = -Infinity;
    for (let i = 0; i < n; i++) {
      if (alive[i] === 0) continue;
      const value = keep * candidates.scores[i]! - (anyPicked ? lambda * maxSim[i]! : 0);
      if (value > bestValue) {
        bestValue = value;
        best = i;
      }
    }
    if (best < 0) break;
    order.push(best);
    alive[best] = 0;
    anyPicked = true;
    raiseSimilarity(maxSim, alive, candidates.rows, vectors, dim, candidates.rows[best]!);
  }
  return order;
}

/** maxSim[i] = max(maxSim[i], cos(row of candidate i, pickedRow)) for candidates still in play. */
function raiseSimilarity(maxSim: Float64Array, alive: Uint8Array, rows: ArrayLike<number>, vectors: Float32Array, dim: number, pickedRow: number): void {
  const p = pickedRow * dim;
  for (let i = 0; i < rows.length; i++) {
    if (alive[i] === 0) continue;
    const c = rows[i]! * dim;
    let dot = 0;
    for (let j = 0; j < dim; j++) dot += vectors[c + j]! * vectors[p + j]!;
    if (dot > maxSim[i]!) maxSim[i] = dot;
  }
}

/**
 * Mean pairwise cosine of a list of rows (intra-list similarity; lower = more diverse).
 *
 * @example
 * intraListSimilarity(page.map((r) => row(r.itemId)), itemVectors, 64);
 */
export function intraListSimilarity(rows: ArrayLike<number>, vectors: Float32Array, dim: number): number {
  let total = 0;
  let pairs = 0;
  for (let a = 0; a < rows.length; a++) {
    for (let b = a + 1; b < rows.length; b++) {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += vectors[rows[a]! * dim + j]! * vectors[rows[b]! * dim + j]!;
      total += dot;
      pairs++;
    }
  }
  return pairs === 0 ? 0 : total / pairs;
}
