import type { EvaluationData } from '../evaluation/evaluate.js';
import type { TokenBags } from '../model/token-hash.js';
import { TwoTowerModel, type TwoTowerConfig } from '../model/two-tower.model.js';
import { alignDomains, mapSourceInteractions, type Alignment } from '../transfer/alignment.js';
import { graftModel } from '../transfer/graft-model.js';
import { initNewItemsFromCoUsers, type NewItemInit } from '../transfer/item-init.js';
import { createStrategy } from '../transfer/strategies.js';
import type { TransferStrategy, TransferStrategyName } from '../transfer/transfer-strategy.js';
import type { TrainResult } from '../training/train.js';
import { fitModel, setUserHistoriesFrom, type TrainingHooks } from './fit-and-evaluate.js';
import { towerTokensFor, type TrainingSettings } from './model-settings.js';
import type { Examples, PreparedDomain } from './prepared-domain.js';
import type { PreparedSource, PreparedTransfer } from './transfer.workflow.js';

/** Settings of the model a transfer (or its baseline) trains that a search may change from the source's. */
export type ModelOverrides = Partial<Pick<TwoTowerConfig, 'alsAlpha' | 'alsRegularization' | 'temperature' | 'l2'>>;

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

/** How a transferred model is grafted and fine-tuned. */
export interface TransferChoice {
  strategy: TransferStrategyName;
  freezeLayers?: number;
  pretrainedLearningRate?: number;
  replayWeight: number;
  replayFraction: number;
  itemInit?: NewItemInit;
}

/**
 * Grafts the source onto the target rows, applies the strategy and fine-tunes on `train`
 * (with replayed source events at the choice's weight). The caller disposes the model.
 */
export async function fitTransferred(
  context: TransferContext,
  config: TwoTowerConfig,
  choice: TransferChoice,
  train: Examples,
  validation: EvaluationData | undefined,
  training: TrainingSettings,
  seed: number,
  hooks: TrainingHooks = {},
): Promise<{ model: TwoTowerModel; training: TrainResult; strategy: TransferStrategy; replayed: boolean }> {
  const { prepared, alignment, sourceEvents } = context;
  const strategy = createStrategy(choice.strategy, { freezeLayers: choice.freezeLayers, pretrainedLearningRate: choice.pretrainedLearningRate });
  const model = graftModel({ config, weights: prepared.source.weights }, alignment, context.itemTokens, seed);
  try {
    strategy.apply(model, alignment);
    const replay = choice.replayWeight > 0 && sourceEvents ? { ...sourceEvents, weight: choice.replayWeight, fraction: choice.replayFraction } : undefined;
    if (choice.itemInit === 'co-users' && sourceEvents) initNewItemsFromCoUsers(model, alignment, sourceEvents, train);
    // A user's source events (source item rows kept by the graft) feed their target representation;
    // source first, so the capped pool keeps the target events.
    setUserHistoriesFrom(model, sourceEvents, train);
    const result = await fitModel(model, { ...train, replay }, validation, training, seed, hooks, alignment.targetItems);
    return { model, training: result, strategy, replayed: replay !== undefined };
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
): Promise<{ model: TwoTowerModel; training: TrainResult }> {
  const { alignment, prepared } = context;
  const model = TwoTowerModel.create({ ...config, users: alignment.targetUsers, items: alignment.targetItems }, towerTokensFor(config, prepared.target.itemTokens));
  try {
    setUserHistoriesFrom(model, train);
    const result = await fitModel(model, train, validation, training, seed, hooks);
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
