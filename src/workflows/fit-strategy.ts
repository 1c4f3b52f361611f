import { GraftError } from '../errors.js';
import type { EvaluationData } from '../evaluation/evaluate.js';
import type { TokenBags } from '../model/token-hash.js';
import { TwoTowerModel, type TwoTowerConfig } from '../model/two-tower.model.js';
import type { TrainResult } from '../training/train.js';
import type { Alignment } from '../transfer/alignment.js';
import { graftModel } from '../transfer/graft-model.js';
import { initNewItemsFromCoUsers } from '../transfer/item-init.js';
import type { SourceEventMix, TransferStrategy } from '../transfer/transfer-strategy.js';
import { fitModel, setUserHistoriesFrom } from './fit-and-evaluate.js';
import { towerTokensFor } from './model-settings.js';
import type { Examples } from './prepared-domain.js';
import { defaultOf } from './settings/index.js';
import type { PreparedTransfer, TransferHooks, TransferSettings } from './transfer.workflow.js';

/** What every strategy's model is fitted from. */
export interface StrategyRun {
  prepared: PreparedTransfer;
  alignment: Alignment;
  config: TwoTowerConfig;
  itemTokens: TokenBags | undefined;
  /** The source events in the aligned rows (undefined when the source model has none). */
  sourceEvents: Examples | undefined;
  train: Examples;
  validation: EvaluationData | undefined;
  settings: TransferSettings;
  hooks: TransferHooks;
}

export interface FittedStrategy {
  strategy: TransferStrategy;
  model: TwoTowerModel;
  training: TrainResult;
  /** How the source events joined training (undefined: they did not). */
  mix: SourceEventMix | undefined;
}

/**
 * Builds the strategy's starting model (grafted from the source weights, or fresh over the
 * aligned rows), applies its freezing and fits it with its objective on the target events
 * mixed with the source events as the strategy says. The caller disposes the model.
 */
export async function fitStrategy(strategy: TransferStrategy, run: StrategyRun): Promise<FittedStrategy> {
  const { prepared, alignment, config, settings, hooks } = run;
  const model =
    strategy.start === 'pretrained'
      ? graftModel({ config, weights: prepared.source.weights }, alignment, run.itemTokens, settings.seed)
      : TwoTowerModel.create({ ...config, users: alignment.userDbIds.length, items: alignment.itemDbIds.length }, towerTokensFor(config, run.itemTokens));
  try {
    strategy.apply(model, alignment);
    const mix = run.sourceEvents
      ? strategy.sourceEvents({ weight: settings.replayWeight ?? defaultOf<number>('replayWeight'), fraction: settings.replayFraction ?? defaultOf<number>('replayFraction') })
      : undefined;
    const replay = mix && run.sourceEvents ? { ...run.sourceEvents, weight: mix.weight, fraction: mix.fraction } : undefined;
    // Co-user starts pull new items towards pretrained rows; a model from scratch has none.
    if (settings.itemInit === 'co-users' && run.sourceEvents && strategy.start === 'pretrained') initNewItemsFromCoUsers(model, alignment, run.sourceEvents, run.train);
    // A user's source events (source item rows kept by the alignment) feed their target representation;
    // source first, so the capped pool keeps the target events.
    setUserHistoriesFrom(model, run.sourceEvents, run.train);
    const training = await fitModel(model, { ...run.train, replay }, run.validation, settings.training, settings.seed, hooks, alignment.targetItems);
    if (training.aborted) throw abortError(hooks.signal);
    return { strategy, model, training, mix: replay ? mix : undefined };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/** Source examples per epoch: every one for a row-solving objective or an undefined share, else the share of the target examples. */
export function perEpoch(mix: SourceEventMix, sourceEvents: number, targetEvents: number, model: TwoTowerModel): number {
  if (mix.fraction === undefined || !model.objective.gradientSteps) return sourceEvents;
  return Math.round(mix.fraction * targetEvents);
}

export function abortError(signal: AbortSignal | undefined): Error {
  return new GraftError('CANCELLED', `transfer cancelled${signal?.reason ? `: ${String((signal.reason as Error).message ?? signal.reason)}` : ''}; no model was registered`);
}
