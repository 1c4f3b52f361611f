import { GraftError } from '../errors.js';
import type { NamedWeight } from '../model/named-weight.js';
import { createRng } from '../dataset/random.js';
import type { TrainBatch, TrainStepOptions } from '../model/two-tower.model.js';
import { BestEpochTracker } from './best-epoch.js';
import type { EarlyStoppingOptions } from './early-stopping.js';
import { ExampleMixture, type TrainingData } from './example-mixture.js';
import { learningRateAt, validateSchedule, type LearningRateSchedule } from './learning-rate-schedule.js';

/** What the loop needs from a model (TwoTowerModel implements it). */
export interface TrainableModel {
  trainStep(batch: TrainBatch, lr: number, options?: TrainStepOptions): number;
  exportWeights(): NamedWeight[];
  loadWeights(weights: readonly NamedWeight[]): void;
  /** Number of items, for the logQ frequency table. */
  readonly items: number;
  setItemFrequencies(counts: ArrayLike<number>): void;
}

/** Progress after a step. The same object is reused for every step: copy it to keep it. */
export interface StepProgress {
  /** 1-based epoch. */
  epoch: number;
  /** 1-based step within the epoch. */
  step: number;
  /** Steps per epoch. */
  steps: number;
  loss: number;
  /** Throughput since the epoch started. */
  examplesPerSecond: number;
  lr: number;
}

export interface EpochProgress {
  /** 1-based epoch. */
  epoch: number;
  epochs: number;
  /** Mean training loss over the epoch's steps. */
  loss: number;
  /** The `validate` result for this epoch, if a validator was given. */
  validation?: number;
  /** Training throughput of the epoch (validation excluded). */
  examplesPerSecond: number;
  /** Wall time of the epoch including validation. */
  elapsedMs: number;
  /** Learning rate at the epoch's last step. */
  lr: number;
}

export interface TrainOptions<M extends TrainableModel = TrainableModel> {
  epochs: number;
  /** Default 256. */
  batchSize?: number;
  learningRate: number;
  schedule?: LearningRateSchedule;
  /** Seeds the per-epoch shuffles (default 1): same model seed + same seed = same weights on the same backend. */
  seed?: number;
  /** Clip the global gradient norm each step. */
  clipNorm?: number;
  /**
   * Checked before every step (the loop yields to the event loop between steps, so an
   * abort from a timer or request lands within one step). On abort `train` RETURNS with
   * `aborted: true`; the model keeps the weights of the last completed step (no restore).
   */
  signal?: AbortSignal;
  /** Validation metric after each epoch, higher is better (e.g. Recall@20 on validation users). */
  validate?: (model: M, epoch: number) => Promise<number> | number;
  /** Needs `validate`. */
  earlyStopping?: EarlyStoppingOptions;
  onStep?: (progress: StepProgress) => void;
  onEpoch?: (progress: EpochProgress) => Promise<void> | void;
  /** Called after each epoch (after validation). */
  checkpoint?: (model: M, epoch: number) => Promise<void> | void;
  /**
   * 'data' (default): set the logQ item frequencies from this run's examples (primary +
   * expected replay). 'keep': leave the model's current frequencies.
   */
  itemFrequencies?: 'data' | 'keep';
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  validation?: number;
  examplesPerSecond: number;
  elapsedMs: number;
  lr: number;
}

export interface TrainResult {
  /** Epochs completed. */
  epochs: number;
  steps: number;
  history: EpochRecord[];
  /** Epoch with the best validation (undefined without `validate`). */
  bestEpoch?: number;
  bestValidation?: number;
  /** Training throughput over the whole run (validation excluded). */
  examplesPerSecond: number;
  stoppedEarly: boolean;
  aborted: boolean;
  /** Threads that trained (row-solving objectives; undefined: this one). */
  threads?: number;
  /** ALS: the kernel of the conjugate-gradient row solves, 'simd' (WebAssembly, float32) or 'js' (float64). */
  alsKernel?: 'simd' | 'js';
  /** Hybrid towers: the share of the trained residual top kept (output = row + share x MLP), chosen on the validation carve. */
  topShare?: number;
}

