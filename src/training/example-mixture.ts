import { GraftError } from '../errors.js';
import type { ResumableRng } from '../dataset/random.js';

/** Training examples as parallel arrays (user, positive item, optional weight). */
export interface ExampleSet {
  users: Int32Array;
  items: Int32Array;
  /** Per-example weights (e.g. event weights); default 1. */
  weights?: Float32Array;
}

/**
 * Examples of a second set mixed into every epoch ("source replay" during transfer):
 * each replayed example's weight is multiplied by `weight`.
 */
export interface ReplaySet extends ExampleSet {
  /** Multiplies the weights of replayed examples (e.g. 0.3). */
  weight: number;
  /**
   * Replayed examples per epoch as a share of the primary set's size (e.g. 0.5 = one
   * replay example per two primary ones), drawn afresh each epoch. Default: all of them.
   */
  fraction?: number;
}

/** What `train` learns from: a primary example set, optionally mixed with a replay set. */
export interface TrainingData extends ExampleSet {
  replay?: ReplaySet;
}

/**
 * Builds shuffled epochs over a weighted mixture of the primary and replay examples and
 * fills reused batch buffers (no allocation per batch).
 */
export class ExampleMixture {
  readonly primaryCount: number;
  readonly replayPerEpoch: number;
  readonly weighted: boolean;
  private readonly order: Int32Array;
  private readonly replayOrder: Int32Array | undefined;
  private replayCursor = 0;
  private readonly batchUsers: Int32Array;
  private readonly batchItems: Int32Array;
  private readonly batchWeights: Float32Array;

  constructor(
    private readonly data: TrainingData,
    readonly batchSize: number,
    private readonly rng: ResumableRng,
  ) {
    validateSet(data, 'data');
    const replay = data.replay;
    if (replay) {
      validateSet(replay, 'data.replay');
      if (!(replay.weight >= 0) || !Number.isFinite(replay.weight)) {
        throw new GraftError('BAD_INPUT', `data.replay.weight = ${replay.weight}; use a finite weight >= 0 (e.g. 0.3)`);
      }
      if (replay.fraction !== undefined && !(replay.fraction >= 0)) {
        throw new GraftError('BAD_INPUT', `data.replay.fraction = ${replay.fraction}; use a share >= 0 of the primary examples`);
      }
    }
    if (!Number.isInteger(batchSize) || batchSize < 2) {
      throw new GraftError('BAD_INPUT', `batchSize = ${batchSize}; in-batch softmax needs an integer batch size >= 2 (default 256)`);
    }
    this.primaryCount = data.users.length;
    const replayCount = replay?.users.length ?? 0;
    this.replayPerEpoch = replay && replayCount > 0 ? (replay.fraction === undefined ? replayCount : Math.round(replay.fraction * this.primaryCount)) : 0;
    this.weighted = data.weights !== undefined || this.replayPerEpoch > 0;
    this.order = new Int32Array(this.primaryCount + this.replayPerEpoch);
    this.replayOrder = replayCount > 0 ? Int32Array.from({ length: replayCount }, (_, i) => i) : undefined;
    this.batchUsers = new Int32Array(batchSize);
    this.batchItems = new Int32Array(batchSize);
    this.batchWeights = new Float32Array(batchSize);
  }

  /** Examples per epoch (primary + replayed). */
  get epochSize(): number {
    return this.order.length;
  }

  /** Batches per epoch; a final batch with fewer than 2 examples is dropped (no in-batch negatives). */
  get stepsPerEpoch(): number {
    const n = this.epochSize;
    const full = Math.floor(n / this.batchSize);
    return n % this.batchSize >= 2 ? full + 1 : full;
  }

  /** Draws a new epoch: all primary examples plus `replayPerEpoch` replay examples, shuffled together (seeded Fisher-Yates). */
  shuffle(): void {
    const n = this.primaryCount;
    for (let i = 0; i < n; i++) this.order[i] = i;
    const replayOrder = this.replayOrder;
    for (let r = 0; r < this.replayPerEpoch; r++) {
      // Walk a fresh permutation of the replay set, reshuffling when it runs out.
      if (this.replayCursor === 0) shuffleInPlace(replayOrder!, this.rng);
      this.order[n + r] = n + replayOrder![this.replayCursor];
      this.replayCursor = (this.replayCursor + 1) % replayOrder!.length;
    }
    shuffleInPlace(this.order, this.rng);
  }

  /** Fills and returns batch `step` of the current epoch (buffers are reused by the next call). */
  batch(step: number): { users: Int32Array; items: Int32Array; weights?: Float32Array } {
    const from = step * this.batchSize;
    const size = Math.min(this.batchSize, this.order.length - from);
    const { data } = this;
    const replay = data.replay;
    const n = this.primaryCount;
    const users = this.batchUsers.subarray(0, size);
    const items = this.batchItems.subarray(0, size);
    const weights = this.batchWeights.subarray(0, size);
    for (let i = 0; i < size; i++) {
      const e = this.order[from + i];
      if (e < n) {
        users[i] = data.users[e];
        items[i] = data.items[e];
        weights[i] = data.weights ? data.weights[e] : 1;
      } else {
        const r = e - n;
        users[i] = replay!.users[r];
        items[i] = replay!.items[r];
        weights[i] = (replay!.weights ? replay!.weights[r] : 1) * replay!.weight;
      }
    }
    return this.weighted ? { users, items, weights } : { users, items };
  }

  /**
   * Expected appearances of each item in one epoch's batches (for the logQ correction).
   * q is how often an item is drawn as a candidate, so example weights do not count.
   */
  itemCounts(items: number): Float64Array {
    const counts = new Float64Array(items);
    const { data } = this;
    for (let i = 0; i < data.items.length; i++) counts[data.items[i]] += 1;
    const replay = data.replay;
    if (replay && this.replayPerEpoch > 0) {
      // Each replay example enters an epoch with probability replayPerEpoch / replaySize.
      const rate = this.replayPerEpoch / replay.items.length;
      for (let i = 0; i < replay.items.length; i++) counts[replay.items[i]] += rate;
    }
    return counts;
  }
}

function validateSet(set: ExampleSet, name: string): void {
  if (set.items.length !== set.users.length) {
    throw new GraftError('BAD_INPUT', `${name} has ${set.users.length} users but ${set.items.length} items; pass parallel arrays`);
  }
  if (set.weights && set.weights.length !== set.users.length) {
    throw new GraftError('BAD_INPUT', `${name} has ${set.users.length} examples but ${set.weights.length} weights; pass one weight per example`);
  }
}

function shuffleInPlace(array: Int32Array, rng: ResumableRng): void {
  for (let i = array.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = array[i];
    array[i] = array[j];
    array[j] = t;
  }
}
