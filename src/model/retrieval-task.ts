import type * as tf from '@tensorflow/tfjs';

/**
 * Per-batch inputs of a task's loss that do not depend on the weights, built in JS.
 * `bias` is `[1, C]` or `[B, C]` (added to the logits), `weights` the normalised example
 * weights (undefined: a plain mean), `candidates` the items of the logit columns when they
 * are not the batch's positives (sampled negatives appended).
 */
export interface BatchLogits {
  readonly size: number;
  readonly bias?: { values: Float32Array; shape: [number, number] };
  /** `[B]` example weights normalised to sum 1, or undefined for a plain mean. */
  readonly weights?: Float32Array;
  /**
   * The candidate items, one per logit column: the batch's positives, then any sampled
   * negatives (`[B + N]`); undefined when the candidates are the positives. Reused by the
   * next `prepare`.
   */
  readonly candidates?: Int32Array;
}

/**
 * What a two-tower model is trained for, given to the model (the shape of TFRS's
 * `tfrs.tasks.Retrieval(loss=...)`): the model gathers rows and runs the towers, the task says
 * which items compete in a batch and what the loss of the towers' outputs is. The default is
 * the in-batch sampled softmax of the model's config (`InBatchSoftmaxTask.forModel`); another
 * loss (full softmax, sampled negatives with another correction) is another implementation,
 * passed to `TwoTowerModel.create(config, tokens, { task })`.
 *
 * @example
 * const model = TwoTowerModel.create(config, {}, { task: new InBatchSoftmaxTask({ items: config.items, temperature: 0.1, logQ: true }) });
 */
export interface RetrievalTask {
  /** The batch's candidates, logit bias and example weights (`items`: the batch's positives). */
  prepare(items: Int32Array, weights?: Float32Array): BatchLogits;
  /** Scalar loss of the user outputs `[B, d]` against the candidate outputs `[C, d]` (and their logit biases `[1, C]`). */
  loss(users: tf.Tensor2D, items: tf.Tensor2D, batch: BatchLogits, itemBias?: tf.Tensor2D): tf.Scalar;
  /** Per-item training counts (any non-negative weights), for corrections and samplers that need them. */
  setItemFrequencies(counts: ArrayLike<number>): void;
  /** Makes room for `n` new items appended to the model's item table. */
  growItems(n: number): void;
  /** An independent copy with the same data-derived state (frequencies, pools) and a fresh sampler from the same seed. */
  clone(): RetrievalTask;
}
