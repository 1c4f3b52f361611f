import { GraftError } from '../errors.js';
import { TOWER_SIMD_WASM_BASE64 } from './tower-simd-wasm.js';
import { wasmApi, type WasmMemory, type WasmModule } from './wasm-api.js';

/**
 * The dense part of a two-tower training step on the host backends (wasm, cpu) without
 * TF.js: both towers' MLPs (ReLU between layers, the last linear, an optional residual ID
 * row, L2 normalisation), the in-batch softmax against the diagonal, and the whole backward
 * pass, in one call. Everything runs in a hand-written WebAssembly SIMD kernel
 * (`tower-simd.wat`): the matrix products in 4 x 8 blocks of f32x4 sums (about 48 GFLOP/s on
 * one core here, against 29-37 for TF.js wasm's XNNPACK at these shapes), the element-wise
 * passes (bias + ReLU, normalisation, the softmax with a vector exp) on whole vectors; JS only
 * copies the inputs in and the gradients out. The TF.js path (`tower-ops.ts`, autodiff) costs
 * about 120 kernel launches a step; this is at most three products a layer and three for the
 * logits (BENCHMARKS.md, issue 20). The dense optimizer's Adam runs here too (`adam`).
 *
 * The maths is the TF.js path's (same ops, float32 storage); the sums run in another order,
 * so results agree to float32 rounding, not bit for bit (tested in tower-kernel.test.ts). The
 * model uses it whenever the backend is a host one and WebAssembly SIMD validates;
 * `GRAFT_TOWER_SIMD=0` turns it off (the TF.js path, e.g. to compare).
 *
 * @example
 * const kernel = towerKernel();
 * const out = kernel?.step(userTower, itemTower, { temperature: 0.05 }); // loss and gradients
 */

/** One tower's dense part for a step: its gathered input and its layers' weights. */
export interface KernelTower {
  /** `[rows, widths[0]]` row-major: the gathered layer-0 rows (ID | tokens | history). */
  input: Float32Array;
  rows: number;
  /** Layer widths, input first: `[inputDim, w1, ..., wL]`. */
  widths: readonly number[];
  /** Per dense layer: kernel `[w(l-1), w(l)]` and bias `[w(l)]`. */
  kernels: readonly Float32Array[];
  biases: readonly Float32Array[];
  /** Output = MLP + the input's first `idDim` columns (the ID row). */
  residual: boolean;
  idDim: number;
  /** L2-normalise the output (rsqrt(sum of squares + 1e-12), as `l2Normalize`). */
  normalize: boolean;
  /** Return the gradient of the input (layer 0 trainable). */
  inputGradient: boolean;
  /** Per dense layer: return its kernel's and bias's gradients. */
  trainable: readonly boolean[];
}

/** The in-batch softmax of `InBatchSoftmaxTask.loss` on the towers' outputs. */
export interface KernelSoftmax {
  temperature: number;
  /** `[1, C]` or `[B, C]` added to the logits (logQ correction, masked accidental hits). */
  bias?: { values: Float32Array; shape: readonly [number, number] };
  /** `[C]` learned per-candidate logit bias. */
  itemBias?: Float32Array;
  /** `[B]` normalised example weights; undefined: the mean. */
  weights?: Float32Array;
}

export interface KernelResult {
  loss: number;
  userGrad?: Float32Array;
  itemGrad?: Float32Array;
  /** `[C]` gradient of the item biases (with `itemBias`). */
  biasGrad?: Float32Array;
  /** The trainable layers' kernel and bias gradients, user tower first, bottom layer first. */
  dense: Float32Array[];
}

