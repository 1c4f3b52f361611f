import { GraftError } from '../errors.js';
import { NegativeSampler } from './negative-sampler.js';
import { popularityScorer } from './popularity.scorer.js';
import { rankMetrics, type RelevantTieGroup, type TiePolicy } from './ranking-metrics.js';
import type { Scorer } from './scorer.js';
import { DEFAULT_STRATA, assignStrata, strataLabel } from './strata.js';
import { TopKHeap } from '../dataset/top-k-heap.js';

/**
 * Offline evaluation of a `Scorer` on a train/test split.
 *
 * Protocols:
 * - `full`: each user's test items are ranked among ALL candidate items (items that
 *   occur in training, `trainItemMask`), minus the items the user interacted with in
 *   training. A test item that is also one of the user's training items stays a
 *   candidate (excluding it would make it a guaranteed miss). A test item that never
 *   occurs in training is not a candidate and counts as a miss (it stays in R).
 *   Metrics: `hr@K`, `recall@K` (hits / R), `ndcg@K`, `mrr`, plus `coverage@K` and
 *   `popularity@K` from each user's top-K list.
 * - `sampled`: each test interaction's item is ranked against `negatives` items drawn
 *   uniformly, without replacement, from the candidate items the user has not
 *   interacted with in training and that are not among the user's test items, from a
 *   per-user seeded stream (same negatives for every scorer). The test item is ranked
 *   even if it never occurs in training. Metrics per interaction (`hr@K`, `ndcg@K`,
 *   `mrr`, `coverage@K`, `popularity@K` over the sampled list), averaged per user first,
 *   then over users.
 *
 * Ties: `ties` (default `'mean'`, the expected value under random tie-breaking; see
 * ranking-metrics.ts). Top-K lists for coverage/popularity break ties by lower item index.
 * `coverage@K` = share of candidate items in at least one evaluated top-K list.
 * `popularity@K` = mean training count of a user's top-K items, averaged over users.
 */
export interface EvaluationOptions {
  protocol: 'full' | 'sampled';
  /** sampled: negatives per test interaction, default 999 */
  negatives?: number;
  /** cut-offs, default [10, 20] */
  ks?: number[];
  /** default 2040 */
  seed?: number;
  /** restrict to these users (default: every user with test interactions); users without test interactions are skipped */
  users?: Int32Array;
  /** inclusive [low, high] ranges of training-interaction counts; default 0, 1-2, 3-5, 6-20, >20 */
  strata?: number[][];
  /** tie convention, default 'mean' */
  ties?: TiePolicy;
  /** users scored per `Scorer.score` call, default 256 */
  blockSize?: number;
}

export interface EvaluationData {
  /** CSR per user over training interactions: user u's items are `items[offsets[u] .. offsets[u+1])`; users past the end have none */
  trainHistories: { offsets: Int32Array; items: Int32Array };
  /** test interactions, parallel arrays of dense indexes */
  test: { users: Int32Array; items: Int32Array };
  /** `[nItems]`, 1 = candidate item; default: popularity > 0 */
  trainItemMask?: Uint8Array;
  /** `[nItems]` training count per item (see `itemPopularity`) */
  popularity: Float32Array;
}

export interface StratumReport {
  /** "0", "1-2", "3-5", "6-20", ">20" */
  label: string;
  users: number;
  metrics: Record<string, number>;
}

export interface EvaluationReport {
  protocol: 'full' | 'sampled';
  negatives?: number;
  ks: number[];
  seed: number;
  ties: TiePolicy;
  /** evaluated users */
  users: number;
  /** their test interactions, every one of which was ranked */
  rows: number;
  /** candidate items (denominator of coverage) */
  candidates: number;
  /** "hr@10", "ndcg@10", "recall@10" (full only), "mrr", "coverage@10", "popularity@10", ... */
  metrics: Record<string, number>;
  strata: StratumReport[];
  /** per-user values (every metric except coverage), aligned with `users` (ascending), for paired bootstraps */
  perUser: { users: Int32Array; values: Record<string, Float32Array> };
}

/**
 * Evaluates a scorer on a split.
 *
 * @example
 * const report = evaluate(embeddingScorer(userVectors, itemVectors, 64), {
 *   trainHistories, test: { users: split.test.users, items: split.test.items },
 *   popularity: itemPopularity(split.train.items, nItems),
 * }, { protocol: 'sampled', negatives: 999 });
 * report.metrics['hr@10'];
 */
