import { availableParallelism } from 'node:os';
import { startsNewRowsAtAls, warmStartNewRows } from '../training/objectives/als-warm-start.js';
import type { EvaluationData } from '../evaluation/evaluate.js';
import type { TokenBags } from '../model/token-hash.js';
import { TwoTowerModel, type TwoTowerConfig } from '../model/two-tower.model.js';
import { alignDomains, mapSourceInteractions, type Alignment } from '../transfer/alignment.js';
import { graftModel } from '../transfer/graft-model.js';
import { initNewItemsFromCoUsers, type NewItemInit } from '../transfer/item-init.js';
import type { SourceEventMix, TransferStrategy } from '../transfer/transfer-strategy.js';
import type { TrainResult } from '../training/train.js';
import { fitModel, setUserHistoriesFrom, type TrainingHooks } from './fit-and-evaluate.js';
import { configForObjective, towerTokensFor, type TrainingSettings } from './model-settings.js';
import type { Examples, PreparedDomain } from './prepared-domain.js';
import type { SelectionProtocol } from './selection-metric.js';
import { defaultOf } from './settings/index.js';
import type { PreparedSource, PreparedTransfer } from './transfer.workflow.js';

/**
 * Settings of the model a transfer (or its baseline) trains that a search may change from the
 * source's; `objective` re-shapes the towers for that objective (`configForObjective`).
 */
export type ModelOverrides = Partial<Pick<TwoTowerConfig, 'objective' | 'alsAlpha' | 'alsRegularization' | 'temperature' | 'l2' | 'userIdDropout' | 'historyDropout' | 'popularityWeight' | 'scoring'>>;

/** `config` with `overrides` applied: first re-shaped for their objective, then their settings. */
export function withOverrides(config: TwoTowerConfig, overrides: ModelOverrides | undefined): TwoTowerConfig {
  if (!overrides) return config;
  const { objective, ...settings } = overrides;
  return { ...(objective ? configForObjective(config, objective) : config), ...settings };
}

/** What every model of one transfer shares: the alignment, the mapped source events, the aligned token bags. */
export interface TransferContext {
  prepared: PreparedTransfer;
  alignment: Alignment;
  /** Source events of the aligned users, in aligned rows (undefined when the source has none). */
  sourceEvents?: Examples;
  itemTokens?: TokenBags;
}

export function transferContext(prepared: PreparedTransfer): TransferContext {
  const alignment = alignDomains(prepared.source, prepared.target);
  const sourceEvents = prepared.source.events.users.length > 0 ? mapSourceInteractions(alignment, prepared.source.events) : undefined;
  return { prepared, alignment, sourceEvents, itemTokens: alignedItemTokens(prepared.source, prepared.target, alignment) };
}

/** What one strategy's model is fitted from, besides the context. */
export interface StrategyRun {
  config: TwoTowerConfig;
  train: Examples;
  validation: EvaluationData | undefined;
  settings: { replayWeight?: number; replayFraction?: number; itemInit?: NewItemInit; training: TrainingSettings; seed: number; evaluation?: SelectionProtocol };
  hooks: TrainingHooks;
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
 * mixed with the source events as the strategy says. Returns with `training.aborted` when the
 * signal stopped it. The caller disposes the model.
 */
export async function fitStrategy(context: TransferContext, strategy: TransferStrategy, run: StrategyRun): Promise<FittedStrategy> {
  const { prepared, alignment } = context;
  const { config, settings, hooks } = run;
  const model =
    strategy.start === 'pretrained'
      ? graftModel({ config, weights: prepared.source.weights }, alignment, context.itemTokens, settings.seed)
      : TwoTowerModel.create({ ...config, users: alignment.userDbIds.length, items: alignment.itemDbIds.length }, towerTokensFor(config, context.itemTokens));
  try {
    strategy.apply(model, alignment);
    const mix = context.sourceEvents
      ? strategy.sourceEvents({ weight: settings.replayWeight ?? defaultOf<number>('replayWeight'), fraction: settings.replayFraction ?? defaultOf<number>('replayFraction') })
      : undefined;
    const replay = mix && context.sourceEvents ? { ...context.sourceEvents, weight: mix.weight, fraction: mix.fraction } : undefined;
    // New rows solved against the grafted ones (the softmax towers; implicit ALS and the hybrid solve their new rows anyway).
    if (strategy.start === 'pretrained' && startsNewRowsAtAls(settings.itemInit, config.objective)) {
      const started = await warmStartNewRows(model, run.train, { users: alignment.userSourceRow, items: alignment.itemSourceRow }, { threads: settings.training.threads ?? availableParallelism(), signal: hooks.signal });
      if (started?.aborted) return { strategy, model, training: started, mix: undefined };
    }
    // Co-user starts pull new items towards pretrained rows; a model from scratch has none.
    if (settings.itemInit === 'co-users' && context.sourceEvents && strategy.start === 'pretrained') initNewItemsFromCoUsers(model, alignment, context.sourceEvents, run.train);
    // A user's source events (source item rows kept by the alignment) feed their target representation;
    // source first, so the capped pool keeps the target events.
    setUserHistoriesFrom(model, context.sourceEvents, run.train);
    const training = await fitModel(model, { ...run.train, replay }, run.validation, settings.training, settings.seed, hooks, alignment.targetItems, settings.evaluation);
    return { strategy, model, training, mix: replay ? mix : undefined };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/** A target-only model of `config` trained on `train` (the baseline, or one of its search's trials). The caller disposes it. */
export async function fitTargetOnly(
  context: TransferContext,
  config: TwoTowerConfig,
  train: Examples,
  validation: EvaluationData | undefined,
  training: TrainingSettings,
  seed: number,
  hooks: TrainingHooks = {},
  /** How an objective that chooses its fit on the carve scores it (the run's evaluation protocol). */
  selection?: SelectionProtocol,
): Promise<{ model: TwoTowerModel; training: TrainResult }> {
  const { alignment, prepared } = context;
  const model = TwoTowerModel.create({ ...config, users: alignment.targetUsers, items: alignment.targetItems }, towerTokensFor(config, prepared.target.itemTokens));
  try {
    setUserHistoriesFrom(model, train);
    const result = await fitModel(model, train, validation, training, seed, hooks, undefined, selection);
    return { model, training: result };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/** Token bags for every aligned item row: target items' bags, then the source items'. */
function alignedItemTokens(source: PreparedSource, target: PreparedDomain, alignment: Alignment): TokenBags | undefined {
  if (!source.itemTokens && !target.itemTokens) return undefined;
  const rows = alignment.itemDbIds.length;
  const offsets = new Int32Array(rows + 1);
  const ids: number[] = [];
  for (let r = 0; r < rows; r++) {
    const bags = r < alignment.targetItems ? target.itemTokens : source.itemTokens;
    const entity = r < alignment.targetItems ? r : alignment.itemSourceRow[r]!;
    if (bags) for (let k = bags.offsets[entity]!; k < bags.offsets[entity + 1]!; k++) ids.push(bags.ids[k]!);
    offsets[r + 1] = ids.length;
  }
  return { offsets, ids: Int32Array.from(ids) };
}
