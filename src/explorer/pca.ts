import { GraftError } from '../errors.js';

/** Result of `pca2`: the points on the first two principal axes and the variance share of each. */
export interface Pca2Result {
  /** [n, 2] row-major: coordinates on the first and second principal component. */
  coords: Float32Array;
  /** Share of the total variance on each of the two components (each in [0, 1]). */
  explainedVariance: [number, number];
}

/**
 * Centred PCA onto the top two components. Embeddings are narrow (dim 16..128), so the
 * dim x dim covariance is built in float64 and diagonalised exactly (cyclic Jacobi) rather
 * than by power iteration, which converges slowly when the top eigenvalues are close.
 * Axis signs are fixed (largest-magnitude loading positive), so the output is deterministic.
 *
 * @param vectors [n, dim] row-major
 * @example
 * const { coords, explainedVariance } = pca2(itemVectors, 2000, 64);
 * const [x0, y0] = [coords[0], coords[1]];
 */
export function pca2(vectors: Float32Array, n: number, dim: number): Pca2Result {
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(dim) || dim <= 0 || vectors.length !== n * dim) {
    throw new GraftError('BAD_INPUT', `pca2 needs a [n, dim] matrix: got ${vectors.length} values for n = ${n}, dim = ${dim}; pass n * dim values row-major`);
  }
  const coords = new Float32Array(n * 2);
  if (n === 0) return { coords, explainedVariance: [0, 0] };

  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += vectors[i * dim + j];
  for (let j = 0; j < dim; j++) mean[j] /= n;

  // Upper triangle of X_c^T X_c, then mirrored.
  const cov = new Float64Array(dim * dim);
  const row = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) row[j] = vectors[i * dim + j] - mean[j];
    for (let a = 0; a < dim; a++) {
      const xa = row[a];
      if (xa === 0) continue;
      const base = a * dim;
      for (let b = a; b < dim; b++) cov[base + b] += xa * row[b];
    }
  }
  for (let a = 0; a < dim; a++) {
    for (let b = a; b < dim; b++) {
      const v = cov[a * dim + b] / n;
      cov[a * dim + b] = v;
      cov[b * dim + a] = v;
    }
  }

  const { values, vectors: eigen } = symmetricEigen(cov, dim);
  let trace = 0;
  for (let j = 0; j < dim; j++) trace += Math.max(0, values[j]);
  const order = Array.from({ length: dim }, (_, j) => j).sort((p, q) => values[q] - values[p] || p - q);
  const axes = [order[0], order[1] ?? order[0]].map((column, k) => {
    if (k === 1 && dim === 1) return new Float64Array(1);
    const axis = new Float64Array(dim);
    let largest = 0;
    for (let j = 0; j < dim; j++) {
      axis[j] = eigen[j * dim + column];
      if (Math.abs(axis[j]) > Math.abs(largest)) largest = axis[j];
    }
    if (largest < 0) for (let j = 0; j < dim; j++) axis[j] = -axis[j];
    return axis;
  });
  const [u, v] = axes;
  for (let i = 0; i < n; i++) {
    let x = 0;
    let y = 0;
    for (let j = 0; j < dim; j++) {
      const c = vectors[i * dim + j] - mean[j];
      x += c * u[j];
      y += c * v[j];
    }
    coords[2 * i] = x;
    coords[2 * i + 1] = y;
  }
  const share = (column: number | undefined) => (column === undefined || trace <= 0 ? 0 : Math.max(0, values[column]) / trace);
  return { coords, explainedVariance: [share(order[0]), dim > 1 ? share(order[1]) : 0] };
}

/**
 * Eigen-decomposition of a symmetric [dim, dim] matrix by cyclic Jacobi rotations.
 * Returns the eigenvalues and the eigenvectors as the columns of a [dim, dim] matrix.
 * Quadratic convergence: 10-15 sweeps reach float64 precision for dim <= 128.
 */
export function symmetricEigen(matrix: Float64Array, dim: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(dim * dim);
  for (let j = 0; j < dim; j++) v[j * dim + j] = 1;
  let total = 0;
  for (let j = 0; j < dim * dim; j++) total += a[j] * a[j];
  const tolerance = 1e-22 * Math.max(total, Number.MIN_VALUE);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < dim; p++) for (let q = p + 1; q < dim; q++) off += a[p * dim + q] * a[p * dim + q];
    if (off <= tolerance) break;
    for (let p = 0; p < dim - 1; p++) {
      for (let q = p + 1; q < dim; q++) {
        const apq = a[p * dim + q];
        if (apq === 0) continue;
        const app = a[p * dim + p];
        const aqq = a[q * dim + q];
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < dim; k++) {
          const akp = a[k * dim + p];
          const akq = a[k * dim + q];
          a[k * dim + p] = c * akp - s * akq;
          a[k * dim + q] = s * akp + c * akq;
        }
        for (let k = 0; k < dim; k++) {
          const apk = a[p * dim + k];
          const aqk = a[q * dim + k];
          a[p * dim + k] = c * apk - s * aqk;
          a[q * dim + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < dim; k++) {
          const vkp = v[k * dim + p];
          const vkq = v[k * dim + q];
          v[k * dim + p] = c * vkp - s * vkq;
          v[k * dim + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(dim);
  for (let j = 0; j < dim; j++) values[j] = a[j * dim + j];
  return { values, vectors: v };
}
