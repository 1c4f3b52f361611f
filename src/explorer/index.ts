/**
 * The analysis library behind the analysts' embedding explorer: stored embeddings, their
 * neighbours, 2-D projections (PCA, UMAP) and model-to-model comparison. No HTTP here; the
 * GraphQL resolvers call these functions.
 */
export { requireEntityKind, type EntityKind } from './entity-kind.js';
export { getEmbedding, nearestNeighbours, MAX_NEIGHBOURS, type EmbeddingRecord, type Neighbour } from './embedding-lookup.js';
export { clearEmbeddingMatrices, loadEmbeddingMatrix, type EmbeddingMatrix } from './embedding-matrix.js';
export {
  clearProjectionCache,
  DEFAULT_PROJECTION_SAMPLE,
  MAX_PROJECTION_SAMPLE,
  projectEmbeddings,
  type Projection,
  type ProjectionOptions,
  type ProjectionPoint,
} from './projection.js';
export type { ProjectionMethod } from './projection-store.js';
export { POPULARITY_BUCKETS, type ColorBy } from './point-colors.js';
export { pca2, type Pca2Result } from './pca.js';
export { umap2, type UmapOptions } from './umap-layout.js';
export { compareModels, type CompareOptions, type ModelComparison, type TransferReportSummary } from './model-comparison.js';
export type { LayerChange } from './layer-change.js';
export { getTrainingCurve, trainingCurveOf, type EpochPoint, type TrainingCurve, type TrainingSeries } from './training-curve.js';
