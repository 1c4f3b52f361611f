import { GraftError } from '../errors.js';
import { fillInitial, type Initializer } from './initializer.js';
import { createRng, type ResumableRng } from '../dataset/random.js';
import { createSparseOptimizer, inSharedMemory, type SparseOptimizer, type SparseOptimizerKind, type SparseOptimizerOptions } from './sparse-optimizer.js';

export interface EmbeddingTableOptions {
  rows: number;
  dim: number;
  /** Row-sparse optimizer (default 'adam' = lazy Adam with per-row bias correction). */
  optimizer?: SparseOptimizerKind;
  optimizerOptions?: SparseOptimizerOptions;
  /** How rows are initialised (default normal, scale 0.05). */
  init?: Initializer;
  seed?: number;
  /** L2 penalty added to the gradient of touched rows only: g += l2 * w (default 0). */
  l2?: number;
  /** Initial weights [rows * dim] (copied); skips the initialiser. */
  weights?: Float32Array;
}

/**
 * A table's arrays in shared memory with the settings its updates use (`EmbeddingTable.shareMemory`):
 * a worker thread's `EmbeddingTable.fromShared` reads and writes the same rows.
 */
/**
 * A table's pending row gradients in shared memory (`EmbeddingTable.adoptAccumulator`), with
 * room for every row: worker threads apply each other's pending rows of their own partition
 * (`applyPartition`, `tower-threads.ts`).
 */
export interface RowAccumulator {
  /** [the number of pending rows, as last published] */
  count: Int32Array;
  /** The pending rows, in first-touch order. */
  touched: Int32Array;
  /** `[rows, dim]`: slot s holds the summed gradient of `touched[s]`. */
  accum: Float32Array;
}

export interface SharedTableState {
  rows: number;
  dim: number;
  weights: Float32Array;
  frozen: Uint8Array;
  rowScale: Float32Array | undefined;
  learningRateMultiplier: number;
  l2: number;
  optimizer: SparseOptimizerKind;
  optimizerOptions: SparseOptimizerOptions | undefined;
  optimizerArrays: Record<string, Float32Array | Int32Array>;
}

const MAGIC = 0x424d4547; // 'GEMB' little-endian

/**
 * An embedding table as plain `Float32Array` rows `[rows, dim]` with a row-sparse
 * optimizer. A training step gathers the batch's rows, computes gradients w.r.t. those
 * gathered copies, and scatters them back here: duplicate ids are summed first, then only
 * the touched, unfrozen rows (and their optimizer state) change.
 *
 * @example
 * const table = new EmbeddingTable({ rows: 1000, dim: 64, seed: 1 });
 * const rows = table.gather(Int32Array.of(3, 7));        // [2, 64]
 * table.applyGradients(Int32Array.of(3, 7), grads, 0.01); // grads: [2, 64]
 */
export class EmbeddingTable {
  readonly dim: number;
  /** `[rows, dim]` row-major. Replaced (not resized in place) by `grow`. */
  weights: Float32Array;
  /** 1 = frozen: the row never changes (bit-identical) and its optimizer state is untouched. */
  frozen: Uint8Array;
  /** Multiplies the learning rate of the whole table (per-layer LR for fine-tuning). */
  learningRateMultiplier = 1;
  l2: number;
  readonly optimizer: SparseOptimizer;
  private readonly optimizerOptions: SparseOptimizerOptions | undefined;
  private rowCount: number;
  private readonly init: Initializer;
  private readonly rng: ResumableRng;
  /** Optional per-row learning-rate multiplier (allocated on first use). */
  private rowScale: Float32Array | undefined;
  // Gradient accumulator for the current step: slotOf[row] = slot or -1.
  private slotOf: Int32Array;
  private touched: Int32Array;
  private accum: Float32Array;
  private touchedCount = 0;
  /** With a shared accumulator (`adoptAccumulator`): where `publishPending` writes the count. */
  private published: Int32Array | undefined;

