import * as tf from '@tensorflow/tfjs';
import { onHostBackend } from './backend.js';
import { assignHost, hostValues } from './host-values.js';
import { towerKernel } from './tower-kernel.js';
import type { SparseOptimizerKind, SparseOptimizerOptions } from './sparse-optimizer.js';

/** One variable's optimizer state as plain arrays (`DenseOptimizer.exportState`). */
export interface DenseSlotSnapshot {
  first: Float32Array;
  second: Float32Array | undefined;
  steps: number;
}

/** A variable's state: TF.js variables on a device backend, arrays on a host one (`onHostBackend`). */
interface SlotState {
  first: tf.Variable | Float32Array;
  second?: tf.Variable | Float32Array;
  steps: number;
}

const f = Math.fround;

/**
 * Adam / Adagrad for the dense (MLP) variables. Unlike `tf.train.adam` it takes a learning
 * rate per variable (per-layer LR multipliers for fine-tuning) and counts Adam steps per
 * variable, so a layer that is unfrozen later starts with proper bias correction.
 *
 * On a device backend (native TensorFlow, a GPU) the update is TF.js ops, so it stays on the
 * device. On the host backends (wasm, cpu) it is one pass per variable over `Float32Array`
 * state, every operation rounded to float32 in the order the ops take, so both paths give the
 * same numbers: Adam four lanes at a time in the towers' SIMD kernel (`TowerKernel.adam`), else
 * (and Adagrad) a JS loop. Either saves the 10 small kernel launches per variable that dominate
 * the ops' cost at MLP sizes (BENCHMARKS.md, issue 20).
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
   * Updates `variables[i]` with `gradients[i]` (same shape; a tensor or its values) at
   * learning rate `rates[i]`, gradients first multiplied by `scale` (global-norm clipping).
   * Call inside `tf.tidy`.
   */
  apply(variables: readonly tf.Variable[], gradients: readonly (tf.Tensor | Float32Array)[], rates: readonly number[], scale = 1): void {
    const host = onHostBackend();
    for (let i = 0; i < variables.length; i++) {
      const variable = variables[i];
      const rate = rates[i];
      if (rate === 0) continue;
      const slot = this.slot(variable, host);
      slot.steps++;
      if (host) {
        const gradient = gradients[i];
        this.applyOnHost(variable, slot, gradient instanceof Float32Array ? gradient : (gradient.dataSync() as Float32Array), rate, scale);
      } else {
        const gradient = gradients[i];
        const tensor = gradient instanceof Float32Array ? tf.tensor(gradient, variable.shape) : gradient;
        this.applyOnDevice(variable, slot, scale === 1 ? tensor : tf.mul(tensor, scale), rate);
      }
    }
  }

  /** The state of `variables` (undefined: never updated), to carry it to another thread or instance (`importState`). */
  exportState(variables: readonly tf.Variable[]): (DenseSlotSnapshot | undefined)[] {
    return variables.map((variable) => {
      const slot = this.state.get(variable);
      if (!slot) return undefined;
      return { first: values(slot.first).slice(), second: slot.second ? values(slot.second).slice() : undefined, steps: slot.steps };
    });
  }

  /** Sets the state of `variables[i]` to `snapshots[i]` (from `exportState` over variables of the same shapes; undefined: none). */
  importState(variables: readonly tf.Variable[], snapshots: readonly (DenseSlotSnapshot | undefined)[]): void {
    variables.forEach((variable, i) => {
      const snapshot = snapshots[i];
      const old = this.state.get(variable);
      if (old) {
        disposeSlot(old);
        this.state.delete(variable);
      }
      if (!snapshot) return;
      this.state.set(variable, { first: snapshot.first.slice(), second: snapshot.second?.slice(), steps: snapshot.steps });
    });
  }

  /** Forgets the state of every variable (e.g. before fine-tuning). */
  reset(): void {
    this.dispose();
  }

  dispose(): void {
    for (const slot of this.state.values()) disposeSlot(slot);
    this.state.clear();
  }

  /**
   * The ops of `applyOnDevice` as one loop: each product, sum, quotient and square root
   * rounded to float32 as the backend's kernels round them (constants as float32 scalars).
   */
  private applyOnHost(variable: tf.Variable, slot: SlotState, g: Float32Array, rate: number, scale: number): void {
    const w = hostValues(variable).slice();
    const n = w.length;
    const s = f(scale);
    if (this.kind === 'adam') {
      const m = slot.first as Float32Array;
      const v = slot.second as Float32Array;
      const b1 = f(this.beta1);
      const a1 = f(1 - this.beta1);
      const b2 = f(this.beta2);
      const a2 = f(1 - this.beta2);
      // rate x c1 in float64 first, as the ops get it (one rounding to float32 after).
      const r1 = f(rate * (1 / (1 - Math.pow(this.beta1, slot.steps))));
      const c2 = f(1 / (1 - Math.pow(this.beta2, slot.steps)));
      const eps = f(this.epsilon);
      const kernel = towerKernel();
      // The same float32 operations four lanes at a time (bit for bit; tested).
      if (kernel) {
        kernel.adam(w, g, m, v, { scale: s, b1, a1, b2, a2, r1, c2, eps });
      } else {
        for (let k = 0; k < n; k++) {
          const gk = scale === 1 ? g[k] : f(g[k] * s);
          const mk = (m[k] = f(f(m[k] * b1) + f(gk * a1)));
          const vk = (v[k] = f(f(v[k] * b2) + f(f(gk * gk) * a2)));
          w[k] = f(w[k] - f(f(mk * r1) / f(f(Math.sqrt(f(vk * c2))) + eps)));
        }
      }
    } else {
      const acc = slot.first as Float32Array;
      const r = f(rate);
      const eps = f(this.epsilon);
      for (let k = 0; k < n; k++) {
        const gk = scale === 1 ? g[k] : f(g[k] * s);
        const a = (acc[k] = f(acc[k] + f(gk * gk)));
        w[k] = f(w[k] - f(f(gk * r) / f(Math.sqrt(f(a + eps)))));
      }
    }
    assignHost(variable, w);
  }

  private applyOnDevice(variable: tf.Variable, slot: SlotState, g: tf.Tensor, rate: number): void {
    if (this.kind === 'adam') {
      const { beta1, beta2 } = this;
      const first = slot.first as tf.Variable;
      const second = slot.second as tf.Variable;
      const m = tf.add(tf.mul(first, beta1), tf.mul(g, 1 - beta1));
      const v = tf.add(tf.mul(second, beta2), tf.mul(tf.square(g), 1 - beta2));
      first.assign(m);
      second.assign(v);
      const c1 = 1 / (1 - Math.pow(beta1, slot.steps));
      const c2 = 1 / (1 - Math.pow(beta2, slot.steps));
      const step = tf.div(tf.mul(m, rate * c1), tf.add(tf.sqrt(tf.mul(v, c2)), this.epsilon));
      variable.assign(tf.sub(variable, step));
    } else {
      const first = slot.first as tf.Variable;
      const acc = tf.add(first, tf.square(g));
      first.assign(acc);
      variable.assign(tf.sub(variable, tf.div(tf.mul(g, rate), tf.sqrt(tf.add(acc, this.epsilon)))));
    }
  }

  /** The variable's state in the form `host` asks for (created, or moved between host and device). */
  private slot(variable: tf.Variable, host: boolean): SlotState {
    let slot = this.state.get(variable);
    if (slot && host !== slot.first instanceof Float32Array) {
      const moved: { first: Float32Array; second: Float32Array | undefined; steps: number } = { first: values(slot.first).slice(), second: slot.second ? values(slot.second).slice() : undefined, steps: slot.steps };
      disposeSlot(slot);
      slot = host ? moved : { first: tf.variable(tf.tensor(moved.first, variable.shape), false), second: moved.second ? tf.variable(tf.tensor(moved.second, variable.shape), false) : undefined, steps: moved.steps };
      this.state.set(variable, slot);
    }
    if (!slot) {
      const size = variable.size;
      const adam = this.kind === 'adam';
      slot = host
        ? { first: adam ? new Float32Array(size) : new Float32Array(size).fill(this.initialAccumulator), second: adam ? new Float32Array(size) : undefined, steps: 0 }
        : tf.tidy(() => (adam
          ? { first: tf.variable(tf.zerosLike(variable), false), second: tf.variable(tf.zerosLike(variable), false), steps: 0 }
          : { first: tf.variable(tf.fill(variable.shape, this.initialAccumulator), false), steps: 0 }));
      this.state.set(variable, slot);
    }
    return slot;
  }
}

function values(state: tf.Variable | Float32Array): Float32Array {
  return state instanceof Float32Array ? state : (state.dataSync() as Float32Array);
}

function disposeSlot(slot: SlotState): void {
  if (!(slot.first instanceof Float32Array)) slot.first.dispose();
  if (slot.second && !(slot.second instanceof Float32Array)) slot.second.dispose();
}
