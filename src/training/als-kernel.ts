/**
 * One half-sweep's row solves of implicit ALS on plain typed arrays (shared memory when more
 * than one thread solves), see `fitImplicitAls` for the maths. `alsKernel` is self-contained
 * (it references nothing outside its body) because the worker threads run its source text
 * (`alsKernel.toString()`): the same code on every thread, from `dist/` and under vitest alike.
 *
 * Every row's result depends only on its own pairs, the other side's rows and the Gramians,
 * and each row's arithmetic runs in the same order whatever block or thread it falls in, so
 * the factors are bit-identical for any thread count and any split of the rows.
 */

/** What the row solver of one half reads and writes. */
export interface AlsHalf {
  f: number;
  /** 0: exact Cholesky solves; N > 0: N conjugate-gradient steps warm-started from the row. */
  cgSteps: number;
  reg: number;
  /** The other side's rows, `[otherRows * f]` (read only). */
  y: Float32Array;
  /** This side's rows, `[rows * f]`: solved rows are written in place. */
  x: Float32Array;
  offsets: Int32Array;
  cols: Int32Array;
  confidence: Float32Array;
  /** Per row: the domain mask (1..3) that picks its Gramian; 0 = no events. */
  domains: Uint8Array;
  /** 1 = left bit-identical. */
  frozen: Uint8Array;
  /** Per row: its share of the way to its solution; null = all 1. */
  steps: Float32Array | null;
  /** `[4 * f * f]`: the full symmetric Gramian per domain mask (block 0 unused). */
  grams: Float64Array;
  /** Per row of `y`: its domain mask (1..3; 0 = in no Gramian). */
  yDomains: Uint8Array;
}

export interface AlsScratch {
  block: number;
  idx: Int32Array;
  X: Float64Array;
  R: Float64Array;
  P: Float64Array;
  AP: Float64Array;
  rr: Float64Array;
  live: Uint8Array;
  A: Float64Array;
  b: Float64Array;
  /** The block's pairs' rows of y, gathered in order (grown as needed), their confidences and each block row's first pair. */
  Yb: Float32Array;
  Cb: Float64Array;
  pairAt: Int32Array;
  /** A Gramian chunk's rows of one mask, and its three packed lower triangles. */
  list: Int32Array;
  tri: Float64Array;
}

export interface AlsKernel {
  createScratch(f: number, block: number): AlsScratch;
  /** Solves rows [start, end); returns an error message (a non-positive-definite system) or null. */
  solveRows(h: AlsHalf, start: number, end: number, s: AlsScratch): string | null;
  /**
   * Solves this thread's share of a half in chunks of `chunk` rows: whichever chunk is next
   * (`control[1]`, from 0, shared by every thread), so a thread that is ahead (or started
   * earlier, or is not descheduled) takes more; stopping early when `control[0]` (abort) is
   * set. Returns the rows it solved or the error.
   */
  work(h: AlsHalf, control: Int32Array, chunk: number, s: AlsScratch): { error: string | null; rows: number };
  /** Rows of y per Gramian chunk and rows per objective chunk: a fixed partition, whatever the thread count. */
  gramRows: number;
  objectiveRows: number;
  /** Float64 values in one Gramian chunk's partial: three packed lower triangles (exact masks 1, 2, 3). */
  gramPartialSize(f: number): number;
  /** Gramian chunk c's partial sums of y yᵀ into `partials` (at c * gramPartialSize(f)). */
  gramChunk(y: Float32Array, f: number, domains: Uint8Array, c: number, partials: Float64Array, s: AlsScratch): void;
  /** The `[4 * f * f]` Gramians from the partials of chunks 0..chunks-1, summed in chunk order. */
  reduceGrams(partials: Float64Array, chunks: number, f: number, out: Float64Array): void;
  /** Objective chunks of a half: its x rows' chunks, then its y rows' (norms only). */
  objectiveChunks(h: AlsHalf): number;
  /** Objective chunk c's partial sums: `out[2c]` the pair and Gramian terms, `out[2c + 1]` the squared norms. */
  objectiveChunk(h: AlsHalf, c: number, out: Float64Array): void;
  /** Sums the objective's partials in chunk order: terms + reg * norms. */
  reduceObjective(partials: Float64Array, chunks: number, reg: number): number;
  /** This thread's share of the Gramian chunks of `h.y` (taken as in `work`); returns the chunks it summed. */
  gramWork(h: AlsHalf, control: Int32Array, partials: Float64Array, s: AlsScratch): { error: string | null; rows: number };
  /** This thread's share of the objective chunks of `h` (taken as in `work`); returns the chunks it summed. */
  objectiveWork(h: AlsHalf, control: Int32Array, partials: Float64Array): { error: string | null; rows: number };
}