interface WasmExports {
  memory: WasmMemory;
  gemm(a: number, ars: number, acs: number, b: number, ldb: number, c: number, ldc: number, m: number, k: number, n: number, acc: number): void;
  transpose(src: number, lds: number, dst: number, ldd: number, rows: number, cols: number): void;
  biasAct(h: number, ld: number, rows: number, bias: number, relu: number): void;
  reluMask(g: number, act: number, n: number): void;
  colSums(g: number, ld: number, rows: number, out: number): void;
  normalize(h: number, out: number, ld: number, rows: number, inv: number): void;
  normalizeBack(y: number, dy: number, dh: number, ld: number, rows: number, inv: number): void;
  softmaxRows(l: number, ld: number, rows: number, invT: number, bias: number, matrix: number, w: number, stats: number, biasGrad: number): void;
  adam(w: number, g: number, m: number, v: number, n: number, s: number, scaled: number, b1: number, a1: number, b2: number, a2: number, r1: number, c2: number, eps: number): void;
}

/** The float32 constants of one Adam update (`TowerKernel.adam`), as `DenseOptimizer` computes them. */
export interface AdamConstants {
  /** Gradient scale (global-norm clipping); 1 = none. */
  scale: number;
  b1: number;
  a1: number;
  b2: number;
  a2: number;
  /** Learning rate x the first moment's bias correction. */
  r1: number;
  /** The second moment's bias correction. */
  c2: number;
  eps: number;
}

/** The most a wasm32 memory can hold (65,536 pages of 64 KiB). */
const MAX_MEMORY_BYTES = 2 ** 32;

/** Rows padded to a multiple of 8 floats (the kernel's block width). */
const pad = (n: number): number => (n + 7) & ~7;

/** A padding column of the logits: exp(x - max) is 0 there, so it drops out of every sum. */
const MASKED_COLUMN = -1e30;

/** A tower's buffers in the kernel's memory (float offsets) for one step. */
interface TowerPlan {
  tower: KernelTower;
  /** Activations per level: 0 = input, l = layer l's output (post-ReLU), stride pad(width). */
  activations: number[];
  /** The copied kernels `[w(l-1), pad(w(l))]` and biases `[pad(w(l))]` per layer (index l - 1), padding zero. */
  weights: number[];
  biases: number[];
  /** The output (after residual and normalisation), `[rows, pad(d)]`. */
  output: number;
  /** Its gradient. */
  outputGrad: number;
  /** 1 / |h| per row (normalised towers). */
  inverseNorms: number;
}

let compiled: WasmModule | null | undefined;
let instance: TowerKernel | null | undefined;

/** The compiled kernel module; null when this runtime's WebAssembly has no SIMD or `GRAFT_TOWER_SIMD=0`. */
function towerModule(): WasmModule | null {
  if (compiled === undefined) {
    if (process.env.GRAFT_TOWER_SIMD === '0') return (compiled = null);
    const bytes = Buffer.from(TOWER_SIMD_WASM_BASE64, 'base64');
    const wasm = wasmApi();
    compiled = wasm.validate(bytes) ? new wasm.Module(bytes) : null;
  }
  return compiled;
}

let enabled = true;

/**
 * Turns the kernel off (false: the model trains through TF.js autodiff, as on a device backend)
 * or back on, for this thread; returns the previous setting. For comparisons in tests and benchmarks.
 */
export function setTowerKernelEnabled(value: boolean): boolean {
  const previous = enabled;
  enabled = value;
  return previous;
}

/** This thread's kernel (one instance and memory per thread), or null where it cannot run (see `towerModule`) or is turned off. */
export function towerKernel(): TowerKernel | null {
  if (!enabled) return null;
  if (instance === undefined) {
    const module = towerModule();
    instance = module ? new TowerKernel(new (wasmApi().Instance)(module, {}).exports as unknown as WasmExports) : null;
  }
  return instance;
}

export class TowerKernel {
  private heap: Float32Array;
  private top = 0;

  constructor(private readonly wasm: WasmExports) {
    this.heap = new Float32Array(wasm.memory.buffer);
  }

