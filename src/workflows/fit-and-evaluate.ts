import { embeddingScorer } from '../evaluation/embedding.scorer.js';
import { evaluate, evaluateItemBiases, evaluateWithPopularity, type EvaluationData, type EvaluationReport } from '../evaluation/evaluate.js';
import { buildHistoryBags } from '../model/history-bags.js';
import { range, type TwoTowerConfig, type TwoTowerModel } from '../model/two-tower.model.js';
import type { TrainingData } from '../training/example-mixture.js';
import { objectiveNamed } from '../training/objectives/index.js';
import type { EpochProgress, StepProgress, TrainResult } from '../training/train.js';
import type { EvaluationSettings, TrainingSettings } from './model-settings.js';
import { concatExamples, type Examples } from './prepared-domain.js';
import { describeSearchMetric, firstUsers, SEARCH_METRIC, selectionUsers, type SelectionProtocol } from './selection-metric.js';

export interface TrainingHooks {
  signal?: AbortSignal;
  onStep?: (progress: StepProgress) => void;
  onEpoch?: (progress: EpochProgress) => Promise<void> | void;
  /** See `FitOptions.onCarveFreeModel` (the hybrid's copy fitted without the carve). */
  onCarveFreeModel?: (model: TwoTowerModel) => void;
}

/** Validation during training when the run gives no evaluation protocol: cheap on purpose (sampled, 99 negatives, at most 2,000 users). */
const VALIDATION = { protocol: 'sampled' as const, negatives: 99, ks: [10], seed: 7, metric: 'hr@10', maxUsers: 2000 };
/** `VALIDATION` in words, as `describeSearchMetric` names the run's measure. */
const VALIDATION_METRIC = `${VALIDATION.metric} (sampled, ${VALIDATION.negatives} negatives, at most ${VALIDATION.maxUsers} users)`;

/** Scores users of `model` against the first `candidateItems` item rows (all rows when omitted). */
export function modelScorer(model: TwoTowerModel, candidateItems?: number) {
  const itemVectors = model.embedItems();
  return embeddingScorer(model.embedUsers(), itemVectors.subarray(0, (candidateItems ?? model.items) * model.outputDim), model.outputDim);
}

/**
 * Trains with the model's objective (gradient steps, or per-row solves: see `objectiveNamed`),
 * with early stopping on a validation set if one is given. Returns the training result; the
 * model ends with its best validation weights. Every choice the fit makes on the carve (the
 * epoch early stopping keeps, the hybrid's top share, whether the softmax's refined item rows
 * stay) is scored under `selection` when given: the run's evaluation protocol and
 * `SEARCH_METRIC`, the measure AUTO ranks by and the run reports. Without it, the cheap
 * `VALIDATION` metric. (Early stopping on the cheap metric while the run is judged on the other
 * cut the softmax towers' item-row refinement short on the real targets: BENCHMARKS.md "Early
 * stopping on the run's own measure".)
 */
export async function fitModel(
  model: TwoTowerModel,
  data: TrainingData,
  validation: EvaluationData | undefined,
  settings: TrainingSettings,
  seed: number,
  hooks: TrainingHooks = {},
  candidateItems?: number,
  selection?: SelectionProtocol,
): Promise<TrainResult> {
  const validate = validation ? carveValidator(validation, selection, candidateItems) : undefined;
  const validationMetric = validate ? (selection ? describeSearchMetric(selection) : VALIDATION_METRIC) : undefined;
  const onEpoch = hooks.onEpoch && validationMetric ? (p: EpochProgress) => hooks.onEpoch!({ ...p, validationMetric }) : hooks.onEpoch;
  const earlyStopping = validation && settings.patience > 0 ? { patience: settings.patience, restoreBest: true } : undefined;
  const result = await objectiveNamed(model.config.objective).fit(model, data, {
    epochs: settings.epochs,
    batchSize: settings.batchSize,
    learningRate: settings.learningRate,
    schedule: settings.schedule,
    clipNorm: settings.clipNorm,
    seed,
    threads: settings.threads,
    signal: hooks.signal,
    onStep: hooks.onStep,
    onEpoch,
    onCarveFreeModel: hooks.onCarveFreeModel,
    validate,
    // No `select`: `validate` already scores the run's measure, so a choice made once (the
    // softmax's item-row refinement) compares the scores the epochs were kept on.
    earlyStopping,
    validationEvents: validation?.test,
  });
  return validationMetric ? { ...result, validationMetric } : result;
}

