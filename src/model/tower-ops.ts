import * as tf from '@tensorflow/tfjs';

/**
 * The engine's differentiable ops, each one `tf.customGrad` with a hand-written backward
 * pass. Two reasons, both measured on the wasm backend (bench/train.ts):
 *
 * - wasm's BatchMatMul is ~10x slower when asked to transpose an operand (2-3 GFLOP/s vs
 *   30-40), and TF.js's own matMul gradient always asks (dA = dC B^T, dB = A^T dC). Here
 *   every backward matmul transposes explicitly first (a cheap copy) and multiplies plainly.
 * - Fewer, fused kernels: TF.js's logSumExp gradient goes through an `Equal` on [B, B]
 *   (slow on wasm) and L2 normalisation is 5 ops with 10 more in autodiff. The bias
 *   gradients are a ones-row matmul (wasm's Sum over axis 0 transposes first) and the
 *   in-batch identity is built once per shape: together 10% of an ID-only step.
 */

type OpBody = (...args: never[]) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] };

/** `tf.customGrad` with positional typed inputs (its own typing takes a union rest parameter). */
function customOp(body: OpBody): (...inputs: tf.Tensor[]) => tf.Tensor {
  return tf.customGrad(body as unknown as Parameters<typeof tf.customGrad>[0]) as (...inputs: tf.Tensor[]) => tf.Tensor;
}

/** `[M, K] x [K, N]` without a transpose flag. */
function mm(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(a, b);
}

/** A kept `[1, n]` row of ones per n (the bias gradients' column sums). */
const onesRows = new Map<number, tf.Tensor2D>();
function ones(n: number): tf.Tensor2D {
  const cached = onesRows.get(n);
  if (cached && !cached.isDisposed) return cached;
  const row = tf.keep(tf.ones([1, n]) as tf.Tensor2D);
  onesRows.set(n, row);
  return row;
}

/** A kept `[rows, columns]` identity per shape (the in-batch diagonal). */
const identities = new Map<string, tf.Tensor2D>();
function identity(rows: number, columns: number): tf.Tensor2D {
  const key = `${rows}x${columns}`;
  const cached = identities.get(key);
  if (cached && !cached.isDisposed) return cached;
  const eye = tf.keep(tf.eye(rows, columns));
  identities.set(key, eye);
  return eye;
}

/** `a^T` materialised (`[K, M]` from `[M, K]`). */
function t(a: tf.Tensor2D): tf.Tensor2D {
  return tf.transpose(a);
}

/**
 * Dense layer: x [B, in] . kernel [in, out] + bias [out], then ReLU or linear -> [B, out].
 * Gradients: dz = dy (* 1[z > 0] for ReLU); dx = dz kernel^T; dkernel = x^T dz; dbias = sum_B dz.
 */
export function dense(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D, relu: boolean): tf.Tensor2D {
  return (relu ? denseRelu : denseLinear)(x, kernel, bias) as tf.Tensor2D;
}

const denseRelu = makeDense(true);
const denseLinear = makeDense(false);

function makeDense(relu: boolean) {
  return customOp((xIn: tf.Tensor, kIn: tf.Tensor, bIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const x2 = xIn as tf.Tensor2D;
    const k2 = kIn as tf.Tensor2D;
    const z = tf.fused.matMul({ a: x2, b: k2, bias: bIn, activation: relu ? 'relu' : 'linear' });
    save([x2, k2, z]);
    return {
      value: z,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ks, zs] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const dz = (relu ? tf.mul(dy as tf.Tensor, tf.step(zs)) : dy) as tf.Tensor2D;
        // The bias gradient as ones[1, B] . dz: wasm's Sum over axis 0 transposes dz first.
        return [mm(dz, t(ks)), mm(t(xs), dz), tf.reshape(mm(ones(dz.shape[0]), dz), [dz.shape[1]])];
      },
    };
  });
}

/** Row-wise L2 normalisation of x [B, d]. Gradient: dx = (dy - y * <dy, y>) / |x|. */
export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return l2NormalizeOp(x) as tf.Tensor2D;
}

const l2NormalizeOp = customOp((xIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const inverseNorm = tf.rsqrt(tf.add(tf.sum(tf.square(xIn), 1, true), 1e-12));
    const y = tf.mul(xIn, inverseNorm);
    save([y, inverseNorm]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [ys, inv] = saved;
        const g = dy as tf.Tensor;
        return [tf.mul(tf.sub(g, tf.mul(ys, tf.sum(tf.mul(g, ys), 1, true))), inv)];
      },
    };
  });

/** a [M, d] . b [N, d]^T -> [M, N] (similarity logits). Gradients: da = dy b; db = dy^T a. */
export function matMulTransposeB(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return matMulTransposeBOp(a, b) as tf.Tensor2D;
}

const matMulTransposeBOp = customOp((aIn: tf.Tensor, bIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const a2 = aIn as tf.Tensor2D;
    const b2 = bIn as tf.Tensor2D;
    save([a2, b2]);
    return {
      value: mm(a2, t(b2)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [as, bs] = saved as [tf.Tensor2D, tf.Tensor2D];
        const g = dy as tf.Tensor2D;
        return [mm(g, bs), mm(t(g), as)];
      },
    };
  });

/**
 * Per-row softmax cross-entropy against the diagonal of logits [B, C] (C >= B: the B
 * in-batch candidates, then any extra sampled ones) -> [B]:
 * loss_i = logsumexp_j(logits_ij) - logits_ii. Gradient: dy_i * (softmax_ij - [i == j]).
 */
export function diagonalSoftmaxCrossEntropy(logits: tf.Tensor2D): tf.Tensor1D {
  return diagonalSoftmaxCrossEntropyOp(logits) as tf.Tensor1D;
}

const diagonalSoftmaxCrossEntropyOp = customOp((lIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const size = lIn.shape[0];
    const columns = lIn.shape[1] ?? size;
    const rowMax = tf.max(lIn, 1, true);
    const shifted = tf.sub(lIn, rowMax);
    const exp = tf.exp(shifted);
    const sum = tf.sum(exp, 1, true);
    const eye = identity(size, columns);
    // loss_i = log(sum_j exp(l_ij - max_i)) - (l_ii - max_i)
    const loss = tf.sub(tf.reshape(tf.log(sum), [size]), tf.sum(tf.mul(shifted, eye), 1));
    save([exp, sum, eye]);
    return {
      value: loss,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [e, s, identity] = saved;
        const softmax = tf.div(e, s);
        return [tf.mul(tf.sub(softmax, identity), tf.reshape(dy as tf.Tensor, [size, 1]))];
      },
    };
  });
