import { GraftError } from '../errors.js';
import type { NamedWeight } from '../model/named-weight.js';
import { modelObjective } from '../model/objective.js';
import { TwoTowerModel, type TwoTowerConfig } from '../model/two-tower.model.js';
import { setPopularityBias } from '../training/popularity-bias.js';
import type { TrainingData } from '../training/example-mixture.js';

/**
 * A blend of two ID-rows models (implicit ALS: the user and item rows are the vectors, scored
 * by inner product) is itself one: concatenating the rows, each model's scaled by the square
 * root of its weight over its score scale, gives
 *
 *   <[a_u √(w/s_a), b_u √((1-w)/s_b)], [a_i √(w/s_a), b_i √((1-w)/s_b)]> = w·(a_u·a_i)/s_a + (1-w)·(b_u·b_i)/s_b,
 *
 * the weighted mean of the two models' scores, each in units of its own typical score (s, the
 * root mean square of u·v over sampled pairs, so that the weight and not the models' scales
 * decides). The blended model is an ordinary implicit-ALS model of dimension d_a + d_b: it is
 * registered, served, indexed, explored and transferred from like any other. Score averaging of
 * two differently trained factorisations is the classic ensemble of collaborative filtering
 * (the Netflix Prize blends; Koren, Bell & Volinsky, "Matrix Factorization Techniques for
 * Recommender Systems", IEEE Computer 2009): their errors differ, so the mean ranks better
 * than either. AUTO tries it between its winning transfer and the best trial of every other
 * kind, the weight chosen on the validation carve (`searchTransfer`).
 */

/**
 * The weights of the first model a blend is tried at on the validation carve: 0.1 to 0.9 in
 * steps of 0.1 (each is one validation pass of precomputed vectors, about a second on the
 * Amazon pairs; a coarser grid of 0.25, 0.5, 0.75 measured in BENCHMARKS.md).
 */
export const BLEND_WEIGHTS: readonly number[] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/** Pairs sampled for a model's score scale (deterministic: a fixed stride over users and items). */
const SCALE_PAIRS = 20_000;

/** Rows (users, then items) as inner-product vectors: what a blend reads of each model. */
export interface RowVectors {
  users: Float32Array;
  items: Float32Array;
  dim: number;
}

/**
 * Whether a model's config is one a blend can concatenate: its vectors are its ID rows (the
 * objective's towers are the ID tables alone), scored by inner product, with no learned item
 * bias: implicit ALS.
 */
export function isBlendable(config: Pick<TwoTowerConfig, 'objective' | 'layers' | 'itemBias'>): boolean {
  const objective = modelObjective(config.objective ?? 'softmax');
  return objective.layers === 'id-rows' && objective.scoring === 'inner-product' && (config.layers ?? []).length === 0 && !config.itemBias;
}

/**
 * The root mean square of u·v over a fixed sample of (user, item) pairs among the first
 * `users` and `items` rows: the model's typical score, which a blend divides by. At least a
 * tiny positive number, so a model of zero rows blends at weight 0 rather than NaN.
 */
export function scoreScale(v: RowVectors, users: number, items: number): number {
  if (users === 0 || items === 0) return 1e-12;
  const { dim } = v;
  let sum = 0;
  for (let k = 0; k < SCALE_PAIRS; k++) {
    // Two strides coprime with most sizes walk the grid without a generator.
    const u = (k * 7919) % users;
    const i = (k * 104_729) % items;
    let dot = 0;
    for (let x = 0; x < dim; x++) dot += v.users[u * dim + x]! * v.items[i * dim + x]!;
    sum += dot * dot;
  }
  return Math.max(1e-12, Math.sqrt(sum / SCALE_PAIRS));
}

/**
 * The two models' first `users` x `items` rows blended at `weight` (of `a`), each scaled by
 * its `scoreScale` over those rows: inner products of the result are the blended scores.
 */
export function blendVectors(a: RowVectors, b: RowVectors, weight: number, users: number, items: number): RowVectors {
  checkWeight(weight);
  const first = (v: RowVectors): RowVectors => ({ users: v.users.subarray(0, users * v.dim), items: v.items.subarray(0, items * v.dim), dim: v.dim });
  return scaledConcat([first(a), first(b)], [weight / scoreScale(a, users, items), (1 - weight) / scoreScale(b, users, items)]);
}

/**
 * The models' rows side by side, model p's scaled by √w_p (w_p >= 0): inner products of the
 * result are Σ_p w_p·(u_p·v_p). As many rows per side as the model with the fewest has.
 */