  /**
   * Forward and backward of both towers and the in-batch softmax: the loss, the inputs'
   * gradients (where asked) and the trainable layers' gradients. The user tower has B rows,
   * the item tower C >= B (the positives, then any sampled negatives); row i's positive is column i.
   */
  step(user: KernelTower, item: KernelTower, softmax: KernelSoftmax): KernelResult {
    const b = user.rows;
    const c = item.rows;
    const d = user.widths[user.widths.length - 1];
    if (item.widths[item.widths.length - 1] !== d) throw new Error(`tower outputs differ: user ${d}, item ${item.widths[item.widths.length - 1]}`);
    if (c < b) throw new Error(`${c} candidates for ${b} users; the positives come first`);
    const bias = softmax.bias;
    if (bias && (bias.shape[1] !== c || (bias.shape[0] !== 1 && bias.shape[0] !== b))) throw new Error(`logit bias [${bias.shape.join(', ')}] for [${b}, ${c}] logits`);
    this.top = 0;
    const u = this.planTower(user);
    const v = this.planTower(item);
    const pc = pad(c);
    const pd = pad(d);
    const transposedItems = this.alloc(d * pc);
    const logits = this.alloc(b * pc);
    const biasRow = this.alloc(pc);
    const matrix = bias && bias.shape[0] !== 1 ? this.alloc(b * pc) : -1;
    const weights = this.alloc(b);
    const stats = this.alloc(3 * b);
    const biasGrad = softmax.itemBias ? this.alloc(pc) : -1;
    const scratch = this.alloc(Math.max(scratchLayout(user, 0).size, scratchLayout(item, 0).size));
    // Offset 0 always holds the user tower's input, so 0 can mean "none" for the optional regions below.
    this.reserve(() => `a training step of ${b} examples against ${c} candidates`, `the [${b}, ${c}] logits alone ${(4 * b * pad(c) / 2 ** 30).toFixed(1)} GiB`, 'use a smaller batchSize (at most about ' + Math.floor(Math.sqrt(MAX_MEMORY_BYTES / 8)).toLocaleString('en-US') + ') or fewer uniformNegatives');

    this.forward(u);
    this.forward(v);
    const wasm = this.wasm;
    const h = this.heap;
    // logits = U V^T (V transposed first; its padding columns zero, so the logits' are).
    for (let r = 0; r < d; r++) h.fill(0, transposedItems + r * pc + c, transposedItems + (r + 1) * pc);
    wasm.transpose(4 * v.output, pd, 4 * transposedItems, pc, c, d);
    wasm.gemm(4 * u.output, pd, 1, 4 * transposedItems, pc, 4 * logits, pc, b, d, pc, 0);

    // The bias row: the learned item biases plus a [1, C] logit bias; the padding masked.
    h.fill(0, biasRow, biasRow + c);
    h.fill(MASKED_COLUMN, biasRow + c, biasRow + pc);
    if (softmax.itemBias) for (let j = 0; j < c; j++) h[biasRow + j] = softmax.itemBias[j];
    if (bias && matrix < 0) for (let j = 0; j < c; j++) h[biasRow + j] = Math.fround(h[biasRow + j] + bias.values[j]);
    if (bias && matrix >= 0) copyPadded(bias.values, c, h, matrix, pc, b, c);
    if (softmax.weights) h.set(softmax.weights.subarray(0, b), weights);
    else h.fill(1 / b, weights, weights + b);
    if (biasGrad >= 0) h.fill(0, biasGrad, biasGrad + pc);
    const invT = Math.fround(1 / softmax.temperature);
    wasm.softmaxRows(4 * logits, pc, b, invT, 4 * biasRow, matrix >= 0 ? 4 * matrix : 0, 4 * weights, 4 * stats, biasGrad >= 0 ? 4 * biasGrad : 0);
    // The diagonal's -1 of softmax - [i = j], and loss_i = log(sum) - (x_ii - max).
    let loss = 0;
    for (let i = 0; i < b; i++) {
      const w = h[weights + i];
      loss += w * (Math.log(h[stats + 3 * i + 2]) - (h[stats + 3 * i + 1] - h[stats + 3 * i]));
      h[logits + i * pc + i] -= w * invT;
      if (biasGrad >= 0) h[biasGrad + i] -= w;
    }
    const biasGradient = biasGrad >= 0 ? h.slice(biasGrad, biasGrad + c) : undefined;

    // G = dloss/dlogits / T: dU = G V, dV = G^T U (G read transposed in place).
    wasm.gemm(4 * logits, pc, 1, 4 * v.output, pd, 4 * u.outputGrad, pd, b, c, pd, 0);
    wasm.gemm(4 * logits, 1, pc, 4 * u.output, pd, 4 * v.outputGrad, pd, c, b, pd, 0);
    const userGrads = this.backward(u, scratchLayout(user, scratch));
    const itemGrads = this.backward(v, scratchLayout(item, scratch));
    return { loss, userGrad: userGrads.input, itemGrad: itemGrads.input, biasGrad: biasGradient, dense: [...userGrads.dense, ...itemGrads.dense] };
  }

