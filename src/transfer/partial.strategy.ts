import { GraftError } from '../errors.js';
import type { TwoTowerModel } from '../model/two-tower.model.js';
import type { Alignment } from './alignment.js';
import { denseLayerCount, fitNote, freezePretrainedRows, replayMix, type TransferStrategy } from './transfer-strategy.js';

/**
 * PARTIAL with `freezeLayers = N`: the lowest N layers of each tower are frozen. Layer 0 is
 * the embedding tables, where "frozen" means the pretrained rows and the token table: rows
 * new in the target still train (they have nothing to preserve).
 */
export class PartialStrategy implements TransferStrategy {
  readonly name = 'PARTIAL' as const;
  readonly start = 'pretrained' as const;
  readonly sourceEvents = replayMix;

  constructor(readonly freezeLayers: number) {
    if (!Number.isInteger(freezeLayers) || freezeLayers < 0) {
      throw new GraftError('BAD_INPUT', `freezeLayers ${freezeLayers} is not a whole number >= 0; use e.g. 1 to freeze the embedding tables`);
    }
  }

  apply(model: TwoTowerModel, alignment: Alignment): void {
    const layers = denseLayerCount(model);
    if (this.freezeLayers > layers + 1) {
      throw new GraftError(
        'BAD_INPUT',
        `freezeLayers ${this.freezeLayers} exceeds the ${layers + 1} layers of each tower (0 = embeddings, 1..${layers} = MLP); use at most ${layers + 1}, or FEATURE_EXTRACTION`,
      );
    }
    if (this.freezeLayers >= 1) freezePretrainedRows(model, alignment);
    for (let layer = 1; layer <= layers; layer++) model.setTrainable(layer, layer >= this.freezeLayers);
  }

  describe(model: TwoTowerModel): string {
    const layers = denseLayerCount(model);
    if (this.freezeLayers === 0) return 'nothing frozen (freezeLayers 0)';
    const dense = Math.min(this.freezeLayers - 1, layers);
    return `pretrained embedding rows${dense > 0 ? ` and MLP layers 1..${dense}` : ''} frozen; ${layers - dense} MLP layer(s) and new rows train${fitNote(model)}`;
  }
}
