import { FeatureExtractionStrategy } from './feature-extraction.strategy.js';
import { FullStrategy } from './full.strategy.js';
import { JointStrategy } from './joint.strategy.js';
import { PartialStrategy } from './partial.strategy.js';
import type { StrategyOptions, TransferStrategy, TransferStrategyName } from './transfer-strategy.js';

/** The strategy object for a name. PARTIAL defaults to freezing layer 0 (the embedding tables). */
export function createStrategy(name: TransferStrategyName, options: StrategyOptions = {}): TransferStrategy {
  switch (name) {
    case 'FEATURE_EXTRACTION':
      return new FeatureExtractionStrategy();
    case 'PARTIAL':
      return new PartialStrategy(options.freezeLayers ?? 1);
    case 'FULL':
      return new FullStrategy(options.pretrainedLearningRate);
    case 'JOINT':
      return new JointStrategy();
  }
}