  /** Floats from the bump allocator, 32-byte aligned (the memory grows in `reserve`). */
  private alloc(floats: number): number {
    const at = this.top;
    this.top += pad(floats);
    return at;
  }

  /**
   * One Adam update of a dense variable in place (`w`, `m`, `v` updated; `g` read), bit for bit
   * the update of `DenseOptimizer`'s JS loop and of the TF.js ops (see `adam` in the WAT).
   */
  adam(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, k: AdamConstants): void {
    const n = w.length;
    this.top = 0;
    const [wAt, gAt, mAt, vAt] = [this.alloc(n), this.alloc(n), this.alloc(n), this.alloc(n)];
    this.reserve(() => `an Adam update of ${n} values`, 'one variable', 'use smaller layers');
    const h = this.heap;
    h.set(w, wAt);
    h.set(g.subarray(0, n), gAt);
    h.set(m, mAt);
    h.set(v, vAt);
    this.wasm.adam(4 * wAt, 4 * gAt, 4 * mAt, 4 * vAt, pad(n), k.scale, k.scale === 1 ? 0 : 1, k.b1, k.a1, k.b2, k.a2, k.r1, k.c2, k.eps);
    w.set(h.subarray(wAt, wAt + n));
    m.set(h.subarray(mAt, mAt + n));
    v.set(h.subarray(vAt, vAt + n));
  }

  /**
   * Grows the memory to hold everything allocated so far (then refreshes the view). Work that
   * cannot fit in a WebAssembly memory (4 GiB; in a step the [B, C] logits dominate) is refused
   * before anything is written, naming the fix.
   */
  private reserve(what: () => string, largest: string, fix: string): void {
    const needed = this.top * 4;
    const memory = this.wasm.memory;
    if (needed > MAX_MEMORY_BYTES) {
      throw new GraftError('BAD_INPUT', `${what()} needs ${(needed / 2 ** 30).toFixed(1)} GiB for the towers' kernel (${largest}), more than a WebAssembly memory holds (4 GiB): ${fix}`);
    }
    if (memory.buffer.byteLength < needed) {
      try {
        memory.grow(Math.ceil((needed - memory.buffer.byteLength) / 65536));
      } catch (error) {
        throw new GraftError('BAD_INPUT', `${what()} needs ${(needed / 2 ** 30).toFixed(2)} GiB for the towers' kernel and this process could not get it (${(error as Error).message}): ${fix}`);
      }
    }
    if (this.heap.buffer !== memory.buffer) this.heap = new Float32Array(memory.buffer);
  }

