import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import usearch from 'usearch';
import { GraftError } from '../errors.js';
import { createRng, shuffleInPlace } from '../dataset/random.js';
import { checkQuery, checkVectors, emptyResult, type CandidateIndex, type SearchOptions, type SearchResult } from './candidate-index.js';
import { exactTopK, rowScore } from './exact.index.js';
import { allocateIndexBytes, HEADER_BYTES, readIndexHeader, vectorFingerprint } from './index-bytes.js';
import { buildGraphInWorker } from './hnsw-build.worker.js';
import { TopKHeap } from '../dataset/top-k-heap.js';

export interface HnswOptions {
  /** Graph degree M (edges per node and layer). More: better recall, bigger and slower to build. Default 16. */
  connectivity?: number;
  /** Candidate list size while inserting (efConstruction). Default 128. */
  expansionAdd?: number;
  /**
   * Candidate list size while searching (ef); a search for more rows uses k instead. Default:
   * 128 up to 200k rows, 512 above. Measured recall@20 (bench/retrieval.ts, clustered dim 64):
   * 100k rows ef 64 0.94, ef 128 0.98; 1M rows ef 128 0.89, ef 256 0.95, ef 512 0.98 (p99 3 ms).
   */
  expansionSearch?: number;
  /**
   * Inserts rows in an order shuffled with this seed instead of row order: rows sorted by
   * category (as catalogues often are) otherwise build a worse graph. usearch exposes no
   * seed of its own, so the graph is reproducible only with `threads: 1`.
   */
  seed?: number;
  /** Threads for the build; 0 = all cores (default). */
  threads?: number;
  /**
   * With `exclude`, when the over-fetch needed to find k allowed rows exceeds this many rows,
   * the search scans exactly instead. An HNSW search costs about 1 us per row fetched, a scan
   * about 45 ns per row (100k x 64, measured), so they cross near size / 22. Default: max(1,000, size / 24).
   */
  exactFallbackAbove?: number;
}

const DEFAULTS = { connectivity: 16, expansionAdd: 128 };

/** Bigger graphs need a wider search for the same recall (see `HnswOptions.expansionSearch`). */
function defaultExpansionSearch(size: number): number {
  return size <= 200_000 ? 128 : 512;
}

type NativeIndex = InstanceType<typeof usearch.Index>;

interface HnswConfig {
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
}

function newNativeIndex(dim: number, config: HnswConfig): NativeIndex {
  return new usearch.Index({
    dimensions: dim,
    metric: usearch.MetricKind.IP,
    quantization: usearch.ScalarKind.F32,
    connectivity: config.connectivity,
    expansion_add: config.expansionAdd,
    expansion_search: config.expansionSearch,
    multi: false,
  });
}

