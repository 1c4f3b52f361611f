import { Worker } from 'node:worker_threads';
import { GraftError } from '../errors.js';
import { alsKernel, type AlsHalf, type AlsKernel, type AlsScratch, type WasmModule } from './als-kernel.js';
import { alsSimdModule } from './als-simd.js';

/** Rows per chunk: thread t solves chunks t, t + threads, ... (the calling thread looks at the signal between its chunks). */
const CHUNK_ROWS = 128;
/** Rows per batched conjugate-gradient block (their vectors stay in cache). */
export const BLOCK_ROWS = 64;
/** Tables larger than this (1 GiB of float32) are solved against by the JS kernel: the SIMD kernel copies the table into its 32-bit memory. */
const MAX_SIMD_TABLE_FLOATS = 2 ** 28;

// Plain CommonJS so the same worker runs from the compiled package and under vitest (no TS
// loader in workers): the kernel is its own source text, so every thread runs the same code.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { halves, control, chunk, block, thread, threads, simd } = workerData;
const kernel = (${alsKernel.toString()})(simd);
const scratch = kernel.createScratch(halves[0].f, block);
parentPort.on('message', (m) => {
  const h = Object.assign({}, halves[m.half], { grams: m.grams });
  let answer;
  try { answer = kernel.work(h, control, chunk, thread, threads, scratch); } catch (e) { answer = { error: String((e && e.stack) || e), rows: 0 }; Atomics.store(control, 0, 1); }
  parentPort.postMessage(answer);
});
`;

/** The arrays of one half without its Gramians (those change every half). */
export type AlsHalfArrays = Omit<AlsHalf, 'grams'>;

/**
 * The threads that solve ALS half-sweeps: the calling thread (thread 0) and `threads - 1`
 * workers, each solving its interleaved chunks of rows (`AlsKernel.work`). The halves' arrays
 * must live in `SharedArrayBuffer`s when threads > 1 (`sharedCopy`). Close it when done.
 *
 * @example
 * const pool = AlsThreads.open([half], 2);
 * try { await pool.solve(0, domainGramians(y, f, domains)); } finally { await pool.close(); }
 */
export class AlsThreads {
  private readonly kernel: AlsKernel;
  private readonly scratch: AlsScratch;
  /** Rows each thread solved in the last half (thread 0 = this one). */
  rowsByThread: number[] = [];

  private constructor(
    private readonly halves: AlsHalfArrays[],
    private readonly workers: Worker[],
    /** [0]: abort flag, seen by every thread between chunks. */
    private readonly control: Int32Array,
    /** The SIMD kernel every thread runs its conjugate-gradient blocks on; null = the JS kernel. */
    private readonly simdModule: WasmModule | null,
  ) {
    this.kernel = alsKernel(simdModule);
    this.scratch = this.kernel.createScratch(halves[0]!.f, BLOCK_ROWS);
  }

  /**
   * `simd` (default true): conjugate-gradient blocks run on the float32 WebAssembly SIMD
   * kernel when the runtime supports it (`alsSimdSupported`) and the other side's table is
   * at most 1 GiB; false: the float64 JS kernel.
   */
  static open(halves: AlsHalfArrays[], threads: number, options: { simd?: boolean } = {}): AlsThreads {
    if (!Number.isInteger(threads) || threads < 1) throw new GraftError('BAD_INPUT', `threads = ${threads}; use an integer >= 1 (e.g. 2)`);
    // Each thread's kernel memory holds a copy of the other side's table (wasm32: at most 4 GiB in all).
    const largest = Math.max(...halves.map((h) => h.y.length));
    const simd = options.simd === false || largest > MAX_SIMD_TABLE_FLOATS ? null : alsSimdModule();
    const control = new Int32Array(threads > 1 ? new SharedArrayBuffer(4) : new ArrayBuffer(4));
    const workers: Worker[] = [];
    for (let thread = 1; thread < threads; thread++) {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { halves, control, chunk: CHUNK_ROWS, block: BLOCK_ROWS, thread, threads, simd } });
      worker.unref();
      workers.push(worker);
    }
    return new AlsThreads(halves, workers, control, simd);
  }

  /** Which kernel solves conjugate-gradient blocks: 'simd' (WebAssembly, float32) or 'js' (float64). */
  get kernelName(): 'simd' | 'js' {
    return this.simdModule ? 'simd' : 'js';
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  /**
   * Solves every row of half `half` (see `AlsHalf`) against `grams` (`domainGramians`); false
   * when `signal` aborted it part-way (rows solved so far keep their new value).
   */
  async solve(half: number, grams: Float64Array, signal?: AbortSignal): Promise<boolean> {
    const h: AlsHalf = { ...this.halves[half]!, grams };
    const rows = h.offsets.length - 1;
    const { control, kernel, scratch } = this;
    const threads = this.threads;
    control[0] = 0;
    const answers = this.workers.map(
      (worker) =>
        new Promise<{ error: string | null; rows: number }>((resolve, reject) => {
          const onMessage = (m: { error: string | null; rows: number }) => {
            worker.off('error', onError);
            resolve(m);
          };
          const onError = (error: Error) => {
            worker.off('message', onMessage);
            reject(error);
          };
          worker.once('message', onMessage);
          worker.once('error', onError);
          worker.postMessage({ half, grams });
        }),
    );
    let error: string | null = null;
    let aborted = false;
    let solved = 0;
    for (let start = 0; start < rows; start += threads * CHUNK_ROWS) {
      if (signal?.aborted) {
        aborted = true;
        Atomics.store(control, 0, 1);
      }
      if (Atomics.load(control, 0) !== 0) break;
      const end = Math.min(rows, start + CHUNK_ROWS);
      error = kernel.solveRows(h, start, end, scratch);
      if (error) {
        Atomics.store(control, 0, 1);
        break;
      }
      solved += end - start;
      // Let the event loop (the abort signal, a server) in between chunks.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const done = await Promise.all(answers);
    this.rowsByThread = [solved, ...done.map((d) => d.rows)];
    for (const d of done) error ??= d.error;
    if (error) throw new GraftError('BAD_INPUT', error);
    return !aborted && !signal?.aborted;
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
