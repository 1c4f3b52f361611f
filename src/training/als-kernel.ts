/**
 * One half-sweep's row solves of implicit ALS on plain typed arrays (shared memory when more
 * than one thread solves), see `fitImplicitAls` for the maths. `alsKernel` is self-contained
 * (it references nothing outside its body) because the worker threads run its source text
 * (`alsKernel.toString()`): the same code on every thread, from `dist/` and under vitest alike.
 *
 * Conjugate-gradient blocks run either on the float64 JS loops here or, given the compiled
 * `als-simd.wat` (`alsSimdModule()`), on its float32 SIMD code (several times faster; the same
 * algorithm, results within float32 rounding of the JS ones). Exact solves always run in JS.
 *
 * Every row's result depends only on its own pairs, the other side's rows and the Gramians,
 * and each row's arithmetic runs in the same order whatever block or thread it falls in, so
 * the factors are bit-identical for any thread count and any split of the rows (per kernel).
 */

/** A compiled WebAssembly module (opaque; this project's TS libs do not declare the WebAssembly API). */
export type WasmModule = object;
/** The parts of the WebAssembly API the SIMD kernel uses. */
export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: Record<string, unknown> };
}
/** A WebAssembly memory (its buffer is replaced when it grows). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

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
  Yb: Float64Array;
  Cb: Float64Array;
  pairAt: Int32Array;
  /** The SIMD kernel's instance and memory layout; null = the JS path. */
  wasm: AlsWasm | null;
}

/**
 * One thread's instance of the SIMD kernel (`als-simd.wat`): its memory holds a copy of the
 * other side's table (`table`, copied in once per half) and the block's vectors, rows padded
 * to `fp` floats, at these byte addresses; `cols`/`conf`/`ys` hold up to `cap` pairs.
 */
export interface AlsWasm {
  cg: (...args: number[]) => void;
  gather: (...args: number[]) => void;
  memory: WasmMemory;
  f32: Float32Array;
  i32: Int32Array;
  fp: number;
  /** The Gramians of the half being solved (converted to float32 and padded), which is also when `table` was copied. */
  grams: Float64Array | null;
  masks: number;
  pairs: number;
  rr: number;
  live: number;
  x: number;
  r: number;
  p: number;
  ap: number;
  table: number;
  tableFloats: number;
  cols: number;
  conf: number;
  ys: number;
  cap: number;
}

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
  Yb: Float64Array;
  Cb: Float64Array;
  pairAt: Int32Array;
  /** The SIMD kernel's instance and memory layout; null = the JS path. */
  wasm: AlsWasm | null;
}

/**
 * One thread's instance of the SIMD kernel (`als-simd.wat`): its memory holds the block's
 * vectors, rows padded to `fp` floats, at these byte addresses; `ys`/`conf` hold `cap` pairs.
 */
export interface AlsWasm {
  cg: (...args: number[]) => void;
  memory: WasmMemory;
  f32: Float32Array;
  i32: Int32Array;
  fp: number;
  /** The Gramians last copied in (converted to float32 and padded). */
  grams: Float64Array | null;
  masks: number;
  pairs: number;
  rr: number;
  live: number;
  x: number;
  r: number;
  p: number;
  ap: number;
  conf: number;
  ys: number;
  cap: number;
}

export interface AlsKernel {
  createScratch(f: number, block: number): AlsScratch;
  /** Solves rows [start, end); returns an error message (a non-positive-definite system) or null. */
  solveRows(h: AlsHalf, start: number, end: number, s: AlsScratch): string | null;
  /**
   * Solves thread `thread`'s share of a half: the chunks of `chunk` rows c = thread, thread +
   * threads, ... (interleaved, so each thread gets rows of every popularity), stopping early
   * when `control[0]` (abort) is set. Returns the rows it solved or the error.
   */
  work(h: AlsHalf, control: Int32Array, chunk: number, thread: number, threads: number, s: AlsScratch): { error: string | null; rows: number };
}

/**
 * `simd`: the compiled `als-simd.wat` (`alsSimdModule()`); when given, conjugate-gradient
 * blocks are solved by it in float32 (each thread instantiates its own), otherwise by the
 * float64 JS loops below. Exact (Cholesky) solves always run in JS.
 */
