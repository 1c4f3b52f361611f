import { Worker } from 'node:worker_threads';
import { GraftError } from '../errors.js';
import { alsKernel, type AlsHalf, type AlsKernel, type AlsScratch, type WasmModule } from './als-kernel.js';
import { alsSimdModule } from './als-simd.js';

/** Rows per solve chunk: each thread takes whichever chunk is next (the calling thread looks at the signal between its chunks). */
const CHUNK_ROWS = 128;
/** The calling thread lets its event loop in between solve chunks at least this often (ms). */
const YIELD_MS = 2;
/** Rows per batched conjugate-gradient block (their vectors stay in cache). */
export const BLOCK_ROWS = 64;
/** Tables larger than this (1 GiB of float32) are solved against by the JS kernel: the SIMD kernel copies the table into its 32-bit memory. */
const MAX_SIMD_TABLE_FLOATS = 2 ** 28;

// Plain CommonJS so the same worker runs from the compiled package and under vitest (no TS
// loader in workers): the kernel is its own source text, so every thread runs the same code.
// A worker outlives its pool (`parked`): each pool sends it its arrays first (`setup`), and the
// SIMD module (null: the JS kernel); the worker keeps one kernel of each kind and its scratch.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const makeKernel = ${alsKernel.toString()};
const jsKernel = makeKernel(null);
let simdKernel = null;
const { chunk, block } = workerData;
let halves = null, control = null, partials = null, kernel = jsKernel, scratch = null, f = 0;
parentPort.on('message', (m) => {
  if (m.setup !== undefined) {
    halves = m.setup ? m.setup.halves : null;
    control = m.setup ? m.setup.control : null;
    partials = m.setup ? m.setup.partials : null;
    if (!halves) return;
    const next = m.setup.simd ? (simdKernel = simdKernel || makeKernel(m.setup.simd)) : jsKernel;
    if (halves[0].f !== f || next !== kernel) { f = halves[0].f; kernel = next; scratch = kernel.createScratch(f, block); }
    return;
  }
  const h = halves[m.half];
  let answer;
  try {
    kernel.newStep(scratch);
    if (m.task === 'solve') answer = kernel.work(h, control, chunk, scratch);
    else if (m.task === 'gram') answer = kernel.gramWork(h, control, partials, scratch);
    else answer = kernel.objectiveWork(h, control, partials, scratch);
  } catch (e) { answer = { error: String((e && e.stack) || e), rows: 0 }; Atomics.store(control, 0, 1); }
  parentPort.postMessage(answer);
});
`;

/**
 * Workers of closed pools, idle, for the next pool: already booted, their kernel already
 * compiled and warm (a fresh worker's isolate boots and warms up its own JIT, about 40 ms plus
 * a slow first half-sweep). Unref'd, so they never keep the process alive.
 */
const parked: Worker[] = [];
/** Workers kept parked at most. */
const MAX_PARKED = 16;

function spawnWorker(): Worker {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { chunk: CHUNK_ROWS, block: BLOCK_ROWS } });
  worker.unref();
  worker.on('exit', () => {
    const at = parked.indexOf(worker);
    if (at !== -1) parked.splice(at, 1);
  });
  return worker;
}

/** The arrays of one half without its Gramians (the pool keeps those, `AlsThreads.gramians`). */
export type AlsHalfArrays = Omit<AlsHalf, 'grams'>;

type Answer = { error: string | null; rows: number };

/**
 * The threads that run ALS half-sweeps: the calling thread (thread 0) and `threads - 1`
 * workers. Each step (a half's Gramians, its row solves, the objective) is cut into chunks
 * fixed by the data alone; each thread takes whichever chunk is next (so a worker that starts
 * late or is descheduled holds no one up), and sums land in per-chunk partials added in chunk
 * order, so every result is bit-identical for any thread count. The halves' arrays must live in `SharedArrayBuffer`s when threads > 1
 * (`sharedCopy`). Close it when done: its workers then wait, warm, for the next pool.
 *
 * @example
 * const pool = AlsThreads.open([half], 2);
 * try { await pool.gramians(0); await pool.solve(0); } finally { await pool.close(); }
 */
export class AlsThreads {
  private readonly kernel: AlsKernel;
  private readonly scratch: AlsScratch;
  /** Rows (solves) or chunks (Gramians, objective) each thread took in the last step (thread 0 = this one). */
  rowsByThread: number[] = [];
  /** A step started and not yet answered by every worker (or a worker failed): `close` terminates them. */
  private busy = false;

  private constructor(
    private readonly halves: AlsHalf[],
    private readonly workers: Worker[],
    /** [0]: abort flag, seen by every thread between chunks; [1]: the next chunk to take. */
    private readonly control: Int32Array,
    /** Per-chunk partial sums of the Gramians or the objective (room for the larger of any half). */
    private readonly partials: Float64Array,
    /** The SIMD kernel every thread runs on; null = the JS kernel. */
    private readonly simdModule: WasmModule | null,
  ) {
    this.kernel = alsKernel(simdModule);
    this.scratch = this.kernel.createScratch(halves[0]!.f, BLOCK_ROWS);
  }

  /**
   * `simd` (default true): every thread runs the conjugate-gradient blocks on the float32
   * WebAssembly SIMD kernel, and the Gramian and objective chunks' float64 sums on it
   * (bit-identical to JS), when the runtime supports it (`alsSimdSupported`) and the other
   * side's table is at most 1 GiB; false: the JS kernel throughout.
   */
  static open(halves: AlsHalfArrays[], threads: number, options: { simd?: boolean } = {}): AlsThreads {
    if (!Number.isInteger(threads) || threads < 1) throw new GraftError('BAD_INPUT', `threads = ${threads}; use an integer >= 1 (e.g. 2)`);
    const kernel = alsKernel();
    // Each thread's kernel memory holds a copy of the other side's table (wasm32: at most 4 GiB in all).
    const largest = Math.max(...halves.map((h) => h.y.length));
    const simd = options.simd === false || largest > MAX_SIMD_TABLE_FLOATS ? null : alsSimdModule();
    const shared = threads > 1;
    const float64 = (n: number) => new Float64Array(shared ? new SharedArrayBuffer(Math.max(8, 8 * n)) : new ArrayBuffer(8 * n));
    for (const h of halves) {
      if (h.yDomains.length * h.f !== h.y.length) throw new GraftError('BAD_INPUT', `yDomains has ${h.yDomains.length} rows, y has ${h.y.length / h.f}; pass one domain mask per row of y`);
    }
    const full: AlsHalf[] = halves.map((h) => ({ ...h, grams: float64(4 * h.f * h.f) }));
    const size = Math.max(
      ...full.map((h) => Math.max(Math.ceil(h.yDomains.length / kernel.gramRows) * kernel.gramPartialSize(h.f), 2 * kernel.objectiveChunks(h))),
    );
    const partials = float64(size);
    const control = new Int32Array(shared ? new SharedArrayBuffer(8) : new ArrayBuffer(8));
    const workers: Worker[] = [];
    for (let thread = 1; thread < threads; thread++) {
      const worker = parked.pop() ?? spawnWorker();
      worker.postMessage({ setup: { halves: full, control, partials, simd } });
      workers.push(worker);
    }
    return new AlsThreads(full, workers, control, partials, simd);
  }

  /** Which kernel solves conjugate-gradient blocks: 'simd' (WebAssembly, float32) or 'js' (float64). */
  get kernelName(): 'simd' | 'js' {
    return this.simdModule ? 'simd' : 'js';
  }

  get threads(): number {
    return this.workers.length + 1;
  }

  /** Starts step `task` of half `half` on every worker; resolves with their answers. */
  private start(task: 'solve' | 'gram' | 'objective', half: number): Promise<Answer[]> {
    const { control } = this;
    control[0] = 0;
    control[1] = 0;
    this.busy = true;
    return Promise.all(
      this.workers.map(
        (worker) =>
          new Promise<Answer>((resolve, reject) => {
            const onMessage = (m: Answer) => {
              worker.off('error', onError);
              resolve(m);
            };
            const onError = (error: Error) => {
              worker.off('message', onMessage);
              reject(error);
            };
            worker.once('message', onMessage);
            worker.once('error', onError);
            worker.postMessage({ task, half });
          }),
      ),
    );
  }

  private async finish(answers: Promise<Answer[]>, mine: number, error: string | null): Promise<void> {
    const done = await answers;
    this.busy = false;
    this.rowsByThread = [mine, ...done.map((d) => d.rows)];
    for (const d of done) error ??= d.error;
    if (error) throw new GraftError('BAD_INPUT', error);
  }

  /**
   * The Gramians YᵀY per domain mask of half `half` (its `y` over its `yDomains`, see
   * `domainGramians`), which its row solves and its objective then use; returns them
   * (the pool's array, overwritten by the next call for this half).
   */
  async gramians(half: number): Promise<Float64Array> {
    const h = this.halves[half]!;
    const answers = this.start('gram', half);
    this.kernel.newStep(this.scratch);
    const mine = this.kernel.gramWork(h, this.control, this.partials, this.scratch).rows;
    await this.finish(answers, mine, null);
    this.kernel.reduceGrams(this.partials, Math.ceil(h.yDomains.length / this.kernel.gramRows), h.f, h.grams);
    return h.grams;
  }

  /**
   * Solves every row of half `half` (see `AlsHalf`) against its Gramians (`gramians(half)`
   * first); false when `signal` aborted it part-way (rows solved so far keep their new value).
   */
  async solve(half: number, signal?: AbortSignal): Promise<boolean> {
    const h = this.halves[half]!;
    const rows = h.offsets.length - 1;
    const { control, kernel, scratch } = this;
    const answers = this.start('solve', half);
    kernel.newStep(scratch);
    let error: string | null = null;
    let aborted = false;
    let solved = 0;
    let yielded = performance.now();
    for (let start = Atomics.add(control, 1, 1) * CHUNK_ROWS; start < rows; start = Atomics.add(control, 1, 1) * CHUNK_ROWS) {
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
      // Let the event loop (the abort signal, a server) in between chunks, every few milliseconds.
      if (performance.now() - yielded >= YIELD_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        yielded = performance.now();
      }
    }
    await this.finish(answers, solved, error);
    return !aborted && !signal?.aborted;
  }

  /**
   * The implicit-ALS objective (see `implicitObjective`) with half `half`'s rows as the users
   * and its `y` as the items, against its Gramians (`gramians(half)` first).
   */
  async objective(half: number): Promise<number> {
    const h = this.halves[half]!;
    const answers = this.start('objective', half);
    this.kernel.newStep(this.scratch);
    const mine = this.kernel.objectiveWork(h, this.control, this.partials, this.scratch).rows;
    await this.finish(answers, mine, null);
    return this.kernel.reduceObjective(this.partials, this.kernel.objectiveChunks(h), h.reg);
  }

  /** Parks the workers for the next pool when every step finished; terminates them otherwise. */
  async close(): Promise<void> {
    const ending: Promise<number>[] = [];
    for (const worker of this.workers) {
      if (!this.busy && parked.length < MAX_PARKED) {
        // Drop this pool's arrays: the worker holds nothing while parked.
        worker.postMessage({ setup: null });
        parked.push(worker);
      } else ending.push(worker.terminate());
    }
    await Promise.all(ending);
  }
}

/**
 * Shared buffers that finished fits gave back (`releaseShared`), by byte length: fresh memory
 * costs a page fault per 4 KB on first touch (about 4 ms per MB on the 2-core bench VM, 40 ms
 * for the Sport tables), so the next fit of the same shape reuses them. At most
 * `SPARE_BYTES` are kept.
 */
const spareBuffers = new Map<number, SharedArrayBuffer[]>();
const SPARE_BYTES = 256 * 1024 * 1024;
let spareBytes = 0;

/** A copy of `a` in shared memory (the same values, visible to the workers). */
export function sharedCopy<T extends Float32Array | Int32Array | Uint8Array>(a: T): T {
  const Ctor = a.constructor as new (buffer: SharedArrayBuffer) => T;
  const bytes = Math.max(8, a.byteLength);
  let buffer = spareBuffers.get(bytes)?.pop();
  if (buffer) spareBytes -= bytes;
  else buffer = new SharedArrayBuffer(bytes);
  const out = new Ctor(buffer).subarray(0, a.length) as T;
  out.set(a as never);
  return out;
}

/**
 * Gives the shared buffers of `arrays` (`sharedCopy`s) back for later copies; the caller must
 * not touch them afterwards, nor may any thread (close the pool first).
 */
export function releaseShared(arrays: Iterable<ArrayBufferView>): void {
  const buffers = new Set<SharedArrayBuffer>();
  for (const a of arrays) if (a.buffer instanceof SharedArrayBuffer) buffers.add(a.buffer);
  for (const buffer of buffers) {
    if (spareBytes + buffer.byteLength > SPARE_BYTES) continue;
    const list = spareBuffers.get(buffer.byteLength) ?? [];
    if (list.includes(buffer)) continue;
    list.push(buffer);
    spareBuffers.set(buffer.byteLength, list);
    spareBytes += buffer.byteLength;
  }
}
