import type { Db } from '../db/database.js';
import { loadBlob, saveBlob } from '../registry/artifact-repository.js';
import type { EntityKind } from './entity-kind.js';

export type ProjectionMethod = 'PCA' | 'UMAP';

/** The expensive part of a projection: which entities were sampled and where they landed. */
export interface StoredProjection {
  /** [n] database ids of the sampled users or items. */
  dbIds: Int32Array;
  /** [n, 2] row-major. */
  coords: Float32Array;
  explainedVariance?: [number, number];
}

const FORMAT_VERSION = 1;
const HEADER_VALUES = 4; // version, n, explained variance x2 (NaN for UMAP)

/** Artifact name of a projection; colours are not part of it (they are cheap and follow the data). */
export function projectionArtifactName(kind: EntityKind, method: ProjectionMethod, sample: number, seed: number): string {
  return `projection:${kind}:${method}:${sample}:${seed}`;
}

/**
 * Stores a projection with the model (kind 'meta') so other processes reuse it instead of
 * running UMAP again: a model's embeddings never change, so neither does its projection.
 * Layout: float64 header [version, n, ev0, ev1], int32 ids [n], float32 coords [n, 2].
 */
export async function saveProjection(db: Db, modelId: string, name: string, projection: StoredProjection): Promise<void> {
  const n = projection.dbIds.length;
  const bytes = new Uint8Array(HEADER_VALUES * 8 + n * 4 + n * 8);
  const header = new Float64Array(bytes.buffer, 0, HEADER_VALUES);
  header.set([FORMAT_VERSION, n, projection.explainedVariance?.[0] ?? Number.NaN, projection.explainedVariance?.[1] ?? Number.NaN]);
  new Int32Array(bytes.buffer, HEADER_VALUES * 8, n).set(projection.dbIds);
  new Float32Array(bytes.buffer, HEADER_VALUES * 8 + n * 4, 2 * n).set(projection.coords);
  await saveBlob(db, modelId, name, 'meta', bytes);
}

/** A stored projection, or null when there is none or it was written in another format. */
export async function loadProjection(db: Db, modelId: string, name: string): Promise<StoredProjection | null> {
  const stored = await loadBlob(db, modelId, name);
  if (!stored || stored.byteLength < HEADER_VALUES * 8) return null;
  const bytes = stored.slice(); // aligned copy that owns its buffer
  const [version, n, ev0, ev1] = new Float64Array(bytes.buffer, 0, HEADER_VALUES);
  if (version !== FORMAT_VERSION || bytes.byteLength !== HEADER_VALUES * 8 + n * 12) return null;
  return {
    dbIds: new Int32Array(bytes.buffer, HEADER_VALUES * 8, n),
    coords: new Float32Array(bytes.buffer, HEADER_VALUES * 8 + n * 4, 2 * n),
    explainedVariance: Number.isNaN(ev0) ? undefined : [ev0, ev1],
  };
}