/**
 * The carve's score of a model: under `selection` (`SEARCH_METRIC`; the sampled protocol scores
 * only each user's candidates, as AUTO's trials are scored), or the cheap early-stopping metric.
 */
export function carveValidator(validation: EvaluationData, selection: SelectionProtocol | undefined, candidateItems: number | undefined): (m: TwoTowerModel) => number {
  if (selection) {
    const users = selectionUsers(validation.test.users, candidateItems ?? validation.popularity.length);
    const options = { protocol: selection.protocol, negatives: selection.negatives, seed: selection.seed, ks: SEARCH_METRIC.ks, users };
    if (selection.protocol !== 'sampled') return (m) => evaluate(modelScorer(m, candidateItems), validation, options).metrics[SEARCH_METRIC.metric]!;
    // The towers over the rows the carve ranks only (a transfer's model also holds the source's).
    const userRows = range(users.length > 0 ? users[users.length - 1]! + 1 : 0);
    return (m) => {
      const itemRows = range(Math.min(candidateItems ?? m.items, m.items));
      const vectors = { users: m.embedUsers(userRows), items: m.embedItems(itemRows), dim: m.outputDim };
      return evaluateItemBiases(vectors, validation, options, [undefined])[0]!.metrics[SEARCH_METRIC.metric]!;
    };
  }
  const users = firstUsers(validation.test.users, VALIDATION.maxUsers);
  return (m) => evaluate(modelScorer(m, candidateItems), validation, { ...VALIDATION, users }).metrics[VALIDATION.metric]!;
}

/**
 * The events a model of `config` trains and validates on: objectives that train on the
 * validation carve (`trainsOnValidation`: implicit ALS) get it added to training and run a
 * fixed budget without validation.
 */
export function trainingEvents(config: Pick<TwoTowerConfig, 'objective'>, train: Examples, validation: Examples | undefined): { train: Examples; validation?: Examples } {
  if (!objectiveNamed(config.objective).trainsOnValidation || !validation) return { train, validation };
  return { train: concatExamples(train, validation) };
}

/**
 * Whether a fit of `config` leaves the validation carve unseen: gradient steps that neither
 * train on the carve (implicit ALS does) nor refit on it after choosing (the hybrid does). Such
 * a fit can stop early on the carve, and its result can still be scored on it (`trialFit`, the
 * popularity term a plain run chooses: `choosesPopularityTerm`).
 */
export function holdsCarveOut(config: Pick<TwoTowerConfig, 'objective'>): boolean {
  const objective = objectiveNamed(config.objective ?? 'softmax');
  return objective.gradientSteps && !objective.trainsOnValidation && !objective.refitsOnValidation;
}

/** Test metrics of the model next to popularity, on the same users and negatives. */
export function evaluateModel(
  model: TwoTowerModel,
  data: EvaluationData,
  settings: EvaluationSettings,
  candidateItems?: number,
): { model: EvaluationReport; popularity: EvaluationReport } {
  return evaluateWithPopularity(modelScorer(model, candidateItems), data, settings);
}

/**
 * Gives a model with `userHistory` its users' histories (the item rows of `sets`) and a model
 * with `itemAudience` its items' audiences (the user rows of the same events), in the order
 * given (earlier sets first: the pools keep the last entries). No-op without either flag.
 */
export function setUserHistoriesFrom(model: TwoTowerModel, ...sets: ReadonlyArray<{ users: Int32Array; items: Int32Array } | undefined>): void {
  if (!model.config.userHistory && !model.config.itemAudience) return;
  const present = sets.filter((s): s is { users: Int32Array; items: Int32Array } => s !== undefined);
  const total = present.reduce((n, s) => n + s.users.length, 0);
  const users = new Int32Array(total);
  const items = new Int32Array(total);
  let at = 0;
  for (const s of present) {
    users.set(s.users, at);
    items.set(s.items, at);
    at += s.users.length;
  }
  if (model.config.userHistory) model.setUserHistories(buildHistoryBags(users, items, model.users));
  if (model.config.itemAudience) model.setItemAudiences(buildHistoryBags(items, users, model.items));
}

