import type { TokenBags } from '../model/token-hash.js';
import type { AdamBiasCorrection } from '../model/sparse-optimizer.js';
import { modelObjective, type ObjectiveModelDefaults } from '../model/objective.js';
import { defaultOf, SETTINGS, type SettingName, type SettingStage, type StageValues } from './settings/index.js';
import type { TrainingObjective } from '../model/training-objective.js';
import type { RowInit, TowerTokens, TwoTowerConfig } from '../model/two-tower.model.js';
import type { LearningRateSchedule } from '../training/learning-rate-schedule.js';

/**
 * Model shape: the declared model settings (`graft train --dim --layers ...`, the job and
 * GraphQL inputs; src/workflows/settings/catalogue.ts) plus what only code and benchmarks set.
 */
export interface ModelSettings extends StageValues<'model'> {
  seed: number;
  tokenBuckets: number;
  optimizer: 'adam' | 'adagrad';
  /** Lazy Adam's bias correction on the embedding tables (absent = the model's default; see TwoTowerConfig.adamBiasCorrection). */
  adamBiasCorrection?: AdamBiasCorrection;
  l2: number;
  tokenDropout: number;
  /** logQ popularity correction of the softmax (absent = on; see TwoTowerConfig.logQ). */
  logQ?: boolean;
  /** Uniformly sampled item negatives per batch on top of the in-batch ones (absent = 0). */
  uniformNegatives?: number;
}

/** The declared training budget (epochs, batch size, learning rate, patience) plus the schedule. */
export interface TrainingSettings extends Omit<StageValues<'training'>, 'seed' | 'threads'> {
  schedule?: LearningRateSchedule;
  clipNorm?: number;
  /** Threads of a row-solving objective (implicit-als); undefined: the machine's cores. */
  threads?: number;
}

/** The declared evaluation settings as the evaluator takes them (`evalSeed` is `seed` here). */
export interface EvaluationSettings extends Omit<StageValues<'evaluation'>, 'evalSeed'> {
  seed: number;
}

/**
 * Where a softmax run starts its ID rows when `rowInit` is left out and the run does not choose
 * it on the carve (`rowInitProfiled`): at implicit ALS's solve (BENCHMARKS.md "The softmax
 * towers started at implicit ALS's rows"). The library's `TwoTowerConfig.rowInit` defaults to
 * 'random' (a model built by hand starts where its initialiser draws).
 */
export const DEFAULT_ROW_INIT: RowInit = 'implicit-als';

/** The softmax towers' defaults; the declared settings' defaults (src/workflows/settings) plus what no command sets. */
export const DEFAULT_MODEL: ModelSettings = {
  ...declaredDefaults('model'),
  tokenBuckets: 1 << 14,
  optimizer: 'adam',
  l2: 0,
  tokenDropout: 0,
  seed: defaultOf('seed'),
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
  scoring: modelObjective('implicit-als').scoring,
};

/**
 * Hybrid towers (`--objective hybrid`): the softmax towers' shape (MLP [128, 64] ending at dim,
 * history pooling) over ID rows solved by implicit ALS (alsSweeps sweeps, alpha 40, λ 0.1).
 */
export const HYBRID_MODEL: ModelSettings = {
  ...DEFAULT_MODEL,
  ...withoutReadonly(modelObjective('hybrid').modelDefaults),
  objective: 'hybrid',
  scoring: modelObjective('hybrid').scoring,
};

const MODEL_DEFAULTS: Record<TrainingObjective, ModelSettings> = { softmax: DEFAULT_MODEL, 'implicit-als': ALS_MODEL, hybrid: HYBRID_MODEL };

/** The defaults of a model with `objective` (DEFAULT_MODEL, ALS_MODEL or HYBRID_MODEL). */
export function defaultModelFor(objective: TrainingObjective | undefined): ModelSettings {
  return MODEL_DEFAULTS[modelObjective(objective ?? 'softmax').name];
}

/**
 * `config` re-shaped for another objective (AUTO's search over objectives): the objective's
 * own tower shape (its default layers, ending at dim for a residual top, and history pooling)
 * and no learned item bias for an objective that refuses one; everything else (dim, the ALS
 * settings, the seed, the token buckets) is kept. Returns `config` itself for its own objective.
 * Takes a model config or the model settings (`ModelSettings`) alike.
 */
