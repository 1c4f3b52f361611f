import type { TwoTowerModel } from '../model/two-tower.model.js';
import type { Alignment } from './alignment.js';
import { denseLayerCount, fitNote, freezePretrainedRows, replayMix, type TransferStrategy } from './transfer-strategy.js';

/**
 * FEATURE_EXTRACTION: every pretrained parameter is frozen (MLP layers, token table,
 * carried-over ID rows); only rows new in the target (target items, target-only users) train.
 */
export class FeatureExtractionStrategy implements TransferStrategy {
  readonly name = 'FEATURE_EXTRACTION' as const;
  readonly start = 'pretrained' as const;
  readonly sourceEvents = replayMix;

  apply(model: TwoTowerModel, alignment: Alignment): void {
    freezePretrainedRows(model, alignment);
    for (let layer = 1; layer <= denseLayerCount(model); layer++) model.setTrainable(layer, false);
  }

  describe(model: TwoTowerModel): string {
    return `all ${denseLayerCount(model)} MLP layers, the token table and pretrained ID rows frozen; new target rows train${fitNote(model)}`;
  }
}
