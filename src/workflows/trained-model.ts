import type { HeldOutDrops } from '../dataset/splits.js';
import type { EvaluationReport } from '../evaluation/evaluate.js';
import type { BackendInfo } from '../model/backend.js';
import type { NamedWeight } from '../model/named-weight.js';
import type { TopShares, TwoTowerModel } from '../model/two-tower.model.js';
import type { TrainResult } from '../training/train.js';
import type { PopularityTermChoice } from './popularity-term.js';

/**
 * Everything a finished training run hands back for registration: pure data (typed arrays
 * and JSON), so it can cross a process boundary; the parent does every database write.
 */
export interface TrainedModel {
  config: Record<string, unknown>;
  weights: NamedWeight[];
  /** Database ids behind the model's rows. */
  userDbIds: Int32Array;
  itemDbIds: Int32Array;
  /** Item rows [0, candidateItems) belong to the model's domain and are served; the rest are source rows kept for replay. */
  candidateItems: number;
  outputDim: number;
  /** [users, outputDim] */
  userVectors: Float32Array;
  /** [candidateItems, outputDim] */
  itemVectors: Float32Array;
  metrics: ModelMetrics;
  backend: BackendInfo;
}

/** What the registry stores in `models.metrics`. */
export interface ModelMetrics {
  /** Test metrics of the model: "hr@10", "ndcg@10", "mrr", ... */
  test: Record<string, number>;
  /** The popularity baseline on the same users (and negatives). */
  popularity: Record<string, number>;
  strata: Array<{ label: string; users: number; metrics: Record<string, number>; popularity?: Record<string, number> }>;
  protocol: string;
  negatives?: number;
  /** Test users evaluated (0: no test set, and `test` / `popularity` are empty). */
  users: number;
  /** Their test interactions. */
  rows?: number;
  /** Held-out pairs left out of test, by reason (absent: nothing dropped or a model stored before this was recorded). */
  dropped?: HeldOutDrops;
  training: {
    epochs: number;
    bestEpoch?: number;
    bestValidation?: number;
    examplesPerSecond: number;
    stoppedEarly: boolean;
    /** Threads that trained (implicit-als; absent: one, or a model stored before this was recorded). */
    threads?: number;
    /** Hybrid towers: the share of each tower's residual top kept, chosen on the carve (absent: all of it, or not hybrid; a number: both towers', a model stored before each tower chose its own). */
    topShare?: TopShares | number;
    /** softmax: epochs of item-row refinement kept after `bestEpoch` (0: tried and not kept; absent: not tried, or a model stored before this was recorded). */
    refinedEpochs?: number;
    /** The popularity term's weight chosen on the carve (popularityWeight left out; absent: given, or not chosen), with the carve's score without and with it. */
    popularityTerm?: PopularityTermChoice;
    /** What `bestValidation` and the history's validation values measure (absent: no validation, or a model stored before this was recorded, when it was `hr@10 (sampled, 99 negatives, at most 2000 users)`). */
    validationMetric?: string;
    history: Array<{ epoch: number; loss: number; validation?: number }>;
  };
}

/** Collects a trained model's outputs. */
export function collectTrainedModel(
  model: TwoTowerModel,
  args: {
    config: Record<string, unknown>;
    userDbIds: Int32Array;
    itemDbIds: Int32Array;
    candidateItems: number;
    report: { model: EvaluationReport; popularity: EvaluationReport };
    /** Held-out pairs the split left out, by reason. */
    dropped?: HeldOutDrops;
    training: TrainResult;
    /** The popularity term chosen on the carve, when the run chose one. */
    popularityTerm?: PopularityTermChoice;
    backend: BackendInfo;
  },
): TrainedModel {
  const itemVectors = model.embedItems().slice(0, args.candidateItems * model.outputDim);
  return {
    config: args.config,
    weights: model.exportWeights(),
    userDbIds: args.userDbIds,
    itemDbIds: args.itemDbIds,
    candidateItems: args.candidateItems,
    outputDim: model.outputDim,
    userVectors: model.embedUsers(),
    itemVectors,
    metrics: summariseMetrics(args.report, args.training, args.dropped, args.popularityTerm),
    backend: args.backend,
  };
}

/** The stored form of an evaluation; with no evaluated user the metrics are empty, never zeros. */
export function summariseMetrics(report: { model: EvaluationReport; popularity: EvaluationReport }, training: TrainResult, dropped?: HeldOutDrops, popularityTerm?: PopularityTermChoice): ModelMetrics {
  const popStrata = new Map(report.popularity.strata.map((s) => [s.label, s.metrics]));
  const evaluated = report.model.users > 0;
  return {
    test: evaluated ? report.model.metrics : {},
    popularity: evaluated ? report.popularity.metrics : {},
    strata: evaluated ? report.model.strata.map((s) => ({ label: s.label, users: s.users, metrics: s.metrics, popularity: popStrata.get(s.label) })) : [],
    protocol: report.model.protocol,
    negatives: report.model.negatives,
    users: report.model.users,
    rows: report.model.rows,
    ...(dropped ? { dropped: { ...dropped } } : {}),
    training: {
      epochs: training.epochs,
      bestEpoch: training.bestEpoch,
      bestValidation: training.bestValidation,
      examplesPerSecond: Math.round(training.examplesPerSecond),
      stoppedEarly: training.stoppedEarly,
      ...(training.threads !== undefined ? { threads: training.threads } : {}),
      ...(training.topShare !== undefined ? { topShare: training.topShare } : {}),
      ...(training.refinedEpochs !== undefined ? { refinedEpochs: training.refinedEpochs } : {}),
      ...(popularityTerm ? { popularityTerm: { ...popularityTerm } } : {}),
      ...(training.validationMetric !== undefined ? { validationMetric: training.validationMetric } : {}),
      history: training.history.map((h) => ({ epoch: h.epoch, loss: h.loss, validation: h.validation })),
    },
  };
}