export function alsKernel(simd?: WasmModule | null): AlsKernel {
  function createWasm(f: number, block: number): AlsWasm {
    const instance = new (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly.Instance(simd!, {});
    const memory = instance.exports.memory as WasmMemory;
    const fp = Math.ceil(f / 8) * 8;
    const align = (n: number) => Math.ceil(n / 16) * 16;
    const masks = 4 * fp * fp * 4;
    const pairs = align(masks + block * 4);
    const rr = align(pairs + (block + 1) * 4);
    const live = align(rr + block * 4);
    const x = align(live + block * 4);
    const r = x + block * fp * 4;
    const p = r + block * fp * 4;
    const ap = p + block * fp * 4;
    const exports = instance.exports as { cg: AlsWasm['cg']; gather: AlsWasm['gather'] };
    const w: AlsWasm = { cg: exports.cg, gather: exports.gather, memory, f32: new Float32Array(0), i32: new Int32Array(0), fp, grams: null, masks, pairs, rr, live, x, r, p, ap, table: ap + block * fp * 4, tableFloats: 0, cols: 0, conf: 0, ys: 0, cap: 0 };
    layout(w, 0, 1024);
    return w;
  }

  /**
   * Room for a table of `tableFloats` floats and `count` pairs after the block's vectors,
   * growing the memory as needed; the pair regions are zeroed (the padding of ys stays 0) and
   * the table must be copied in again.
   */
  function layout(w: AlsWasm, tableFloats: number, count: number): void {
    w.tableFloats = Math.max(tableFloats, w.tableFloats);
    w.cap = Math.max(count, w.cap);
    w.cols = Math.ceil((w.table + w.tableFloats * 4) / 16) * 16;
    w.conf = w.cols + w.cap * 4;
    w.ys = Math.ceil((w.conf + w.cap * 4) / 16) * 16;
    const end = w.ys + w.cap * w.fp * 4;
    const have = w.memory.buffer.byteLength;
    if (end > have) w.memory.grow(Math.ceil((end - have) / 65536));
    w.f32 = new Float32Array(w.memory.buffer);
    w.i32 = new Int32Array(w.memory.buffer);
    // Grown memory is zero already.
    w.f32.fill(0, w.cols >> 2, Math.min(end, have) >> 2);
    w.grams = null;
  }

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
      Yb: new Float64Array(1024 * f),
      Cb: new Float64Array(1024),
      pairAt: new Int32Array(block + 1),
      wasm: simd ? createWasm(f, block) : null,
    };
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
  function dot4(y: Float64Array, yo: number, v: Float64Array, o: number, f: number): number {
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

  /**
   * `cgBlock` by the SIMD kernel: the other side's table (and the Gramians, as padded float32)
   * are copied into the kernel's memory once per half, the block's rows of x, its pairs'
   * columns and confidences per block; the kernel gathers the pairs' rows of y, solves, and
   * the solutions are copied back out.
   */
  function cgBlockSimd(h: AlsHalf, s: AlsScratch, w: AlsWasm, m: number): void {
    const { f, x, y, offsets, cols, confidence, domains, grams } = h;
    const { idx } = s;
    const fp = w.fp;
    let pairs = 0;
    for (let j = 0; j < m; j++) pairs += offsets[idx[j]! + 1]! - offsets[idx[j]!]!;
    if (pairs > w.cap || y.length > w.tableFloats) layout(w, y.length, Math.max(pairs, 2 * w.cap));
    if (w.grams !== grams) {
      const F = w.f32;
      for (let mask = 0; mask < 4; mask++) {
        for (let a = 0; a < f; a++) {
          const from = mask * f * f + a * f;
          const to = mask * fp * fp + a * fp;
          for (let b = 0; b < f; b++) F[to + b] = grams[from + b]!;
        }
      }
      F.set(y, w.table >> 2);
      w.grams = grams;
    }
    const F = w.f32;
    const I = w.i32;
    const colsAt = w.cols >> 2;
    const conf = w.conf >> 2;
    const pairAt = w.pairs >> 2;
    const masks = w.masks >> 2;
    const X = w.x >> 2;
    let at = 0;
    for (let j = 0; j < m; j++) {
      const r = idx[j]!;
      I[pairAt + j] = at;
      I[masks + j] = domains[r]!;
      for (let k = offsets[r]!; k < offsets[r + 1]!; k++) {
        I[colsAt + at] = cols[k]!;
        F[conf + at++] = confidence[k]!;
      }
      F.set(x.subarray(r * f, r * f + f), X + j * fp);
    }
    I[pairAt + m] = at;
    w.gather(at, w.cols, w.table, f, w.ys, fp);
    w.cg(m, fp, h.cgSteps, h.reg, 0, w.masks, w.pairs, w.conf, w.ys, w.x, w.r, w.p, w.ap, w.rr, w.live);
    const steps = h.steps;
    for (let j = 0; j < m; j++) {
      const r = idx[j]!;
      const xo = r * f;
      const o = X + j * fp;
      const st = steps ? steps[r]! : 1;
      if (st === 1) x.set(F.subarray(o, o + f), xo);
      else for (let a = 0; a < f; a++) x[xo + a] = x[xo + a]! + st * (F[o + a]! - x[xo + a]!);
    }
  }

  /** Batched conjugate gradient on the m rows in s.idx (rows with events), warm-started from h.x. */
  function cgBlock(h: AlsHalf, s: AlsScratch, m: number): void {
    if (s.wasm) return cgBlockSimd(h, s, s.wasm, m);
    const { f, x, y, offsets, cols, confidence, cgSteps } = h;
    const { idx, X, R, P, AP, rr, live, pairAt } = s;
    // Gather the block's pairs once: the CG passes below read them 2 (cgSteps + 1) times, in order.
    let pairs = 0;
    for (let j = 0; j < m; j++) pairs += offsets[idx[j]! + 1]! - offsets[idx[j]!]!;
    if (s.Cb.length < pairs) {
      s.Cb = new Float64Array(pairs * 2);
      s.Yb = new Float64Array(pairs * 2 * f);
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
      s.idx[m++] = r;
      if (m === s.block) {
        cgBlock(h, s, m);
        m = 0;
      }
    }
    if (m > 0) cgBlock(h, s, m);
    return null;
  }

  function work(h: AlsHalf, control: Int32Array, chunk: number, thread: number, threads: number, s: AlsScratch): { error: string | null; rows: number } {
    const rows = h.offsets.length - 1;
    let solved = 0;
    for (let start = thread * chunk; start < rows; start += threads * chunk) {
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

  return { createScratch, solveRows, work };
}
