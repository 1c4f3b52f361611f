export type { Scorer } from './scorer.js';
export { biasedEmbeddingScorer, embeddingScorer } from './embedding.scorer.js';
export { itemPopularity, popularityScorer } from './popularity.scorer.js';
export {
  evaluate,
  evaluateWithPopularity,
  evaluateItemBiases,
  type BiasedReport,
  type EvaluationData,
  type EvaluationOptions,
  type EvaluationReport,
  type StratumReport,
} from './evaluate.js';
export { rankMetrics, discount, idealDcg, type RankMetrics, type RelevantTieGroup, type TiePolicy } from './ranking-metrics.js';
export { DEFAULT_STRATA, assignStrata, strataLabel } from './strata.js';
export { NegativeSampler } from './negative-sampler.js';
export { pairedBootstrap, relativeGain } from './paired-bootstrap.js';
export { formatReport } from './format-report.js';
