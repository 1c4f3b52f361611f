import type { ModelObjective } from '../../model/objective.js';
import type { TwoTowerModel } from '../../model/two-tower.model.js';
import type { EarlyStoppingOptions } from '../early-stopping.js';
import type { ExampleSet, TrainingData } from '../example-mixture.js';
import type { LearningRateSchedule } from '../learning-rate-schedule.js';
import type { EpochProgress, StepProgress, TrainResult } from '../train.js';

/** What every objective's fit takes: the budget, the step settings (gradient objectives), validation and hooks. */
export interface FitOptions {
  /** Epochs (gradient objectives) or sweeps (row-solving ones). */
  epochs: number;
  batchSize: number;
  learningRate: number;
  schedule?: LearningRateSchedule;
  clipNorm?: number;
  /** Seeds the example order (gradient objectives). */
  seed: number;
  /** Threads; undefined: the machine's cores. Row-solving objectives: the result is the same for any count; softmax: data-parallel, reproducible for a seed and a count. */
  threads?: number;
  /** Checked between steps / row blocks: the fit returns `aborted: true` with the last completed state. */
  signal?: AbortSignal;
  /** Validation metric after each epoch, higher is better; with `earlyStopping` the best epoch is restored. */
  validate?: (model: TwoTowerModel) => number | Promise<number>;
  earlyStopping?: EarlyStoppingOptions;
  /**
   * A second measure of the carve for a choice a fit makes once rather than per epoch (the
   * softmax's item-row refinement: kept or put back), when the caller's per-epoch `validate` is a
   * cheaper one; absent: `validate`'s scores decide it too. (`fitModel` gives none: with the run's
   * protocol its `validate` already scores the run's measure.)
   */
  select?: (model: TwoTowerModel) => number | Promise<number>;
  /**
   * The validation carve's events (those `validate` scores against): an objective that chooses
   * its budget on the carve and then trains on it too (hybrid) adds them to `data` for its last fit.
   */
  validationEvents?: ExampleSet;
  /**
   * Called by a fit that refits on the carve (`refitsOnValidation`: the hybrid) with the model it
   * fitted without the carve's events, in the shape it delivers (the top at the chosen epochs and
   * share; the rows alone when it keeps no top), before that copy is dropped: what a plain run
   * chooses the popularity term on (`popularityTermChooser`). Not called when the fit makes no
   * such copy (no carve, no trainable top, 0 epochs).
   */
  onCarveFreeModel?: (model: TwoTowerModel) => void;
  onStep?: (progress: StepProgress) => void;
  onEpoch?: (progress: EpochProgress) => Promise<void> | void;
}

/**
 * A training objective: the model-facing traits (scoring, layers, refused configs; see
 * `ModelObjective`) plus how it fits a model. Chosen once by name (`objectiveNamed`); the
 * workflows, jobs and transfer call `fit` and read the traits, never compare names.
 *
 * @example
 * const objective = objectiveNamed(model.config.objective);
 * const result = await objective.fit(model, data, { epochs: 10, batchSize: 256, learningRate: 0.003, seed: 1 });
 */
export interface Objective extends ModelObjective {
  /**
   * Whether the validation carve is trained on, for a fixed budget, instead of held out for
   * early stopping (a row solve has no step size to stop early; see `trainingEvents`).
   */
  readonly trainsOnValidation: boolean;
  /**
   * Whether the fit, given the carve (`validationEvents`), chooses its budget on it and then trains
   * on it too (hybrid): the model it returns has seen the carve, so scoring it there is not held out.
   */
  readonly refitsOnValidation: boolean;
  /** Fits the model to the data; the model ends with its best validation weights when early stopping restores them. */
  fit(model: TwoTowerModel, data: TrainingData, options: FitOptions): Promise<TrainResult>;
}
