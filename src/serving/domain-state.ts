import type { GraftDatabase } from '../db/connect.js';
import { GraftError } from '../errors.js';
import { loadBlob, loadEmbeddings, saveBlob } from '../registry/artifact-repository.js';
import { bytesToFloat32, bytesToInt32 } from '../registry/model-weights.js';
import type { CandidateIndex } from '../retrieval/candidate-index.js';
import { createExactIndex } from '../retrieval/exact.index.js';
import { buildHnswIndex, loadHnswIndex } from '../retrieval/hnsw.index.js';
import { scoringOf, type ModelScoring } from '../model/objective.js';
import { ItemCatalogue } from './item-catalogue.js';
import type { LoadedDomainState, ServingLogger } from './recommendation.types.js';
import { findServedDomain, readCatalogueRows, readEventCounts, readModelHead } from './serving-repository.js';

/** Name of the model artifact holding the serialised HNSW index of its item embeddings. */
export const HNSW_ARTIFACT = 'index:hnsw';
/**
 * The item embeddings of a model as two binary artifacts (ids as int32, rows as float32, in
 * `embeddings` order), written by the first process that loads the model: reading 100k x 64
 * `real[]` rows costs ~9x more than one bytea (21 s against 2.3 s measured on a busy machine).
 */
export const ITEM_IDS_ARTIFACT = 'serving:item-ids';
export const ITEM_VECTORS_ARTIFACT = 'serving:item-vectors';

export { scoringOf, type ModelScoring } from '../model/objective.js';

/** The active model's item side, in memory. */
export interface ModelMatrix {
  modelId: string;
  version: number;
  scoring: ModelScoring;
  dim: number;
  /** [rows, dim] row-major, L2-normalised: inner product = cosine (item similarity, MMR, explanations). */
  vectors: Float32Array;
  /**
   * What the indexes search: `vectors` itself for cosine models; for inner-product models
   * [rows, dim + 1] rows [v / M, sqrt(1 - |v|² / M²)] (M = the longest row), unit vectors
   * whose cosine with a query [u / |u|, 0] is u·v / (|u| M): the inner-product order through
   * the same cosine indexes (Bachrach et al. 2014). See `indexQuery`.
   */
  indexVectors: Float32Array;
  indexDim: number;
  /** Catalogue position of each row. */
  rowPosition: Int32Array;
  /** Row of each catalogue position, -1 for items the model has no embedding of (imported after training). */
  positionRow: Int32Array;
  /** Always there: the reference, and what serves until an HNSW index exists. */
  exact: CandidateIndex;
  /** Set once loaded from the artifact or built in the background; null below the threshold or while building. */
  hnsw: CandidateIndex | null;
  /** Whether this catalogue is big enough to be served through HNSW. */
  wantsHnsw: boolean;
  /** Set when the rows came from the `embeddings` table: stores them as artifacts for the next load (then cleared). */
  saveArtifacts: (() => Promise<void>) | null;
}

/** Everything a request of one domain needs, swapped as a whole on activation. */
export interface DomainState {
  domain: string;
  domainId: number;
  catalogue: ItemCatalogue;
  /** Catalogue positions by event count (desc), then items.id; every item appears (zero counts last). */
  popularOrder: Int32Array;
  /** Event count per catalogue position. */
  eventCounts: Int32Array;
  model: ModelMatrix | null;
  loadedAt: Date;
}

export function describeState(state: DomainState, precomputedUsers = 0): LoadedDomainState {
  const model = state.model;
  return {
    domain: state.domain,
    modelId: model?.modelId ?? null,
    modelVersion: model?.version ?? null,
    items: model ? model.rowPosition.length : state.catalogue.size,
    indexKind: model ? (model.hnsw ? 'hnsw' : 'exact') : 'popularity',
    loadedAt: state.loadedAt,
    precomputedUsers,
  };
}

/**
 * Reads a domain into memory: catalogue with tags, event counts, and the active model's item
 * embeddings with an exact index (plus a saved HNSW index when the catalogue is above
 * `hnswThreshold` and another process already built one).
 */
