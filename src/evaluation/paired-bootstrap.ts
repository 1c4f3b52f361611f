import { GraftError } from '../errors.js';
import { rngFromState } from '../dataset/random.js';

/**
 * Paired bootstrap over users: the mean of per-user differences `a - b` and its
 * percentile confidence interval (resampling users with replacement, seeded).
 * Pairing removes the between-user variance both systems share, so it detects
 * smaller gains than comparing two independent intervals.
 *
 * @param a `[users]` per-user metric of the system of interest (e.g. `report.perUser.values['ndcg@10']`)
 * @param b `[users]` the same metric of the baseline, for the same users in the same order
 * @example
 * const { model, popularity } = evaluateWithPopularity(scorer, data, { protocol: 'full' });
 * const gain = pairedBootstrap(model.perUser.values['ndcg@10']!, popularity.perUser.values['ndcg@10']!);
 * // gain.ci[0] > 0: the model beats popularity at 95%
 */
export function pairedBootstrap(
  a: Float32Array,
  b: Float32Array,
  options: { samples?: number; seed?: number; confidence?: number } = {},
): { mean: number; ci: [number, number] } {
  const samples = options.samples ?? 1000;
  const confidence = options.confidence ?? 0.95;
  if (a.length !== b.length) {
    throw new GraftError('BAD_INPUT', `paired bootstrap needs aligned arrays, got ${a.length} and ${b.length} users; evaluate both on the same users`);
  }
  if (!Number.isInteger(samples) || samples <= 0) {
    throw new GraftError('BAD_INPUT', `samples ${samples} must be a positive integer; default 1000`);
  }
  if (!(confidence > 0 && confidence < 1)) {
    throw new GraftError('BAD_INPUT', `confidence ${confidence} must be in (0, 1); e.g. 0.95`);
  }
  const n = a.length;
  if (n === 0) return { mean: NaN, ci: [NaN, NaN] };
  const diff = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    diff[i] = a[i]! - b[i]!;
    total += diff[i]!;
  }
  const random = rngFromState(options.seed ?? 2040).next;
  const means = new Float64Array(samples);
  for (let s = 0; s < samples; s++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += diff[Math.floor(random() * n)]!;
    means[s] = sum / n;
  }
  means.sort();
  const tail = (1 - confidence) / 2;
  return { mean: total / n, ci: [quantile(means, tail), quantile(means, 1 - tail)] };
}

/** Relative gain (a - b) / b, e.g. 0.12 for +12% over the baseline; Infinity when b is 0 and a is not. */
export function relativeGain(a: number, b: number): number {
  if (b === 0) return a === 0 ? 0 : a > 0 ? Infinity : -Infinity;
  return (a - b) / Math.abs(b);
}

/** Linear-interpolation quantile of sorted values. */
function quantile(sorted: Float64Array, q: number): number {
  const position = q * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.min(sorted.length - 1, low + 1);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (position - low);
}
