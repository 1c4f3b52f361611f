import { Worker } from 'node:worker_threads';
import { GraftError } from '../errors.js';
import { alsKernel, type AlsHalf, type AlsScratch } from './als-kernel.js';

/** Rows per chunk taken from the shared counter (a chunk is also how often the main thread looks at the signal). */
const CHUNK_ROWS = 256;
/** Rows per batched conjugate-gradient block (their vectors stay in cache). */
export const BLOCK_ROWS = 64;

// Plain CommonJS so the same worker runs from the compiled package and under vitest (no TS
// loader in workers): the kernel is its own source text, so every thread runs the same code.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const kernel = (${alsKernel.toString()})();
const { halves, control, chunk, block } = workerData;
const scratch = kernel.createScratch(halves[0].f, block);
parentPort.on('message', (m) => {
  const h = Object.assign({}, halves[m.half], { grams: m.grams });
  let error = null;
  try { error = kernel.work(h, control, chunk, m.rows, scratch); } catch (e) { error = String(e && e.stack || e); Atomics.store(control, 1, 1); }
  parentPort.postMessage({ error });
});
`;

/** The arrays of one half without its Gramians (those change every half). */
export type AlsHalfArrays = Omit<AlsHalf, 'grams'>;

/**
 * The threads that solve ALS half-sweeps: the calling thread and `threads - 1` workers take
 * chunks of rows from a shared counter. The halves' arrays must live in `SharedArrayBuffer`s
 * when threads > 1 (`sharedCopy`). Close it when done.
 */
export class AlsThreads {
  private readonly kernel = alsKernel();
  private readonly scratch: AlsScratch;
  private readonly control: Int32Array;

  private constructor(
    private readonly halves: AlsHalfArrays[],
    private readonly workers: Worker[],
    control: Int32Array,
  ) {
    this.control = control;
    this.scratch = this.kernel.createScratch(halves[0]!.f, BLOCK_ROWS);
  }

  static open(halves: AlsHalfArrays[], threads: number): AlsThreads {
    if (!Number.isInteger(threads) || threads < 1) throw new GraftError('BAD_INPUT', `threads = ${threads}; use an integer >= 1 (e.g. 2)`);
    const control = new Int32Array(threads > 1 ? new SharedArrayBuffer(8) : new ArrayBuffer(8));
    const workers: Worker[] = [];
    for (let t = 1; t < threads; t++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { halves, control, chunk: CHUNK_ROWS, block: BLOCK_ROWS } });
      worker.unref();
      workers.push(worker);
    }
    return new AlsThreads(halves, workers, control);
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  /**
   * Solves every row of half `half` (see `AlsHalf`); false when `signal` aborted it part-way
   * (rows solved so far keep their new value).
   */
  async solve(half: number, grams: Float64Array, signal?: AbortSignal): Promise<boolean> {
    const h: AlsHalf = { ...this.halves[half]!, grams };
    const rows = h.offsets.length - 1;
    const control = this.control;
    control[0] = 0;
    control[1] = 0;
    const done = this.workers.map(
      (worker) =>
        new Promise<string | null>((resolve, reject) => {
          const onMessage = (m: { error: string | null }) => {
            worker.off('error', onError);
            resolve(m.error);
          };
          const onError = (error: Error) => {
            worker.off('message', onMessage);
            reject(error);
          };
          worker.once('message', onMessage);
          worker.once('error', onError);
          worker.postMessage({ half, grams, rows });
        }),
    );
    let error: string | null = null;
    let aborted = false;
    for (;;) {
      if (signal?.aborted) {
        aborted = true;
        Atomics.store(control, 1, 1);
      }
      if (Atomics.load(control, 1) !== 0) break;
      const start = Atomics.add(control, 0, 1) * CHUNK_ROWS;
      if (start >= rows) break;
      error = this.kernel.solveRows(h, start, Math.min(rows, start + CHUNK_ROWS), this.scratch);
      if (error) {
        Atomics.store(control, 1, 1);
        break;
      }
      // Let the event loop (the abort signal, the server) in between chunks.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    for (const e of await Promise.all(done)) error ??= e;
    if (error) throw new GraftError('BAD_INPUT', error);
    return !aborted;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** A copy of `a` in shared memory (the same values, visible to the workers). */
export function sharedCopy<T extends Float32Array | Int32Array | Uint8Array>(a: T): T {
  const Ctor = a.constructor as new (buffer: SharedArrayBuffer) => T;
  const out = new Ctor(new SharedArrayBuffer(Math.max(8, a.byteLength))).subarray(0, a.length) as T;
  out.set(a as never);
  return out;
}