export async function loadDomainState(
  gdb: GraftDatabase,
  domain: string,
  options: { hnswThreshold: number; logger: ServingLogger; onActiveModelRead?: (modelId: string | null) => void },
): Promise<DomainState> {
  if (typeof domain !== 'string' || domain === '') {
    throw new GraftError('BAD_INPUT', `domain ${JSON.stringify(domain)} is not a domain name; pass the name used at import, e.g. "sport"`);
  }
  const db = gdb.db;
  const row = await findServedDomain(db, domain);
  if (!row) {
    throw new GraftError('NOT_FOUND', `domain "${domain}" does not exist; check the name, or create it by importing events with \`graft import FILE --domain ${domain}\``);
  }
  options.onActiveModelRead?.(row.activeModelId);
  const [catalogueRows, counts] = await Promise.all([readCatalogueRows(db, row.id), readEventCounts(db, row.id)]);
  const catalogue = ItemCatalogue.fromRows(catalogueRows);
  const eventCounts = new Int32Array(catalogue.size);
  for (const { itemId, count } of counts) {
    const p = catalogue.positionOfItem(itemId);
    if (p >= 0) eventCounts[p] = count;
  }
  const popularOrder = Int32Array.from({ length: catalogue.size }, (_, p) => p).sort((a, b) => eventCounts[b]! - eventCounts[a]! || a - b);
  let model: ModelMatrix | null = null;
  if (row.activeModelId !== null) {
    model = await loadModelMatrix(gdb, domain, row.activeModelId, catalogue, options);
  }
  return { domain, domainId: row.id, catalogue, popularOrder, eventCounts, model, loadedAt: new Date() };
}

async function loadModelMatrix(
  gdb: GraftDatabase,
  domain: string,
  modelId: string,
  catalogue: ItemCatalogue,
  options: { hnswThreshold: number; logger: ServingLogger },
): Promise<ModelMatrix | null> {
  const [head, stored] = await Promise.all([readModelHead(gdb.db, modelId), readItemEmbeddings(gdb, modelId)]);
  if (head === undefined) return null;
  const { version } = head;
  const scoring = scoringOf(head.config); // deleted between the two reads: serve popularity until the next activation
  if (stored.ids.length === 0) {
    options.logger.warn({ domain, modelId, version }, 'active model has no item embeddings; serving popular items');
    return null;
  }
  const dim = stored.dim;
  // Rows for catalogue items only (embeddings of deleted items are dropped), in items.id order.
  const rowPosition: number[] = [];
  const sourceRow: number[] = [];
  for (let i = 0; i < stored.ids.length; i++) {
    const p = catalogue.positionOfItem(stored.ids[i]!);
    if (p < 0) continue;
    rowPosition.push(p);
    sourceRow.push(i);
  }
  const vectors = new Float32Array(rowPosition.length * dim);
  sourceRow.forEach((i, r) => vectors.set(stored.vectors.subarray(i * dim, (i + 1) * dim), r * dim));
  const indexVectors = scoring === 'inner-product' ? augmentToUnitRows(vectors, dim) : vectors;
  const indexDim = scoring === 'inner-product' ? dim + 1 : dim;
  normaliseRows(vectors, dim);
  const positionRow = new Int32Array(catalogue.size).fill(-1);
  rowPosition.forEach((p, r) => (positionRow[p] = r));
  const matrix: ModelMatrix = {
    modelId,
    version,
    scoring,
    dim,
    vectors,
    indexVectors,
    indexDim,
    rowPosition: Int32Array.from(rowPosition),
    positionRow,
    exact: createExactIndex(indexVectors, indexDim),
    hnsw: null,
    wantsHnsw: rowPosition.length > options.hnswThreshold,
    saveArtifacts: stored.fromArtifacts
      ? null
      : () =>
          gdb.db.transaction().execute(async (trx) => {
            await saveBlob(trx, modelId, ITEM_IDS_ARTIFACT, 'index', new Uint8Array(stored.ids.buffer, stored.ids.byteOffset, stored.ids.byteLength));
            await saveBlob(trx, modelId, ITEM_VECTORS_ARTIFACT, 'index', new Uint8Array(stored.vectors.buffer, stored.vectors.byteOffset, stored.vectors.byteLength));
          }),
  };
  if (matrix.wantsHnsw) {
    const bytes = await loadBlob(gdb.db, modelId, HNSW_ARTIFACT);
    if (bytes) {
      try {
        matrix.hnsw = loadHnswIndex(bytes, indexVectors, indexDim);
      } catch (error) {
        // Saved against another row set (items deleted since): rebuild instead of failing the domain.
        options.logger.warn({ domain, modelId, error: (error as Error).message }, 'saved HNSW index does not fit the loaded embeddings; rebuilding it');
      }
    }
  }
  return matrix;
}

