/** Candidate retrieval: top-k item rows for a query vector, exact or through HNSW. */
export { emptyResult, type CandidateIndex, type SearchOptions, type SearchResult } from './candidate-index.js';
export { createExactIndex, exactTopK, loadExactIndex } from './exact.index.js';
export { buildHnswIndex, createHnswIndex, loadHnswIndex, type HnswOptions } from './hnsw.index.js';
export { loadCandidateIndex } from './load-candidate-index.js';
export { TopKHeap } from '../dataset/top-k-heap.js';
export { clusteredUnitVectors, type ClusteredVectorsOptions } from './synthetic-vectors.js';
