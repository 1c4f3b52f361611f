import { describe, expect, it } from 'vitest';
import { createRng } from '../dataset/random.js';
import { pca2, symmetricEigen } from './pca.js';

/** A random orthonormal basis of R^dim (Gram-Schmidt on Gaussian vectors), [dim, dim], rows are the basis vectors. */
function randomBasis(dim: number, seed: number): Float64Array {
  const rng = createRng(seed);
  const basis = new Float64Array(dim * dim);
  for (let r = 0; r < dim; r++) {
    const v = Array.from({ length: dim }, () => rng.normal());
    for (let p = 0; p < r; p++) {
      let dot = 0;
      for (let j = 0; j < dim; j++) dot += v[j] * basis[p * dim + j];
      for (let j = 0; j < dim; j++) v[j] -= dot * basis[p * dim + j];
    }
    const norm = Math.hypot(...v);
    for (let j = 0; j < dim; j++) basis[r * dim + j] = v[j] / norm;
  }
  return basis;
}

/** n points sum_k s_k z_k b_k + offset, z ~ N(0, 1): variance s_k^2 along basis vector b_k. */
function planted(n: number, dim: number, stds: number[], seed: number): Float32Array {
  const basis = randomBasis(dim, seed);
  const rng = createRng(seed + 1);
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < stds.length; k++) {
      const z = stds[k] * rng.normal();
      for (let j = 0; j < dim; j++) out[i * dim + j] += z * basis[k * dim + j];
    }
    for (let j = 0; j < dim; j++) out[i * dim + j] += 3; // an offset PCA must centre away
  }
  return out;
}

describe('pca2', () => {
  it('puts all the variance of a planted rank-2 set in 32-D on its two components', () => {
    const n = 1000;
    const dim = 32;
    const vectors = planted(n, dim, [3, 1], 7);
    const { coords, explainedVariance } = pca2(vectors, n, dim);
    expect(explainedVariance[0] + explainedVariance[1]).toBeGreaterThan(0.999);
    expect(explainedVariance[0]).toBeGreaterThan(explainedVariance[1]);
    // The 2-D coordinates keep every pairwise distance of a rank-2 set (a rotation of its plane).
    const dist = (p: number, q: number, d: number, data: ArrayLike<number>) => {
      let s = 0;
      for (let j = 0; j < d; j++) s += (data[p * d + j] - data[q * d + j]) ** 2;
      return Math.sqrt(s);
    };
    for (const [p, q] of [[0, 1], [5, 900], [17, 333]]) {
      expect(dist(p, q, 2, coords)).toBeCloseTo(dist(p, q, dim, vectors), 3);
    }
    // Centred: the coordinates average to 0.
    let mx = 0;
    let my = 0;
    for (let i = 0; i < n; i++) {
      mx += coords[2 * i] / n;
      my += coords[2 * i + 1] / n;
    }
    expect(Math.abs(mx)).toBeLessThan(1e-3);
    expect(Math.abs(my)).toBeLessThan(1e-3);
  });

  it('recovers the variance share of a planted spectrum within sampling error', () => {
    const n = 20_000;
    const dim = 16;
    const stds = [4, 3, 2, 2, 1.5, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25];
    const total = stds.reduce((a, s) => a + s * s, 0);
    const { explainedVariance } = pca2(planted(n, dim, stds, 11), n, dim);
    // Expected shares 16/52.625 = 0.304 and 9/52.625 = 0.171; sampling error at n = 20k is ~1%.
    expect(explainedVariance[0]).toBeCloseTo(stds[0] ** 2 / total, 1);
    expect(Math.abs(explainedVariance[0] - stds[0] ** 2 / total)).toBeLessThan(0.015);
    expect(Math.abs(explainedVariance[1] - stds[1] ** 2 / total)).toBeLessThan(0.015);
  });

  it('is deterministic and fixes the sign of each axis', () => {
    const vectors = planted(300, 24, [2, 1.5, 0.3], 3);
    const first = pca2(vectors, 300, 24);
    const second = pca2(Float32Array.from(vectors), 300, 24);
    expect(Array.from(second.coords)).toEqual(Array.from(first.coords));
    expect(second.explainedVariance).toEqual(first.explainedVariance);
  });

  it('handles degenerate inputs: no rows, one row, one dimension', () => {
    expect(pca2(new Float32Array(0), 0, 8)).toEqual({ coords: new Float32Array(0), explainedVariance: [0, 0] });
    const single = pca2(new Float32Array([1, 2, 3]), 1, 3);
    expect(Array.from(single.coords)).toEqual([0, 0]);
    expect(single.explainedVariance).toEqual([0, 0]);
    const line = pca2(new Float32Array([1, 2, 3, 4]), 4, 1);
    expect(Array.from(line.coords)).toEqual([-1.5, 0, -0.5, 0, 0.5, 0, 1.5, 0]);
    expect(line.explainedVariance).toEqual([1, 0]);
  });

  it('rejects a matrix whose size does not match n x dim', () => {
    expect(() => pca2(new Float32Array(10), 3, 4)).toThrow(/10 values for n = 3, dim = 4/);
  });
});

describe('symmetricEigen', () => {
  it('diagonalises a symmetric matrix: A v = lambda v for each column', () => {
    const dim = 20;
    const rng = createRng(5);
    const a = new Float64Array(dim * dim);
    for (let p = 0; p < dim; p++) {
      for (let q = p; q < dim; q++) {
        const x = rng.normal();
        a[p * dim + q] = x;
        a[q * dim + p] = x;
      }
    }
    const { values, vectors } = symmetricEigen(a, dim);
    for (let k = 0; k < dim; k++) {
      for (let p = 0; p < dim; p++) {
        let av = 0;
        for (let q = 0; q < dim; q++) av += a[p * dim + q] * vectors[q * dim + k];
        expect(av).toBeCloseTo(values[k] * vectors[p * dim + k], 9);
      }
    }
  });
});
