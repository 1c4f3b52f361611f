import * as tf from '@tensorflow/tfjs';
import { GraftError } from '../errors.js';
import { createRng, deriveSeed, mixSeed, type ResumableRng } from '../dataset/random.js';
import type { BatchLogits, RetrievalTask } from './retrieval-task.js';
import { diagonalSoftmaxCrossEntropy, matMulTransposeB } from './tower-ops.js';

export interface InBatchSoftmaxOptions {
  /** Logits are dot products of L2-normalised outputs divided by this (default 0.05). */
  temperature?: number;
  /** Subtract log q(item) from every candidate's logit (sampling-bias correction). */
  logQ?: boolean;
  /** Number of items (size of the frequency table). */
  items: number;
  /**
   * Uniformly sampled negatives added to every batch (mixed negative sampling, Yang et al.
   * 2020; default 0 = in-batch only): drawn from the items with training examples (all
   * items before frequencies are set), shared by all rows of the batch.
   */
  uniformNegatives?: number;
  /** Seeds the negative sampler (default 1). */
  seed?: number;
}

/** An `InBatchSoftmaxTask` as plain data, for a worker thread (`threadState`). */
export interface SoftmaxTaskState {
  options: InBatchSoftmaxOptions;
  negLogQ: Float32Array | undefined;
  pool: Int32Array | undefined;
  rng: number;
}

const MASKED = -1e9;

/**
 * In-batch sampled softmax for retrieval (Yi et al., RecSys 2019): each user's positive
 * item competes with the other items of the batch. logits = U V^T / temperature, minus
 * log q(j) of each candidate when `logQ` is on (q = the item's share of training
 * examples, i.e. how often it is sampled as an in-batch negative), with accidental hits
 * (another row's positive that is the same item) masked out. Loss = weighted mean
 * cross-entropy against the diagonal.
 *
 * @example
 * const task = new InBatchSoftmaxTask({ items: 1000, temperature: 0.05, logQ: true });
 * task.setItemFrequencies(counts);
 * const batch = task.prepare(items);
 * const loss = tf.tidy(() => task.loss(userOut, itemOut, batch)); // scalar
 */
export class InBatchSoftmaxTask implements RetrievalTask {
  readonly temperature: number;
  readonly logQ: boolean;
  readonly uniformNegatives: number;
  /** -log q per item; undefined until frequencies are set (then logQ is a no-op). */
  private negLogQ: Float32Array | undefined;
  /** Items that uniform negatives are drawn from (those with training examples); undefined = all items. */
  private pool: Int32Array | undefined;
  private readonly rng: ResumableRng;
  private candidateBuffer = new Int32Array(0);
  private itemCount: number;
  // Scratch reused across steps.
  private seenStamp: Int32Array;
  private stamp = 0;
  private row = new Float32Array(0);
  private matrix = new Float32Array(0);
  private weightBuffer = new Float32Array(0);

  /**
   * The task a model of this config trains with by default: its temperature, logQ correction,
   * uniform negatives, and a negative sampler seeded from the model's seed.
   */
  static forModel(config: { items: number; temperature: number; logQ: boolean; uniformNegatives: number; seed: number }): InBatchSoftmaxTask {
    return new InBatchSoftmaxTask({
      items: config.items,
      temperature: config.temperature,
      logQ: config.logQ,
      uniformNegatives: config.uniformNegatives,
      seed: deriveSeed(config.seed, 'negatives'),
    });
  }

  private readonly options: InBatchSoftmaxOptions;

  constructor(options: InBatchSoftmaxOptions) {
    this.options = { ...options };
    this.temperature = options.temperature ?? 0.05;
    if (!(this.temperature > 0)) {
      throw new GraftError('BAD_INPUT', `temperature ${this.temperature} must be > 0 (typical: 0.05 to 0.1)`);
    }
    this.logQ = options.logQ ?? false;
    this.uniformNegatives = options.uniformNegatives ?? 0;
    if (!Number.isInteger(this.uniformNegatives) || this.uniformNegatives < 0) {
      throw new GraftError('BAD_INPUT', `uniformNegatives = ${this.uniformNegatives}; use an integer >= 0 (e.g. 128; 0 = in-batch negatives only)`);
    }
    this.rng = createRng(options.seed ?? 1, { resumable: true });
    this.itemCount = options.items;
    this.seenStamp = new Int32Array(options.items);
  }

  /** True once item frequencies are known (so logQ correction is active). */
  get hasFrequencies(): boolean {
    return this.negLogQ !== undefined;
  }