export function configForObjective<C extends Pick<TwoTowerConfig, 'objective' | 'dim' | 'layers' | 'userHistory' | 'userIdInput' | 'userIdDropout' | 'historyDropout' | 'itemBias' | 'scoring' | 'itemAudience'>>(config: C, objective: TrainingObjective): C {
  if ((config.objective ?? 'softmax') === objective) return config;
  const traits = modelObjective(objective);
  const defaults = defaultModelFor(objective);
  const dim = config.dim ?? defaults.dim;
  const layers = traits.layers === 'id-rows' ? [] : traits.residual ? [2 * dim, dim] : [...defaults.layers];
  return {
    ...config,
    objective,
    layers,
    userHistory: defaults.userHistory ?? false,
    userIdInput: defaults.userIdInput ?? true,
    userIdDropout: defaults.userIdDropout ?? 0,
    historyDropout: defaults.historyDropout ?? 0,
    // The softmax towers' alone: a switch of objective starts without it (AUTO fits a softmax winner both ways).
    itemAudience: false,
    itemBias: traits.scoring === 'cosine' ? config.itemBias : false,
    // The softmax's scoring is its own setting (another objective scores its own way): a switch starts from the default.
    scoring: undefined,
  };
}

/** The token bags a model of `config` takes: none for objectives whose towers are ID rows only (implicit ALS). */
export function towerTokensFor(config: Pick<TwoTowerConfig, 'objective'>, itemTokens: TokenBags | undefined): TowerTokens {
  return modelObjective(config.objective ?? 'softmax').layers === 'id-rows' ? {} : { itemTokens };
}

function withoutReadonly(defaults: ObjectiveModelDefaults): Partial<ModelSettings> {
  const { layers, ...rest } = defaults;
  return layers ? { ...rest, layers: [...layers] } : rest;
}

export const DEFAULT_TRAINING: TrainingSettings = {
  ...withoutSeed(declaredDefaults('training')),
  schedule: { warmupSteps: 50, decay: 'cosine' },
  clipNorm: 5,
};

export const DEFAULT_EVALUATION: EvaluationSettings = (({ evalSeed, ...rest }) => ({ ...rest, seed: evalSeed }))(declaredDefaults('evaluation'));

/** Every declared setting of the stage at its default. */
function declaredDefaults<St extends SettingStage>(stage: St): StageValues<St> {
  const out: Record<string, unknown> = {};
  for (const setting of SETTINGS) if (setting.stage === stage && setting.default !== undefined) out[setting.name] = defaultOf(setting.name as SettingName);
  return out as StageValues<St>;
}

function withoutSeed<T extends { seed: number }>(values: T): Omit<T, 'seed'> {
  const { seed: _seed, ...rest } = values;
  return rest;
}

/**
 * A registered model's settings as it was trained (`config.model`). A setting stored before
 * it existed means the behaviour of that time, not today's default: no history pooling, the
 * user's ID row in the user tower, no dropout of it or of the history, cosine scoring.
 */
export function storedModelSettings(stored: Partial<ModelSettings> | undefined): ModelSettings {
  return {
    ...DEFAULT_MODEL,
    ...stored,
    userHistory: stored?.userHistory === true,
    userIdInput: stored?.userIdInput !== false,
    userIdDropout: stored?.userIdDropout ?? 0,
    historyDropout: stored?.historyDropout ?? 0,
    itemAudience: stored?.itemAudience === true,
    refineItemRows: stored?.refineItemRows === true,
    rowInit: stored?.rowInit ?? 'random',
    scoring: stored?.scoring ?? 'cosine',
  };
}

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
    userIdInput: settings.userIdInput ?? true,
    userIdDropout: settings.userIdDropout ?? 0,
    itemAudience: settings.itemAudience === true,
    // Read only with the audience (without it the item tower would lose its only input: the model reads 0).
    ...(settings.itemAudience === true ? { itemIdDropout: settings.itemIdDropout ?? 0.8 } : {}),
    uniformNegatives: settings.uniformNegatives ?? 0,
    itemBias: settings.itemBias ?? false,
    itemBiasLearningRate: settings.itemBiasLearningRate ?? 30,
    objective: settings.objective ?? 'softmax',
    // The objective's default unless it offers the chosen one (settings carry the softmax's default whatever the objective).
    ...(settings.scoring !== undefined && modelObjective(settings.objective ?? 'softmax').scorings.includes(settings.scoring) ? { scoring: settings.scoring } : {}),
    alsAlpha: settings.alsAlpha ?? 40,
    alsRegularization: settings.alsRegularization ?? 0.1,
    alsCgSteps: settings.alsCgSteps ?? 3,
    alsSweeps: settings.alsSweeps ?? 10,
    topLearningRate: settings.topLearningRate ?? 0.03,
    refineItemRows: settings.refineItemRows === true,
    rowInit: settings.rowInit ?? DEFAULT_ROW_INIT,
    popularityWeight: settings.popularityWeight ?? 0,
  };
}
