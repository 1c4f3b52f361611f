import { availableParallelism } from 'node:os';
import { modelObjective } from '../../model/objective.js';
import type { TwoTowerModel } from '../../model/two-tower.model.js';
import type { TrainingData } from '../example-mixture.js';
import { setPopularityBias } from '../popularity-bias.js';
import { defaultTowerThreads } from '../tower-threads.js';
import { train, type EpochProgress, type TrainResult } from '../train.js';
import { warmStartRows } from './als-warm-start.js';
import { HeldState } from './held-state.js';
import type { FitOptions, Objective } from './objective.js';

/**
 * In-batch sampled softmax over L2-normalised tower outputs (logQ correction, temperature,
 * hit masking: `InBatchSoftmaxTask`), trained by gradient steps with lazy row optimizers, on
 * `threads` worker threads (default: the machine's cores, fewer on small data: `defaultTowerThreads`).
 * With `popularityWeight` β > 0 the item biases are set to β·log(1 + n_i) from the fit's own
 * events first (`setPopularityBias`): they stay out of the training logits (the logQ correction
 * already accounts for popularity there) and enter the served score, so early stopping scores
 * the model as it will serve. With `rowInit: 'implicit-als'` a model still at its initialiser's
 * draw starts its ID rows at an implicit-ALS solution of `data` (`warmStartRows`). With
 * `refineItemRows` and early stopping, a last stage refines the item rows alone (`refineItemRows`).
 */
export const softmaxObjective: Objective = {
  ...modelObjective('softmax'),
  trainsOnValidation: false,
  refitsOnValidation: false,
  fit: async (model, data, options) => {
    setPopularityBias(model, data);
    const threads = options.threads ?? defaultTowerThreads(data, options.batchSize, availableParallelism());
    if (model.config.rowInit === 'implicit-als' && model.rowsAtInitialiser) {
      // The row solves on the caller's threads, else the machine's cores (the tower threads' count suits the gradient steps).
      const solved = await warmStartRows(model, data, { threads: options.threads ?? availableParallelism(), signal: options.signal });
      if (solved?.aborted) return { ...solved, epochs: 0, steps: 0, history: [] };
    }
    model.markRowsTrained();
    const joint = await train(model, data, { ...options, threads });
    return model.config.refineItemRows ? refineItemRows(model, data, { ...options, threads }, joint) : joint;
  },
};

/**
 * Stage 2 of a softmax fit: the item ID rows alone train on against the fixed user tower.
 *
 * The joint fit stops (early stopping) once the users' rows and the popular items start to
 * memorise their few events, and by then an item with 5-20 events has taken a few dozen lazy-Adam
 * steps from its random start: the towers rank the head of the catalogue well and its middle
 * poorly, where implicit ALS solves each row exactly (BENCHMARKS.md "Where the softmax towers lose
 * to implicit ALS"). Here every dense layer, the user tower's inputs, the token rows and the user
 * rows an item audience pools stay as the joint fit left them; only the item table's trainable
 * rows move (rows a transfer froze stay frozen), through the item tower only, for up to
 * `options.epochs` epochs early-stopped on the same validation. The rows are kept when the best
 * of those epochs beats the joint fit's best on the carve, scored by `options.select` when given,
 * else by the per-epoch `validate` (`fitModel`: the run's measure, as AUTO scores); otherwise
 * the joint fit's weights are put back. Without a validator and early stopping (nothing to keep
 * them honest) it does nothing.
 *
 * The result is the joint fit's (`bestEpoch` counts its epochs, what a refit on more data
 * repeats) with the refinement's epochs kept in `refinedEpochs` (0: tried, not kept),
 * `bestValidation` the per-epoch metric of the weights delivered and `history` both stages' epochs
 * in order.
 */
export async function refineItemRows(model: TwoTowerModel, data: TrainingData, options: FitOptions, joint: TrainResult): Promise<TrainResult> {
  const itemTower = model.tower('item');
  if (!options.validate || !options.earlyStopping || joint.aborted || joint.bestValidation === undefined || !itemTower.isTrainable(0) || options.epochs < 1) return joint;
  if (model.itemTable.frozen.every((f) => f !== 0)) return joint;
  const userTower = model.tower('user');
  const held = new HeldState();
  for (let layer = 0; layer < userTower.layerCount; layer++) held.setTrainable(userTower, layer, false);
  for (let layer = 1; layer < itemTower.layerCount; layer++) held.setTrainable(itemTower, layer, false);
  // Tables the item tower reads besides its own rows: the token rows (shared with the user tower) and an audience's user rows.
  held.freezeRows(model.tokenTable);
  held.freezeRows(model.userTable);
  try {
    const before = model.exportWeights();
    // The choice is scored by `select` when the caller gives a measure other than the per-epoch one, else by the epochs' own scores.
    const jointScore = options.select ? await options.select(model) : joint.bestValidation;
    const onEpoch = options.onEpoch;
    const refined = await train(model, data, {
      ...options,
      earlyStopping: { ...options.earlyStopping, restoreBest: true },
      ...(onEpoch ? { onEpoch: (p: EpochProgress) => onEpoch({ ...p, epoch: joint.epochs + p.epoch, epochs: joint.epochs + p.epochs }) } : {}),
    });
    const refinedScore = refined.aborted || refined.bestValidation === undefined ? undefined : options.select ? await options.select(model) : refined.bestValidation;
    const kept = refinedScore !== undefined && refinedScore > jointScore;
    if (!kept) model.loadWeights(before);
    return {
      ...joint,
      epochs: joint.epochs + refined.epochs,
      steps: joint.steps + refined.steps,
      history: [...joint.history, ...refined.history.map((h) => ({ ...h, epoch: joint.epochs + h.epoch }))],
      bestValidation: kept ? refined.bestValidation : joint.bestValidation,
      refinedEpochs: kept ? refined.bestEpoch : 0,
      aborted: refined.aborted,
    };
  } finally {
    held.restore();
  }
}
