import { availableParallelism } from 'node:os';
import { modelObjective } from '../../model/objective.js';
import type { TopShares, TwoTowerModel } from '../../model/two-tower.model.js';
import type { ExampleSet, TrainingData } from '../example-mixture.js';
import { fitImplicitAls } from '../implicit-als.js';
import { setPopularityBias } from '../popularity-bias.js';
import { train, type TrainResult } from '../train.js';
import { HeldState } from './held-state.js';
import type { FitOptions, Objective } from './objective.js';

/**
 * Hybrid towers, fitted in two stages:
 *
 * 1. the ID rows (layer 0) solved by implicit ALS for `config.alsSweeps` sweeps (rows the
 *    tables mark frozen stay as they are, slowed ones move part way: the transfer strategies'
 *    masks hold here exactly as for implicit-als);
 * 2. the MLP residual above them (with the token table and the pooled history rows as its
 *    inputs) trained for `epochs` by the in-batch softmax at `config.topLearningRate` times the
 *    learning rate, every ID row frozen: the towers start exactly at the ALS solution (the
 *    residual's last layer is zero) and move only above it.
 *
 * With a validation carve (`validate` and `validationEvents`) the number of stage-2 epochs and
 * the share of each tower's top kept (output = row + share x MLP: `profileTopShares`) are
 * chosen on it first, on a copy: stage 1 on the training events, then stage 2 with early
 * stopping, then the best epoch's top scored at shares of it; 0 epochs when nothing beats the
 * ALS solution itself. The model is then fitted on the training and validation events together
 * (as implicit-als trains on the carve) with that number of epochs and its tops scaled to those
 * shares, so with 0 epochs it is exactly the implicit-ALS model of the same data.
 */
export const hybridObjective: Objective = {
  ...modelObjective('hybrid'),
  trainsOnValidation: false,
  refitsOnValidation: true,
  fit: fitHybrid,
};

async function fitHybrid(model: TwoTowerModel, data: TrainingData, options: FitOptions): Promise<TrainResult> {
  let epochs = options.epochs;
  let share: TopShares = { user: 1, item: 1 };
  let chosen: { bestEpoch?: number; bestValidation?: number; topShare?: TopShares } = {};
  let events = data;
  if (options.validate && options.validationEvents && hasTrainableTop(model) && epochs > 0) {
    const probe = model.clone();
    try {
      const rows = await solveRows(probe, data, options);
      if (rows.aborted) return rows;
      const start = await options.validate(probe);
      const top = await trainTop(probe, data, { ...options, earlyStopping: { ...(options.earlyStopping ?? { patience: epochs }), restoreBest: true } });
      if (top.aborted) return top;
      const best = top.bestEpoch !== undefined ? await profileTopShares(probe, options.validate, (v) => v, top.bestValidation!) : undefined;
      const better = best !== undefined && best.result > start;
      epochs = better ? top.bestEpoch! : 0;
      share = better ? best.share : { user: 1, item: 1 };
      chosen = { bestEpoch: epochs, bestValidation: better ? best.result : start, ...(better ? { topShare: share } : {}) };
      if (options.onCarveFreeModel) {
        // The copy in the shape delivered: share 0 is the rows alone (the residual's last layer zeroed).
        if (!better) probe.scaleResidualTops(0);
        options.onCarveFreeModel(probe);
      }
    } finally {
      probe.dispose();
    }
  }
  // The carve's events join the last fit whenever they are given (as implicit-als trains on them).
  if (options.validationEvents) events = withEvents(data, options.validationEvents);
  const rows = await solveRows(model, events, options);
  if (rows.aborted || epochs === 0 || !hasTrainableTop(model)) return { ...rows, ...chosen };
  if (options.validationEvents || !options.validate) {
    const top = await trainTop(model, events, { ...options, epochs, validate: undefined, earlyStopping: undefined });
    if (!top.aborted) model.scaleResidualTops(share);
    return { ...top, ...chosen, threads: rows.threads };
  }
  // A validator without the carve's events: stop early on it, and keep the ALS solution when nothing beats it.
  const start = await options.validate(model);
  const solved = model.exportWeights();
  const top = await trainTop(model, events, { ...options, epochs, earlyStopping: { ...(options.earlyStopping ?? { patience: epochs }), restoreBest: true } });
  if (top.aborted) return { ...top, threads: rows.threads };
  const best = top.bestEpoch !== undefined ? await profileTopShares(model, options.validate, (v) => v, top.bestValidation!) : undefined;
  if (!(best !== undefined && best.result > start)) {
    model.loadWeights(solved);
    return { ...top, bestEpoch: 0, bestValidation: start, threads: rows.threads };
  }
  return { ...top, bestValidation: best.result, topShare: best.share, threads: rows.threads };
}

/**
 * The shares of a trained residual top the carve compares (output = row + share x MLP), halving
 * from the top as trained: a top fitted on few events may help the ranking only in part (a
 * fresh top over a transfer's frozen source rows moves them further than the carve likes), and
 * 0, the rows alone, is the fit's other candidate. Powers of two, so the scaling is exact.
 */