export function alsKernel(): AlsKernel {
  function createScratch(f: number, block: number): AlsScratch {
    return {
      block,
      idx: new Int32Array(block),
      X: new Float64Array(block * f),
      R: new Float64Array(block * f),
      P: new Float64Array(block * f),
      AP: new Float64Array(block * f),
      rr: new Float64Array(block),
      live: new Uint8Array(block),
      A: new Float64Array(f * f),
      b: new Float64Array(f),
      Yb: new Float32Array(1024 * f),
      Cb: new Float64Array(1024),
      pairAt: new Int32Array(block + 1),
      list: new Int32Array(GRAM_ROWS),
      tri: new Float64Array(gramPartialSize(f)),
    };
  }

  const GRAM_ROWS = 1024;
  /** Pairs per CG block at most (unless one row has more): 1,024 gathered float32 rows of 64 = 256 KB. */
  const BLOCK_PAIRS = 1024;
  const OBJECTIVE_ROWS = 512;

  function gramPartialSize(f: number): number {
    return (3 * f * (f + 1)) / 2;
  }

  /**
   * Per exact mask, the rows of chunk c with that mask in index order, four at a time (each
   * sum loaded once per four rows), into a packed lower triangle (row a at a (a + 1) / 2).
   */
  function gramChunk(y: Float32Array, f: number, domains: Uint8Array, c: number, partials: Float64Array, s: AlsScratch): void {
    const tri = (f * (f + 1)) / 2;
    const acc = s.tri;
    const list = s.list;
    acc.fill(0);
    const start = c * GRAM_ROWS;
    const end = Math.min(domains.length, start + GRAM_ROWS);
    for (let mask = 1; mask <= 3; mask++) {
      let m = 0;
      for (let r = start; r < end; r++) if (domains[r] === mask) list[m++] = r;
      const g = (mask - 1) * tri;
      let j = 0;
      for (; j + 3 < m; j += 4) {
        const o0 = list[j]! * f;
        const o1 = list[j + 1]! * f;
        const o2 = list[j + 2]! * f;
        const o3 = list[j + 3]! * f;
        // Two triangle rows (a, a + 1) at a time: each y value loaded once for both.
        let a = 0;
        for (; a + 1 < f; a += 2) {
          const v0 = y[o0 + a]!;
          const v1 = y[o1 + a]!;
          const v2 = y[o2 + a]!;
          const v3 = y[o3 + a]!;
          const w0 = y[o0 + a + 1]!;
          const w1 = y[o1 + a + 1]!;
          const w2 = y[o2 + a + 1]!;
          const w3 = y[o3 + a + 1]!;
          const base = g + (a * (a + 1)) / 2;
          const next = base + a + 1;
          for (let b = 0; b <= a; b++) {
            const y0 = y[o0 + b]!;
            const y1 = y[o1 + b]!;
            const y2 = y[o2 + b]!;
            const y3 = y[o3 + b]!;
            acc[base + b] += v0 * y0 + v1 * y1 + v2 * y2 + v3 * y3;
            acc[next + b] += w0 * y0 + w1 * y1 + w2 * y2 + w3 * y3;
          }
          acc[next + a + 1] += w0 * w0 + w1 * w1 + w2 * w2 + w3 * w3;
        }
        if (a < f) {
          const v0 = y[o0 + a]!;
          const v1 = y[o1 + a]!;
          const v2 = y[o2 + a]!;
          const v3 = y[o3 + a]!;
          const base = g + (a * (a + 1)) / 2;
          for (let b = 0; b <= a; b++) acc[base + b] += v0 * y[o0 + b]! + v1 * y[o1 + b]! + v2 * y[o2 + b]! + v3 * y[o3 + b]!;
        }
      }
      for (; j < m; j++) {
        const o = list[j]! * f;
        for (let a = 0; a < f; a++) {
          const va = y[o + a]!;
          const base = g + (a * (a + 1)) / 2;
          for (let b = 0; b <= a; b++) acc[base + b] += va * y[o + b]!;
        }
      }
    }
    partials.set(acc, c * 3 * tri);
  }

  function reduceGrams(partials: Float64Array, chunks: number, f: number, out: Float64Array): void {
    const tri = (f * (f + 1)) / 2;
    const exact = new Float64Array(3 * tri);
    for (let c = 0; c < chunks; c++) {
      const o = c * 3 * tri;
      for (let k = 0; k < 3 * tri; k++) exact[k] += partials[o + k]!;
    }
    // Each union of exact masks: 1 = {1, 3}, 2 = {2, 3}, 3 = {1, 2, 3} (the rows sharing a domain with it).
    out.fill(0);
    const unions = [[], [1, 3], [2, 3], [1, 2, 3]];
    for (let m = 1; m <= 3; m++) {
      const g = m * f * f;
      for (const part of unions[m]!) {
        const e = (part - 1) * tri;
        for (let a = 0; a < f; a++) for (let b = 0; b <= a; b++) out[g + a * f + b] += exact[e + (a * (a + 1)) / 2 + b]!;
      }
      // Mirror the lower triangle onto the upper one.
      for (let a = 0; a < f; a++) for (let b = 0; b < a; b++) out[g + b * f + a] = out[g + a * f + b]!;
    }
  }

  function objectiveChunks(h: AlsHalf): number {
    return Math.ceil((h.offsets.length - 1) / OBJECTIVE_ROWS) + Math.ceil(h.y.length / h.f / OBJECTIVE_ROWS);
  }

  /** x[o..o+f)ᵀ G x[o..o+f) from the lower triangle of G at `base` (diagonal once, off-diagonal twice). */
  function quadratic(grams: Float64Array, base: number, x: Float32Array, o: number, f: number): number {
    let q = 0;
    for (let a = 0; a < f; a++) {
      const xa = x[o + a]!;
      const row = base + a * f;
      let c0 = 0;
      let c1 = 0;
      let b = 0;
      for (; b + 1 < a; b += 2) {
        c0 += grams[row + b]! * x[o + b]!;
        c1 += grams[row + b + 1]! * x[o + b + 1]!;
      }
      if (b < a) c0 += grams[row + b]! * x[o + b]!;
      q += (grams[row + a]! * xa + 2 * (c0 + c1)) * xa;
    }
    return q;
  }

  /** `quadratic` for the four rows at o, o + f, o + 2f, o + 3f against the same G (each value loaded once): the same sums per row. */
  function quadratic4(grams: Float64Array, base: number, x: Float32Array, o: number, f: number, q: Float64Array): void {
    const o1 = o + f;
    const o2 = o1 + f;
    const o3 = o2 + f;
    let q0 = 0;
    let q1 = 0;
    let q2 = 0;
    let q3 = 0;
    for (let a = 0; a < f; a++) {
      const row = base + a * f;
      let c00 = 0;
      let c01 = 0;
      let c10 = 0;
      let c11 = 0;
      let c20 = 0;
      let c21 = 0;
      let c30 = 0;
      let c31 = 0;
      let b = 0;
      for (; b + 1 < a; b += 2) {
        const g0 = grams[row + b]!;
        const g1 = grams[row + b + 1]!;
        c00 += g0 * x[o + b]!;
        c01 += g1 * x[o + b + 1]!;
        c10 += g0 * x[o1 + b]!;
        c11 += g1 * x[o1 + b + 1]!;
        c20 += g0 * x[o2 + b]!;
        c21 += g1 * x[o2 + b + 1]!;
        c30 += g0 * x[o3 + b]!;
        c31 += g1 * x[o3 + b + 1]!;
      }
      if (b < a) {
        const g0 = grams[row + b]!;
        c00 += g0 * x[o + b]!;
        c10 += g0 * x[o1 + b]!;
        c20 += g0 * x[o2 + b]!;
        c30 += g0 * x[o3 + b]!;
      }
      const gd = grams[row + a]!;
      const x0 = x[o + a]!;
      const x1 = x[o1 + a]!;
      const x2 = x[o2 + a]!;
      const x3 = x[o3 + a]!;
      q0 += (gd * x0 + 2 * (c00 + c01)) * x0;
      q1 += (gd * x1 + 2 * (c10 + c11)) * x1;
      q2 += (gd * x2 + 2 * (c20 + c21)) * x2;
      q3 += (gd * x3 + 2 * (c30 + c31)) * x3;
    }
    q[0] = q0;
    q[1] = q1;
    q[2] = q2;
    q[3] = q3;
  }

  /**
   * x chunks: per row, xᵀ G(row's domains) x (four rows of one mask at a time, the same sums
   * per row), then its pairs' (1 + c)(1 - s)² - s², and ‖x‖²; y chunks: ‖y‖².
   */
  function objectiveChunk(h: AlsHalf, c: number, out: Float64Array): void {
    const { f, x, y, offsets, cols, confidence, domains, grams } = h;
    const xRows = offsets.length - 1;
    const xChunks = Math.ceil(xRows / OBJECTIVE_ROWS);
    let terms = 0;
    let norms = 0;
    if (c < xChunks) {
      const q = new Float64Array(4);
      const end = Math.min(xRows, (c + 1) * OBJECTIVE_ROWS);
      for (let u = c * OBJECTIVE_ROWS; u < end; ) {
        const mask = domains[u]!;
        let n = 1;
        if (mask === 0) q[0] = 0;
        else if (u + 3 < end && domains[u + 1] === mask && domains[u + 2] === mask && domains[u + 3] === mask) {
          quadratic4(grams, mask * f * f, x, u * f, f, q);
          n = 4;
        } else q[0] = quadratic(grams, mask * f * f, x, u * f, f);
        for (let j = 0; j < n; j++, u++) {
          const o = u * f;
          terms += q[j]!;
          for (let k = offsets[u]!; k < offsets[u + 1]!; k++) {
            const yo = cols[k]! * f;
            let s0 = 0;
            let s1 = 0;
            let s2 = 0;
            let s3 = 0;
            let a = 0;
            for (; a + 3 < f; a += 4) {
              s0 += x[o + a]! * y[yo + a]!;
              s1 += x[o + a + 1]! * y[yo + a + 1]!;
              s2 += x[o + a + 2]! * y[yo + a + 2]!;
              s3 += x[o + a + 3]! * y[yo + a + 3]!;
            }
            for (; a < f; a++) s0 += x[o + a]! * y[yo + a]!;
            const s = s0 + s1 + (s2 + s3);
            terms += (1 + confidence[k]!) * (1 - s) * (1 - s) - s * s;
          }
          for (let a = 0; a < f; a++) norms += x[o + a]! * x[o + a]!;
        }
      }
    } else {
      const yRows = y.length / f;
      const start = (c - xChunks) * OBJECTIVE_ROWS * f;
      const end = Math.min(yRows, (c - xChunks + 1) * OBJECTIVE_ROWS) * f;
      for (let k = start; k < end; k++) norms += y[k]! * y[k]!;
    }
    out[2 * c] = terms;
    out[2 * c + 1] = norms;
  }

  function reduceObjective(partials: Float64Array, chunks: number, reg: number): number {
    let terms = 0;
    let norms = 0;
    for (let c = 0; c < chunks; c++) {
      terms += partials[2 * c]!;
      norms += partials[2 * c + 1]!;
    }
    return terms + reg * norms;
  }

  function gramWork(h: AlsHalf, control: Int32Array, partials: Float64Array, s: AlsScratch): { error: string | null; rows: number } {
    const chunks = Math.ceil(h.yDomains.length / GRAM_ROWS);
    let done = 0;
    for (let c = Atomics.add(control, 1, 1); c < chunks; c = Atomics.add(control, 1, 1)) {
      gramChunk(h.y, h.f, h.yDomains, c, partials, s);
      done++;
    }
    return { error: null, rows: done };
  }

  function objectiveWork(h: AlsHalf, control: Int32Array, partials: Float64Array): { error: string | null; rows: number } {
    const chunks = objectiveChunks(h);
    let done = 0;
    for (let c = Atomics.add(control, 1, 1); c < chunks; c = Atomics.add(control, 1, 1)) {
      objectiveChunk(h, c, partials);
      done++;
    }
    return { error: null, rows: done };
  }

  /**
   * out[j] = (G_mask(j) + reg I) v[j] for the m block rows, four rows at a time against the
   * same Gramian (each of its values loaded once for four rows); per row the sums run in the
   * same order in both paths, so a row's result does not depend on its neighbours.
   */
  function dense(h: AlsHalf, s: AlsScratch, m: number, v: Float64Array, out: Float64Array): void {
    const { f, reg, grams, domains } = h;
    const idx = s.idx;
    let j = 0;
    while (j < m) {
      const mask = domains[idx[j]!]!;
      const g = mask * f * f;
      if (j + 3 < m && domains[idx[j + 1]!] === mask && domains[idx[j + 2]!] === mask && domains[idx[j + 3]!] === mask) {
        const o0 = j * f;
        const o1 = o0 + f;
        const o2 = o1 + f;
        const o3 = o2 + f;
        let a = 0;
        for (; a + 1 < f; a += 2) {
          const g0 = g + a * f;
          const g1 = g0 + f;
          let s00 = 0;
          let s01 = 0;
          let s10 = 0;
          let s11 = 0;
          let s20 = 0;
          let s21 = 0;
          let s30 = 0;
          let s31 = 0;
          for (let b = 0; b < f; b++) {
            const ga = grams[g0 + b]!;
            const gb = grams[g1 + b]!;
            const p0 = v[o0 + b]!;
            const p1 = v[o1 + b]!;
            const p2 = v[o2 + b]!;
            const p3 = v[o3 + b]!;
            s00 += ga * p0;
            s01 += gb * p0;
            s10 += ga * p1;
            s11 += gb * p1;
            s20 += ga * p2;
            s21 += gb * p2;
            s30 += ga * p3;
            s31 += gb * p3;
          }
          out[o0 + a] = s00 + reg * v[o0 + a]!;
          out[o0 + a + 1] = s01 + reg * v[o0 + a + 1]!;
          out[o1 + a] = s10 + reg * v[o1 + a]!;
          out[o1 + a + 1] = s11 + reg * v[o1 + a + 1]!;
          out[o2 + a] = s20 + reg * v[o2 + a]!;
          out[o2 + a + 1] = s21 + reg * v[o2 + a + 1]!;
          out[o3 + a] = s30 + reg * v[o3 + a]!;
          out[o3 + a + 1] = s31 + reg * v[o3 + a + 1]!;
        }
        for (; a < f; a++) {
          const g0 = g + a * f;
          let s0 = 0;
          let s1 = 0;
          let s2 = 0;
          let s3 = 0;
          for (let b = 0; b < f; b++) {
            const ga = grams[g0 + b]!;
            s0 += ga * v[o0 + b]!;
            s1 += ga * v[o1 + b]!;
            s2 += ga * v[o2 + b]!;
            s3 += ga * v[o3 + b]!;
          }
          out[o0 + a] = s0 + reg * v[o0 + a]!;
          out[o1 + a] = s1 + reg * v[o1 + a]!;
          out[o2 + a] = s2 + reg * v[o2 + a]!;
          out[o3 + a] = s3 + reg * v[o3 + a]!;
        }
        j += 4;
      } else {
        const o = j * f;
        for (let a = 0; a < f; a++) {
          const g0 = g + a * f;
          let s0 = 0;
          for (let b = 0; b < f; b++) s0 += grams[g0 + b]! * v[o + b]!;
          out[o + a] = s0 + reg * v[o + a]!;
        }
        j += 1;
      }
    }
  }

  /** y[yo..yo+f) · v[o..o+f) with four running sums (a single one waits on each add's latency). */
  function dot4(y: Float32Array, yo: number, v: Float64Array, o: number, f: number): number {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let a = 0;
    for (; a + 3 < f; a += 4) {
      s0 += y[yo + a]! * v[o + a]!;
      s1 += y[yo + a + 1]! * v[o + a + 1]!;
      s2 += y[yo + a + 2]! * v[o + a + 2]!;
      s3 += y[yo + a + 3]! * v[o + a + 3]!;
    }
    for (; a < f; a++) s0 += y[yo + a]! * v[o + a]!;
    return s0 + s1 + (s2 + s3);
  }

  /** Batched conjugate gradient on the m rows in s.idx (rows with events), warm-started from h.x. */
  function cgBlock(h: AlsHalf, s: AlsScratch, m: number): void {
    const { f, x, y, offsets, cols, confidence, cgSteps } = h;
    const { idx, X, R, P, AP, rr, live, pairAt } = s;
    // Gather the block's pairs once: the CG passes below read them 2 (cgSteps + 1) times, in order.
    let pairs = 0;
    for (let j = 0; j < m; j++) pairs += offsets[idx[j]! + 1]! - offsets[idx[j]!]!;
    if (s.Cb.length < pairs) {
      s.Cb = new Float64Array(pairs * 2);
      s.Yb = new Float32Array(pairs * 2 * f);
    }
    const { Yb, Cb } = s;
    let at = 0;
    for (let j = 0; j < m; j++) {
      const r = idx[j]!;
      pairAt[j] = at;
      for (let k = offsets[r]!; k < offsets[r + 1]!; k++) {
        const yo = cols[k]! * f;
        const bo = at * f;
        for (let a = 0; a < f; a++) Yb[bo + a] = y[yo + a]!;
        Cb[at++] = confidence[k]!;
      }
    }
    pairAt[m] = at;
    for (let j = 0; j < m; j++) {
      const xo = idx[j]! * f;
      const o = j * f;
      for (let a = 0; a < f; a++) X[o + a] = x[xo + a]!;
    }
    dense(h, s, m, X, AP);
    // R = Σ (1 + c) y - A x, the pairs' terms fused: Σ ((1 + c) - c (y·x)) y - (G + λI) x.
    for (let j = 0; j < m; j++) {
      const o = j * f;
      for (let a = 0; a < f; a++) R[o + a] = -AP[o + a]!;
      for (let k = pairAt[j]!; k < pairAt[j + 1]!; k++) {
        const yo = k * f;
        const c = Cb[k]!;
        const w = 1 + c - c * dot4(Yb, yo, X, o, f);
        for (let a = 0; a < f; a++) R[o + a] += w * Yb[yo + a]!;
      }
      let sum = 0;
      for (let a = 0; a < f; a++) {
        const ra = R[o + a]!;
        P[o + a] = ra;
        sum += ra * ra;
      }
      rr[j] = sum;
      live[j] = sum > 1e-20 ? 1 : 0;
    }
    for (let step = 0; step < cgSteps; step++) {
      dense(h, s, m, P, AP);
      let any = false;
      for (let j = 0; j < m; j++) {
        if (live[j] === 0) continue;
        const o = j * f;
        for (let k = pairAt[j]!; k < pairAt[j + 1]!; k++) {
          const yo = k * f;
          const w = Cb[k]! * dot4(Yb, yo, P, o, f);
          for (let a = 0; a < f; a++) AP[o + a] += w * Yb[yo + a]!;
        }
        let pAp = 0;
        for (let a = 0; a < f; a++) pAp += P[o + a]! * AP[o + a]!;
        if (!(pAp > 0)) {
          live[j] = 0;
          continue;
        }
        const alpha = rr[j]! / pAp;
        let next = 0;
        for (let a = 0; a < f; a++) {
          X[o + a] += alpha * P[o + a]!;
          const ra = R[o + a]! - alpha * AP[o + a]!;
          R[o + a] = ra;
          next += ra * ra;
        }
        const beta = next / rr[j]!;
        for (let a = 0; a < f; a++) P[o + a] = R[o + a]! + beta * P[o + a]!;
        rr[j] = next;
        if (!(next > 1e-20)) live[j] = 0;
        else any = true;
      }
      if (!any) break;
    }
    const steps = h.steps;
    for (let j = 0; j < m; j++) {
      const r = idx[j]!;
      const xo = r * f;
      const o = j * f;
      const st = steps ? steps[r]! : 1;
      for (let a = 0; a < f; a++) x[xo + a] = st === 1 ? X[o + a]! : x[xo + a]! + st * (X[o + a]! - x[xo + a]!);
    }
  }

  /** Exact solve of row r by Cholesky (normal equations formed from the lower triangles). */
  function exactRow(h: AlsHalf, s: AlsScratch, r: number): string | null {
    const { f, reg, x, y, offsets, cols, confidence, grams, domains } = h;
    const { A, b } = s;
    const g = domains[r]! * f * f;
    for (let k = 0; k < f * f; k++) A[k] = grams[g + k]!;
    for (let a = 0; a < f; a++) A[a * f + a] += reg;
    b.fill(0);
    for (let k = offsets[r]!; k < offsets[r + 1]!; k++) {
      const o = cols[k]! * f;
      const c = confidence[k]!;
      for (let a = 0; a < f; a++) {
        const ya = y[o + a]!;
        b[a] += (1 + c) * ya;
        const sc = c * ya;
        for (let bb = 0; bb <= a; bb++) A[a * f + bb] += sc * y[o + bb]!;
      }
    }
    for (let j = 0; j < f; j++) {
      let d = A[j * f + j]!;
      for (let k = 0; k < j; k++) d -= A[j * f + k]! * A[j * f + k]!;
      if (!(d > 0)) return `ALS normal equations are not positive definite (pivot ${d} at ${j}); use alsRegularization > 0`;
      const l = Math.sqrt(d);
      A[j * f + j] = l;
      for (let i = j + 1; i < f; i++) {
        let sum = A[i * f + j]!;
        for (let k = 0; k < j; k++) sum -= A[i * f + k]! * A[j * f + k]!;
        A[i * f + j] = sum / l;
      }
    }
    for (let i = 0; i < f; i++) {
      let sum = b[i]!;
      for (let k = 0; k < i; k++) sum -= A[i * f + k]! * b[k]!;
      b[i] = sum / A[i * f + i]!;
    }
    for (let i = f - 1; i >= 0; i--) {
      let sum = b[i]!;
      for (let k = i + 1; k < f; k++) sum -= A[k * f + i]! * b[k]!;
      b[i] = sum / A[i * f + i]!;
    }
    const st = h.steps ? h.steps[r]! : 1;
    const xo = r * f;
    for (let a = 0; a < f; a++) x[xo + a] = st === 1 ? b[a]! : x[xo + a]! + st * (b[a]! - x[xo + a]!);
    return null;
  }

  function solveRows(h: AlsHalf, start: number, end: number, s: AlsScratch): string | null {
    const { f, x, offsets, frozen, steps, cgSteps } = h;
    let m = 0;
    let pairs = 0;
    for (let r = start; r < end; r++) {
      const st = steps ? steps[r]! : 1;
      if (frozen[r] === 1 || st === 0) continue;
      if (offsets[r]! === offsets[r + 1]!) {
        // No events: the exact solution is the zero row.
        const xo = r * f;
        for (let a = 0; a < f; a++) x[xo + a] = st === 1 ? 0 : x[xo + a]! + st * (0 - x[xo + a]!);
        continue;
      }
      if (cgSteps === 0) {
        const error = exactRow(h, s, r);
        if (error) return error;
        continue;
      }
      // A block ends at its row count or before its pairs' gathered rows outgrow the cache.
      const rowPairs = offsets[r + 1]! - offsets[r]!;
      if (m > 0 && pairs + rowPairs > BLOCK_PAIRS) {
        cgBlock(h, s, m);
        m = 0;
        pairs = 0;
      }
      s.idx[m++] = r;
      pairs += rowPairs;
      if (m === s.block) {
        cgBlock(h, s, m);
        m = 0;
        pairs = 0;
      }
    }
    if (m > 0) cgBlock(h, s, m);
    return null;
  }

  function work(h: AlsHalf, control: Int32Array, chunk: number, s: AlsScratch): { error: string | null; rows: number } {
    const rows = h.offsets.length - 1;
    let solved = 0;
    for (let start = Atomics.add(control, 1, 1) * chunk; start < rows; start = Atomics.add(control, 1, 1) * chunk) {
      if (Atomics.load(control, 0) !== 0) break;
      const end = Math.min(rows, start + chunk);
      const error = solveRows(h, start, end, s);
      if (error) {
        Atomics.store(control, 0, 1);
        return { error, rows: solved };
      }
      solved += end - start;
    }
    return { error: null, rows: solved };
  }

  return {
    createScratch,
    solveRows,
    work,
    gramRows: GRAM_ROWS,
    objectiveRows: OBJECTIVE_ROWS,
    gramPartialSize,
    gramChunk,
    reduceGrams,
    objectiveChunks,
    objectiveChunk,
    reduceObjective,
    gramWork,
    objectiveWork,
  };
}
