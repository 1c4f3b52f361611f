import { GraftError } from '../errors.js';
import { TRANSFER_STRATEGIES } from '../transfer/transfer-strategy.js';
import { modelObjective, objectivesReading, type ModelObjective } from '../model/objective.js';
import { DEFAULT_EVALUATION, DEFAULT_TRAINING, defaultModelFor, type EvaluationSettings, type ModelSettings, type TrainingSettings } from '../workflows/model-settings.js';
import { defaultColdStartShare } from '../workflows/prepare-transfer.js';
import { DEFAULT_SPLIT, type SplitSpec } from '../workflows/split-spec.js';
import { DEFAULT_TRANSFER } from '../workflows/transfer.workflow.js';
import type { JobDevice, PretrainJobConfig, PretrainJobInput, TransferJobConfig, TransferJobInput } from './job-record.js';

/** The CLI's defaults for what `graft transfer` does not take from DEFAULT_TRANSFER. */
const TRANSFER_DEFAULTS = { seed: 42, tokenDropout: 0 };

/**
 * Fills in every default and checks every bound, so that the stored input is complete (a
 * worker of another version runs the same settings) and a bad value fails at enqueue time
 * with a message naming it, not minutes later on a worker.
 */
export function resolvePretrainInput(input: PretrainJobInput): PretrainJobConfig {
  const domain = requireName('domain', input.domain);
  const objective = modelObjective(input.objective ?? 'softmax');
  const defaults = defaultModelFor(objective.name);
  const model: ModelSettings = {
    ...defaults,
    dim: positiveInt('dim', input.dim ?? defaults.dim, 4096),
    layers: layers(input.layers ?? defaults.layers, objective),
    temperature: positiveNumber('temperature', input.temperature ?? defaults.temperature),
    seed: positiveInt('seed', input.seed ?? defaults.seed),
    userHistory: input.userHistory ?? defaults.userHistory,
  };
  if (objective.layers === 'id-rows' && model.userHistory) {
    throw new GraftError('BAD_INPUT', `userHistory = true with objective ${objective.name}; its towers are ID rows only: leave userHistory out or false`);
  }
  const foreign = OBJECTIVE_SETTINGS.filter((name) => input[name] != null && !objective.ownSettings.includes(name));
  if (foreign.length > 0) {
    const owners = [...new Set(foreign.flatMap(objectivesReading))].join(' or ');
    throw new GraftError('BAD_INPUT', `${foreign.join(', ')} apply to objective ${owners} only; drop them or set objective ${owners}`);
  }
  for (const name of objective.ownSettings as readonly ObjectiveSetting[]) model[name] = OBJECTIVE_SETTING_CHECKS[name](input[name] ?? defaults[name]!);
  return {
    domain,
    model,
    training: trainingBudget(input),
    evaluation: evaluation(input.evaluation),
    split: split(input.split),
  };
}

/** The training settings both job kinds take: the defaults with the input's budget, each checked. */
function trainingBudget(input: { epochs?: number; batchSize?: number; learningRate?: number; patience?: number }): TrainingSettings {
  return {
    ...DEFAULT_TRAINING,
    epochs: positiveInt('epochs', input.epochs ?? DEFAULT_TRAINING.epochs, 10_000),
    batchSize: positiveInt('batchSize', input.batchSize ?? DEFAULT_TRAINING.batchSize, 65_536),
    learningRate: positiveNumber('learningRate', input.learningRate ?? DEFAULT_TRAINING.learningRate),
    patience: nonNegativeInt('patience', input.patience ?? DEFAULT_TRAINING.patience),
  };
}

/** See `resolvePretrainInput`. */
export function resolveTransferInput(input: TransferJobInput): TransferJobConfig {
  const sourceModelId = requireName('sourceModelId', input.sourceModelId);
  const targetDomain = requireName('targetDomain', input.targetDomain);
  const strategy = TRANSFER_STRATEGIES.find((s) => s === input.strategy);
  if (!strategy) throw new GraftError('BAD_INPUT', `strategy "${String(input.strategy)}" is unknown; use ${TRANSFER_STRATEGIES.join(', ')}`);
  if (input.freezeLayers !== undefined && input.freezeLayers !== null && strategy !== 'PARTIAL') {
    throw new GraftError('BAD_INPUT', `freezeLayers = ${input.freezeLayers} applies to the PARTIAL strategy only; drop it or use strategy PARTIAL`);
  }
  const splitSpec = split(input.split);
  const config: TransferJobConfig = {
    sourceModelId,
    targetDomain,
    strategy,
    replayWeight: unit('replayWeight', input.replayWeight ?? DEFAULT_TRANSFER.replayWeight),
    replayFraction: positiveNumber('replayFraction', input.replayFraction ?? DEFAULT_TRANSFER.replayFraction),
    tokenDropout: unit('tokenDropout', input.tokenDropout ?? TRANSFER_DEFAULTS.tokenDropout),
    // A fixed (file) split is kept as it is unless a share is asked for.
    coldStartShare: unit('coldStartShare', input.coldStartShare ?? defaultColdStartShare(splitSpec)),
    seed: positiveInt('seed', input.seed ?? TRANSFER_DEFAULTS.seed),
    activateIfBetter: input.activateIfBetter ?? false,
    training: trainingBudget(input),
    evaluation: evaluation(input.evaluation),
    split: splitSpec,
  };
  if (config.coldStartShare >= 1) throw new GraftError('BAD_INPUT', `coldStartShare = ${config.coldStartShare} must be below 1; use e.g. 0.1`);
  if (strategy === 'PARTIAL') config.freezeLayers = nonNegativeInt('freezeLayers', input.freezeLayers ?? 1);
  if (input.maxTrainPerUser !== undefined && input.maxTrainPerUser !== null) config.maxTrainPerUser = positiveInt('maxTrainPerUser', input.maxTrainPerUser);
  return config;
}