  constructor(options: EmbeddingTableOptions) {
    const { rows, dim } = options;
    if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(dim) || dim <= 0) {
      throw new GraftError('BAD_INPUT', `embedding table shape [${rows}, ${dim}] is invalid; rows must be an integer >= 0 and dim an integer > 0`);
    }
    this.dim = dim;
    this.rowCount = rows;
    this.init = options.init ?? { kind: 'normal', scale: 0.05 };
    this.rng = createRng(options.seed ?? 1, { resumable: true });
    this.l2 = options.l2 ?? 0;
    if (options.weights) {
      if (options.weights.length !== rows * dim) {
        throw new GraftError('BAD_INPUT', `embedding weights have ${options.weights.length} values but the table is [${rows}, ${dim}] (${rows * dim}); pass weights of the table's shape`);
      }
      this.weights = Float32Array.from(options.weights);
    } else {
      this.weights = new Float32Array(rows * dim);
      fillInitial(this.weights, this.init, this.rng);
    }
    this.frozen = new Uint8Array(rows);
    this.optimizerOptions = options.optimizerOptions;
    this.optimizer = createSparseOptimizer(options.optimizer ?? 'adam', rows, dim, options.optimizerOptions);
    this.slotOf = new Int32Array(rows).fill(-1);
    this.touched = new Int32Array(256);
    this.accum = new Float32Array(256 * dim);
  }

  get rows(): number {
    return this.rowCount;
  }

  /** Copies rows `ids` into a new `[n, dim]` array. */
  gather(ids: Int32Array): Float32Array {
    const out = new Float32Array(ids.length * this.dim);
    this.gatherInto(ids, out, 0, this.dim);
    return out;
  }

  /**
   * Copies rows `ids` into `out`, row i starting at `offset + i * stride` (so a table can
   * fill its columns of a wider concatenated input without a separate concat).
   */
  gatherInto(ids: Int32Array, out: Float32Array, offset: number, stride: number): void {
    const { dim, weights } = this;
    for (let i = 0; i < ids.length; i++) {
      const row = ids[i];
      this.checkRow(row);
      const src = row * dim;
      const dst = offset + i * stride;
      for (let k = 0; k < dim; k++) out[dst + k] = weights[src + k];
    }
  }

  /**
   * Applies one optimizer step with gradients `grads` ([n, dim]) for rows `ids` (length n).
   * Duplicate ids are summed before the update.
   */
  applyGradients(ids: Int32Array, grads: Float32Array, lr: number): void {
    if (grads.length !== ids.length * this.dim) {
      throw new GraftError('BAD_INPUT', `gradients have ${grads.length} values for ${ids.length} ids of dim ${this.dim}; pass [ids.length, dim]`);
    }
    for (let i = 0; i < ids.length; i++) this.accumulate(ids[i], grads, i * this.dim, 1);
    this.applyAccumulated(lr);
  }

  /**
   * Adds `scale * src[srcOffset, srcOffset + dim)` to the pending gradient of `row`. Frozen
   * rows are skipped. The engine accumulates the whole step (ID and token paths of both
   * towers) and then calls `applyAccumulated` once.
   */
  accumulate(row: number, src: Float32Array, srcOffset: number, scale: number): void {
    this.checkRow(row);
    if (this.frozen[row] === 1) return;
    const dim = this.dim;
    let slot = this.slotOf[row];
    if (slot < 0) {
      slot = this.touchedCount++;
      if (slot >= this.touched.length) this.growAccumulator();
      this.slotOf[row] = slot;
      this.touched[slot] = row;
      const base = slot * dim;
      for (let k = 0; k < dim; k++) this.accum[base + k] = scale * src[srcOffset + k];
      return;
    }
    const base = slot * dim;
    for (let k = 0; k < dim; k++) this.accum[base + k] += scale * src[srcOffset + k];
  }

  /** Updates every row with a pending gradient (in first-touch order) and clears them. Returns the number of rows updated. */
  applyAccumulated(lr: number): number {
    const n = this.touchedCount;
    const { dim, accum } = this;
    const rate = lr * this.learningRateMultiplier;
    this.optimizer.beginStep();
    for (let s = 0; s < n; s++) {
      const row = this.touched[s];
      this.slotOf[row] = -1;
      this.applyRow(accum, s * dim, row, rate);
    }
    this.touchedCount = 0;
    return n;
  }

  /** One row's step with the gradient in `accum[base, base + dim)`: the l2 term added into it, then the optimizer's update at the row's rate. */
  private applyRow(accum: Float32Array, base: number, row: number, rate: number): void {
    const { dim, weights, l2, rowScale } = this;
    if (l2 !== 0) {
      const w = row * dim;
      for (let k = 0; k < dim; k++) accum[base + k] += l2 * weights[w + k];
    }
    const rowRate = rowScale === undefined ? rate : rate * rowScale[row];
    if (rowRate !== 0) this.optimizer.updateRow(weights, row, accum, base, rowRate);
  }

  /** Drops pending gradients without applying them. */
  clearAccumulated(): void {
    for (let s = 0; s < this.touchedCount; s++) this.slotOf[this.touched[s]] = -1;
    this.touchedCount = 0;
  }

  /** The summed pending gradient per touched row (copies; for tests and debugging). */
  pendingGradients(): { ids: Int32Array; grads: Float32Array } {
    return {
      ids: this.touched.slice(0, this.touchedCount),
      grads: this.accum.slice(0, this.touchedCount * this.dim),
    };
  }

  /** Freezes rows [from, to): they stay bit-identical through any step. */
  freezeRows(from = 0, to = this.rowCount): void {
    this.checkRange(from, to);
    this.frozen.fill(1, from, to);
  }

  unfreezeRows(from = 0, to = this.rowCount): void {
    this.checkRange(from, to);
    this.frozen.fill(0, from, to);
  }

  /** Sets a learning-rate multiplier for rows [from, to) (e.g. pretrained rows at 0.1x). */
  setRowLearningRateMultiplier(from: number, to: number, multiplier: number): void {
    this.checkRange(from, to);
    this.rowScale ??= new Float32Array(this.rowCount).fill(1);
    this.rowScale.fill(multiplier, from, to);
  }

  /** The learning-rate multiplier of `row`: the table's times the row's own (1 when none was set). */
  rowLearningRateMultiplier(row: number): number {
    this.checkRow(row);
    return this.learningRateMultiplier * (this.rowScale?.[row] ?? 1);
  }

  /** Appends `newRows` rows drawn from `init` (default: the table's initialiser); new rows are trainable. */
  grow(newRows: number, init: Initializer = this.init): void {
    if (!Number.isInteger(newRows) || newRows < 0) {
      throw new GraftError('BAD_INPUT', `cannot grow a table by ${newRows} rows; pass an integer >= 0`);
    }
    if (newRows === 0) return;
    const oldRows = this.rowCount;
    const rows = oldRows + newRows;
    const weights = new Float32Array(rows * this.dim);
    weights.set(this.weights);
    fillInitial(weights, init, this.rng, oldRows * this.dim, rows * this.dim);
    this.weights = weights;
    const frozen = new Uint8Array(rows);
    frozen.set(this.frozen);
    this.frozen = frozen;
    const slotOf = new Int32Array(rows).fill(-1);
    slotOf.set(this.slotOf);
    this.slotOf = slotOf;
    if (this.rowScale) {
      const rowScale = new Float32Array(rows).fill(1);
      rowScale.set(this.rowScale);
      this.rowScale = rowScale;
    }
    this.optimizer.resize(rows);
    this.rowCount = rows;
  }

  /**
   * Moves the weights, freeze mask, row multipliers and optimizer state into
   * `SharedArrayBuffer`s (once; later calls only read them) and returns them with the table's
   * settings, for worker threads that train the same rows (`fromShared`). The table works as
   * before; `grow` gives it unshared arrays again.
   */
  shareMemory(): SharedTableState {
    this.weights = inSharedMemory(this.weights);
    this.frozen = inSharedMemory(this.frozen);
    if (this.rowScale) this.rowScale = inSharedMemory(this.rowScale);
    const arrays = this.optimizer.stateArrays();
    const shared: Record<string, Float32Array | Int32Array> = {};
    for (const name of Object.keys(arrays)) shared[name] = inSharedMemory(arrays[name]);
    this.optimizer.adoptArrays(shared);
    return {
      rows: this.rowCount,
      dim: this.dim,
      weights: this.weights,
      frozen: this.frozen,
      rowScale: this.rowScale,
      learningRateMultiplier: this.learningRateMultiplier,
      l2: this.l2,
      optimizer: this.optimizer.kind,
      optimizerOptions: this.optimizerOptions,
      optimizerArrays: shared,
    };
  }

  /** A table over another thread's shared arrays (`shareMemory`): its updates land in them (each thread its own rows of a round: `applyPartition`). */
  static fromShared(state: SharedTableState): EmbeddingTable {
    const table = new EmbeddingTable({ rows: 0, dim: state.dim, optimizer: state.optimizer, optimizerOptions: state.optimizerOptions, l2: state.l2 });
    table.rowCount = state.rows;
    table.weights = state.weights;
    table.frozen = state.frozen;
    table.rowScale = state.rowScale;
    table.learningRateMultiplier = state.learningRateMultiplier;
    table.slotOf = new Int32Array(state.rows).fill(-1);
    table.optimizer.adoptArrays(state.optimizerArrays);
    return table;
  }

  /** A copy of the weights `[rows, dim]`. */
  exportWeights(): Float32Array {
    return this.weights.slice();
  }

  /** Replaces the weights in place (same shape); optimizer state and freeze mask are kept. */
  loadWeights(weights: Float32Array): void {
    if (weights.length !== this.weights.length) {
      throw new GraftError('BAD_INPUT', `weights have ${weights.length} values but the table is [${this.rowCount}, ${this.dim}]; grow the table first or pass matching weights`);
    }
    this.weights.set(weights);
  }

  /** Serialises shape, weights and freeze mask (not optimizer state: fine-tuning starts it fresh). */
  toBytes(): Uint8Array {
    const header = 16;
    const weightBytes = this.weights.byteLength;
    const bytes = new Uint8Array(header + weightBytes + this.rowCount);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, MAGIC, true);
    view.setUint32(4, 1, true);
    view.setUint32(8, this.rowCount, true);
    view.setUint32(12, this.dim, true);
    bytes.set(new Uint8Array(this.weights.buffer, this.weights.byteOffset, weightBytes), header);
    bytes.set(this.frozen, header + weightBytes);
    return bytes;
  }

  /** Rebuilds a table from `toBytes()` output. */
  static fromBytes(bytes: Uint8Array, options: Omit<EmbeddingTableOptions, 'rows' | 'dim' | 'weights'> = {}): EmbeddingTable {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.byteLength < 16 || view.getUint32(0, true) !== MAGIC || view.getUint32(4, true) !== 1) {
      throw new GraftError('BAD_INPUT', 'bytes are not an embedding table written by EmbeddingTable.toBytes() (bad header)');
    }
    const rows = view.getUint32(8, true);
    const dim = view.getUint32(12, true);
    if (bytes.byteLength !== 16 + rows * dim * 4 + rows) {
      throw new GraftError('BAD_INPUT', `embedding table bytes are truncated: expected ${16 + rows * dim * 4 + rows} bytes for [${rows}, ${dim}], got ${bytes.byteLength}`);
    }
    const copy = bytes.slice(16, 16 + rows * dim * 4);
    const weights = new Float32Array(copy.buffer, 0, rows * dim);
    const table = new EmbeddingTable({ ...options, rows, dim, weights });
    table.frozen.set(bytes.subarray(16 + rows * dim * 4));
    return table;
  }

  private checkRow(row: number): void {
    if (!(row >= 0 && row < this.rowCount)) {
      throw new GraftError('BAD_INPUT', `row id ${row} is outside the embedding table (0..${this.rowCount - 1}); grow the table or remap the id`);
    }
  }

  private checkRange(from: number, to: number): void {
    if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && from <= to && to <= this.rowCount)) {
      throw new GraftError('BAD_INPUT', `row range [${from}, ${to}) is invalid for a table of ${this.rowCount} rows`);
    }
  }

  /** A shared accumulator with room for every row of a `[rows, dim]` table (`adoptAccumulator`). */
  static sharedAccumulator(rows: number, dim: number): RowAccumulator {
    const n = Math.max(rows, 1);
    return {
      count: new Int32Array(new SharedArrayBuffer(4)),
      touched: new Int32Array(new SharedArrayBuffer(4 * n)),
      accum: new Float32Array(new SharedArrayBuffer(4 * n * dim)),
    };
  }

  /**
   * Accumulates the pending row gradients in `accumulator` (from `sharedAccumulator` for this
   * table's shape; it never grows) so other threads can read them after `publishPending`.
   */
  adoptAccumulator(accumulator: RowAccumulator): void {
    if (accumulator.touched.length < this.rowCount || accumulator.accum.length < this.rowCount * this.dim) {
      throw new GraftError('INTERNAL', `a shared accumulator of ${accumulator.touched.length} rows cannot hold a table of ${this.rowCount}`);
    }
    this.clearAccumulated();
    this.touched = accumulator.touched;
    this.accum = accumulator.accum;
    this.published = accumulator.count;
  }

  /** Makes the pending rows' count visible to the other threads (see `adoptAccumulator`). */
  publishPending(): void {
    if (this.published) Atomics.store(this.published, 0, this.touchedCount);
  }

  /**
   * One optimizer step with the pending rows of `from` (this thread's accumulator or another's)
   * that fall in partition `part` of `parts` (row mod parts), as `applyAccumulated` applies its
   * own: every thread applies a disjoint set of rows, so no row is written by two at once. The
   * l2 term is added into `from` for the rows applied (only this partition's thread reads them).
   */
  applyPartition(from: RowAccumulator, part: number, parts: number, lr: number): void {
    const n = Atomics.load(from.count, 0);
    const { touched, accum } = from;
    const rate = lr * this.learningRateMultiplier;
    this.optimizer.beginStep();
    for (let s = 0; s < n; s++) {
      const row = touched[s];
      if (row % parts === part) this.applyRow(accum, s * this.dim, row, rate);
    }
  }

  private growAccumulator(): void {
    const touched = new Int32Array(this.touched.length * 2);
    touched.set(this.touched);
    this.touched = touched;
    const accum = new Float32Array(touched.length * this.dim);
    accum.set(this.accum);
    this.accum = accum;
  }
}
