import type { Db } from '../db/database.js';
import { GraftError } from '../errors.js';
import { loadEmbeddingMatrix, type EmbeddingMatrix } from './embedding-matrix.js';
import { requireEntityKind, type EntityKind } from './entity-kind.js';
import { LruCache } from '../serving/lru-cache.js';
import { pca2 } from './pca.js';
import { COLOR_MODES, pointColors, type ColorBy } from './point-colors.js';
import { loadProjection, projectionArtifactName, saveProjection, type ProjectionMethod, type StoredProjection } from './projection-store.js';
import { sampleRows } from './sample-rows.js';
import { umap2 } from './umap-layout.js';

export const DEFAULT_PROJECTION_SAMPLE = 2000;
export const MAX_PROJECTION_SAMPLE = 20_000;

export interface ProjectionOptions {
  modelId: string;
  kind: EntityKind;
  method: ProjectionMethod;
  /** Points to draw, sampled at random (seeded) from the model's embeddings; 1..20,000, default 2,000. All of them when the model has fewer. */
  sample?: number;
  /** Seeds the sample and UMAP. Default 1. */
  seed?: number;
  /** Default TAG. */
  colorBy?: ColorBy;
  /** Store the layout with the model (default true) so other processes reuse it. */
  persist?: boolean;
}

export interface ProjectionPoint {
  /** External id. */
  id: string;
  x: number;
  y: number;
  /** Item title, else the external id. */
  label: string | null;
  /** Tag, domain name, or popularity bucket ('top 1%', 'top 10%', 'rest'), per `colorBy`. */
  color: string;
}

export interface Projection {
  points: ProjectionPoint[];
  /** PCA only: the variance share of the two axes. */
  explainedVariance?: [number, number];
  method: ProjectionMethod;
  colorBy: ColorBy;
  /** True when the layout was not computed by this call (memory cache or the stored artifact). */
  cached: boolean;
}

const layouts = new LruCache<string, StoredProjection>({ maxEntries: 32, maxWeight: 64 * 2 ** 20, weigh: (p) => p.dbIds.byteLength + p.coords.byteLength });
// About 150 bytes per point object: 200k points is some 30 MB.
const results = new LruCache<string, Projection>({ maxEntries: 16, maxWeight: 200_000, weigh: (p) => p.points.length });
const computing = new Map<string, Promise<{ layout: StoredProjection; cached: boolean }>>();

/**
 * A 2-D map of a model's user or item embeddings for the explorer: a seeded sample laid out
 * by PCA or UMAP (umap-js, cosine), each point labelled and coloured. Deterministic for a
 * seed. The layout is cached in memory and stored as a model artifact, so repeating a
 * projection (here or in another process) costs only the labels and colours.
 *
 * @example
 * const { points, explainedVariance } = await projectEmbeddings(db, { modelId, kind: 'ITEM', method: 'PCA', colorBy: 'POPULARITY' });
 */
export async function projectEmbeddings(db: Db, options: ProjectionOptions): Promise<Projection> {
  const kind = requireEntityKind(options.kind);
  const method = options.method;
  if (method !== 'PCA' && method !== 'UMAP') {
    throw new GraftError('BAD_INPUT', `projection method "${method}" is not PCA or UMAP; use PCA (fast, linear) or UMAP (clusters)`);
  }
  const sample = options.sample ?? DEFAULT_PROJECTION_SAMPLE;
  if (!Number.isInteger(sample) || sample < 1 || sample > MAX_PROJECTION_SAMPLE) {
    throw new GraftError('BAD_INPUT', `sample = ${sample} is out of range; draw 1 to ${MAX_PROJECTION_SAMPLE} points (default ${DEFAULT_PROJECTION_SAMPLE})`);
  }
  const seed = options.seed ?? 1;
  if (!Number.isSafeInteger(seed)) throw new GraftError('BAD_INPUT', `seed = ${seed} is not an integer; pass e.g. seed: 1`);
  const colorBy = options.colorBy ?? 'TAG';
  if (!COLOR_MODES.includes(colorBy)) {
    throw new GraftError('BAD_INPUT', `colorBy "${colorBy}" is not one of ${COLOR_MODES.join(', ')}`);
  }

  const layoutKey = `${options.modelId}:${projectionArtifactName(kind, method, sample, seed)}`;
  const resultKey = `${layoutKey}:${colorBy}`;
  const done = results.get(resultKey);
  if (done) return { ...done, cached: true };

  const matrix = await loadEmbeddingMatrix(db, options.modelId, kind);
  let job = computing.get(layoutKey);
  if (!job) {
    job = layoutFor(db, matrix, method, sample, seed, options.persist ?? true).finally(() => computing.delete(layoutKey));
    computing.set(layoutKey, job);
  }
  const { layout, cached } = await job;
  const rows = Int32Array.from(layout.dbIds, (id) => matrix.rowByDbId.get(id)!);
  const colors = await pointColors(db, matrix, rows, colorBy);
  const projection: Projection = {
    points: Array.from(rows, (row, i) => ({
      id: matrix.externalIds[row],
      x: layout.coords[2 * i],
      y: layout.coords[2 * i + 1],
      label: matrix.titles[row] ?? matrix.externalIds[row],
      color: colors[i],
    })),
    ...(layout.explainedVariance ? { explainedVariance: layout.explainedVariance } : {}),
    method,
    colorBy,
    cached,
  };
  results.set(resultKey, projection);
  return projection;
}

/** Drops the in-memory projections (tests; stored artifacts stay). */
export function clearProjectionCache(): void {
  layouts.clear();
  results.clear();
}

async function layoutFor(db: Db, matrix: EmbeddingMatrix, method: ProjectionMethod, sample: number, seed: number, persist: boolean): Promise<{ layout: StoredProjection; cached: boolean }> {
  const name = projectionArtifactName(matrix.kind, method, sample, seed);
  const key = `${matrix.model.id}:${name}`;
  const inMemory = layouts.get(key);
  if (inMemory) return { layout: inMemory, cached: true };
  const stored = await loadProjection(db, matrix.model.id, name);
  if (stored && stored.dbIds.every((id) => matrix.rowByDbId.has(id))) {
    layouts.set(key, stored);
    return { layout: stored, cached: true };
  }

  const rows = sampleRows(matrix.size, sample, seed);
  const n = rows.length;
  const dim = matrix.dim;
  const picked = new Float32Array(n * dim);
  rows.forEach((row, i) => picked.set(matrix.vectors.subarray(row * dim, (row + 1) * dim), i * dim));
  const layout: StoredProjection = { dbIds: Int32Array.from(rows, (row) => matrix.dbIds[row]), coords: new Float32Array(0) };
  if (method === 'PCA' || n < 4) {
    // UMAP needs a few neighbours per point; 1-3 points are drawn on their PCA axes.
    const { coords, explainedVariance } = pca2(picked, n, dim);
    layout.coords = coords;
    if (method === 'PCA') layout.explainedVariance = explainedVariance;
  } else {
    layout.coords = await umap2(picked, n, dim, { seed });
  }
  layouts.set(key, layout);
  if (persist) await saveProjection(db, matrix.model.id, name, layout);
  return { layout, cached: false };
}
