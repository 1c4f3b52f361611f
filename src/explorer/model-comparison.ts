import type { SearchReport } from '../transfer/transfer-report.js';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Db } from '../db/database.js';
import { GraftError, isGraftError } from '../errors.js';
import { loadIdArtifact, loadWeights } from '../registry/artifact-repository.js';
import type { ModelRecord } from '../registry/model-repository.js';
import { exactTopK } from '../retrieval/exact.index.js';
import { findEmbeddingMatrix, type EmbeddingMatrix } from './embedding-matrix.js';
import { layerChanges, type LayerChange, type RowIds } from './layer-change.js';
import { sampleRows } from './sample-rows.js';

export interface CompareOptions {
  /** Neighbours per entity for the overlap. Default 10, at most 100. */
  k?: number;
  /** Shared entities used as queries for the overlap (seeded sample). Default 1,000, at most 20,000. */
  sample?: number;
}

/** The transfer report stored with a transferred model, as the comparison shows it. */
export interface TransferReportSummary {
  /** The transferred model the report belongs to. */
  modelId: string;
  strategy: string | null;
  /** TRANSFER, or TARGET_ONLY when AUTO chose no transfer (the report's model is the tuned target-only one). */
  outcome: 'TRANSFER' | 'TARGET_ONLY';
  negativeTransfer: boolean;
  /** Per metric: gain over the target-only baseline with its paired bootstrap 95% interval. */
  gain: Record<string, { value: number; ci95: [number, number]; relative: number | null }>;
  /** Per metric: gain over popularity on the same users and negatives (empty for reports written before it existed). */
  gainOverPopularity: Record<string, { value: number; ci95: [number, number]; relative: number | null }>;
  /** The guard's two comparisons (null for reports written before the popularity check). */
  guard: { beatsBaseline: boolean; beatsPopularity: boolean } | null;
  /**
   * The JOINT reference: the same-budget model trained from scratch on source + target events,
   * its metrics and the transfer's gain over it (null for JOINT itself, when switched off, and in older reports).
   */
  joint: { strategy: string; metrics: Record<string, number>; gain: Record<string, { value: number; ci95: [number, number]; relative: number | null }> } | null;
  /** Users in both domains, target-only users, users without target history. */
  overlap: Record<string, number>;
  /** Per stratum of training interactions: transferred, baseline and popularity metrics. */
  strata: Array<{ label: string; users: number; transferred: Record<string, number>; baseline: Record<string, number>; popularity: Record<string, number> }>;
  /** AUTO's search (every trial), when the strategy was chosen by it. */
  search: SearchReport | null;
}

export interface ModelComparison {
  a: string;
  b: string;
  k: number;
  /**
   * Mean over sampled shared entities of |top-K in a ∩ top-K in b| / K, both searched among
   * the shared entities only (cosine); null with fewer than 2 shared entities.
   */
  neighbourOverlap: { users: number | null; items: number | null };
  /** Mean cosine between a's and b's embedding of the same user, over all shared users; null when none (or widths differ). */
  meanUserCosine: number | null;
  sharedUsers: number;
  sharedItems: number;
  layers: LayerChange[];
  /** The transfer report of whichever model was transferred from the other, else b's, else a's; null when neither has one. */
  transferReport: TransferReportSummary | null;
}

export const DEFAULT_COMPARE_K = 10;
export const DEFAULT_COMPARE_SAMPLE = 1000;

/**
 * Compares two models for the explorer: do their embeddings agree on who is similar to whom
 * (neighbour overlap@K over shared users and items), how close are their vectors for the same
 * user, how far each weight moved (fine-tuning from a source model: frozen layers show 0), and
 * the stored transfer report. Entities are shared when both models have an embedding for the
 * same database id (users are global; an item id is one external id in one domain).
 *
 * @example
 * const report = await compareModels(db, sourceModelId, transferredModelId, { k: 10 });
 * report.layers.filter((l) => l.relativeChange === 0); // the frozen ones
 */
export async function compareModels(db: Db, a: string, b: string, options: CompareOptions = {}): Promise<ModelComparison> {
  const k = options.k ?? DEFAULT_COMPARE_K;
  if (!Number.isInteger(k) || k < 1 || k > 100) throw new GraftError('BAD_INPUT', `k = ${k} is out of range; compare 1 to 100 neighbours (default ${DEFAULT_COMPARE_K})`);
  const sample = options.sample ?? DEFAULT_COMPARE_SAMPLE;
  if (!Number.isInteger(sample) || sample < 1 || sample > 20_000) {
    throw new GraftError('BAD_INPUT', `sample = ${sample} is out of range; use 1 to 20000 query entities (default ${DEFAULT_COMPARE_SAMPLE})`);
  }
  const [usersA, usersB] = [await findEmbeddingMatrix(db, a, 'USER'), await findEmbeddingMatrix(db, b, 'USER')];
  const [itemsA, itemsB] = [await findEmbeddingMatrix(db, a, 'ITEM'), await findEmbeddingMatrix(db, b, 'ITEM')];
  const modelA = usersA?.model ?? itemsA?.model;
  const modelB = usersB?.model ?? itemsB?.model;
  if (!modelA || !modelB) {
    const missing = modelA ? b : a;
    throw new GraftError('NOT_FOUND', `model "${missing}" has no embeddings; only a model that finished training can be compared: pick a READY or ACTIVE model from \`graft models\``);
  }

  const userPairs = sharedRows(usersA, usersB);
  const itemPairs = sharedRows(itemsA, itemsB);
  const [weightsA, weightsB, idsA, idsB] = [await loadWeights(db, a), await loadWeights(db, b), await rowIds(db, a), await rowIds(db, b)];
  return {
    a,
    b,
    k,
    neighbourOverlap: {
      users: await neighbourOverlap(usersA, usersB, userPairs, k, sample),
      items: await neighbourOverlap(itemsA, itemsB, itemPairs, k, sample),
    },
    meanUserCosine: meanCosine(usersA, usersB, userPairs),
    sharedUsers: userPairs.a.length,
    sharedItems: itemPairs.a.length,
    layers: layerChanges(weightsA, weightsB, idsA, idsB),
    transferReport: pickTransferReport(modelA, modelB),
  };
}

