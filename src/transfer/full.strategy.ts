import { GraftError } from '../errors.js';
import type { TwoTowerModel } from '../model/two-tower.model.js';
import type { Alignment } from './alignment.js';
import { denseLayerCount, fitNote, forEachPretrained, replayMix, type TransferStrategy } from './transfer-strategy.js';

/**
 * FULL fine-tuning: everything trains; pretrained parameters (MLP layers, token table,
 * carried-over ID rows) at `pretrainedLearningRate` times the rate, so the target's few
 * events adjust rather than overwrite them. New rows train at the full rate.
 */
export class FullStrategy implements TransferStrategy {
  readonly name = 'FULL' as const;
  readonly start = 'pretrained' as const;
  readonly sourceEvents = replayMix;

  constructor(readonly pretrainedLearningRate = 0.1) {
    if (!(pretrainedLearningRate >= 0 && pretrainedLearningRate <= 1)) {
      throw new GraftError('BAD_INPUT', `pretrainedLearningRate ${pretrainedLearningRate} must be in [0, 1]; use e.g. 0.1`);
    }
  }

  apply(model: TwoTowerModel, alignment: Alignment): void {
    const rate = this.pretrainedLearningRate;
    forEachPretrained(alignment.userSourceRow, (row) => model.userTable.setRowLearningRateMultiplier(row, row + 1, rate));
    forEachPretrained(alignment.itemSourceRow, (row) => {
      model.itemTable.setRowLearningRateMultiplier(row, row + 1, rate);
      model.itemBiasTable?.setRowLearningRateMultiplier(row, row + 1, rate);
    });
    if (model.tokenTable) model.tokenTable.setRowLearningRateMultiplier(0, model.tokenTable.rows, rate);
    for (let layer = 1; layer <= denseLayerCount(model); layer++) model.setLearningRateMultiplier(layer, rate);
  }

  describe(model: TwoTowerModel): string {
    return `everything trains; pretrained rows, token table and ${denseLayerCount(model)} MLP layers at ${this.pretrainedLearningRate}x the learning rate${fitNote(model)}`;
  }
}
