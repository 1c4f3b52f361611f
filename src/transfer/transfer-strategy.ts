import { GraftError } from '../errors.js';
import type { TwoTowerModel } from '../model/two-tower.model.js';
import type { Alignment } from './alignment.js';

export const TRANSFER_STRATEGIES = ['FEATURE_EXTRACTION', 'PARTIAL', 'FULL'] as const;
export type TransferStrategyName = (typeof TRANSFER_STRATEGIES)[number];
/** What a user may ask for: a strategy, or AUTO (searched on the validation carve; the default). */
export const TRANSFER_STRATEGY_CHOICES = [...TRANSFER_STRATEGIES, 'AUTO'] as const;
export type TransferStrategyChoice = (typeof TRANSFER_STRATEGY_CHOICES)[number];

/**
 * Decides which parts of a grafted model train on the target. Layers are numbered from the
 * bottom in both towers: 0 = embedding tables (ID rows and the shared token table),
 * 1..L = MLP layers. "Pretrained" rows are those the alignment carried over from the source.
 */
export interface TransferStrategy {
  readonly name: TransferStrategyName;
  /** Sets freeze masks, trainable flags and learning-rate multipliers on `model`. */
  apply(model: TwoTowerModel, alignment: Alignment): void;
  /** One line for reports: what is frozen and what trains. */
  describe(model: TwoTowerModel): string;
}

export interface StrategyOptions {
  /** PARTIAL: the lowest N layers of each tower are frozen (layer 0 = embedding tables). */
  freezeLayers?: number;
  /** FULL: learning-rate multiplier of pretrained parameters (default 0.1). */
  pretrainedLearningRate?: number;
}

/** Freezes every row that came from the source model (with its item bias, if any), plus the shared token table. */
export function freezePretrainedRows(model: TwoTowerModel, alignment: Alignment): void {
  forEachPretrained(alignment.userSourceRow, (row) => model.userTable.freezeRows(row, row + 1));
  forEachPretrained(alignment.itemSourceRow, (row) => {
    model.itemTable.freezeRows(row, row + 1);
    model.itemBiasTable?.freezeRows(row, row + 1);
  });
  model.tokenTable?.freezeRows();
}

export function forEachPretrained(sourceRow: Int32Array, visit: (row: number) => void): void {
  for (let row = 0; row < sourceRow.length; row++) if (sourceRow[row]! >= 0) visit(row);
}

export function denseLayerCount(model: TwoTowerModel): number {
  return model.tower('user').layerCount - 1;
}

/** Validates a strategy or AUTO from any adapter (CLI spelling `feature-extraction`, `auto` accepted). */
export function parseStrategyChoice(value: string): TransferStrategyChoice {
  if (value.trim().toUpperCase() === 'AUTO') return 'AUTO';
  try {
    return parseStrategyName(value);
  } catch {
    throw new GraftError('BAD_INPUT', `strategy "${value}" is unknown; use auto (the default), feature-extraction, partial or full`);
  }
}

/** Validates a strategy name from any adapter (CLI spelling `feature-extraction` accepted). */
export function parseStrategyName(value: string): TransferStrategyName {
  const normalised = value.trim().toUpperCase().replace(/-/g, '_');
  const found = TRANSFER_STRATEGIES.find((s) => s === normalised);
  if (!found) {
    throw new GraftError('BAD_INPUT', `strategy "${value}" is unknown; use feature-extraction, partial or full`);
  }
  return found;
}

/** MLP layers per tower of a model config (before it is built): the PARTIAL(N) choices a search has. */
export function denseLayersOf(config: { layers?: readonly number[] }): number {
  return config.layers?.length ?? 0;
}
