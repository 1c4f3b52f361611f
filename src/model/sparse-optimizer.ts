import { GraftError } from '../errors.js';

/**
 * Row-sparse optimizers for embedding tables: state lives per row and is read and
 * written only for the rows a step touches, so a step costs O(touched rows x dim)
 * whatever the table size.
 *
 * Lazy Adam keeps a step count PER ROW and bias-corrects with it (our choice). TF's
 * LazyAdam corrects with the global step instead: a row first touched at global step
 * 10,000 then has m = 0.1 g, v = 0.001 g^2 and correction factors ~1, so its first update
 * is ~3.16 x lr instead of Adam's lr, and a rarely-touched row keeps getting such
 * oversized steps. With a per-row count a row's updates are exactly what dense Adam would
 * do if that row were trained alone: a row touched every step matches dense Adam (tested),
 * and a rare row gets a normal-sized first step.
 */
export type SparseOptimizerKind = 'adam' | 'adagrad';

export interface SparseOptimizerOptions {
  /** Adam beta1 (default 0.9). */
  beta1?: number;
  /** Adam beta2 (default 0.999). */
  beta2?: number;
  /** Adam / Adagrad epsilon (default 1e-7, as TF.js). */
  epsilon?: number;
  /** Adagrad initial accumulator (default 0.1, as TF.js). */
  initialAccumulator?: number;
}

/** Per-table optimizer state; grows with the table. */
export interface SparseOptimizer {
  readonly kind: SparseOptimizerKind;
  /** Resizes the state to `rows` rows (new rows start fresh). */
  resize(rows: number): void;
  /**
   * Applies one update to `row` of `weights` ([rows, dim]) with the gradient in
   * `grad[gradOffset, gradOffset + dim)` and step size `lr`.
   */
  updateRow(weights: Float32Array, row: number, grad: Float32Array, gradOffset: number, lr: number): void;
  /** Forgets all state (e.g. before fine-tuning). */
  reset(): void;
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

/** Adam on touched rows only, bias-corrected with a per-row step count (see file comment). */
export class LazyAdam implements SparseOptimizer {
  readonly kind = 'adam' as const;
  private m: Float32Array;
  private v: Float32Array;
  private steps: Int32Array;
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

  updateRow(weights: Float32Array, row: number, grad: Float32Array, gradOffset: number, lr: number): void {
    const { m, v, beta1, beta2, epsilon, dim } = this;
    const t = ++this.steps[row];
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
}

function resizeFloat(array: Float32Array, length: number): Float32Array {
  if (array.length === length) return array;
  const next = new Float32Array(length);
  next.set(array.subarray(0, Math.min(length, array.length)));
  return next;
}