/** A model's item embeddings: from the binary artifacts when a process has written them, else from the `embeddings` table. */
async function readItemEmbeddings(gdb: GraftDatabase, modelId: string): Promise<{ ids: Int32Array; vectors: Float32Array; dim: number; fromArtifacts: boolean }> {
  const [idBytes, vectorBytes] = await Promise.all([loadBlob(gdb.db, modelId, ITEM_IDS_ARTIFACT), loadBlob(gdb.db, modelId, ITEM_VECTORS_ARTIFACT)]);
  if (idBytes && vectorBytes) {
    const ids = bytesToInt32(idBytes);
    const vectors = bytesToFloat32(vectorBytes);
    if (ids.length > 0 && vectors.length % ids.length === 0) return { ids, vectors, dim: vectors.length / ids.length, fromArtifacts: true };
  }
  return { ...(await loadEmbeddings(gdb.db, modelId, 'ITEM')), fromArtifacts: false };
}

/**
 * Builds the HNSW index of a matrix on a worker thread and stores it as a model artifact, so
 * other processes load it instead of building. Resolves to the index (the caller swaps it in).
 */
export async function buildAndSaveHnsw(gdb: GraftDatabase, matrix: ModelMatrix, canSave: () => boolean): Promise<CandidateIndex> {
  const index = await buildHnswIndex(matrix.indexVectors, matrix.indexDim, { seed: 1 });
  if (canSave()) await saveBlob(gdb.db, matrix.modelId, HNSW_ARTIFACT, 'index', index.toBytes());
  return index;
}

/**
 * The index query for a direction `[dim]` (L2-normalised: a user's row, the mean of recent
 * items, an item's row): itself for cosine models, `[direction, 0]` for inner-product models.
 */
export function indexQuery(model: Pick<ModelMatrix, 'scoring' | 'dim'>, direction: Float32Array): Float32Array {
  if (model.scoring === 'cosine') return direction;
  const query = new Float32Array(model.dim + 1);
  query.set(direction.subarray(0, model.dim));
  return query;
}

/** `[n, dim]` rows -> `[n, dim + 1]` unit rows [v / M, sqrt(1 - |v|² / M²)], M the longest row (see ModelMatrix.indexVectors). */
export function augmentToUnitRows(vectors: Float32Array, dim: number): Float32Array {
  const n = vectors.length / dim;
  const norms = new Float64Array(n);
  let longest = 0;
  for (let r = 0; r < n; r++) {
    let sq = 0;
    for (let j = 0; j < dim; j++) sq += vectors[r * dim + j]! * vectors[r * dim + j]!;
    norms[r] = sq;
    longest = Math.max(longest, sq);
  }
  const out = new Float32Array(n * (dim + 1));
  if (longest === 0) return out;
  const scale = 1 / Math.sqrt(longest);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < dim; j++) out[r * (dim + 1) + j] = vectors[r * dim + j]! * scale;
    out[r * (dim + 1) + dim] = Math.sqrt(Math.max(0, 1 - norms[r]! / longest));
  }
  return out;
}

/** L2-normalises each row in place (zero rows stay zero). Deterministic, so every process gets the same bits. */
export function normaliseRows(vectors: Float32Array, dim: number): void {
  for (let offset = 0; offset < vectors.length; offset += dim) {
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += vectors[offset + j]! * vectors[offset + j]!;
    if (norm === 0) continue;
    const scale = 1 / Math.sqrt(norm);
    for (let j = 0; j < dim; j++) vectors[offset + j] *= scale;
  }
}