export function evaluate(scorer: Scorer, data: EvaluationData, options: EvaluationOptions): EvaluationReport {
  const settings = resolveOptions(options);
  const { ks, seed, ties, protocol, negatives } = settings;
  const nItems = scorer.nItems;
  checkData(data, nItems);

  const { mask, pool, trainOf, testByUser, users } = evaluationPlan(data, options.users);
  const trainCounts = Int32Array.from(users, (user) => trainOf(user).length);
  const stratumOf = assignStrata(trainCounts, settings.strata);

  const keys = metricKeys(protocol, ks);
  const values: Record<string, Float32Array> = {};
  for (const key of keys) values[key] = new Float32Array(users.length);
  const maxK = Math.max(...ks);
  // covered[s][k][item]: in some top-k list of stratum s; the last entry is all users
  const covered = Array.from({ length: settings.strata.length + 1 }, () => ks.map(() => new Uint8Array(nItems)));

  const context: UserContext = {
    nItems, ks, ties, mask, popularity: data.popularity, top: new TopKHeap(maxK),
    seen: new Int32Array(nItems), relevant: new Int32Array(nItems), values,
  };
  const sampler = protocol === 'sampled' ? new NegativeSampler(pool, nItems) : undefined;

  // The sampled protocol needs ~1000 scores per user: ask only for those when the scorer can.
  const scoreItems = sampler !== undefined ? scorer.scoreItems?.bind(scorer) : undefined;
  for (let from = 0; from < users.length; from += settings.blockSize) {
    const block = users.subarray(from, Math.min(users.length, from + settings.blockSize));
    const scores = scoreItems === undefined ? scorer.score(block) : undefined;
    if (scores !== undefined && scores.length !== block.length * nItems) {
      throw new GraftError('INTERNAL', `scorer returned ${scores.length} scores for ${block.length} users x ${nItems} items; it must return [users, nItems]`);
    }
    for (let b = 0; b < block.length; b++) {
      const index = from + b;
      const user = block[b]!;
      const row = scores?.subarray(b * nItems, (b + 1) * nItems);
      const tests = testByUser.items.subarray(testByUser.offsets[user]!, testByUser.offsets[user + 1]!);
      let lists: Int32Array[];
      if (sampler === undefined) {
        lists = evaluateFullUser(context, index, user, row!, trainOf(user), tests);
      } else {
        const scoresOf =
          row !== undefined ? (items: Int32Array) => Float32Array.from(items, (item) => row[item]!) : (items: Int32Array) => scoreItems!(user, items);
        lists = evaluateSampledUser(context, index, user, scoresOf, trainOf(user), tests, sampler, negatives, seed);
      }
      const stratum = stratumOf[index]!;
      for (const list of lists) {
        ks.forEach((k, kIndex) => {
          for (let n = 0; n < Math.min(k, list.length); n++) {
            covered[settings.strata.length]![kIndex]![list[n]!] = 1;
            if (stratum >= 0) covered[stratum]![kIndex]![list[n]!] = 1;
          }
        });
      }
    }
  }

  const summarize = (members: (index: number) => boolean, coveredSets: Uint8Array[]): { users: number; metrics: Record<string, number> } => {
    const metrics: Record<string, number> = {};
    let count = 0;
    for (let n = 0; n < users.length; n++) if (members(n)) count++;
    for (const key of keys) {
      let sum = 0;
      const column = values[key]!;
      for (let n = 0; n < users.length; n++) if (members(n)) sum += column[n]!;
      metrics[key] = count > 0 ? sum / count : 0;
    }
    ks.forEach((k, kIndex) => {
      let hit = 0;
      const set = coveredSets[kIndex]!;
      for (let item = 0; item < nItems; item++) hit += set[item]!;
      metrics[`coverage@${k}`] = pool.length > 0 ? hit / pool.length : 0;
    });
    return { users: count, metrics: orderMetrics(metrics, protocol, ks) };
  };

  const overall = summarize(() => true, covered[settings.strata.length]!);
  let rows = 0;
  for (const user of users) rows += testByUser.offsets[user + 1]! - testByUser.offsets[user]!;
  return {
    protocol,
    ...(protocol === 'sampled' ? { negatives } : {}),
    ks,
    seed,
    ties,
    users: users.length,
    rows,
    candidates: pool.length,
    metrics: overall.metrics,
    strata: settings.strata.map((range, s) => ({ label: strataLabel(range), ...summarize((n) => stratumOf[n] === s, covered[s]!) })),
    perUser: { users, values },
  };
}

