import { GraftError } from '../errors.js';

/**
 * Row-sparse optimizers for embedding tables: state lives per row and is read and
 * written only for the rows a step touches, so a step costs O(touched rows x dim)
 * whatever the table size.
 *
 * Lazy Adam bias-corrects with a step count of the whole table (`biasCorrection: 'table'`)
 * or of each row (`'row'`). With the table's count (PyTorch's SparseAdam, TF Addons'
 * LazyAdam) a row first touched at table step 10,000 has m = 0.1 g, v = 0.001 g^2 and
 * correction factors ~1, so its first update is ~3.16 x lr, and a row touched k times
 * moves by about (1 - 0.9^k) / sqrt(0.001 k) x lr per touch (3.2 to 6.5 for k <= 20): rarely
 * seen rows take larger steps than frequent ones. With a per-row count every row moves
 * about lr per touch, as if it were trained alone by dense Adam.
 *
 * 'row' is the default: with 'table' the engine's training loss follows PyTorch's on
 * identical batches, but on real ID-only data the towers memorise sooner and score lower
 * (Amazon Cloth / Phone, target alone: BENCHMARKS.md, issue 18).
 */
export type SparseOptimizerKind = 'adam' | 'adagrad';

/** Whose step count lazy Adam bias-corrects with: the table's (global step) or each row's. */
export type AdamBiasCorrection = 'table' | 'row';

export interface SparseOptimizerOptions {
  /** Adam beta1 (default 0.9). */
  beta1?: number;
  /** Adam beta2 (default 0.999). */
  beta2?: number;
  /** Adam / Adagrad epsilon (default 1e-7, as TF.js). */
  epsilon?: number;
  /** Adagrad initial accumulator (default 0.1, as TF.js). */
  initialAccumulator?: number;
  /** Adam: bias correction by the table's step count or each row's (default 'row'; see the file comment). */
  biasCorrection?: AdamBiasCorrection;
}

/** Per-table optimizer state; grows with the table. */
export interface SparseOptimizer {
  readonly kind: SparseOptimizerKind;
  /** Resizes the state to `rows` rows (new rows start fresh). */
  resize(rows: number): void;
  /** Starts one optimizer step of the table (before its `updateRow` calls): counts the table's step. */
  beginStep(): void;
  /**
   * Applies one update to `row` of `weights` ([rows, dim]) with the gradient in
   * `grad[gradOffset, gradOffset + dim)` and step size `lr`.
   */
  updateRow(weights: Float32Array, row: number, grad: Float32Array, gradOffset: number, lr: number): void;
  /** Forgets all state (e.g. before fine-tuning). */
  reset(): void;
  /** The per-row state arrays by name (`shareArrays` moves them into shared memory for worker threads). */
  stateArrays(): Record<string, Float32Array | Int32Array>;
  /** Takes over another instance's state arrays (same kind, names and sizes): its updates then land in them. */
  adoptArrays(arrays: Record<string, Float32Array | Int32Array>): void;
}

/** A copy of `array` in a `SharedArrayBuffer` (the array itself when it already lives in one). */
export function inSharedMemory<T extends Float32Array | Int32Array | Uint8Array>(array: T): T {
  if (array.buffer instanceof SharedArrayBuffer) return array;
  const Kind = array.constructor as { new (buffer: SharedArrayBuffer): T };
  const shared = new Kind(new SharedArrayBuffer(array.byteLength));
  shared.set(array as never);
  return shared;
}

/** Creates the row-sparse optimizer of the given kind for a table of `rows` x `dim`. */
export function createSparseOptimizer(
  kind: SparseOptimizerKind,
  rows: number,
  dim: number,
  options: SparseOptimizerOptions = {},
): SparseOptimizer {
  switch (kind) {
    case 'adam':
      return new LazyAdam(rows, dim, options);
    case 'adagrad':
      return new SparseAdagrad(rows, dim, options);
    default:
      throw new GraftError('BAD_INPUT', `unknown optimizer "${String(kind)}"; use "adam" or "adagrad"`);
  }
}

/** Adam on touched rows only, bias-corrected with the table's or each row's step count (see file comment). */
export class LazyAdam implements SparseOptimizer {
  readonly kind = 'adam' as const;
  readonly biasCorrection: AdamBiasCorrection;
  private m: Float32Array;
  private v: Float32Array;
  private steps: Int32Array;
  private tableSteps = 0;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;

