import type { TokenBags } from '../model/token-hash.js';
import type { AdamBiasCorrection } from '../model/sparse-optimizer.js';
import { modelObjective } from '../model/objective.js';
import { defaultOf } from './settings/index.js';
import type { TrainingObjective } from '../model/training-objective.js';
import type { TowerTokens, TwoTowerConfig } from '../model/two-tower.model.js';
import type { LearningRateSchedule } from '../training/learning-rate-schedule.js';

/** Model shape: what `graft train --dim --layers` and the GraphQL inputs set. */
export interface ModelSettings {
  dim: number;
  layers: number[];
  temperature: number;
  tokenBuckets: number;
  optimizer: 'adam' | 'adagrad';
  /** Lazy Adam's bias correction on the embedding tables (absent = the model's default; see TwoTowerConfig.adamBiasCorrection). */
  adamBiasCorrection?: AdamBiasCorrection;
  l2: number;
  tokenDropout: number;
  seed: number;
  /**
   * Pool the item rows of each user's training history into the user tower (YouTube-DNN
   * style; see TwoTowerConfig.userHistory). On by default (Amazon Sport -> Cloth transfer
   * +0.013 HR@10 over two seeds); absent = off, as in models stored before the option.
   */
  userHistory?: boolean;
  /** logQ popularity correction of the softmax (absent = on; see TwoTowerConfig.logQ). */
  logQ?: boolean;
  /** Share of history items left out of the user's pool per training example (absent = 0). */
  historyDropout?: number;
  /** Uniformly sampled item negatives per batch on top of the in-batch ones (absent = 0). */
  uniformNegatives?: number;
  /** A learned logit bias per item (absent = off; see TwoTowerConfig.itemBias). */
  itemBias?: boolean;
  /** Learning-rate multiplier of the item biases (absent = 30; see TwoTowerConfig.itemBiasLearningRate). */
  itemBiasLearningRate?: number;
  /** 'softmax' (absent) or 'implicit-als' (per-row ALS solves; see TwoTowerConfig.objective and ALS_MODEL). */
  objective?: TrainingObjective;
  /** implicit-als: confidence weight of an observed pair (absent = 40). */
  alsAlpha?: number;
  /** implicit-als: L2 regularisation of every solved row (absent = 0.1). */
  alsRegularization?: number;
  /** implicit-als: conjugate-gradient steps per row and sweep, 0 = exact Cholesky (absent = 3). */
  alsCgSteps?: number;
}

export interface TrainingSettings {
  epochs: number;
  batchSize: number;
  learningRate: number;
  schedule?: LearningRateSchedule;
  clipNorm?: number;
  /** Stop when the validation metric has not improved for this many epochs (0 = never), restoring the best epoch. */
  patience: number;
}

export interface EvaluationSettings {
  protocol: 'full' | 'sampled';
  negatives: number;
  ks: number[];
  seed: number;
}

/** The softmax towers' defaults; the declared settings' defaults (src/workflows/settings) plus what no command sets. */
export const DEFAULT_MODEL: ModelSettings = {
  dim: defaultOf('dim'),
  layers: defaultOf('layers'),
  temperature: defaultOf('temperature'),
  tokenBuckets: 1 << 14,
  optimizer: 'adam',
  l2: 0,
  tokenDropout: 0,
  seed: defaultOf('seed'),
  userHistory: defaultOf('userHistory'),
};

/**
 * The implicit-ALS model (`graft train --objective implicit-als`): ID rows only, raw inner
 * products; the best transfer on Amazon Sport -> Cloth (BENCHMARKS.md). alpha 40 and λ 0.1
 * as in the measured ALS reference, 3 conjugate-gradient steps per row; `epochs` counts sweeps.
 */
export const ALS_MODEL: ModelSettings = {
  ...DEFAULT_MODEL,
  ...withoutReadonly(modelObjective('implicit-als').modelDefaults),
  objective: 'implicit-als',
  alsAlpha: defaultOf('alsAlpha'),
  alsRegularization: defaultOf('alsRegularization'),
  alsCgSteps: defaultOf('alsCgSteps'),
};

const MODEL_DEFAULTS: Record<TrainingObjective, ModelSettings> = { softmax: DEFAULT_MODEL, 'implicit-als': ALS_MODEL };

/** The defaults of a model with `objective` (DEFAULT_MODEL or ALS_MODEL). */
export function defaultModelFor(objective: TrainingObjective | undefined): ModelSettings {
  return MODEL_DEFAULTS[modelObjective(objective ?? 'softmax').name];
}

/** The token bags a model of `config` takes: none for objectives whose towers are ID rows only (implicit ALS). */
export function towerTokensFor(config: Pick<TwoTowerConfig, 'objective'>, itemTokens: TokenBags | undefined): TowerTokens {
  return modelObjective(config.objective ?? 'softmax').layers === 'id-rows' ? {} : { itemTokens };
}

function withoutReadonly(defaults: { readonly layers?: readonly number[]; readonly userHistory?: boolean }): Partial<ModelSettings> {
  const { layers, ...rest } = defaults;
  return layers ? { ...rest, layers: [...layers] } : rest;
}

export const DEFAULT_TRAINING: TrainingSettings = {
  epochs: defaultOf('epochs'),
  batchSize: defaultOf('batchSize'),
  learningRate: defaultOf('learningRate'),
  schedule: { warmupSteps: 50, decay: 'cosine' },
  clipNorm: 5,
  patience: defaultOf('patience'),
};

export const DEFAULT_EVALUATION: EvaluationSettings = { protocol: 'sampled', negatives: 999, ks: [10, 20], seed: 2040 };

export function modelConfig(settings: ModelSettings, users: number, items: number): TwoTowerConfig {
  return {
    users,
    items,
    dim: settings.dim,
    layers: settings.layers,
    temperature: settings.temperature,
    tokenBuckets: settings.tokenBuckets,
    optimizer: settings.optimizer,
    l2: settings.l2,
    adamBiasCorrection: settings.adamBiasCorrection,
    tokenDropout: settings.tokenDropout,
    seed: settings.seed,
    userHistory: settings.userHistory ?? false,
    logQ: settings.logQ ?? true,
    historyDropout: settings.historyDropout ?? 0,
    uniformNegatives: settings.uniformNegatives ?? 0,
    itemBias: settings.itemBias ?? false,
    itemBiasLearningRate: settings.itemBiasLearningRate ?? 30,
    objective: settings.objective ?? 'softmax',
    alsAlpha: settings.alsAlpha ?? 40,
    alsRegularization: settings.alsRegularization ?? 0.1,
    alsCgSteps: settings.alsCgSteps ?? 3,
  };
}