/**
 * Evaluates the scorer and the popularity baseline on the same users, negatives and
 * options, so the two reports can be compared (and bootstrapped) user by user.
 */
export function evaluateWithPopularity(
  scorer: Scorer,
  data: EvaluationData,
  options: EvaluationOptions,
): { model: EvaluationReport; popularity: EvaluationReport } {
  const model = evaluate(scorer, data, options);
  const popularity = evaluate(popularityScorer(data.popularity), data, { ...options, users: model.perUser.users });
  return { model, popularity };
}

/** What `evaluateItemBiases` reports for one bias: the sampled protocol's accuracy metrics, overall and per user. */
export interface BiasedReport {
  /** evaluated users, ascending */
  users: Int32Array;
  /** `hr@K`, `ndcg@K` per cut-off, and `mrr`, each the mean over users of the per-user mean over their test interactions */
  metrics: Record<string, number>;
  /** the same per user, aligned with `users` */
  perUser: Record<string, Float32Array>;
}

/**
 * The sampled protocol's accuracy metrics for an embedding model at several item biases, in
 * one pass: each test interaction's candidates are drawn and their dot products computed
 * once, then ranked once per bias (score = u·v + bias[item]). Equal, metric for metric, to
 * `evaluate(biasedEmbeddingScorer(U, V, dim, bias), ...)` for each bias (the same
 * negatives, the same float64 accumulation rounded to float32, the same tie rule), at about
 * the cost of one such pass instead of one per bias: what a search that profiles a score
 * term over many weights needs (`popularityProfiler`). `undefined` in `biases` is no bias.
 * Coverage and popularity@K (which need each top-K list) are not computed.
 *
 * @param vectors the towers' outputs, row-major `[rows, dim]`; items past `data.popularity.length` are ignored
 * @example
 * const [plain, biased] = evaluateItemBiases({ users: U, items: V, dim: 64 }, data, { protocol: 'sampled', ks: [10] }, [undefined, logCounts]);
 * plain.metrics['ndcg@10'] <= biased.metrics['ndcg@10']; // or not: that is what the profile finds out
 */
export function evaluateItemBiases(
  vectors: { users: Float32Array; items: Float32Array; dim: number },
  data: EvaluationData,
  options: EvaluationOptions,
  biases: readonly (Float32Array | undefined)[],
): BiasedReport[] {
  return evaluateScoreMixes([vectors], data, options, biases.map((bias) => ({ weights: [1], bias })));
}

/** One score of `evaluateScoreMixes`: Σ_p weights[p]·(u_p·v_p), plus `bias[item]` when given. */
export interface ScoreMix {
  weights: readonly number[];
  bias?: Float32Array;
}

/**
 * `evaluateItemBiases` over several embedding models at once: each test interaction's
 * candidates are drawn once, each model's dot products computed once, then the candidates are
 * ranked once per mix (score = Σ_p w_p·(u_p·v_p) + bias[item], in float64, rounded to
 * float32). A blend of models tried at many weights and popularity terms costs one pass
 * (AUTO's blend search). With one model at weight 1 it is `evaluateItemBiases`, bit for bit.
 * The models share the users' and items' rows (row r is the same entity in each).
 */
