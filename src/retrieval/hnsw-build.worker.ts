import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { GraftError } from '../errors.js';

export interface GraphBuild {
  dim: number;
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
  /** Row ids, in insertion order. */
  keys: BigUint64Array;
  /** [keys.length, dim], in the order of `keys`. */
  vectors: Float32Array;
  threads: number;
  /** Where the worker saves the graph (usearch's file format). */
  path: string;
}

// Plain CommonJS so the same worker runs from the compiled package and under vitest (no TS loader in workers).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const usearch = require(workerData.usearchPath);
const job = workerData.job;
const index = new usearch.Index({
  dimensions: job.dim, metric: 'ip', quantization: 'f32', connectivity: job.connectivity,
  expansion_add: job.expansionAdd, expansion_search: job.expansionSearch, multi: false,
});
if (job.keys.length > 0) index.add(job.keys, job.vectors, job.threads);
index.save(job.path);
parentPort.postMessage(index.size());
`;

/**
 * Builds an HNSW graph on a worker thread and saves it to `job.path`, so the calling thread
 * (a server answering requests) is not blocked for the minutes a 1M-row build takes.
 * `transfer` lists buffers of `job` the caller gives away (moved, not copied).
 */
export function buildGraphInWorker(job: GraphBuild, transfer: ArrayBuffer[]): Promise<number> {
  const usearchPath = createRequire(import.meta.url).resolve('usearch');
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { usearchPath, job }, transferList: transfer });
    let size: number | undefined;
    worker.once('message', (message: number) => {
      size = message;
    });
    worker.once('error', (error) => {
      reject(new GraftError('INTERNAL', `building the HNSW graph failed in its worker: ${error.message}; build synchronously with createHnswIndex to see the usearch error`, { cause: error }));
    });
    worker.once('exit', (code) => {
      if (size !== undefined) resolve(size);
      else reject(new GraftError('INTERNAL', `the HNSW build worker exited with code ${code} before finishing; check memory (the build needs about 2.5x the vectors' size)`));
    });
  });
}