  private planTower(tower: KernelTower): TowerPlan {
    const { rows, widths } = tower;
    const layers = widths.length - 1;
    if (tower.input.length < rows * widths[0]) throw new Error(`tower input has ${tower.input.length} values for ${rows} x ${widths[0]}`);
    const activations = [this.alloc(rows * pad(widths[0]))];
    const weights: number[] = [];
    const biases: number[] = [];
    for (let l = 1; l <= layers; l++) {
      weights.push(this.alloc(widths[l - 1] * pad(widths[l])));
      biases.push(this.alloc(pad(widths[l])));
      activations.push(this.alloc(rows * pad(widths[l])));
    }
    const d = widths[layers];
    return {
      tower,
      activations,
      weights,
      biases,
      output: this.alloc(rows * pad(d)),
      outputGrad: this.alloc(rows * pad(d)),
      inverseNorms: this.alloc(rows),
    };
  }

  private forward(plan: TowerPlan): void {
    const { tower, activations, weights, biases } = plan;
    const { rows, widths } = tower;
    const h = this.heap;
    const wasm = this.wasm;
    copyPadded(tower.input, widths[0], h, activations[0], pad(widths[0]), rows, widths[0]);
    const layers = widths.length - 1;
    for (let l = 1; l <= layers; l++) {
      const [fanIn, width] = [widths[l - 1], widths[l]];
      const stride = pad(width);
      copyPadded(tower.kernels[l - 1], width, h, weights[l - 1], stride, fanIn, width);
      copyPadded(tower.biases[l - 1], width, h, biases[l - 1], stride, 1, width);
      wasm.gemm(4 * activations[l - 1], pad(fanIn), 1, 4 * weights[l - 1], stride, 4 * activations[l], stride, rows, fanIn, stride, 0);
      wasm.biasAct(4 * activations[l], stride, rows, 4 * biases[l - 1], l < layers ? 1 : 0);
    }
    const d = widths[layers];
    const stride = pad(d);
    const top = activations[layers];
    if (tower.residual) {
      const input = activations[0];
      const inputStride = pad(widths[0]);
      for (let i = 0; i < rows; i++) for (let j = 0; j < tower.idDim; j++) h[top + i * stride + j] += h[input + i * inputStride + j];
    }
    if (tower.normalize) wasm.normalize(4 * top, 4 * plan.output, stride, rows, 4 * plan.inverseNorms);
    else h.copyWithin(plan.output, top, top + rows * stride);
  }

  /** Back through normalisation, residual and the layers: the input's gradient and the trainable layers'. */
  private backward(plan: TowerPlan, scratch: ScratchLayout): { input?: Float32Array; dense: Float32Array[] } {
    const { tower, activations, weights } = plan;
    const { rows, widths } = tower;
    const layers = widths.length - 1;
    const h = this.heap;
    const wasm = this.wasm;
    const d = widths[layers];
    const stride = pad(d);
    const { buffers, transposed, kernelGrad, biasGrad } = scratch;

    // Normalisation: dh = (dy - y <dy, y>) / |h|; the gradient lands in buffers[0].
    let grad = buffers[0];
    if (tower.normalize) wasm.normalizeBack(4 * plan.output, 4 * plan.outputGrad, 4 * grad, stride, rows, 4 * plan.inverseNorms);
    else h.copyWithin(grad, plan.outputGrad, plan.outputGrad + rows * stride);
    // The lowest layer whose gradient is needed: below it nothing trains.
    let lowest = tower.inputGradient ? 0 : layers + 1;
    for (let l = 1; l <= layers && lowest > l; l++) if (tower.trainable[l - 1]) lowest = l;
    const dense: Float32Array[][] = [];
    let residualGrad: Float32Array | undefined;
    if (tower.residual && tower.inputGradient) {
      residualGrad = new Float32Array(rows * tower.idDim);
      copyRows(h, grad, stride, residualGrad, 0, tower.idDim, rows, tower.idDim);
    }
    for (let l = layers; l >= 1 && l >= lowest; l--) {
      const [fanIn, width] = [widths[l - 1], widths[l]];
      const ws = pad(width);
      // ReLU below the top: the gradient passes where the layer's output is positive.
      if (l < layers) wasm.reluMask(4 * grad, 4 * activations[l], rows * ws);
      if (tower.trainable[l - 1]) {
        // dW = X^T dz (X read transposed in place), db = column sums of dz.
        wasm.gemm(4 * activations[l - 1], 1, pad(fanIn), 4 * grad, ws, 4 * kernelGrad, ws, fanIn, rows, ws, 0);
        const kernel = new Float32Array(fanIn * width);
        copyRows(h, kernelGrad, ws, kernel, 0, width, fanIn, width);
        wasm.colSums(4 * grad, ws, rows, 4 * biasGrad);
        dense[l - 1] = [kernel, h.slice(biasGrad, biasGrad + width)];
      }
      if (l > lowest) {
        // dX = dz W^T (W transposed first).
        const next = grad === buffers[0] ? buffers[1] : buffers[0];
        wasm.transpose(4 * weights[l - 1], ws, 4 * transposed, pad(fanIn), fanIn, width);
        wasm.gemm(4 * grad, ws, 1, 4 * transposed, pad(fanIn), 4 * next, pad(fanIn), rows, width, pad(fanIn), 0);
        grad = next;
      }
    }
    let input: Float32Array | undefined;
    if (tower.inputGradient) {
      // Every layer passed its gradient down: grad holds the input's.
      const width = widths[0];
      input = new Float32Array(rows * width);
      copyRows(h, grad, pad(width), input, 0, width, rows, width);
      if (residualGrad) for (let i = 0; i < rows; i++) for (let j = 0; j < tower.idDim; j++) input[i * width + j] += residualGrad[i * tower.idDim + j];
    }
    return { input, dense: dense.flatMap((pair) => pair ?? []) };
  }
}

