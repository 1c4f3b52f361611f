import type { GraftDatabase } from '../db/connect.js';
import { readDataset, readUserExternalIds } from '../dataset/read-dataset.js';
import { embeddingScorer } from '../evaluation/embedding.scorer.js';
import { evaluateWithPopularity } from '../evaluation/evaluate.js';
import { loadEmbeddings } from '../registry/artifact-repository.js';
import { getModel, type ModelRecord } from '../registry/model-repository.js';
import { evaluationData } from './evaluation-data.js';
import type { EvaluationSettings } from './model-settings.js';
import { DEFAULT_SPLIT, applySplit, type SplitSpec } from './split-spec.js';
import { summariseMetrics, type ModelMetrics } from './trained-model.js';

/**
 * Evaluates a registered model from its stored output embeddings (no TF.js needed): the
 * domain is read again and split as the model was trained (or by `split`), so the test
 * set is the one the model never saw.
 */
export async function evaluateStoredModel(
  gdb: GraftDatabase,
  modelId: string,
  settings: EvaluationSettings,
  split?: SplitSpec,
): Promise<{ model: ModelRecord; metrics: Omit<ModelMetrics, 'training'> }> {
  const record = await getModel(gdb.db, modelId);
  const spec = split ?? (record.config.split as SplitSpec | undefined) ?? DEFAULT_SPLIT;
  const dataset = await readDataset(gdb, record.domain);
  const users = await loadEmbeddings(gdb.db, modelId, 'USER');
  const items = await loadEmbeddings(gdb.db, modelId, 'ITEM');
  // Test users of a file with a row in the model but no events in the domain (a transfer's
  // users with source history only) are scored from their rows, as the transfer scored them.
  const coldStartUsers = spec.kind === 'file' ? await readUserExternalIds(gdb, withoutEventsIn(dataset.users.dbIds, users.ids)) : undefined;
  const { train, test, dropped, addedUsers } = await applySplit(dataset, spec, { coldStartUsers });
  const userDbIds = addedUsers.dbIds.length > 0 ? Int32Array.from([...dataset.users.dbIds, ...addedUsers.dbIds]) : dataset.users.dbIds;
  const dim = users.dim || items.dim;
  // Dataset rows -> stored vectors; entities the model never saw score 0 against everything.
  const userVectors = gatherByDbId(userDbIds, users.ids, users.vectors, dim);
  const itemVectors = gatherByDbId(dataset.items.dbIds, items.ids, items.vectors, dim);
  const data = evaluationData(train, test, userDbIds.length, dataset.items.size);
  const report = evaluateWithPopularity(embeddingScorer(userVectors, itemVectors, dim), data, settings);
  const { training: _, ...metrics } = summariseMetrics(report, { epochs: 0, steps: 0, history: [], examplesPerSecond: 0, stoppedEarly: false, aborted: false }, dropped);
  return { model: record, metrics };
}

/** The stored user ids that are not among the domain's users. */
function withoutEventsIn(domainUserDbIds: Int32Array, storedIds: Int32Array): Int32Array {
  const inDomain = new Set(domainUserDbIds);
  return storedIds.filter((id) => !inDomain.has(id));
}

function gatherByDbId(rowDbIds: Int32Array, storedIds: Int32Array, stored: Float32Array, dim: number): Float32Array {
  const position = new Map<number, number>();
  storedIds.forEach((id, i) => position.set(id, i));
  const out = new Float32Array(rowDbIds.length * dim);
  for (let r = 0; r < rowDbIds.length; r++) {
    const p = position.get(rowDbIds[r]!);
    if (p !== undefined) out.set(stored.subarray(p * dim, (p + 1) * dim), r * dim);
  }
  return out;
}