export function evaluateScoreMixes(
  parts: ReadonlyArray<{ users: Float32Array; items: Float32Array; dim: number }>,
  data: EvaluationData,
  options: EvaluationOptions,
  mixes: readonly ScoreMix[],
): BiasedReport[] {
  const settings = resolveOptions(options);
  if (settings.protocol !== 'sampled') {
    throw new GraftError('BAD_INPUT', `evaluateItemBiases ranks sampled candidates only, and protocol is "${settings.protocol}"; call evaluate once per bias for the full protocol`);
  }
  const { ks, seed, ties, negatives } = settings;
  const nItems = data.popularity.length;
  if (parts.length === 0) throw new GraftError('BAD_INPUT', 'evaluateScoreMixes needs at least one model');
  for (const vectors of parts) {
    const { dim } = vectors;
    if (!Number.isInteger(dim) || dim <= 0 || vectors.users.length % dim !== 0 || vectors.items.length < nItems * dim) {
      throw new GraftError('BAD_INPUT', `vectors (dim ${dim}, ${vectors.users.length} user and ${vectors.items.length} item values) must be row-major [rows, dim] with at least ${nItems} item rows; pass the towers' outputs`);
    }
  }
  mixes.forEach((mix, b) => {
    if (mix.bias !== undefined && mix.bias.length < nItems) throw new GraftError('BAD_INPUT', `bias ${b} has ${mix.bias.length} items, fewer than the ${nItems} candidates; give one value per item`);
    if (mix.weights.length !== parts.length) throw new GraftError('BAD_INPUT', `mix ${b} has ${mix.weights.length} weights for ${parts.length} models; give one per model`);
  });
  checkData(data, nItems);
  const nUsers = Math.min(...parts.map((v) => v.users.length / v.dim));
  const { pool, trainOf, testByUser, users } = evaluationPlan(data, options.users);
  const sampler = new NegativeSampler(pool, nItems);
  const keys = [...ks.flatMap((k) => [`hr@${k}`, `ndcg@${k}`]), 'mrr'];
  const perUser = mixes.map(() => Object.fromEntries(keys.map((key) => [key, new Float32Array(users.length)])) as Record<string, Float32Array>);
  const dots = parts.map(() => new Float64Array(negatives + 1));
  const mixed = new Float32Array(negatives + 1);
  const sums = mixes.map(() => ({ hr: new Float64Array(ks.length), ndcg: new Float64Array(ks.length), rr: 0 }));
  for (let index = 0; index < users.length; index++) {
    const user = users[index]!;
    if (!(user < nUsers)) throw new GraftError('BAD_INPUT', `user index ${user} is outside the ${nUsers} user vectors; score only users the model knows`);
    const tests = testByUser.items.subarray(testByUser.offsets[user]!, testByUser.offsets[user + 1]!);
    const random = sampler.stream(seed, user);
    for (const s of sums) (s.hr.fill(0), s.ndcg.fill(0), (s.rr = 0));
    for (let n = 0; n < tests.length; n++) {
      const item = tests[n]!;
      const drawn = sampler.draw(negatives, random, [trainOf(user), tests]);
      const width = drawn.length + 1;
      parts.forEach(({ users: U, items: V, dim }, p) => {
        const base = user * dim;
        const out = dots[p]!;
        for (let m = 0; m < width; m++) {
          const ib = (m === 0 ? item : drawn[m - 1]!) * dim;
          let sum = 0; // the order embeddingScorer accumulates in
          for (let k = 0; k < dim; k++) sum += U[base + k]! * V[ib + k]!;
          out[m] = sum;
        }
      });
      mixes.forEach(({ weights, bias }, b) => {
        for (let m = 0; m < width; m++) {
          let sum = weights[0]! * dots[0]![m]!;
          for (let p = 1; p < parts.length; p++) sum += weights[p]! * dots[p]![m]!;
          mixed[m] = bias === undefined ? sum : sum + bias[m === 0 ? item : drawn[m - 1]!]!;
        }
        const score = mixed[0]!;
        if (Number.isNaN(score)) throw new GraftError('BAD_INPUT', `scorer returned NaN for user ${user}, item ${item}; check the model weights for NaN`);
        let greater = 0;
        let equal = 0;
        for (let m = 1; m < width; m++) {
          const other = mixed[m]!;
          if (other > score) greater++;
          else if (other === score) equal++;
        }
        const metrics = rankMetrics([{ start: greater, size: equal + 1, relevant: 1 }], 1, ks, ties);
        const s = sums[b]!;
        for (let k = 0; k < ks.length; k++) (s.hr[k]! += metrics.hr[k]!, s.ndcg[k]! += metrics.ndcg[k]!);
        s.rr += metrics.rr;
      });
    }
    sums.forEach((s, b) => {
      ks.forEach((k, kIndex) => {
        perUser[b]![`hr@${k}`]![index] = s.hr[kIndex]! / tests.length;
        perUser[b]![`ndcg@${k}`]![index] = s.ndcg[kIndex]! / tests.length;
      });
      perUser[b]!['mrr']![index] = s.rr / tests.length;
    });
  }
  return perUser.map((values) => ({
    users,
    metrics: Object.fromEntries(keys.map((key) => [key, users.length > 0 ? values[key]!.reduce((a, v) => a + v, 0) / users.length : 0])),
    perUser: values,
  }));
}