/** Float offsets of the backward pass's scratch (`TowerKernel.backward`), and its size. */
interface ScratchLayout {
  /** Two gradient buffers of the widest level, `[rows, widest]` each (the gradient moves between them layer by layer). */
  buffers: [number, number];
  /** A kernel transposed, then a kernel's gradient: the largest kernel each. */
  transposed: number;
  kernelGrad: number;
  /** A bias gradient of the widest level. */
  biasGrad: number;
  size: number;
}

/** The scratch `tower`'s backward pass uses, laid out from float offset `at`. */
function scratchLayout(tower: KernelTower, at: number): ScratchLayout {
  const { rows, widths } = tower;
  let widest = 0;
  let kernel = 0;
  for (const w of widths) widest = Math.max(widest, pad(w));
  for (let l = 1; l < widths.length; l++) kernel = Math.max(kernel, widths[l - 1] * pad(widths[l]), widths[l] * pad(widths[l - 1]));
  const transposed = at + 2 * pad(rows * widest);
  const kernelGrad = transposed + pad(kernel);
  const biasGrad = kernelGrad + pad(kernel);
  return { buffers: [at, at + pad(rows * widest)], transposed, kernelGrad, biasGrad, size: biasGrad + widest - at };
}

/** Copies a `[rows, width]` matrix (stride `fromStride`) into rows of `toStride` floats, the padding columns zeroed. */
function copyPadded(from: Float32Array, fromStride: number, to: Float32Array, toAt: number, toStride: number, rows: number, width: number): void {
  copyRows(from, 0, fromStride, to, toAt, toStride, rows, width);
  if (toStride > width) for (let i = 0; i < rows; i++) to.fill(0, toAt + i * toStride + width, toAt + (i + 1) * toStride);
}

/** Copies `rows` rows of `width` floats between row-major buffers of strides `fromStride` and `toStride`. */
function copyRows(from: Float32Array, fromAt: number, fromStride: number, to: Float32Array, toAt: number, toStride: number, rows: number, width: number): void {
  if (fromStride === width && toStride === width) {
    to.set(from.subarray(fromAt, fromAt + rows * width), toAt);
    return;
  }
  for (let i = 0; i < rows; i++) to.set(from.subarray(fromAt + i * fromStride, fromAt + i * fromStride + width), toAt + i * toStride);
}
