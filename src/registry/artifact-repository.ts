import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { GraftError } from '../errors.js';
import type { NamedWeight } from '../model/named-weight.js';
import { bytesToFloat32, bytesToInt32, float32ToBytes, int32ToBytes } from './model-weights.js';

/** Stores every weight of a model (one row each; tables can be tens of MB, so one row per weight, not per batch of rows). */
export async function saveWeights(db: Db, modelId: string, weights: NamedWeight[]): Promise<void> {
  for (const w of weights) {
    const expected = w.shape.reduce((a, b) => a * b, 1);
    if (expected !== w.data.length) {
      throw new GraftError('INTERNAL', `weight "${w.name}" has ${w.data.length} values but shape [${w.shape}] needs ${expected}`);
    }
    await db
      .insertInto('model_artifacts')
      .values({ model_id: modelId, name: `weight:${w.name}`, kind: w.kind, dtype: 'float32', shape: w.shape, data: float32ToBytes(w.data) })
      .onConflict((oc) => oc.columns(['model_id', 'name']).doUpdateSet({ data: (eb) => eb.ref('excluded.data'), shape: (eb) => eb.ref('excluded.shape') }))
      .execute();
  }
}

/** Loads a model's weights in the order they were saved. */
export async function loadWeights(db: Db, modelId: string): Promise<NamedWeight[]> {
  const rows = await db
    .selectFrom('model_artifacts')
    .select(['name', 'kind', 'shape'])
    .where('model_id', '=', modelId)
    .where('name', 'like', 'weight:%')
    .orderBy('id')
    .execute();
  if (rows.length === 0) {
    throw new GraftError('NOT_FOUND', `model "${modelId}" has no stored weights; it may have failed or still be training (see \`graft models\`)`);
  }
  const weights: NamedWeight[] = [];
  for (const r of rows) {
    const data = (await readArtifactBytes(db, modelId, r.name))!;
    weights.push({ name: r.name.slice('weight:'.length), kind: r.kind as NamedWeight['kind'], shape: r.shape, data: bytesToFloat32(data) });
  }
  return weights;
}

/** Stores an Int32Array artifact, e.g. the database ids behind a model's dense user or item indexes. */
export async function saveIdArtifact(db: Db, modelId: string, name: string, ids: Int32Array): Promise<void> {
  await db
    .insertInto('model_artifacts')
    .values({ model_id: modelId, name, kind: 'vocabulary', dtype: 'int32', shape: [ids.length], data: int32ToBytes(ids) })
    .onConflict((oc) => oc.columns(['model_id', 'name']).doUpdateSet({ data: (eb) => eb.ref('excluded.data'), shape: (eb) => eb.ref('excluded.shape') }))
    .execute();
}

export async function loadIdArtifact(db: Db, modelId: string, name: string): Promise<Int32Array> {
  const data = await readArtifactBytes(db, modelId, name);
  if (!data) throw new GraftError('NOT_FOUND', `model "${modelId}" has no artifact "${name}"`);
  return bytesToInt32(data);
}

/** Stores an opaque binary artifact (e.g. a serialised HNSW index). */
export async function saveBlob(db: Db, modelId: string, name: string, kind: 'index' | 'meta', data: Uint8Array): Promise<void> {
  await db
    .insertInto('model_artifacts')
    .values({ model_id: modelId, name, kind, dtype: 'bytes', shape: [data.byteLength], data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) })
    .onConflict((oc) => oc.columns(['model_id', 'name']).doUpdateSet({ data: (eb) => eb.ref('excluded.data'), shape: (eb) => eb.ref('excluded.shape') }))
    .execute();
}

export async function loadBlob(db: Db, modelId: string, name: string, options: { chunkBytes?: number } = {}): Promise<Uint8Array | null> {
  const data = await readArtifactBytes(db, modelId, name, options.chunkBytes);
  return data ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
}

/** Artifacts are read in pieces of at most this many bytes (see `readArtifactBytes`). */
export const ARTIFACT_READ_CHUNK_BYTES = 64 * 1024 * 1024;

/**
 * An artifact's bytes, null when it does not exist. Read in pieces (`substring` of the bytea):
 * node-postgres receives bytea as hex text, and a JavaScript string holds at most 2^29 - 24
 * characters, so one value above ~256 MB (1M items x 64 floats is 256 MB) cannot be read whole.
 */
async function readArtifactBytes(db: Db, modelId: string, name: string, chunkBytes = ARTIFACT_READ_CHUNK_BYTES): Promise<Buffer | null> {
  // One statement (one snapshot: a concurrent rewrite cannot mix two versions), one row per piece.
  const { rows } = await sql<{ part: Uint8Array | null }>`
    select substring(a.data from g.start for ${chunkBytes}) as part
    from model_artifacts a
    cross join lateral generate_series(1, greatest(octet_length(a.data), 1), ${chunkBytes}) as g(start)
    where a.model_id = ${modelId} and a.name = ${name}
    order by g.start`.execute(db);
  if (rows.length === 0) return null;
  return Buffer.concat(rows.map((r) => r.part ?? new Uint8Array(0)));
}

const EMBEDDING_BATCH_ROWS = 4096;

/**
 * Writes output embeddings in batches: each batch is one INSERT of `ids` (int[]) and the
 * flattened vectors (real[]), sliced per row in SQL, instead of one query per entity.
 *
 * @param ids database ids (`users.id` / `items.id`), [n]
 * @param vectors row-major [n, dim]
 */
export async function saveEmbeddings(db: Db, modelId: string, kind: 'USER' | 'ITEM', ids: Int32Array, vectors: Float32Array, dim: number): Promise<void> {
  if (vectors.length !== ids.length * dim) {
    throw new GraftError('INTERNAL', `embeddings for ${ids.length} ${kind} ids need ${ids.length * dim} values, got ${vectors.length}`);
  }
  for (let start = 0; start < ids.length; start += EMBEDDING_BATCH_ROWS) {
    const end = Math.min(ids.length, start + EMBEDDING_BATCH_ROWS);
    const idChunk = Array.from(ids.subarray(start, end));
    const flat = Array.from(vectors.subarray(start * dim, end * dim));
    await sql`
      insert into embeddings (model_id, entity_kind, entity_id, vector)
      select ${modelId}::uuid, ${kind}, ids.id, (${flat}::real[])[(ids.n - 1) * ${dim} + 1 : ids.n * ${dim}]
      from unnest(${idChunk}::int[]) with ordinality as ids(id, n)
      on conflict (model_id, entity_kind, entity_id) do update set vector = excluded.vector`.execute(db);
  }
}

/** Reads embeddings of the given entities (all when `ids` is omitted): [n, dim] in the order of the returned ids. */
export async function loadEmbeddings(db: Db, modelId: string, kind: 'USER' | 'ITEM', ids?: number[]): Promise<{ ids: Int32Array; vectors: Float32Array; dim: number }> {
  let query = db.selectFrom('embeddings').select(['entity_id', 'vector']).where('model_id', '=', modelId).where('entity_kind', '=', kind);
  if (ids) {
    if (ids.length === 0) return { ids: new Int32Array(0), vectors: new Float32Array(0), dim: 0 };
    query = query.where('entity_id', '=', sql<number>`any(${ids}::int[])`);
  }
  const rows = await query.orderBy('entity_id').execute();
  const dim = rows[0]?.vector.length ?? 0;
  const out = new Float32Array(rows.length * dim);
  const outIds = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    outIds[i] = r.entity_id;
    out.set(r.vector, i * dim);
  });
  return { ids: outIds, vectors: out, dim };
}
