import { GraftError } from '../../errors.js';
import { modelObjective } from '../../model/objective.js';
import type { TransferStrategyName } from '../../transfer/transfer-strategy.js';
import { DEFAULT_TRAINING, defaultModelFor, type EvaluationSettings, type ModelSettings, type TrainingSettings } from '../model-settings.js';
import { defaultOf, MODEL_SETTINGS, resolveSettings, TRAINING_SETTINGS } from './index.js';

/**
 * The model and training settings of a pretraining run from what was given (a job input, the
 * GraphQL input, `graft train`'s typed flags): every value checked against its declaration,
 * the rest from the objective's defaults. The one resolution the CLI and jobs share.
 *
 * @example
 * resolvePretrainSettings({ objective: 'implicit-als', alsAlpha: 10 }).model.layers; // []
 */
export function resolvePretrainSettings(input: object): { model: ModelSettings; training: TrainingSettings; evaluation: EvaluationSettings } {
  const objective = modelObjective((input as { objective?: unknown }).objective ?? defaultOf('objective'));
  const defaults = defaultModelFor(objective.name);
  const values = resolveSettings('train', input, { objective }, defaults);
  if (objective.layers === 'id-rows' && values.layers.length > 0) {
    throw new GraftError('BAD_INPUT', `layers = ${JSON.stringify(values.layers)} with objective ${objective.name}; its towers are the ID tables alone, with no MLP: leave layers out or pass [] (CLI: --layers none)`);
  }
  if (objective.layers === 'id-rows' && values.userHistory) {
    throw new GraftError('BAD_INPUT', `userHistory = true with objective ${objective.name}; its towers are ID rows only: leave userHistory out or false (CLI: drop --user-history)`);
  }
  const model: ModelSettings = { ...defaults };
  for (const setting of MODEL_SETTINGS) if (setting.name !== 'objective' && values[setting.name] !== undefined) Object.assign(model, { [setting.name]: values[setting.name] });
  model.seed = values.seed;
  // The objective's own refusals (e.g. hybrid: layers ending at dim), at submission rather than in the training child.
  objective.check({
    dim: model.dim,
    layers: model.layers,
    userHistory: model.userHistory ?? false,
    userIdInput: model.userIdInput ?? true,
    itemBias: model.itemBias ?? false,
    alsAlpha: model.alsAlpha ?? defaultOf<number>('alsAlpha'),
    alsRegularization: model.alsRegularization ?? defaultOf<number>('alsRegularization'),
    alsCgSteps: model.alsCgSteps ?? defaultOf<number>('alsCgSteps'),
    alsSweeps: model.alsSweeps ?? defaultOf<number>('alsSweeps'),
    popularityWeight: model.popularityWeight ?? 0,
  });
  return { model, training: trainingBudget(values), evaluation: evaluationOf(values) };
}

/** The transfer's own settings and training budget from what was given (see `resolvePretrainSettings`). */
export function resolveTransferSettings(
  input: object,
  strategy: TransferStrategyName | 'AUTO',
): {
  training: TrainingSettings;
  evaluation: EvaluationSettings;
  seed: number;
  replayWeight?: number;
  replayFraction?: number;
  jointReference?: boolean;
  tokenDropout: number;
  freezeLayers?: number;
  maxTrainPerUser?: number;
  /** Given when the transferred model (and its baseline) gets a learned item bias. */
  itemBias?: { learningRate: number };
} {
  const values = resolveSettings('transfer', input, { strategy });
  return {
    training: trainingBudget(values),
    evaluation: evaluationOf(values),
    seed: values.seed,
    // Grafting strategies only: JOINT refuses them (its source events count at weight 1, all of them).
    ...(values.replayWeight !== undefined ? { replayWeight: values.replayWeight, replayFraction: values.replayFraction } : {}),
    ...(values.jointReference !== undefined ? { jointReference: values.jointReference } : {}),
    tokenDropout: values.tokenDropout,
    ...(values.freezeLayers !== undefined ? { freezeLayers: values.freezeLayers } : {}),
    ...(values.maxTrainPerUser !== undefined ? { maxTrainPerUser: values.maxTrainPerUser } : {}),
    ...(values.itemBias ? { itemBias: { learningRate: values.itemBiasLearningRate } } : {}),
  };
}

/** How `graft eval` (and a job's evaluation) scores a test set, from what was given (see `resolvePretrainSettings`). */
export function resolveEvaluationSettings(input: object): EvaluationSettings {
  return evaluationOf(resolveSettings('eval', input));
}

/** The declared evaluation settings as the evaluator takes them. */
function evaluationOf(values: Record<string, any>): EvaluationSettings {
  return { protocol: values.protocol, negatives: values.negatives, ks: values.ks, seed: values.evalSeed };
}

/** DEFAULT_TRAINING with the checked budget. */
function trainingBudget(values: Record<string, unknown>): TrainingSettings {
  const training: TrainingSettings = { ...DEFAULT_TRAINING };
  for (const setting of TRAINING_SETTINGS) if (setting.name in training) Object.assign(training, { [setting.name]: values[setting.name] });
  if (values.threads !== undefined) training.threads = values.threads as number;
  return training;
}
