import { GraftError } from '../errors.js';
import type { CandidateIndex } from './candidate-index.js';
import { loadExactIndex } from './exact.index.js';
import { loadHnswIndex } from './hnsw.index.js';
import { readIndexHeader } from './index-bytes.js';

/**
 * Loads any serialised candidate index, whichever kind `toBytes()` wrote. An HNSW index also
 * needs the item vectors it was built from (the model version's embeddings).
 *
 * @example
 * const index = loadCandidateIndex(artifactBytes, itemVectors);
 */
export function loadCandidateIndex(bytes: Uint8Array, vectors?: Float32Array): CandidateIndex {
  const header = readIndexHeader(bytes);
  if (header.kind === 'exact') return loadExactIndex(bytes);
  if (vectors === undefined) {
    throw new GraftError('BAD_INPUT', `the bytes hold an HNSW index of ${header.size} x ${header.dim} vectors; pass those item vectors as the second argument`);
  }
  return loadHnswIndex(bytes, vectors, header.dim);
}
