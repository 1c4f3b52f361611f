import type { Db } from '../db/database.js';
import { GraftError } from '../errors.js';
import { getModel, type ModelRecord } from '../registry/model-repository.js';
import { createExactIndex } from '../retrieval/exact.index.js';
import type { CandidateIndex } from '../retrieval/candidate-index.js';
import { normaliseRows } from './cosine-knn.js';
import { entityNoun, type EntityKind } from './entity-kind.js';
import { LruCache } from '../serving/lru-cache.js';

/**
 * One model's output embeddings of one kind, in memory: rows ordered by database id, with
 * what the explorer shows about each row. A READY model's embeddings never change, so a
 * loaded matrix stays valid for the model's lifetime.
 */
export interface EmbeddingMatrix {
  model: ModelRecord;
  kind: EntityKind;
  size: number;
  dim: number;
  /** [size] `users.id` / `items.id` behind each row. */
  dbIds: Int32Array;
  /** [size] external ids (what the API and the analysts use). */
  externalIds: string[];
  /** [size] item titles (null for users and untitled items). */
  titles: Array<string | null>;
  /** [size] domain id of each item; for users, the model's domain. */
  domainIds: Int32Array;
  /** [size, dim] the stored vectors. */
  vectors: Float32Array;
  /** [size, dim] the vectors scaled to unit length: inner product = cosine. */
  unit: Float32Array;
  /** Exact top-k over `unit` (cosine neighbours). */
  index: CandidateIndex;
  /** External id -> row. Items: an item of the model's own domain wins over a same-named item of another domain. */
  rowByExternalId: Map<string, number>;
  rowByDbId: Map<number, number>;
}

/** Matrices are a few MB for a catalogue of 10k items and about 0.5 GB for 1M x 64, so the budget is in bytes. */
const matrices = new LruCache<string, EmbeddingMatrix>({ maxEntries: 8, maxWeight: 768 * 2 ** 20, weigh: matrixBytes });
const loading = new Map<string, Promise<EmbeddingMatrix | null>>();

function matrixBytes(m: EmbeddingMatrix): number {
  return m.vectors.byteLength + m.unit.byteLength + m.size * 120; // ids, strings and map entries, roughly
}

/**
 * The embeddings of `kind` of a model, loaded once and kept in a small LRU cache (concurrent
 * callers share one load). NOT_FOUND when the model does not exist or has no such embeddings.
 *
 * @example
 * const items = await loadEmbeddingMatrix(db, modelId, 'ITEM');
 * const row = items.rowByExternalId.get('sku-9');
 */
export async function loadEmbeddingMatrix(db: Db, modelId: string, kind: EntityKind): Promise<EmbeddingMatrix> {
  const matrix = await findEmbeddingMatrix(db, modelId, kind);
  if (matrix) return matrix;
  const model = await getModel(db, modelId);
  throw new GraftError(
    'NOT_FOUND',
    `model "${modelId}" (domain "${model.domain}", status ${model.status}) has no ${entityNoun(kind)} embeddings; ` +
      'only a model that finished training has them: pick a READY or ACTIVE model from `graft models`',
  );
}

/** Like `loadEmbeddingMatrix`, but null when the model exists and has no embeddings of `kind` (a missing model is still NOT_FOUND). */
export async function findEmbeddingMatrix(db: Db, modelId: string, kind: EntityKind): Promise<EmbeddingMatrix | null> {
  const key = `${modelId}:${kind}`;
  const cached = matrices.get(key);
  if (cached) return cached;
  const pending = loading.get(key);
  if (pending) return pending;
  const load = readMatrix(db, modelId, kind)
    .then((matrix) => {
      if (matrix) matrices.set(key, matrix); // not an empty answer: a model still training gets its embeddings later
      return matrix;
    })
    .finally(() => loading.delete(key));
  loading.set(key, load);
  return load;
}

/** Drops every cached matrix (tests; a process that deleted models). */
export function clearEmbeddingMatrices(): void {
  matrices.clear();
}

async function readMatrix(db: Db, modelId: string, kind: EntityKind): Promise<EmbeddingMatrix | null> {
  const model = await getModel(db, modelId);
  // One query: vectors with the entity's external id (and, for items, title and domain).
  const rows =
    kind === 'USER'
      ? (
          await db
            .selectFrom('embeddings')
            .innerJoin('users', 'users.id', 'embeddings.entity_id')
            .select(['embeddings.entity_id as id', 'embeddings.vector as vector', 'users.external_id as externalId'])
            .where('embeddings.model_id', '=', modelId)
            .where('embeddings.entity_kind', '=', 'USER')
            .orderBy('embeddings.entity_id')
            .execute()
        ).map((r) => ({ ...r, title: null as string | null, domainId: model.domainId }))
      : await db
          .selectFrom('embeddings')
          .innerJoin('items', 'items.id', 'embeddings.entity_id')
          .select(['embeddings.entity_id as id', 'embeddings.vector as vector', 'items.external_id as externalId', 'items.title as title', 'items.domain_id as domainId'])
          .where('embeddings.model_id', '=', modelId)
          .where('embeddings.entity_kind', '=', 'ITEM')
          .orderBy('embeddings.entity_id')
          .execute();
  if (rows.length === 0) return null;
  const size = rows.length;
  const dim = rows[0].vector.length;
  const vectors = new Float32Array(size * dim);
  const dbIds = new Int32Array(size);
  const domainIds = new Int32Array(size);
  const externalIds: string[] = new Array(size);
  const titles: Array<string | null> = new Array(size);
  const rowByExternalId = new Map<string, number>();
  const rowByDbId = new Map<number, number>();
  rows.forEach((r, i) => {
    if (r.vector.length !== dim) {
      throw new GraftError('INTERNAL', `model "${modelId}" stores ${entityNoun(kind)} vectors of widths ${dim} and ${r.vector.length}; re-register the model`);
    }
    vectors.set(r.vector, i * dim);
    dbIds[i] = r.id;
    domainIds[i] = r.domainId;
    externalIds[i] = r.externalId;
    titles[i] = r.title;
    rowByDbId.set(r.id, i);
    const previous = rowByExternalId.get(r.externalId);
    if (previous === undefined || (domainIds[previous] !== model.domainId && r.domainId === model.domainId)) rowByExternalId.set(r.externalId, i);
  });
  const unit = normaliseRows(vectors, size, dim);
  return { model, kind, size, dim, dbIds, externalIds, titles, domainIds, vectors, unit, index: createExactIndex(unit, dim), rowByExternalId, rowByDbId };
}