interface UserContext {
  nItems: number;
  ks: number[];
  ties: TiePolicy;
  mask: Uint8Array;
  popularity: Float32Array;
  top: TopKHeap;
  /** seen[item] === index + 1: item is in the current user's training history */
  seen: Int32Array;
  /** relevant[item] === index + 1: item is one of the current user's test items */
  relevant: Int32Array;
  values: Record<string, Float32Array>;
}

/** Full ranking of one user; returns the user's top-K list. */
function evaluateFullUser(
  context: UserContext,
  index: number,
  user: number,
  row: Float32Array,
  train: Int32Array,
  tests: Int32Array,
): Int32Array[] {
  const { nItems, mask, seen, relevant, top } = context;
  const token = index + 1;
  for (let n = 0; n < train.length; n++) seen[train[n]!] = token;
  let relevantCount = 0;
  const candidateScores: number[] = [];
  for (let n = 0; n < tests.length; n++) {
    const item = tests[n]!;
    if (relevant[item] === token) continue; // duplicate test interaction: one relevant item
    relevant[item] = token;
    relevantCount++;
    if (mask[item] === 1) {
      const score = row[item]!;
      if (Number.isNaN(score)) {
        throw new GraftError('BAD_INPUT', `scorer returned NaN for user ${user}, item ${item}; check the model weights for NaN`);
      }
      candidateScores.push(score);
    }
  }
  // Distinct relevant scores, best first; each candidate falls above, on, or below them.
  const levels = [...new Set(candidateScores)].sort((a, b) => b - a);
  const relevantAt = levels.map((level) => candidateScores.filter((score) => score === level).length);
  const above = new Float64Array(levels.length); // candidates in (levels[j], levels[j-1])
  const equal = new Float64Array(levels.length);
  const lowest = levels.length > 0 ? levels[levels.length - 1]! : Infinity;

  top.clear();
  let floor = top.floor;
  for (let item = 0; item < nItems; item++) {
    if (mask[item] !== 1) continue;
    if (seen[item] === token && relevant[item] !== token) continue;
    const score = row[item]!;
    if (score >= floor) {
      top.offer(item, score);
      floor = top.floor;
    }
    if (score >= lowest) {
      let j = 0;
      while (score < levels[j]!) j++;
      if (score === levels[j]) equal[j]!++;
      else above[j]!++;
    }
  }
  const groups: RelevantTieGroup[] = [];
  let start = 0;
  for (let j = 0; j < levels.length; j++) {
    start += above[j]!;
    groups.push({ start, size: equal[j]!, relevant: relevantAt[j]! });
    start += equal[j]!;
  }
  const list = top.items();
  storeUserMetrics(context, index, rankMetrics(groups, relevantCount, context.ks, context.ties), [list], true);
  return [list];
}

/** Sampled ranking of each of one user's test interactions; returns their top-K lists. */
function evaluateSampledUser(
  context: UserContext,
  index: number,
  user: number,
  scoresOf: (items: Int32Array) => Float32Array,
  train: Int32Array,
  tests: Int32Array,
  sampler: NegativeSampler,
  negatives: number,
  seed: number,
): Int32Array[] {
  const { ks, ties, top } = context;
  const random = sampler.stream(seed, user);
  const sums = { hr: ks.map(() => 0), ndcg: ks.map(() => 0), rr: 0 };
  const lists: Int32Array[] = [];
  for (let n = 0; n < tests.length; n++) {
    const item = tests[n]!;
    const drawn = sampler.draw(negatives, random, [train, tests]);
    const candidates = new Int32Array(drawn.length + 1);
    candidates[0] = item;
    candidates.set(drawn, 1);
    const candidateScores = scoresOf(candidates);
    const score = candidateScores[0]!;
    if (Number.isNaN(score)) {
      throw new GraftError('BAD_INPUT', `scorer returned NaN for user ${user}, item ${item}; check the model weights for NaN`);
    }
    let greater = 0;
    let equal = 0;
    top.clear();
    top.offer(item, score);
    for (let m = 1; m < candidates.length; m++) {
      const other = candidateScores[m]!;
      if (other > score) greater++;
      else if (other === score) equal++;
      top.offer(candidates[m]!, other);
    }
    const metrics = rankMetrics([{ start: greater, size: equal + 1, relevant: 1 }], 1, ks, ties);
    ks.forEach((_, kIndex) => {
      sums.hr[kIndex]! += metrics.hr[kIndex]!;
      sums.ndcg[kIndex]! += metrics.ndcg[kIndex]!;
    });
    sums.rr += metrics.rr;
    lists.push(top.items());
  }
  const count = tests.length;
  storeUserMetrics(
    context,
    index,
    { hr: sums.hr.map((v) => v / count), ndcg: sums.ndcg.map((v) => v / count), recall: [], rr: sums.rr / count },
    lists,
    false,
  );
  return lists;
}

