import type { NamedWeight } from '../model/named-weight.js';
import { modelObjective } from '../model/objective.js';
import type { TokenBags } from '../model/token-hash.js';
import { POPULARITY_TERM_USERS, TwoTowerModel, type TwoTowerConfig } from '../model/two-tower.model.js';
import type { Alignment } from './alignment.js';

/** A source model as transfer needs it: its config, its weights, and the ids behind its rows. */
export interface SourceModel {
  config: TwoTowerConfig;
  weights: readonly NamedWeight[];
}

/**
 * Builds the target model from a source model and an alignment: MLP layers and the shared
 * token table are copied; user and item rows the alignment maps to the source are copied;
 * users new in the target start at the mean of the pretrained user rows (users carry no
 * features, so the feature path cannot place them); new items keep their fresh random
 * rows (their tags already place them through the shared token table).
 *
 * @param itemTokens token bags for every item row of the alignment (target items, then source items)
 */
export function graftModel(source: SourceModel, alignment: Alignment, itemTokens: TokenBags | undefined, seed: number): TwoTowerModel {
  const byName = new Map(source.weights.map((w) => [w.name, w]));
  const config = { ...source.config, users: alignment.userDbIds.length, items: alignment.itemDbIds.length, seed };
  if (lacksTop(source.weights, config.layers?.length ?? 0)) return graftRowsUnderFreshTop(config, source.weights, alignment, itemTokens, seed);
  const sourceHasTokens = byName.has('token.embedding');
  const bags = sourceHasTokens ? (itemTokens ?? emptyBags(alignment.itemDbIds.length)) : undefined;
  const fresh = TwoTowerModel.fromWeights(config, resized(source.weights, alignment, seed), { itemTokens: bags });
  return fresh;
}

/** Whether `config` has MLP layers the source weights do not (an ID-rows source, e.g. implicit ALS, grafted under hybrid towers). */
function lacksTop(weights: readonly NamedWeight[], layers: number): boolean {
  return layers > 0 && !weights.some((w) => w.name === 'user.dense.0.kernel');
}

/**
 * A source of ID rows alone (implicit ALS) grafted under towers with layers above them
 * (`config`, e.g. hybrid): the ID rows (and the item bias, token table when the source has
 * them) come from the source as in `graftModel`; everything the source lacks (the MLP, the
 * token table) starts as in a fresh model of `config`: a new top, which the strategy then
 * trains on the target (PARTIAL(1): the pretrained rows frozen, a fresh top above them).
 */
function graftRowsUnderFreshTop(config: TwoTowerConfig, weights: readonly NamedWeight[], alignment: Alignment, itemTokens: TokenBags | undefined, seed: number): TwoTowerModel {
  const tokens = itemTokens && modelObjective(config.objective ?? 'softmax').layers === 'towers' ? { itemTokens } : {};
  const fresh = TwoTowerModel.create(config, tokens);
  try {
    const grafted = new Map(resized(weights, alignment, seed).map((w) => [w.name, w]));
    const merged = fresh.exportWeights().map((w) => grafted.get(w.name) ?? w);
    return TwoTowerModel.fromWeights(config, merged, tokens);
  } finally {
    fresh.dispose();
  }
}

/** The source weights re-laid for the aligned rows. */
function resized(weights: readonly NamedWeight[], alignment: Alignment, seed: number): NamedWeight[] {
  // The source's popularity-term users are the source's: a transfer sets its own (transfer.workflow).
  return weights.filter((w) => w.name !== POPULARITY_TERM_USERS).map((w) => {
    if (w.name === 'user.embedding') return remapRows(w, alignment.userSourceRow, 'mean', seed);
    if (w.name === 'item.embedding') return remapRows(w, alignment.itemSourceRow, 'random', seed + 1);
    // New items' logit biases start at 0, as in a fresh model.
    if (w.name === 'item.bias') return remapRows(w, alignment.itemSourceRow, 'zeros', seed);
    return { ...w, data: w.data.slice() };
  });
}

function remapRows(w: NamedWeight, sourceRow: Int32Array, fill: 'mean' | 'random' | 'zeros', seed: number): NamedWeight {
  const dim = w.shape[1]!;
  const rows = sourceRow.length;
  const data = new Float32Array(rows * dim);
  const mean = new Float64Array(dim);
  const sourceRows = w.shape[0]!;
  let sd = 0;
  for (let r = 0; r < sourceRows; r++) for (let d = 0; d < dim; d++) mean[d] += w.data[r * dim + d]! / sourceRows;
  for (let i = 0; i < w.data.length; i++) sd += w.data[i]! * w.data[i]!;
  sd = Math.sqrt(sd / Math.max(1, w.data.length));
  let state = seed >>> 0 || 1;
  const gaussian = () => {
    // xorshift32 + Box-Muller: fresh rows at the scale of the pretrained ones.
    const next = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return ((state >>> 0) + 1) / 4294967297;
    };
    return Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
  };
  for (let r = 0; r < rows; r++) {
    const from = sourceRow[r]!;
    if (from >= 0) {
      data.set(w.data.subarray(from * dim, (from + 1) * dim), r * dim);
    } else if (fill === 'zeros') {
      continue;
    } else if (fill === 'mean') {
      for (let d = 0; d < dim; d++) data[r * dim + d] = mean[d]!;
    } else {
      for (let d = 0; d < dim; d++) data[r * dim + d] = gaussian() * sd;
    }
  }
  return { name: w.name, kind: w.kind, shape: [rows, dim], data };
}

function emptyBags(entities: number): TokenBags {
  return { offsets: new Int32Array(entities + 1), ids: new Int32Array(0) };
}