export const TOP_SHARES = [1, 0.5, 0.25, 0.125, 0.0625, 0.03125] as const;

/**
 * Measures `model`'s top (it holds the top as trained, which measured `atFull`) at shares of
 * it and leaves it at the best by `valueOf`: first both towers at each of `TOP_SHARES`, then,
 * from the best of those, the item tower's share alone at each smaller share and 0, then the
 * user tower's the same way. The towers' tops do different work (the user's pools the history,
 * the item's only moves an item's own row when there are no tags), and the carve often wants
 * less of the item's: over Sport -> Phone it keeps 1/16 of it under the whole user top
 * (BENCHMARKS.md).
 * Each candidate is measured once, in that order, and the first of the best is kept, so ties
 * keep more of the top. Returns the shares and their measurement.
 */
export async function profileTopShares<T>(model: TwoTowerModel, measure: (model: TwoTowerModel) => T | Promise<T>, valueOf: (result: T) => number, atFull: T): Promise<{ share: TopShares; result: T }> {
  const trained = model.residualTops();
  const measured = new Set<string>(['1/1', '0/0']); // as trained, and the rows alone (the caller's other candidate)
  let best: { share: TopShares; result: T } = { share: { user: 1, item: 1 }, result: atFull };
  const consider = async (share: TopShares) => {
    const key = `${share.user}/${share.item}`;
    if (measured.has(key)) return;
    measured.add(key);
    model.restoreResidualTops(trained);
    model.scaleResidualTops(share);
    const result = await measure(model);
    if (valueOf(result) > valueOf(best.result)) best = { share, result };
  };
  for (const share of TOP_SHARES) await consider({ user: share, item: share });
  // Each tower only below the towers' share: less of one tower's top where the carve says it
  // hurts, never more of it than both kept (searching upwards too chased the carve's noise on
  // Sport -> Cloth sparse: BENCHMARKS.md).
  const below = [...TOP_SHARES.filter((share) => share < best.share.user), 0];
  for (const share of below) await consider({ user: best.share.user, item: share });
  for (const share of below) await consider({ user: share, item: best.share.item });
  model.restoreResidualTops(trained);
  model.scaleResidualTops(best.share);
  return best;
}

/**
 * Stage 1: the ALS sweeps of the ID rows, and the popularity term (`popularityWeight`) from the
 * same events; stage 2 never trains it (only a learned itemBias enters the softmax logits).
 */
function solveRows(model: TwoTowerModel, data: TrainingData, options: FitOptions): Promise<TrainResult> {
  setPopularityBias(model, data);
  return fitImplicitAls(model, data, { epochs: model.config.alsSweeps, threads: options.threads ?? availableParallelism(), signal: options.signal });
}

/**
 * Stage 2: gradient steps on what lies above the ID rows, every ID row frozen for the while
 * (and layer 0 as a whole when no token row trains either: no gradient of its inputs is needed).
 */
async function trainTop(model: TwoTowerModel, data: TrainingData, options: FitOptions): Promise<TrainResult> {
  const held = new HeldState();
  held.freezeRows(model.userTable);
  held.freezeRows(model.itemTable);
  if (!tokenRowsTrain(model)) for (const name of ['user', 'item'] as const) held.setTrainable(model.tower(name), 0, false);
  try {
    // The top on this thread: the rows' threads keep the hybrid's result the same for any count.
    return await train(model, data, { ...options, threads: 1, learningRate: options.learningRate * model.config.topLearningRate });
  } finally {
    held.restore();
  }
}

function tokenRowsTrain(model: TwoTowerModel): boolean {
  return model.tokenTable !== undefined && model.tokenTable.frozen.includes(0) && (model.tower('user').isTrainable(0) || model.tower('item').isTrainable(0));
}

/** Whether stage 2 has anything to train: a trainable MLP layer, or token rows not frozen. */
function hasTrainableTop(model: TwoTowerModel): boolean {
  for (const name of ['user', 'item'] as const) {
    const tower = model.tower(name);
    for (let layer = 1; layer < tower.layerCount; layer++) if (tower.isTrainable(layer)) return true;
  }
  return tokenRowsTrain(model);
}

function withEvents(data: TrainingData, extra: ExampleSet): TrainingData {
  const concat = <T extends Int32Array | Float32Array>(a: T, b: T, make: (n: number) => T): T => {
    const out = make(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  };
  const weights = data.weights || extra.weights ? concat(data.weights ?? new Float32Array(data.users.length).fill(1), extra.weights ?? new Float32Array(extra.users.length).fill(1), (n) => new Float32Array(n)) : undefined;
  return {
    ...data,
    users: concat(data.users, extra.users, (n) => new Int32Array(n)),
    items: concat(data.items, extra.items, (n) => new Int32Array(n)),
    ...(weights ? { weights } : {}),
  };
}
