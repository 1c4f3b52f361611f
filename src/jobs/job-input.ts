import { GraftError } from '../errors.js';
import { TRANSFER_STRATEGY_CHOICES } from '../transfer/transfer-strategy.js';
import { DEFAULT_SEARCH_BUDGET, parseSearchBudget } from '../tuning/search-budget.js';
import { resolvePretrainSettings, resolveTransferSettings } from '../workflows/settings/run-settings.js';
import { defaultColdStartShare } from '../workflows/prepare-transfer.js';
import { DEFAULT_SPLIT, type SplitSpec } from '../workflows/split-spec.js';
import type { JobDevice, PretrainJobConfig, PretrainJobInput, TransferJobConfig, TransferJobInput } from './job-record.js';

/**
 * Fills in every default and checks every bound, so that the stored input is complete (a
 * worker of another version runs the same settings) and a bad value fails at enqueue time
 * with a message naming it, not minutes later on a worker.
 */
export function resolvePretrainInput(input: PretrainJobInput): PretrainJobConfig {
  const domain = requireName('domain', input.domain);
  refuseNestedEvaluation(input);
  const { model, training, evaluation } = resolvePretrainSettings(input);
  const given = input.budget !== undefined && input.budget !== null;
  if (input.auto !== undefined && input.auto !== null && typeof input.auto !== 'boolean') throw new GraftError('BAD_INPUT', `auto = ${JSON.stringify(input.auto)} is not true or false`);
  if (given && !input.auto) throw new GraftError('BAD_INPUT', `budget = ${JSON.stringify(input.budget)} applies with auto only; drop it or add auto: true`);
  const config: PretrainJobConfig = { domain, model, training, evaluation, split: split(input.split) };
  if (input.auto) config.budget = given ? parseSearchBudget(input.budget!) : DEFAULT_SEARCH_BUDGET;
  // A named objective is the user's choice: auto searches its settings only.
  if (input.auto && (input as { objective?: unknown }).objective != null) config.fixedObjective = true;
  return config;
}

/** See `resolvePretrainInput`. */
export function resolveTransferInput(input: TransferJobInput): TransferJobConfig {
  const sourceModelId = requireName('sourceModelId', input.sourceModelId);
  const targetDomain = requireName('targetDomain', input.targetDomain);
  const strategy = input.strategy === undefined || input.strategy === null ? 'AUTO' : TRANSFER_STRATEGY_CHOICES.find((s) => s === input.strategy);
  if (!strategy) throw new GraftError('BAD_INPUT', `strategy "${String(input.strategy)}" is unknown; use ${TRANSFER_STRATEGY_CHOICES.join(', ')}`);
  if (strategy !== 'AUTO' && input.budget !== undefined && input.budget !== null) {
    throw new GraftError('BAD_INPUT', `budget = ${JSON.stringify(input.budget)} applies to strategy AUTO only; drop it or use strategy AUTO`);
  }
  refuseNestedEvaluation(input);
  const { training, evaluation, seed, replayWeight, replayFraction, jointReference, tokenDropout, freezeLayers, maxTrainPerUser, itemBias } = resolveTransferSettings(input, strategy);
  const splitSpec = split(input.split);
  const config: TransferJobConfig = {
    sourceModelId,
    targetDomain,
    strategy,
    ...(strategy === 'AUTO' ? { budget: input.budget === undefined || input.budget === null ? DEFAULT_SEARCH_BUDGET : parseSearchBudget(input.budget) } : {}),
    ...(replayWeight !== undefined ? { replayWeight, replayFraction } : {}),
    ...(jointReference !== undefined ? { jointReference } : {}),
    tokenDropout,
    // A fixed (file) split is kept as it is unless a share is asked for.
    coldStartShare: unit('coldStartShare', input.coldStartShare ?? defaultColdStartShare(splitSpec)),
    seed,
    activateIfBetter: input.activateIfBetter ?? false,
    training,
    evaluation,
    split: splitSpec,
  };
  if (config.coldStartShare >= 1) throw new GraftError('BAD_INPUT', `coldStartShare = ${config.coldStartShare} must be below 1; use e.g. 0.1`);
  if (freezeLayers !== undefined) config.freezeLayers = freezeLayers;
  if (maxTrainPerUser !== undefined) config.maxTrainPerUser = maxTrainPerUser;
  if (itemBias !== undefined) config.itemBias = itemBias;
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


function unit(field: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) throw new GraftError('BAD_INPUT', `${field} = ${value} is not a number from 0 to 1; use e.g. 0.5`);
  return value;
}

/** The evaluation is given by its declared settings (`protocol`, `negatives`, `ks`, `evalSeed`), like every other setting. */
function refuseNestedEvaluation(input: object): void {
  if ('evaluation' in input && (input as { evaluation?: unknown }).evaluation !== undefined) {
    throw new GraftError('BAD_INPUT', `evaluation = ${JSON.stringify((input as { evaluation?: unknown }).evaluation)} is not a job input field; give the evaluation settings as fields of the input: protocol, negatives, ks, evalSeed (e.g. negatives: 99)`);
  }
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