  constructor(
    rows: number,
    private readonly dim: number,
    options: SparseOptimizerOptions = {},
  ) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-7;
    this.biasCorrection = options.biasCorrection ?? 'row';
    if (this.biasCorrection !== 'row' && this.biasCorrection !== 'table') {
      throw new GraftError('BAD_INPUT', `unknown Adam bias correction "${String(this.biasCorrection)}"; use "table" or "row"`);
    }
    this.m = new Float32Array(rows * dim);
    this.v = new Float32Array(rows * dim);
    this.steps = new Int32Array(rows);
  }

  resize(rows: number): void {
    this.m = resizeFloat(this.m, rows * this.dim);
    this.v = resizeFloat(this.v, rows * this.dim);
    const steps = new Int32Array(rows);
    steps.set(this.steps.subarray(0, Math.min(rows, this.steps.length)));
    this.steps = steps;
  }

  beginStep(): void {
    this.tableSteps++;
  }

  updateRow(weights: Float32Array, row: number, grad: Float32Array, gradOffset: number, lr: number): void {
    const { m, v, beta1, beta2, epsilon, dim } = this;
    const rowSteps = ++this.steps[row];
    // Before any beginStep (a row updated directly) the table count is taken as 1.
    const t = this.biasCorrection === 'table' ? Math.max(this.tableSteps, 1) : rowSteps;
    const c1 = 1 / (1 - Math.pow(beta1, t));
    const c2 = 1 / (1 - Math.pow(beta2, t));
    const a1 = 1 - beta1;
    const a2 = 1 - beta2;
    const base = row * dim;
    for (let k = 0; k < dim; k++) {
      const g = grad[gradOffset + k];
      const mi = (m[base + k] = beta1 * m[base + k] + a1 * g);
      const vi = (v[base + k] = beta2 * v[base + k] + a2 * g * g);
      weights[base + k] -= (lr * (mi * c1)) / (Math.sqrt(vi * c2) + epsilon);
    }
  }

  reset(): void {
    this.m.fill(0);
    this.v.fill(0);
    this.steps.fill(0);
    this.tableSteps = 0;
  }

  stateArrays(): Record<string, Float32Array | Int32Array> {
    return { m: this.m, v: this.v, steps: this.steps };
  }

  adoptArrays(arrays: Record<string, Float32Array | Int32Array>): void {
    this.m = arrays.m as Float32Array;
    this.v = arrays.v as Float32Array;
    this.steps = arrays.steps as Int32Array;
  }
}

/** Adagrad on touched rows only (the accumulator of an untouched row does not change). */
export class SparseAdagrad implements SparseOptimizer {
  readonly kind = 'adagrad' as const;
  private accumulator: Float32Array;
  private readonly epsilon: number;
  private readonly initial: number;

  constructor(
    rows: number,
    private readonly dim: number,
    options: SparseOptimizerOptions = {},
  ) {
    this.epsilon = options.epsilon ?? 1e-7;
    this.initial = options.initialAccumulator ?? 0.1;
    this.accumulator = new Float32Array(rows * dim).fill(this.initial);
  }

  resize(rows: number): void {
    const old = this.accumulator.length;
    this.accumulator = resizeFloat(this.accumulator, rows * this.dim);
    if (this.accumulator.length > old) this.accumulator.fill(this.initial, old);
  }

  beginStep(): void {}

  updateRow(weights: Float32Array, row: number, grad: Float32Array, gradOffset: number, lr: number): void {
    const acc = this.accumulator;
    const base = row * this.dim;
    for (let k = 0; k < this.dim; k++) {
      const g = grad[gradOffset + k];
      const a = (acc[base + k] += g * g);
      weights[base + k] -= (lr * g) / Math.sqrt(a + this.epsilon);
    }
  }

  reset(): void {
    this.accumulator.fill(this.initial);
  }

  stateArrays(): Record<string, Float32Array | Int32Array> {
    return { accumulator: this.accumulator };
  }

  adoptArrays(arrays: Record<string, Float32Array | Int32Array>): void {
    this.accumulator = arrays.accumulator as Float32Array;
  }
}

function resizeFloat(array: Float32Array, length: number): Float32Array {
  if (array.length === length) return array;
  const next = new Float32Array(length);
  next.set(array.subarray(0, Math.min(length, array.length)));
  return next;
}