export function parseJobDevice(value: string | undefined | null): JobDevice {
  if (value === undefined || value === null) return 'AUTO';
  const upper = value.trim().toUpperCase();
  if (upper === 'AUTO' || upper === 'CPU' || upper === 'GPU') return upper;
  throw new GraftError('BAD_INPUT', `device "${value}" is not one of AUTO, CPU, GPU`);
}

function requireName(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') throw new GraftError('BAD_INPUT', `${field} is empty; give it, e.g. ${field}: "source"`);
  return value.trim();
}

function positiveInt(field: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value <= 0 || value > max) {
    throw new GraftError('BAD_INPUT', `${field} = ${value} is not a whole number from 1 to ${max.toLocaleString('en-US')}; use e.g. 10`);
  }
  return value;
}

function nonNegativeInt(field: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new GraftError('BAD_INPUT', `${field} = ${value} is not a whole number >= 0; use e.g. 2`);
  return value;
}

function positiveNumber(field: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new GraftError('BAD_INPUT', `${field} = ${value} is not a positive number; use e.g. 0.003`);
  return value;
}

function unit(field: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) throw new GraftError('BAD_INPUT', `${field} = ${value} is not a number from 0 to 1; use e.g. 0.5`);
  return value;
}

/** Settings that belong to one objective, with their checks. */
const OBJECTIVE_SETTING_CHECKS = {
  alsAlpha: (v: number) => nonNegativeNumber('alsAlpha', v),
  alsRegularization: (v: number) => positiveNumber('alsRegularization', v),
  alsCgSteps: (v: number) => nonNegativeInt('alsCgSteps', v),
};
type ObjectiveSetting = keyof typeof OBJECTIVE_SETTING_CHECKS;
const OBJECTIVE_SETTINGS = Object.keys(OBJECTIVE_SETTING_CHECKS) as ObjectiveSetting[];

function layers(value: number[], objective: ModelObjective): number[] {
  if (objective.layers === 'id-rows') {
    if (!Array.isArray(value) || value.length > 0) {
      throw new GraftError('BAD_INPUT', `layers = ${JSON.stringify(value)} with objective ${objective.name}; its towers are the ID tables alone, with no MLP: leave layers out or pass []`);
    }
    return [];
  }
  if (!Array.isArray(value) || value.length === 0 || value.some((n) => !Number.isInteger(n) || n <= 0 || n > 8192)) {
    throw new GraftError('BAD_INPUT', `layers = ${JSON.stringify(value)} is not a non-empty list of widths from 1 to 8192; use e.g. [128, 64]`);
  }
  return [...value];
}

function nonNegativeNumber(field: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new GraftError('BAD_INPUT', `${field} = ${value} is not a number >= 0; use e.g. 40`);
  return value;
}

function evaluation(value: Partial<EvaluationSettings> | undefined): EvaluationSettings {
  const out = { ...DEFAULT_EVALUATION, ...(value ?? {}) };
  if (out.protocol !== 'full' && out.protocol !== 'sampled') throw new GraftError('BAD_INPUT', `evaluation protocol "${String(out.protocol)}" is unknown; use full or sampled`);
  positiveInt('evaluation.negatives', out.negatives);
  if (!Array.isArray(out.ks) || out.ks.length === 0) throw new GraftError('BAD_INPUT', 'evaluation.ks is empty; use e.g. [10, 20]');
  out.ks.forEach((k) => positiveInt('evaluation.ks', k, 1000));
  nonNegativeInt('evaluation.seed', out.seed);
  return { protocol: out.protocol, negatives: out.negatives, ks: [...out.ks], seed: out.seed };
}

function split(value: SplitSpec | undefined): SplitSpec {
  const spec = value ?? DEFAULT_SPLIT;
  switch (spec.kind) {
    case 'leave-one-out':
      if (spec.mode !== 'last' && spec.mode !== 'random') throw new GraftError('BAD_INPUT', `leave-one-out mode "${String(spec.mode)}" is unknown; use last or random`);
      return { ...spec };
    case 'temporal':
      positiveInt('split.lastN', spec.lastN);
      return { ...spec };
    case 'time-cut':
      if (Number.isNaN(new Date(spec.cut).getTime())) throw new GraftError('BAD_INPUT', `split cut "${spec.cut}" is not a date; use ISO 8601, e.g. 2024-01-01T00:00:00Z`);
      return { ...spec };
    case 'none':
      return { kind: 'none' };
    case 'file':
      throw new GraftError(
        'BAD_INPUT',
        `split from the file "${spec.path}" cannot be used by a job: a worker on another machine cannot read it; import the test interactions or use graft train/transfer --test-file`,
      );
    default:
      throw new GraftError('BAD_INPUT', `split ${JSON.stringify(spec)} is unknown; use leave-one-out, temporal, time-cut or none`);
  }
}
