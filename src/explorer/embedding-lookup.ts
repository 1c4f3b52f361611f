import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { GraftError } from '../errors.js';
import { itemExists } from '../logs/item-repository.js';
import { getModel, type ModelRecord } from '../registry/model-repository.js';
import { loadEmbeddingMatrix } from './embedding-matrix.js';
import { entityNoun, requireEntityKind, type EntityKind } from './entity-kind.js';

/** One stored embedding: the model's output vector for a user or an item, and its L2 norm. */
export interface EmbeddingRecord {
  modelId: string;
  kind: EntityKind;
  /** External id of the user or item. */
  id: string;
  vector: number[];
  norm: number;
}

/** One neighbour, best first. */
export interface Neighbour {
  /** External id. */
  id: string;
  /** Item title; null for users and untitled items. */
  label: string | null;
  /** Cosine similarity with the queried entity's embedding. */
  score: number;
  /** 1-based. */
  rank: number;
}

export const MAX_NEIGHBOURS = 100;

/**
 * The embedding a model gives a user or an item (by external id). Items are looked up in the
 * model's domain. NOT_FOUND names the model, kind and id, and lists ids that do have one.
 *
 * @example
 * const { vector, norm } = await getEmbedding(db, modelId, 'ITEM', 'sku-9');
 */
export async function getEmbedding(db: Db, modelId: string, kind: EntityKind, externalId: string): Promise<EmbeddingRecord> {
  requireEntityKind(kind);
  const model = await getModel(db, modelId);
  const row =
    kind === 'USER'
      ? await db
          .selectFrom('embeddings')
          .innerJoin('users', 'users.id', 'embeddings.entity_id')
          .select('embeddings.vector')
          .where('embeddings.model_id', '=', modelId)
          .where('embeddings.entity_kind', '=', 'USER')
          .where('users.external_id', '=', externalId)
          .executeTakeFirst()
      : await db
          .selectFrom('embeddings')
          .innerJoin('items', 'items.id', 'embeddings.entity_id')
          .select('embeddings.vector')
          .where('embeddings.model_id', '=', modelId)
          .where('embeddings.entity_kind', '=', 'ITEM')
          .where('items.external_id', '=', externalId)
          // The model's own domain first: an external id is unique only within a domain.
          .orderBy(sql`items.domain_id = ${model.domainId}`, 'desc')
          .limit(1)
          .executeTakeFirst();
  if (!row) throw await missingEmbedding(db, model, kind, externalId);
  let sum = 0;
  for (const x of row.vector) sum += x * x;
  return { modelId, kind, id: externalId, vector: row.vector, norm: Math.sqrt(sum) };
}

/**
 * The `first` (1..100) users or items whose embeddings in the model are closest (cosine) to
 * the given one's, excluding itself: an exact search over the model's embeddings of that
 * kind (held in a small in-memory cache).
 *
 * @example
 * const similar = await nearestNeighbours(db, modelId, 'ITEM', 'sku-9', 10);
 */
export async function nearestNeighbours(db: Db, modelId: string, kind: EntityKind, externalId: string, first: number): Promise<Neighbour[]> {
  requireEntityKind(kind);
  if (!Number.isInteger(first) || first < 1 || first > MAX_NEIGHBOURS) {
    throw new GraftError('BAD_INPUT', `first = ${first} is out of range; ask for 1 to ${MAX_NEIGHBOURS} neighbours`);
  }
  const matrix = await loadEmbeddingMatrix(db, modelId, kind);
  const row = matrix.rowByExternalId.get(externalId);
  if (row === undefined) throw await missingEmbedding(db, matrix.model, kind, externalId);
  const query = matrix.unit.subarray(row * matrix.dim, (row + 1) * matrix.dim);
  const { ids, scores } = matrix.index.search(query, first, { exclude: (other) => other === row });
  return Array.from(ids, (other, i) => ({ id: matrix.externalIds[other], label: matrix.titles[other], score: scores[i], rank: i + 1 }));
}

/** NOT_FOUND saying whether the entity is unknown or only missing from this model, with ids that have embeddings. */
export async function missingEmbedding(db: Db, model: ModelRecord, kind: EntityKind, externalId: string): Promise<GraftError> {
  const noun = entityNoun(kind);
  const exists =
    kind === 'USER'
      ? await db.selectFrom('users').select('id').where('external_id', '=', externalId).executeTakeFirst()
      : await itemExists(db, model.domainId, externalId);
  const examples =
    kind === 'USER'
      ? await db
          .selectFrom('embeddings')
          .innerJoin('users', 'users.id', 'embeddings.entity_id')
          .select('users.external_id as id')
          .where('embeddings.model_id', '=', model.id)
          .where('embeddings.entity_kind', '=', 'USER')
          .orderBy('embeddings.entity_id')
          .limit(3)
          .execute()
      : await db
          .selectFrom('embeddings')
          .innerJoin('items', 'items.id', 'embeddings.entity_id')
          .select('items.external_id as id')
          .where('embeddings.model_id', '=', model.id)
          .where('embeddings.entity_kind', '=', 'ITEM')
          .orderBy('embeddings.entity_id')
          .limit(3)
          .execute();
  const where = `model "${model.id}" (domain "${model.domain}")`;
  const reason = exists
    ? `${noun} "${externalId}" exists but ${where} has no ${kind} embedding for it (it was not in the model's training data)`
    : kind === 'USER'
      ? `there is no user "${externalId}" (user ids are the external ids of imported events), so ${where} has no USER embedding for it`
      : `domain "${model.domain}" has no item "${externalId}", so ${where} has no ITEM embedding for it`;
  const fix =
    examples.length > 0
      ? `ids with an embedding in this model include ${examples.map((e) => `"${e.id}"`).join(', ')}; the projection (embeddingProjection) lists them all`
      : `this model has no ${kind} embeddings at all; pick a READY model from \`graft models\``;
  return new GraftError('NOT_FOUND', `${reason}; ${fix}`);
}
