/**
 * Implicit ALS pieces for the benchmarks (Hu, Koren & Volinsky 2008: confidence 1 + alpha on
 * observed pairs, every other pair a zero with confidence 1): 0/1 matrices in CSR form and
 * the exact per-row half-step. Used by bench/als-reference (the reference) and
 * bench/transfer --refit-items (a diagnostic). Kept apart from src/training/implicit-als.ts
 * (which trains the product's models) on purpose, as an independent check of its figures;
 * only the Cholesky solve is shared.
 */

/** CSR rows of a 0/1 matrix from (row, column) pairs (duplicates kept once). */
export function csr(pairs: [number, number][], rows: number): { offsets: Int32Array; cols: Int32Array } {
  const sets = Array.from({ length: rows }, () => new Set<number>());
  for (const [r, c] of pairs) sets[r]!.add(c);
  const offsets = new Int32Array(rows + 1);
  for (let r = 0; r < rows; r++) offsets[r + 1] = offsets[r]! + sets[r]!.size;
  const cols = new Int32Array(offsets[rows]!);
  for (let r = 0; r < rows; r++) cols.set([...sets[r]!].sort((a, b) => a - b), offsets[r]!);
  return { offsets, cols };
}

export function transpose(m: { offsets: Int32Array; cols: Int32Array }, columns: number) {
  const pairs: [number, number][] = [];
  for (let r = 0; r + 1 < m.offsets.length; r++) for (let k = m.offsets[r]!; k < m.offsets[r + 1]!; k++) pairs.push([m.cols[k]!, r]);
  return csr(pairs, columns);
}

/**
 * One half-step of implicit ALS: every row x of `out` solves
 * (YtY + alpha sum_{j in row} y_j y_j^T + reg I) x = (1 + alpha) sum_{j in row} y_j, by Cholesky.
 */
export function solveRows(rows: { offsets: Int32Array; cols: Int32Array }, other: Float64Array, out: Float64Array, f: number, alpha: number, reg: number): void {
  const gram = new Float64Array(f * f);
  const nOther = other.length / f;
  for (let j = 0; j < nOther; j++) {
    const o = j * f;
    for (let a = 0; a < f; a++) {
      const va = other[o + a]!;
      for (let b = 0; b <= a; b++) gram[a * f + b] += va * other[o + b]!;
    }
  }
  const A = new Float64Array(f * f);
  const rhs = new Float64Array(f);
  const n = rows.offsets.length - 1;
  for (let r = 0; r < n; r++) {
    A.set(gram);
    for (let a = 0; a < f; a++) A[a * f + a] += reg;
    rhs.fill(0);
    for (let k = rows.offsets[r]!; k < rows.offsets[r + 1]!; k++) {
      const o = rows.cols[k]! * f;
      for (let a = 0; a < f; a++) {
        const va = other[o + a]!;
        rhs[a] += (1 + alpha) * va;
        const s = alpha * va;
        for (let b = 0; b <= a; b++) A[a * f + b] += s * other[o + b]!;
      }
    }
    choleskySolve(A, rhs, f);
    out.set(rhs, r * f);
  }
}

/**
 * Solves A x = b in place for a symmetric positive-definite `[f, f]` A given by its lower
 * triangle (overwritten by its Cholesky factor); b becomes x. The library's exact solve lives
 * inside `alsKernel` (self-contained: the worker threads run its source text), so this
 * independent reference keeps its own.
 */
function choleskySolve(A: Float64Array, b: Float64Array, f: number): void {
  for (let j = 0; j < f; j++) {
    let d = A[j * f + j]!;
    for (let k = 0; k < j; k++) d -= A[j * f + k]! * A[j * f + k]!;
    if (!(d > 0)) throw new Error(`ALS normal equations are not positive definite (pivot ${d} at ${j})`);
    const l = Math.sqrt(d);
    A[j * f + j] = l;
    for (let i = j + 1; i < f; i++) {
      let s = A[i * f + j]!;
      for (let k = 0; k < j; k++) s -= A[i * f + k]! * A[j * f + k]!;
      A[i * f + j] = s / l;
    }
  }
  for (let i = 0; i < f; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= A[i * f + k]! * b[k]!;
    b[i] = s / A[i * f + i]!;
  }
  for (let i = f - 1; i >= 0; i--) {
    let s = b[i]!;
    for (let k = i + 1; k < f; k++) s -= A[k * f + i]! * b[k]!;
    b[i] = s / A[i * f + i]!;
  }
}