  /**
   * Sets q from per-item training counts (any non-negative weights). Items never seen get
   * the count of one example, so their correction stays finite.
   */
  setItemFrequencies(counts: ArrayLike<number>): void {
    if (counts.length !== this.itemCount) {
      throw new GraftError('BAD_INPUT', `item frequencies have ${counts.length} entries but the model has ${this.itemCount} items; pass one count per item`);
    }
    let total = 0;
    for (let i = 0; i < counts.length; i++) total += Math.max(counts[i], 1);
    const negLogQ = new Float32Array(counts.length);
    for (let i = 0; i < counts.length; i++) negLogQ[i] = -Math.log(Math.max(counts[i], 1) / total);
    this.negLogQ = negLogQ;
    const pool: number[] = [];
    for (let i = 0; i < counts.length; i++) if (counts[i] > 0) pool.push(i);
    this.pool = pool.length > 0 ? Int32Array.from(pool) : undefined;
  }

  /** What a worker thread's copy of the task needs (`fromThreadState`): options, -log q, the negative pool, the sampler's position. */
  threadState(): SoftmaxTaskState {
    return { options: { ...this.options, items: this.itemCount }, negLogQ: this.negLogQ, pool: this.pool, rng: this.rng.state() };
  }

  /**
   * The task of worker thread `thread` (`threadState`): thread 0 continues the sampler's stream,
   * the others draw from streams of their own.
   */
  static fromThreadState(state: SoftmaxTaskState, thread: number): InBatchSoftmaxTask {
    const task = new InBatchSoftmaxTask(state.options);
    if (state.negLogQ) task.setItemLogQ(state.negLogQ);
    task.setNegativePool(state.pool);
    task.rng.restore(thread === 0 ? state.rng : mixSeed(state.rng, thread));
    return task;
  }

  /** Moves the negative sampler to `state` (a `threadState().rng`). */
  restoreSampler(state: number): void {
    this.rng.restore(state);
  }

  /** An independent copy: the same options, item count, -log q and negative pool; the sampler restarts from the seed. */
  clone(): InBatchSoftmaxTask {
    const copy = new InBatchSoftmaxTask({ ...this.options, items: this.itemCount });
    if (this.negLogQ) copy.setItemLogQ(this.negLogQ);
    copy.setNegativePool(this.pool);
    return copy;
  }

  /** The items uniform negatives are drawn from (copy; undefined = all items). */
  negativePool(): Int32Array | undefined {
    return this.pool?.slice();
  }

  /** Restores a pool saved by `negativePool()`. */
  setNegativePool(pool: Int32Array | undefined): void {
    if (pool) {
      for (let i = 0; i < pool.length; i++) {
        if (!(pool[i] >= 0 && pool[i] < this.itemCount)) throw new GraftError('BAD_INPUT', `negative pool item ${pool[i]} is outside the ${this.itemCount} items`);
      }
    }
    this.pool = pool?.slice();
  }

  /** The current -log q per item (copy), for saving with a model. */
  itemLogQ(): Float32Array | undefined {
    return this.negLogQ?.slice();
  }

  /** Restores -log q saved by `itemLogQ()`. */
  setItemLogQ(negLogQ: Float32Array): void {
    if (negLogQ.length !== this.itemCount) {
      throw new GraftError('BAD_INPUT', `logQ table has ${negLogQ.length} entries but the model has ${this.itemCount} items`);
    }
    this.negLogQ = negLogQ.slice();
  }

  /** Makes room for `n` new items (their q is the smallest seen, i.e. the rarest item's). */
  growItems(n: number): void {
    const items = this.itemCount + n;
    const stamp = new Int32Array(items);
    stamp.set(this.seenStamp);
    this.seenStamp = stamp;
    if (this.negLogQ) {
      let rarest = 0;
      for (let i = 0; i < this.negLogQ.length; i++) rarest = Math.max(rarest, this.negLogQ[i]);
      const next = new Float32Array(items).fill(rarest);
      next.set(this.negLogQ);
      this.negLogQ = next;
    }
    this.itemCount = items;
  }

  /**
   * Builds the batch's logit bias and normalised weights in JS (O(B) without repeated
   * items, O(B^2) with). The returned arrays are reused by the next call.
   */
  prepare(items: Int32Array, weights?: Float32Array): BatchLogits {
    const size = items.length;
    if (size === 0) throw new GraftError('BAD_INPUT', 'a batch needs at least one example');
    if (this.row.length < size) this.row = new Float32Array(size);
    if (this.weightBuffer.length < size) this.weightBuffer = new Float32Array(size);
    const correction = this.logQ && this.negLogQ !== undefined;
    let repeated = false;
    this.stamp++;
    if (this.stamp === 0x7fffffff) {
      this.seenStamp.fill(0);
      this.stamp = 1;
    }
    for (let j = 0; j < size; j++) {
      const item = items[j];
      if (!(item >= 0 && item < this.itemCount)) {
        throw new GraftError('BAD_INPUT', `item ${item} is outside the model's ${this.itemCount} items; grow the model first`);
      }
      if (this.seenStamp[item] === this.stamp) repeated = true;
      this.seenStamp[item] = this.stamp;
    }
    const normalised = this.normaliseWeights(size, weights);
    if (this.uniformNegatives > 0) return this.prepareMixed(items, normalised, correction);
    const row = this.row.subarray(0, size);
    if (correction) {
      // logit - log q(j) = logit + negLogQ[j]: frequent items (large q) lose the advantage of being sampled often.
      for (let j = 0; j < size; j++) row[j] = this.negLogQ![items[j]];
    } else {
      row.fill(0);
    }
    let bias: BatchLogits['bias'];
    if (repeated) {
      if (this.matrix.length < size * size) this.matrix = new Float32Array(size * size);
      const matrix = this.matrix.subarray(0, size * size);
      for (let i = 0; i < size; i++) {
        const base = i * size;
        const item = items[i];
        for (let j = 0; j < size; j++) matrix[base + j] = j !== i && items[j] === item ? MASKED : row[j];
      }
      bias = { values: matrix, shape: [size, size] };
    } else if (correction) {
      bias = { values: row, shape: [1, size] };
    }
    return { size, bias, weights: normalised };
  }