/**
 * Trains a model with shuffled mini-batches for a number of epochs, with an LR schedule,
 * optional validation + early stopping, checkpoints, progress callbacks, cancellation and
 * source replay (`data.replay`). Deterministic for a seed on a given backend.
 *
 * @example
 * const result = await train(model, { users, items }, {
 *   epochs: 10, learningRate: 0.005, schedule: { warmupSteps: 100, decay: 'cosine' },
 *   validate: (m) => recallAt20(m, validation), earlyStopping: { patience: 2, restoreBest: true },
 * });
 */
export async function train<M extends TrainableModel>(model: M, data: TrainingData, options: TrainOptions<M>): Promise<TrainResult> {
  const { epochs, learningRate, clipNorm, signal } = options;
  if (!Number.isInteger(epochs) || epochs < 0) throw new GraftError('BAD_INPUT', `epochs = ${epochs}; use an integer >= 0`);
  if (!(learningRate > 0) || !Number.isFinite(learningRate)) throw new GraftError('BAD_INPUT', `learningRate = ${learningRate}; use a finite rate > 0 (e.g. 0.005)`);
  const tracker = new BestEpochTracker(options.validate, options.earlyStopping);
  validateSchedule(options.schedule);
  const mixture = new ExampleMixture(data, options.batchSize ?? 256, createRng(options.seed ?? 1, { resumable: true }));
  if ((options.itemFrequencies ?? 'data') === 'data') model.setItemFrequencies(mixture.itemCounts(model.items));

  const stepsPerEpoch = mixture.stepsPerEpoch;
  const totalSteps = epochs * stepsPerEpoch;
  const stepOptions: TrainStepOptions = { clipNorm };
  const history: EpochRecord[] = [];
  const progress: StepProgress = { epoch: 0, step: 0, steps: stepsPerEpoch, loss: 0, examplesPerSecond: 0, lr: learningRate };
  let globalStep = 0;
  let trainingMs = 0;
  let examples = 0;
  let stoppedEarly = false;
  let aborted = false;

  for (let epoch = 1; epoch <= epochs && !stoppedEarly && !aborted; epoch++) {
    const epochStart = performance.now();
    mixture.shuffle();
    let lossSum = 0;
    let epochExamples = 0;
    let epochTrainMs = 0;
    let lr = learningRate;
    let steps = 0;
    for (let step = 0; step < stepsPerEpoch; step++) {
      // Let timers and I/O run so an abort (or a job's cancel request) is seen before the next step.
      await yieldToEventLoop();
      if (signal?.aborted) {
        aborted = true;
        break;
      }
      const t0 = performance.now();
      const batch = mixture.batch(step);
      lr = learningRateAt(learningRate, globalStep, totalSteps, options.schedule);
      const loss = model.trainStep(batch, lr, stepOptions);
      epochTrainMs += performance.now() - t0;
      if (!Number.isFinite(loss)) {
        throw new GraftError('BAD_INPUT', `training diverged: loss is ${loss} at epoch ${epoch} step ${step + 1}; lower learningRate (now ${lr}) or set clipNorm`);
      }
      globalStep++;
      steps++;
      lossSum += loss;
      epochExamples += batch.users.length;
      if (options.onStep) {
        progress.epoch = epoch;
        progress.step = step + 1;
        progress.loss = loss;
        progress.examplesPerSecond = epochTrainMs > 0 ? (epochExamples * 1000) / epochTrainMs : 0;
        progress.lr = lr;
        options.onStep(progress);
      }
    }
    trainingMs += epochTrainMs;
    examples += epochExamples;
    if (aborted) break;

    const { validation, stop } = await tracker.afterEpoch(model, epoch, epochs);
    stoppedEarly = stop;
    const record: EpochRecord = {
      epoch,
      loss: steps > 0 ? lossSum / steps : NaN,
      validation,
      examplesPerSecond: epochTrainMs > 0 ? (epochExamples * 1000) / epochTrainMs : 0,
      elapsedMs: performance.now() - epochStart,
      lr,
    };
    history.push(record);
    if (options.checkpoint) await options.checkpoint(model, epoch);
    if (options.onEpoch) await options.onEpoch({ ...record, epochs });
  }

  if (!aborted) tracker.restore(model, history.length);
  return {
    epochs: history.length,
    steps: globalStep,
    history,
    ...tracker.result,
    examplesPerSecond: trainingMs > 0 ? (examples * 1000) / trainingMs : 0,
    stoppedEarly,
    aborted,
  };
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