export function scaledConcat(parts: readonly RowVectors[], weights: readonly number[]): RowVectors {
  const dim = parts.reduce((d, p) => d + p.dim, 0);
  const side = (name: 'users' | 'items') => {
    const rows = Math.min(...parts.map((p) => p[name].length / p.dim));
    const out = new Float32Array(rows * dim);
    let offset = 0;
    parts.forEach((p, n) => {
      const w = weights[n]!;
      if (!(w >= 0)) throw new GraftError('BAD_INPUT', `a blend's scaled weight is ${w}; it must be >= 0`);
      const f = Math.sqrt(w);
      for (let r = 0; r < rows; r++) for (let x = 0; x < p.dim; x++) out[r * dim + offset + x] = f * p[name][r * p.dim + x]!;
      offset += p.dim;
    });
    return out;
  };
  return { users: side('users'), items: side('items'), dim };
}

/**
 * The blended model: `a`'s config at dimension d_a + d_b, every row of `a` (target rows first,
 * then any source rows a transfer keeps), `b`'s half filled for the rows both models share
 * (the first `shared.users` users and `shared.items` items: the target's) and 0 elsewhere, so
 * a user only `a` knows ranks by `a` alone. The scales are measured on the shared rows. With
 * `popularityWeight` β > 0, the popularity term is set from `events` (the fit's own target
 * events, as `setPopularityBias` does for any fit). Neither input model is changed.
 */
export function blendedModel(
  a: TwoTowerModel,
  b: TwoTowerModel,
  weight: number,
  shared: { users: number; items: number },
  popularityWeight: number,
  events: Pick<TrainingData, 'items' | 'weights'>,
): TwoTowerModel {
  for (const [name, m] of [['first', a], ['second', b]] as const) {
    if (!isBlendable(m.config)) {
      throw new GraftError('BAD_INPUT', `the ${name} model of a blend has objective ${m.config.objective} with layers [${m.config.layers.join(', ')}]; only implicit-ALS ID rows can be blended`);
    }
  }
  if (shared.users > Math.min(a.users, b.users) || shared.items > Math.min(a.items, b.items)) {
    throw new GraftError('BAD_INPUT', `a blend shares ${shared.users} users and ${shared.items} items, but the models have ${a.users}/${b.users} users and ${a.items}/${b.items} items`);
  }
  checkWeight(weight);
  const rowsOf = (m: TwoTowerModel): RowVectors => {
    const w = m.exportWeights();
    const table = (name: string) => w.find((x) => x.name === name)!.data;
    return { users: table('user.embedding'), items: table('item.embedding'), dim: m.config.dim };
  };
  const ra = rowsOf(a);
  const rb = rowsOf(b);
  const fa = Math.sqrt(weight / scoreScale(ra, shared.users, shared.items));
  const fb = Math.sqrt((1 - weight) / scoreScale(rb, shared.users, shared.items));
  const dim = ra.dim + rb.dim;
  const weights: NamedWeight[] = [
    { name: 'user.embedding', kind: 'table', shape: [a.users, dim], data: concatRows(ra.users, ra.dim, fa, rb.users, rb.dim, fb, a.users, shared.users) },
    { name: 'item.embedding', kind: 'table', shape: [a.items, dim], data: concatRows(ra.items, ra.dim, fa, rb.items, rb.dim, fb, a.items, shared.items) },
  ];
  if (popularityWeight > 0) weights.push({ name: 'item.bias', kind: 'table', shape: [a.items, 1], data: new Float32Array(a.items) });
  const model = TwoTowerModel.fromWeights({ ...a.config, dim, popularityWeight }, weights);
  setPopularityBias(model, events);
  return model;
}

/** Rows [0, rows) of [x_a·fa, x_b·fb], x_b's half 0 from row `sharedRows` on. */
function concatRows(a: Float32Array, da: number, fa: number, b: Float32Array, db: number, fb: number, rows: number, sharedRows: number): Float32Array {
  const d = da + db;
  const out = new Float32Array(rows * d);
  for (let r = 0; r < rows; r++) {
    for (let x = 0; x < da; x++) out[r * d + x] = fa * a[r * da + x]!;
    if (r < sharedRows) for (let x = 0; x < db; x++) out[r * d + da + x] = fb * b[r * db + x]!;
  }
  return out;
}

function checkWeight(weight: number): void {
  if (!(weight >= 0 && weight <= 1)) throw new GraftError('BAD_INPUT', `a blend's weight is ${weight}; it must be between 0 and 1`);
}
