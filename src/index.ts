/**
 * `graft`: the library (logs, dataset, model, training, transfer, evaluation, registry,
 * retrieval, serving, explorer). It loads no GraphQL server: the adapters have their own
 * entry points, `graft/server` (GraphQL on Apollo, jobs and workers) and `graft/testing`
 * (synthetic seeds). The list is explicit so that a reader sees the surface at once.
 *
 * @example
 * import { connect, migrateToLatest, importEventsFile, pretrain } from 'graft';
 */

// Errors
export { GraftError, isGraftError, type GraftErrorCode } from './errors.js';

// Storage
export { connect, type ConnectOptions, type GraftDatabase, type StorageKind } from './db/connect.js';
export type { Database, Db } from './db/database.js';
export { migrateDown, migrateToLatest, migrateToZero } from './db/migrate.js';
export { inTransaction } from './db/transaction.js';

// Behaviour logs
export {
  importEventsFile,
  importItemsFile,
  ingestEvents,
  ingestItems,
  recordEvents,
  findItemsByExternalIds,
  findItemsByRowIds,
  findUsersByExternalIds,
  recentHistories,
  listDomains,
  type CatalogueItem,
  type RecordedEvent,
  type EventRecord,
  type ImportSummary,
  type IngestOptions,
  type ItemRecord,
} from './logs/index.js';

// Datasets
export type { Dataset, Interactions, ItemTokens, Split, UserHistories, Vocabulary } from './dataset/dataset.js';
export { readDataset, type ReadDatasetOptions } from './dataset/read-dataset.js';
export { heldOutSplit, leaveOneOutSplit, temporalSplit, timeCutSplit, validationFromTrain, type HeldOutPair } from './dataset/splits.js';
export { readHeldOutFile } from './dataset/held-out-file.js';
export { buildHistories } from './dataset/user-histories.js';
export { createRng, deriveSeed, mixSeed, rngFromState, shuffleInPlace, type ResumableRng, type Rng } from './dataset/random.js';

// Model engine and training
export { initBackend, currentBackend, type BackendInfo } from './model/backend.js';
export { EmbeddingTable } from './model/embedding-table.js';
export { TwoTowerModel, type TwoTowerConfig, type TrainBatch, type RowInit } from './model/two-tower.model.js';
export { hashToken, hashTokenBags, type TokenBags } from './model/token-hash.js';
export type { NamedWeight } from './model/named-weight.js';
export { train, type TrainOptions, type TrainResult, type EpochProgress, type StepProgress } from './training/train.js';
export type { TrainingData, ReplaySet } from './training/example-mixture.js';
export { warmStartNewRows, warmStartRows } from './training/objectives/als-warm-start.js';

// Evaluation
export {
  embeddingScorer,
  evaluate,
  evaluateWithPopularity,
  formatReport,
  itemPopularity,
  pairedBootstrap,
  popularityScorer,
  type EvaluationData,
  type EvaluationOptions,
  type EvaluationReport,
  type Scorer,
} from './evaluation/index.js';

// Transfer
export { alignDomains, mapSourceInteractions, type Alignment, type OverlapReport } from './transfer/alignment.js';

// Candidate retrieval
export {
  buildHnswIndex,
  createExactIndex,
  createHnswIndex,
  loadCandidateIndex,
  type CandidateIndex,
  type SearchResult,
} from './retrieval/index.js';

// Serving (what the GraphQL resolvers call)
export * from './serving/index.js';

// Embedding explorer (analysts)
export { compareModels, getEmbedding, nearestNeighbours, pca2, projectEmbeddings, umap2, type ColorBy, type EntityKind, type LayerChange, type ModelComparison, type Neighbour, type Projection, type ProjectionMethod, type ProjectionPoint } from './explorer/index.js';

// API keys and roles
export { authenticateApiKey, createApiKey, listApiKeys, revokeApiKey, roleAllows, type ApiKeyRecord, type Role } from './auth/index.js';

// Registry
export {
  activateModel,
  getActiveModel,
  getModel,
  listModels,
  loadEmbeddings,
  loadWeights,
  retireModel,
  rollbackModel,
  type ModelRecord,
} from './registry/index.js';

// Workflows (what the CLI, GraphQL and jobs call)
export { prepareDomain, type PreparedDomain } from './workflows/prepared-domain.js';
export { pretrain, type PretrainSettings } from './workflows/pretrain.workflow.js';
export { registerTrainedModel } from './workflows/register-trained-model.js';
export { evaluateStoredModel } from './workflows/evaluate-stored-model.js';
export { DEFAULT_EVALUATION, DEFAULT_MODEL, DEFAULT_TRAINING } from './workflows/model-settings.js';
export type { SplitSpec } from './workflows/split-spec.js';