async function rowIds(db: Db, modelId: string): Promise<RowIds> {
  const optional = (name: string) => loadIdArtifact(db, modelId, name).catch((error) => (isGraftError(error, 'NOT_FOUND') ? null : Promise.reject(error)));
  return { users: await optional('vocab:users'), items: await optional('vocab:items') };
}

/** Rows of the same database ids in both matrices (rows are sorted by id, so a merge). */
function sharedRows(x: EmbeddingMatrix | null, y: EmbeddingMatrix | null): { a: Int32Array; b: Int32Array } {
  if (!x || !y) return { a: new Int32Array(0), b: new Int32Array(0) };
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0, j = 0; i < x.size && j < y.size; ) {
    if (x.dbIds[i] === y.dbIds[j]) {
      a.push(i++);
      b.push(j++);
    } else if (x.dbIds[i] < y.dbIds[j]) i++;
    else j++;
  }
  return { a: Int32Array.from(a), b: Int32Array.from(b) };
}

/** Unit rows `rows` of `m`, stacked: [rows.length, m.dim]. */
function subMatrix(m: EmbeddingMatrix, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * m.dim);
  rows.forEach((row, i) => out.set(m.unit.subarray(row * m.dim, (row + 1) * m.dim), i * m.dim));
  return out;
}

async function neighbourOverlap(x: EmbeddingMatrix | null, y: EmbeddingMatrix | null, pairs: { a: Int32Array; b: Int32Array }, k: number, sample: number): Promise<number | null> {
  const shared = pairs.a.length;
  if (!x || !y || shared < 2) return null;
  const kk = Math.min(k, shared - 1);
  const subA = subMatrix(x, pairs.a);
  const subB = subMatrix(y, pairs.b);
  const queries = sampleRows(shared, sample, 1);
  let total = 0;
  for (let qi = 0; qi < queries.length; qi++) {
    if (qi > 0 && qi % 64 === 0) await yieldToEventLoop();
    const q = queries[qi];
    const notSelf = (row: number) => row === q;
    const inA = exactTopK(subA, x.dim, subA.subarray(q * x.dim, (q + 1) * x.dim), kk, notSelf).ids;
    const inB = new Set(exactTopK(subB, y.dim, subB.subarray(q * y.dim, (q + 1) * y.dim), kk, notSelf).ids);
    let common = 0;
    for (const row of inA) if (inB.has(row)) common++;
    total += common / kk;
  }
  return total / queries.length;
}

function meanCosine(x: EmbeddingMatrix | null, y: EmbeddingMatrix | null, pairs: { a: Int32Array; b: Int32Array }): number | null {
  if (!x || !y || pairs.a.length === 0 || x.dim !== y.dim) return null;
  const dim = x.dim;
  let sum = 0;
  for (let p = 0; p < pairs.a.length; p++) {
    const ra = pairs.a[p] * dim;
    const rb = pairs.b[p] * dim;
    let dot = 0;
    for (let j = 0; j < dim; j++) dot += x.unit[ra + j] * y.unit[rb + j];
    sum += dot;
  }
  return sum / pairs.a.length;
}

/** The report of the model transferred from the other, else b's, else a's. */
function pickTransferReport(a: ModelRecord, b: ModelRecord): TransferReportSummary | null {
  const order = a.parentModelId === b.id && b.parentModelId !== a.id ? [a, b] : [b, a];
  const model = order.find((m) => m.transferReport);
  if (!model?.transferReport) return null;
  const report = model.transferReport as Partial<Omit<TransferReportSummary, 'modelId'>>;
  return {
    modelId: model.id,
    strategy: model.strategy,
    outcome: report.outcome ?? 'TRANSFER',
    negativeTransfer: model.negativeTransfer,
    gain: report.gain ?? {},
    gainOverPopularity: report.gainOverPopularity ?? {},
    guard: report.guard ?? null,
    joint: report.joint ?? null,
    overlap: report.overlap ?? {},
    strata: report.strata ?? [],
    search: report.search ?? null,
  };
}