function storeUserMetrics(
  context: UserContext,
  index: number,
  metrics: { hr: number[]; ndcg: number[]; recall: number[]; rr: number },
  lists: Int32Array[],
  withRecall: boolean,
): void {
  const { ks, values, popularity } = context;
  ks.forEach((k, kIndex) => {
    values[`hr@${k}`]![index] = metrics.hr[kIndex]!;
    values[`ndcg@${k}`]![index] = metrics.ndcg[kIndex]!;
    if (withRecall) values[`recall@${k}`]![index] = metrics.recall[kIndex]!;
    let popularitySum = 0;
    for (const list of lists) {
      const length = Math.min(k, list.length);
      let sum = 0;
      for (let n = 0; n < length; n++) sum += popularity[list[n]!]!;
      popularitySum += length > 0 ? sum / length : 0;
    }
    values[`popularity@${k}`]![index] = lists.length > 0 ? popularitySum / lists.length : 0;
  });
  values['mrr']![index] = metrics.rr;
}

function metricKeys(protocol: 'full' | 'sampled', ks: number[]): string[] {
  const keys: string[] = [];
  for (const k of ks) {
    keys.push(`hr@${k}`, `ndcg@${k}`);
    if (protocol === 'full') keys.push(`recall@${k}`);
  }
  keys.push('mrr');
  for (const k of ks) keys.push(`popularity@${k}`);
  return keys;
}

/** Stable, readable key order: per k the accuracy metrics, then mrr, then coverage and popularity. */
function orderMetrics(metrics: Record<string, number>, protocol: 'full' | 'sampled', ks: number[]): Record<string, number> {
  const ordered: Record<string, number> = {};
  const keys = metricKeys(protocol, ks).filter((key) => !key.startsWith('popularity@'));
  for (const key of keys) ordered[key] = metrics[key]!;
  for (const k of ks) ordered[`coverage@${k}`] = metrics[`coverage@${k}`]!;
  for (const k of ks) ordered[`popularity@${k}`] = metrics[`popularity@${k}`]!;
  return ordered;
}

interface ResolvedOptions {
  protocol: 'full' | 'sampled';
  negatives: number;
  ks: number[];
  seed: number;
  ties: TiePolicy;
  strata: number[][];
  blockSize: number;
}

function resolveOptions(options: EvaluationOptions): ResolvedOptions {
  const { protocol } = options;
  if (protocol !== 'full' && protocol !== 'sampled') {
    throw new GraftError('BAD_INPUT', `protocol "${String(protocol)}" is unknown; use "full" or "sampled"`);
  }
  const ks = options.ks ?? [10, 20];
  if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k <= 0)) {
    throw new GraftError('BAD_INPUT', `ks ${JSON.stringify(ks)} must be positive integers; e.g. [10, 20]`);
  }
  const negatives = options.negatives ?? 999;
  if (!Number.isInteger(negatives) || negatives <= 0) {
    throw new GraftError('BAD_INPUT', `negatives ${negatives} must be a positive integer; the usual value is 999`);
  }
  const blockSize = options.blockSize ?? 256;
  if (!Number.isInteger(blockSize) || blockSize <= 0) {
    throw new GraftError('BAD_INPUT', `blockSize ${blockSize} must be a positive integer; default 256`);
  }
  const ties = options.ties ?? 'mean';
  if (!['mean', 'pessimistic', 'optimistic'].includes(ties)) {
    throw new GraftError('BAD_INPUT', `ties "${ties}" is unknown; use "mean", "pessimistic" or "optimistic"`);
  }
  return {
    protocol,
    negatives,
    ks: [...ks],
    seed: options.seed ?? 2040,
    ties,
    strata: (options.strata ?? DEFAULT_STRATA).map((range) => [...range]),
    blockSize,
  };
}

