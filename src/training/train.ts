import { GraftError } from '../errors.js';
import type { NamedWeight } from '../model/named-weight.js';
import { createRng } from '../dataset/random.js';
import { TwoTowerModel, type TopShares, type TrainBatch, type TrainStepOptions } from '../model/two-tower.model.js';
import { BestEpochTracker } from './best-epoch.js';
import type { EarlyStoppingOptions } from './early-stopping.js';
import { ExampleMixture, type TrainingData } from './example-mixture.js';
import { learningRateAt, validateSchedule, type LearningRateSchedule } from './learning-rate-schedule.js';
import { TowerThreads } from './tower-threads.js';

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
  /** What `validation` measures, when the caller named it (`fitModel`: e.g. `ndcg@10 (sampled, 999 negatives)`). */
  validationMetric?: string;
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
   * Threads that train (default 1). More trains data-parallel on worker threads
   * (`tower-threads.ts`: a round's steps all taken from the same weights, then applied in thread order at the round's barrier, rows and dense layers)
   * when the model is a `TwoTowerModel` with the in-batch softmax task on the wasm or cpu
   * backend; other models and backends train on this thread (`TrainResult.threads` says which).
   * Reproducible for a seed and a thread count (one thread: this thread's training, bit for bit).
   */
  threads?: number;
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
  /** Threads that trained (row-solving objectives, and towers trained on worker threads; undefined: this one). */
  threads?: number;
  /** ALS: the kernel of the conjugate-gradient row solves, 'simd' (WebAssembly, float32) or 'js' (float64). */
  alsKernel?: 'simd' | 'js';
  /** Hybrid towers: the share of each tower's trained residual top kept (output = row + share x MLP), chosen on the validation carve. */
  topShare?: TopShares;
  /** softmax with `refineItemRows`: epochs of item-row refinement kept after the joint fit's `bestEpoch` (0: tried and not kept; absent: not tried). */
  refinedEpochs?: number;
  /** What `bestValidation` and the history's validation values measure, when the caller named it (`fitModel`). */
  validationMetric?: string;
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
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new GraftError('BAD_INPUT', `threads = ${threads}; use an integer from 1 to 256 (1 = this thread)`);
  const tracker = new BestEpochTracker(options.validate, options.earlyStopping);
  validateSchedule(options.schedule);
  const mixture = new ExampleMixture(data, options.batchSize ?? 256, createRng(options.seed ?? 1, { resumable: true }));
  if ((options.itemFrequencies ?? 'data') === 'data') model.setItemFrequencies(mixture.itemCounts(model.items));

  const stepsPerEpoch = mixture.stepsPerEpoch;
  const totalSteps = epochs * stepsPerEpoch;
  const stepOptions: TrainStepOptions = { clipNorm };
  const history: EpochRecord[] = [];
  const progress: StepProgress = { epoch: 0, step: 0, steps: stepsPerEpoch, loss: 0, examplesPerSecond: 0, lr: learningRate };
  const report = (epoch: number, step: number, loss: number, examples: number, ms: number, lr: number) => {
    if (!options.onStep) return;
    progress.epoch = epoch;
    progress.step = step;
    progress.loss = loss;
    progress.examplesPerSecond = ms > 0 ? (examples * 1000) / ms : 0;
    progress.lr = lr;
    options.onStep(progress);
  };
  const diverged = (loss: number, epoch: number, step: number, lr: number) =>
    new GraftError('BAD_INPUT', `training diverged: loss is ${loss} at epoch ${epoch} step ${step}; lower learningRate (now ${lr}) or set clipNorm`);
  const run = threads > 1 && totalSteps > 0 && model instanceof TwoTowerModel && TowerThreads.available(model)
    ? await TowerThreads.start(model, data, { threads, batchSize: mixture.batchSize, seed: options.seed ?? 1, learningRate, schedule: options.schedule, totalSteps, clipNorm })
    : undefined;
  let globalStep = 0;
  let trainingMs = 0;
  let examples = 0;
  let stoppedEarly = false;
  let aborted = false;

  try {
    for (let epoch = 1; epoch <= epochs && !stoppedEarly && !aborted; epoch++) {
      const epochStart = performance.now();
      let lossSum = 0;
      let epochExamples = 0;
      let epochTrainMs = 0;
      let lr = learningRate;
      let steps = 0;
      if (run) {
        // The worker threads take the epoch's batches round by round; this thread reports and watches the signal.
        if (signal?.aborted) {
          aborted = true;
          break;
        }
        const t0 = performance.now();
        const done = await run.epoch(globalStep, signal, (step, loss) => {
          lr = learningRateAt(learningRate, globalStep + Math.max(step - 1, 0), totalSteps, options.schedule);
          report(epoch, step, loss, step * mixture.batchSize, performance.now() - t0, lr);
        });
        epochTrainMs = performance.now() - t0;
        for (let s = 0; s < done.steps; s++) {
          if (!Number.isFinite(done.losses[s])) throw diverged(done.losses[s], epoch, s + 1, learningRateAt(learningRate, globalStep + s, totalSteps, options.schedule));
          lossSum += done.losses[s];
        }
        steps = done.steps;
        epochExamples = done.examples;
        lr = learningRateAt(learningRate, globalStep + Math.max(steps - 1, 0), totalSteps, options.schedule);
        globalStep += steps;
        aborted = done.stopped && signal?.aborted === true;
      } else {
        mixture.shuffle();
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
          if (!Number.isFinite(loss)) throw diverged(loss, epoch, step + 1, lr);
          globalStep++;
          steps++;
          lossSum += loss;
          epochExamples += batch.users.length;
          report(epoch, step + 1, loss, epochExamples, epochTrainMs, lr);
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
  } finally {
    run?.close();
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
    ...(run ? { threads } : {}),
  };
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