  /**
   * In-batch positives plus N uniform negatives as candidates. With logQ the correction is
   * the log of the candidate's expected count per batch under the mixture,
   * B q(j) + N / |pool| (uniform draws make rare items far likelier negatives than in-batch
   * sampling alone); a candidate equal to the row's positive (other than the diagonal) is
   * masked, as are accidental hits in-batch.
   */
  private prepareMixed(items: Int32Array, weights: Float32Array | undefined, correction: boolean): BatchLogits {
    const size = items.length;
    const n = this.uniformNegatives;
    const columns = size + n;
    if (this.candidateBuffer.length < columns) this.candidateBuffer = new Int32Array(columns);
    const candidates = this.candidateBuffer.subarray(0, columns);
    candidates.set(items);
    const pool = this.pool;
    for (let j = size; j < columns; j++) candidates[j] = pool ? pool[this.rng.int(pool.length)] : this.rng.int(this.itemCount);
    if (this.row.length < columns) this.row = new Float32Array(columns);
    const row = this.row.subarray(0, columns);
    if (correction) {
      const uniform = n / (pool ? pool.length : this.itemCount);
      for (let j = 0; j < columns; j++) {
        const item = candidates[j];
        const q = Math.exp(-this.negLogQ![item]);
        // Items outside the pool are never drawn uniformly; an item's log q already counts its in-batch draws.
        const inPool = pool ? this.seenInPool(item) : true;
        row[j] = -Math.log(size * q + (inPool ? uniform : 0));
      }
    } else {
      row.fill(0);
    }
    if (this.matrix.length < size * columns) this.matrix = new Float32Array(size * columns);
    const matrix = this.matrix.subarray(0, size * columns);
    for (let i = 0; i < size; i++) {
      const base = i * columns;
      const item = items[i];
      for (let j = 0; j < columns; j++) matrix[base + j] = j !== i && candidates[j] === item ? MASKED : row[j];
    }
    return { size, bias: { values: matrix, shape: [size, columns] }, weights, candidates };
  }

  private seenInPool(item: number): boolean {
    // The pool is sorted ascending (built in item order): binary search.
    const pool = this.pool!;
    let lo = 0;
    let hi = pool.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (pool[mid] === item) return true;
      if (pool[mid] < item) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  private normaliseWeights(size: number, weights: Float32Array | undefined): Float32Array | undefined {
    if (!weights) return undefined;
    if (weights.length !== size) {
      throw new GraftError('BAD_INPUT', `batch has ${size} examples but ${weights.length} weights; pass one weight per example`);
    }
    let sum = 0;
    for (let i = 0; i < size; i++) sum += weights[i];
    if (!(sum > 0)) throw new GraftError('BAD_INPUT', `batch weights sum to ${sum}; weights must be >= 0 with a positive sum`);
    const normalised = this.weightBuffer.subarray(0, size);
    for (let i = 0; i < size; i++) normalised[i] = weights[i] / sum;
    return normalised;
  }

  /**
   * Mean (or weighted) softmax cross-entropy of the batch.
   * users: [B, d], items: [C, d] (L2-normalised tower outputs of the candidates: the B
   * positives, then any sampled negatives), itemBias: optional `[1, C]` logit bias per
   * candidate -> scalar.
   */
  loss(users: tf.Tensor2D, items: tf.Tensor2D, batch: BatchLogits, itemBias?: tf.Tensor2D): tf.Scalar {
    return tf.tidy(() => {
      let logits: tf.Tensor2D = tf.mul(matMulTransposeB(users, items), 1 / this.temperature);
      // `[1, C]` learned per-candidate bias (TwoTowerConfig.itemBias), broadcast over rows.
      if (itemBias) logits = tf.add(logits, itemBias);
      if (batch.bias) logits = tf.add(logits, tf.tensor2d(batch.bias.values, batch.bias.shape));
      // The positive's logit is the diagonal of the biased logits, so it carries its own -log q too.
      const perExample = diagonalSoftmaxCrossEntropy(logits);
      return (batch.weights ? tf.sum(tf.mul(perExample, tf.tensor1d(batch.weights))) : tf.mean(perExample)) as tf.Scalar;
    });
  }
}