function checkData(data: EvaluationData, nItems: number): void {
  if (data.popularity.length !== nItems) {
    throw new GraftError('BAD_INPUT', `popularity has ${data.popularity.length} items but the scorer has ${nItems}; build both from the same item vocabulary`);
  }
  if (data.trainItemMask !== undefined && data.trainItemMask.length !== nItems) {
    throw new GraftError('BAD_INPUT', `trainItemMask has ${data.trainItemMask.length} items but the scorer has ${nItems}; build both from the same item vocabulary`);
  }
  if (data.test.users.length !== data.test.items.length) {
    throw new GraftError('BAD_INPUT', `test has ${data.test.users.length} users but ${data.test.items.length} items; pass parallel arrays`);
  }
  for (let n = 0; n < data.test.items.length; n++) {
    const item = data.test.items[n]!;
    const user = data.test.users[n]!;
    if (!(item >= 0 && item < nItems) || !(user >= 0)) {
      throw new GraftError('BAD_INPUT', `test interaction ${n} (user ${user}, item ${item}) is out of range (items 0..${nItems - 1}); use dense indexes`);
    }
  }
  const { offsets, items } = data.trainHistories;
  if (offsets.length === 0 || offsets[offsets.length - 1] !== items.length) {
    throw new GraftError('BAD_INPUT', `trainHistories.offsets must have users + 1 entries ending at items.length (${items.length}); build it as CSR`);
  }
  for (let n = 0; n < items.length; n++) {
    if (!(items[n]! >= 0 && items[n]! < nItems)) {
      throw new GraftError('BAD_INPUT', `training item index ${items[n]} is outside 0..${nItems - 1}; use dense indexes`);
    }
  }
}

/** What both evaluations walk: the candidate items, each user's training items, the test rows by user, and the users to evaluate. */
function evaluationPlan(data: EvaluationData, restrict: Int32Array | undefined) {
  const mask = data.trainItemMask ?? Uint8Array.from(data.popularity, (count) => (count > 0 ? 1 : 0));
  const { offsets: trainOffsets, items: trainItems } = data.trainHistories;
  const trainUsers = trainOffsets.length - 1;
  const trainOf = (user: number): Int32Array =>
    user < trainUsers ? trainItems.subarray(trainOffsets[user]!, trainOffsets[user + 1]!) : new Int32Array(0);
  const testByUser = groupByUser(data.test.users, data.test.items);
  return { mask, pool: candidatePool(mask), trainOf, testByUser, users: usersToEvaluate(testByUser.offsets, restrict) };
}

function candidatePool(mask: Uint8Array): Int32Array {
  let count = 0;
  for (let item = 0; item < mask.length; item++) if (mask[item] === 1) count++;
  const pool = new Int32Array(count);
  let n = 0;
  for (let item = 0; item < mask.length; item++) if (mask[item] === 1) pool[n++] = item;
  return pool;
}

/** Test interactions as CSR by user, keeping their order within a user. */
function groupByUser(users: Int32Array, items: Int32Array): { offsets: Int32Array; items: Int32Array } {
  let maxUser = -1;
  for (let n = 0; n < users.length; n++) maxUser = Math.max(maxUser, users[n]!);
  const offsets = new Int32Array(maxUser + 2);
  for (let n = 0; n < users.length; n++) offsets[users[n]! + 1]!++;
  for (let u = 0; u <= maxUser; u++) offsets[u + 1]! += offsets[u]!;
  const cursor = offsets.slice(0, maxUser + 1);
  const grouped = new Int32Array(items.length);
  for (let n = 0; n < users.length; n++) grouped[cursor[users[n]!]!++] = items[n]!;
  return { offsets, items: grouped };
}

function usersToEvaluate(testOffsets: Int32Array, restrict: Int32Array | undefined): Int32Array {
  const nUsers = testOffsets.length - 1;
  const hasTest = (user: number): boolean => user >= 0 && user < nUsers && testOffsets[user + 1]! > testOffsets[user]!;
  if (restrict === undefined) {
    const users: number[] = [];
    for (let user = 0; user < nUsers; user++) if (hasTest(user)) users.push(user);
    return Int32Array.from(users);
  }
  return Int32Array.from(new Set(restrict)).filter(hasTest).sort();
}
