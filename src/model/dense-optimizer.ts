import * as tf from '@tensorflow/tfjs';
import type { SparseOptimizerKind, SparseOptimizerOptions } from './sparse-optimizer.js';

interface SlotState {
  first: tf.Variable;
  second?: tf.Variable;
  steps: number;
}

/**
 * Adam / Adagrad for the dense (MLP) variables, written with TF.js ops so the update
 * stays on the backend's device. Unlike `tf.train.adam` it takes a learning rate per
 * variable (per-layer LR multipliers for fine-tuning) and counts Adam steps per variable,
 * so a layer that is unfrozen later starts with proper bias correction.
 *
 * @example
 * const opt = new DenseOptimizer('adam');
 * tf.tidy(() => opt.apply([kernel], [gradient], [0.001]));
 */
export class DenseOptimizer {
  private readonly state = new Map<tf.Variable, SlotState>();
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly initialAccumulator: number;

  constructor(
    readonly kind: SparseOptimizerKind,
    options: SparseOptimizerOptions = {},
  ) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-7;
    this.initialAccumulator = options.initialAccumulator ?? 0.1;
  }

  /**
   * Updates `variables[i]` with `gradients[i]` (same shape) at learning rate `rates[i]`,
   * gradients first multiplied by `scale` (global-norm clipping). Call inside `tf.tidy`.
   */
  apply(variables: readonly tf.Variable[], gradients: readonly tf.Tensor[], rates: readonly number[], scale = 1): void {
    for (let i = 0; i < variables.length; i++) {
      const variable = variables[i];
      const rate = rates[i];
      if (rate === 0) continue;
      const g = scale === 1 ? gradients[i] : tf.mul(gradients[i], scale);
      const slot = this.slot(variable);
      slot.steps++;
      if (this.kind === 'adam') {
        const { beta1, beta2 } = this;
        const m = tf.add(tf.mul(slot.first, beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(slot.second!, beta2), tf.mul(tf.square(g), 1 - beta2));
        slot.first.assign(m);
        slot.second!.assign(v);
        const c1 = 1 / (1 - Math.pow(beta1, slot.steps));
        const c2 = 1 / (1 - Math.pow(beta2, slot.steps));
        const step = tf.div(tf.mul(m, rate * c1), tf.add(tf.sqrt(tf.mul(v, c2)), this.epsilon));
        variable.assign(tf.sub(variable, step));
      } else {
        const acc = tf.add(slot.first, tf.square(g));
        slot.first.assign(acc);
        variable.assign(tf.sub(variable, tf.div(tf.mul(g, rate), tf.sqrt(tf.add(acc, this.epsilon)))));
      }
    }
  }

  /** Forgets the state of every variable (e.g. before fine-tuning). */
  reset(): void {
    this.dispose();
  }

  dispose(): void {
    for (const slot of this.state.values()) {
      slot.first.dispose();
      slot.second?.dispose();
    }
    this.state.clear();
  }

  private slot(variable: tf.Variable): SlotState {
    let slot = this.state.get(variable);
    if (!slot) {
      slot = tf.tidy(() => {
        if (this.kind === 'adam') {
          return { first: tf.variable(tf.zerosLike(variable), false), second: tf.variable(tf.zerosLike(variable), false), steps: 0 };
        }
        return { first: tf.variable(tf.fill(variable.shape, this.initialAccumulator), false), steps: 0 };
      });
      this.state.set(variable, slot);
    }
    return slot;
  }
}
