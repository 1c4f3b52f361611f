import { GraftError } from '../errors.js';
import type { TwoTowerModel } from '../model/two-tower.model.js';
import type { Alignment } from './alignment.js';

export const TRANSFER_STRATEGIES = ['FEATURE_EXTRACTION', 'PARTIAL', 'FULL', 'JOINT'] as const;
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
  /**
   * 'pretrained': the model starts from the source model's weights (`graftModel`); 'scratch':
   * a fresh model over the aligned rows, of the source model's config, no source weight read.
   */
  readonly start: 'pretrained' | 'scratch';
  /**
   * How the source events (of the rows the alignment keeps) join training, given the replay
   * settings: a weight and the share per epoch of the target examples (undefined: every
   * source event in every epoch); undefined when they do not join.
   */
  sourceEvents(replay: { weight: number; fraction: number }): SourceEventMix | undefined;
  /** Sets freeze masks, trainable flags and learning-rate multipliers on `model`. */
  apply(model: TwoTowerModel, alignment: Alignment): void;
  /** One line for reports: what is frozen and what trains. */
  describe(model: TwoTowerModel): string;
}

/** The weight of source events in training and how many join each epoch. */
export interface SourceEventMix {
  weight: number;
  /** Source examples per epoch as a share of the target examples; undefined = every source event, every epoch. */
  fraction?: number;
}

/** The grafting strategies' source events: replay at its weight and share, none at weight 0. */
export function replayMix(replay: { weight: number; fraction: number }): SourceEventMix | undefined {
  return replay.weight > 0 ? { weight: replay.weight, fraction: replay.fraction } : undefined;
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

/**
 * How the trainable parts of a model whose ID rows ALS solves under an MLP (hybrid) are fitted,
 * for the `describe` lines; empty for the other objectives.
 */
export function fitNote(model: TwoTowerModel): string {
  if (!model.objective.alsRows || model.objective.layers !== 'towers') return '';
  return ' (ID rows solved by implicit ALS first, then any trainable MLP layer by gradient steps with every ID row held)';
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
    throw new GraftError('BAD_INPUT', `strategy "${value}" is unknown; use auto (the default), feature-extraction, partial, full or joint`);
  }
}

/** Validates a strategy name from any adapter (CLI spelling `feature-extraction` accepted). */
export function parseStrategyName(value: string): TransferStrategyName {
  const normalised = value.trim().toUpperCase().replace(/-/g, '_');
  const found = TRANSFER_STRATEGIES.find((s) => s === normalised);
  if (!found) {
    throw new GraftError('BAD_INPUT', `strategy "${value}" is unknown; use feature-extraction, partial, full or joint`);
  }
  return found;
}

/** MLP layers per tower of a model config (before it is built): the PARTIAL(N) choices a search has. */
export function denseLayersOf(config: { layers?: readonly number[] }): number {
  return config.layers?.length ?? 0;
}