/** usearch saves and loads only through files: run `work` with a path in a fresh temp folder, then remove it. */
function withTempFile<T>(work: (path: string) => T): T {
  const folder = mkdtempSync(join(tmpdir(), 'graft-hnsw-'));
  try {
    return work(join(folder, 'index.usearch'));
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

class HnswIndex implements CandidateIndex {
  readonly kind = 'hnsw' as const;
  readonly size: number;
  private readonly fallbackAbove: number;

  constructor(
    private readonly native: NativeIndex,
    /** The same rows as inside `native`: exact rescoring and the exact fallback read them. */
    private readonly vectors: Float32Array,
    readonly dim: number,
    private readonly config: HnswConfig,
    exactFallbackAbove: number | undefined,
  ) {
    this.size = vectors.length / dim;
    this.fallbackAbove = exactFallbackAbove ?? Math.max(1_000, Math.floor(this.size / 24));
  }

  search(query: Float32Array, k: number, options?: SearchOptions): SearchResult {
    checkQuery(this, query, k);
    const want = Math.min(k, this.size);
    if (want === 0) return emptyResult();
    const exclude = options?.exclude;
    // Over-fetch so that excluded rows can be dropped; without exclusions fetch exactly k.
    let fetch = exclude === undefined ? want : Math.min(this.size, 2 * want + 16);
    for (;;) {
      if (fetch > this.fallbackAbove && fetch < this.size) break;
      const found = this.native.search(query, fetch, 1);
      const top = new TopKHeap(want);
      for (let i = 0; i < found.keys.length; i++) {
        const row = Number(found.keys[i]);
        if (exclude !== undefined && exclude(row)) continue;
        // Rescore in JS: the same arithmetic as the exact index, so both rank ties alike.
        top.offer(row, rowScore(this.vectors, this.dim, row, query));
      }
      if (top.full || found.keys.length >= this.size) return top.toResult();
      // The graph returned fewer rows than asked (it could not reach more): only a scan can refill.
      if (found.keys.length < fetch) break;
      // Refill: estimate the share of allowed rows from this fetch and ask for enough, with margin.
      const allowedShare = Math.max(top.size, 1) / found.keys.length;
      fetch = Math.min(this.size, Math.max(2 * fetch, Math.ceil((1.5 * want) / allowedShare)));
    }
    return exactTopK(this.vectors, this.dim, query, want, exclude);
  }

  toBytes(): Uint8Array {
    return withTempFile((path) => {
      this.native.save(path);
      const payload = readFileSync(path);
      const { connectivity, expansionAdd, expansionSearch } = this.config;
      const params: [number, number, number, number] = [connectivity, expansionAdd, expansionSearch, vectorFingerprint(this.vectors)];
      const bytes = allocateIndexBytes({ kind: 'hnsw', dim: this.dim, size: this.size, params }, payload.length);
      bytes.set(payload, HEADER_BYTES);
      return bytes;
    });
  }
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) {
    throw new GraftError('BAD_INPUT', `HNSW ${name} = ${value} is not a positive integer; leave it out for the default ${fallback}`);
  }
  return value;
}

function resolveConfig(options: HnswOptions, size: number): HnswConfig {
  return {
    connectivity: positiveInteger('connectivity', options.connectivity, DEFAULTS.connectivity),
    expansionAdd: positiveInteger('expansionAdd', options.expansionAdd, DEFAULTS.expansionAdd),
    expansionSearch: positiveInteger('expansionSearch', options.expansionSearch, defaultExpansionSearch(size)),
  };
}

/** Keys (rows) and their vectors in insertion order: row order, or shuffled by `seed` (then `vectors` is a fresh copy). */
function insertionOrder(vectors: Float32Array, dim: number, size: number, seed: number | undefined): { keys: BigUint64Array; ordered: Float32Array } {
  const keys = new BigUint64Array(size);
  if (seed === undefined) {
    for (let row = 0; row < size; row++) keys[row] = BigInt(row);
    return { keys, ordered: vectors };
  }
  const order = shuffleInPlace(Int32Array.from({ length: size }, (_, i) => i), createRng(seed));
  const ordered = new Float32Array(vectors.length);
  for (let i = 0; i < size; i++) {
    keys[i] = BigInt(order[i]);
    ordered.set(vectors.subarray(order[i] * dim, (order[i] + 1) * dim), i * dim);
  }
  return { keys, ordered };
}

/**
 * Approximate top-k through an HNSW graph (usearch, inner-product metric, f32). Builds the
 * graph now, blocking the thread (6-8 minutes for 1M x 64 rows on 2 busy cores with the
 * defaults: see bench/retrieval.ts); a server should use `buildHnswIndex` instead. Keeps a
 * reference to `vectors` ([n, dim] row-major) for exact rescoring and the exact fallback:
 * do not modify them afterwards.
 *
 * @example
 * const index = createHnswIndex(itemVectors, 64, { connectivity: 16, expansionAdd: 128 });
 * const { ids } = index.search(userVector, 20, { exclude: (row) => seen.has(row) });
 */
export function createHnswIndex(vectors: Float32Array, dim: number, options: HnswOptions = {}): CandidateIndex {
  const size = checkVectors(vectors, dim);
  const config = resolveConfig(options, size);
  const native = newNativeIndex(dim, config);
  if (size > 0) {
    const { keys, ordered } = insertionOrder(vectors, dim, size, options.seed);
    // One add call for all rows: usearch then reserves capacity and per-thread state for
    // `threads` before inserting concurrently (growing it in later calls with another thread
    // count is what misbehaves).
    native.add(keys, ordered, options.threads ?? 0);
  }
  return new HnswIndex(native, vectors, dim, config, options.exactFallbackAbove);
}

/**
 * `createHnswIndex` on a worker thread: the caller's event loop keeps running during the
 * build (model activation in a serving process). The vectors are copied to the worker once
 * (moved when `seed` shuffles them into a copy anyway); the graph comes back through a temp file.
 *
 * @example
 * const index = await buildHnswIndex(itemVectors, 64, { expansionAdd: 128 });
 */
export async function buildHnswIndex(vectors: Float32Array, dim: number, options: HnswOptions = {}): Promise<CandidateIndex> {
  const size = checkVectors(vectors, dim);
  const config = resolveConfig(options, size);
  const { keys, ordered } = insertionOrder(vectors, dim, size, options.seed);
  const transfer: ArrayBuffer[] = [keys.buffer as ArrayBuffer];
  if (ordered !== vectors && ordered.byteOffset === 0) transfer.push(ordered.buffer as ArrayBuffer);
  const folder = mkdtempSync(join(tmpdir(), 'graft-hnsw-'));
  try {
    const path = join(folder, 'index.usearch');
    await buildGraphInWorker({ dim, ...config, keys, vectors: ordered, threads: options.threads ?? 0, path }, transfer);
    const native = newNativeIndex(dim, config);
    native.load(path);
    return new HnswIndex(native, vectors, dim, config, options.exactFallbackAbove);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/**
 * Rebuilds an HNSW index from `toBytes()` output without rebuilding the graph. `vectors` must
 * be the rows the index was built from (checked against a sampled fingerprint). `expansionSearch`
 * is not part of the graph, so it may be changed here (trade recall for latency without a rebuild).
 */
export function loadHnswIndex(
  bytes: Uint8Array,
  vectors: Float32Array,
  dim: number,
  options: Pick<HnswOptions, 'exactFallbackAbove' | 'expansionSearch'> = {},
): CandidateIndex {
  const header = readIndexHeader(bytes, 'hnsw');
  const size = checkVectors(vectors, dim);
  const [connectivity, expansionAdd, expansionSearch, fingerprint] = header.params;
  if (header.dim !== dim || header.size !== size || vectorFingerprint(vectors) !== fingerprint) {
    throw new GraftError(
      'BAD_INPUT',
      `HNSW index bytes were built from ${header.size} x ${header.dim} vectors but were given other vectors (${size} x ${dim}${header.dim === dim && header.size === size ? ', different values' : ''}); pass the embeddings of the model version the index was saved with`,
    );
  }
  const config = { connectivity, expansionAdd, expansionSearch: positiveInteger('expansionSearch', options.expansionSearch, expansionSearch) };
  const native = newNativeIndex(dim, config);
  withTempFile((path) => {
    writeFileSync(path, bytes.subarray(HEADER_BYTES));
    native.load(path);
  });
  if (native.size() !== size) {
    throw new GraftError('BAD_INPUT', `HNSW index bytes hold ${native.size()} vectors, expected ${size}; the bytes are damaged, rebuild the index with createHnswIndex`);
  }
  return new HnswIndex(native, vectors, dim, config, options.exactFallbackAbove);
}
