/**
 * One half-sweep's row solves of implicit ALS on plain typed arrays (shared memory when more
 * than one thread solves), see `fitImplicitAls` for the maths. `alsKernel` is self-contained
 * (it references nothing outside its body) because the worker threads run its source text
 * (`alsKernel.toString()`): the same code on every thread, from `dist/` and under vitest alike.
 *
 * Every row's result depends only on its own pairs, the other side's rows and the Gramians,
 * and each row's arithmetic runs in the same order whatever block or thread it falls in, so
 * the factors are bit-identical for any thread count and any split of the rows (per kernel).
 *
 * Conjugate-gradient blocks run either on the float64 JS loops here or, given the compiled
 * `als-simd.wat` (`alsSimdModule()`), on its float32 SIMD code (several times faster; the same
 * algorithm, results within float32 rounding of the JS ones). Exact solves always run in JS.
 * With the SIMD kernel, a Gramian chunk's four-row quads (`gramQuads`) and an objective chunk's
 * xᵀGx (`xGx`, one row per call) run on it too, in float64 and in the JS loops' order: those
 * partials are bit-identical to the JS ones.
 */

import type { WasmApi, WasmMemory, WasmModule } from '../model/wasm-api.js';

export type { WasmApi, WasmMemory, WasmModule } from '../model/wasm-api.js';

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
  /** The SIMD kernel's instance and memory layout; null = the JS path. */
  wasm: AlsWasm | null;
}

/**
 * One thread's instance of the SIMD kernel (`als-simd.wat`): its memory holds a copy of the
 * other side's table (`table`, copied in once per step) and the block's vectors, rows padded
 * to `fp` floats, at these byte addresses; `cols`/`conf`/`ys` hold up to `cap` pairs. What a
 * step copied in (`grams`, `tableCopied`, `objectiveGrams`) is forgotten by `newStep`: the
 * pool's arrays keep their identity across steps while their values change.
 */
export interface AlsWasm {
  cg: (...args: number[]) => void;
  gather: (...args: number[]) => void;
  gramQuads: (list: number, count: number, table: number, f: number, out: number) => void;
  xGx: (x: number, domains: number, users: number, grams: number, f: number) => number;
  pairTerms: (x: number, offsets: number, users: number, cols: number, conf: number, table: number, f: number) => number;
  memory: WasmMemory;
  f32: Float32Array;
  i32: Int32Array;
  fp: number;
  /** The Gramians this step's solves copied in (converted to float32 and padded), with the table; null = not yet. */
  grams: Float64Array | null;
  /** This step copied the other side's table in (the Gramian chunks read it there). */
  tableCopied: boolean;
  /** This step's objective copied its float64 Gramians in (at the end of the layout). */
  objectiveGrams: boolean;
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
  /** The end of the layout: scratch room for the Gramian and objective chunks from here. */
  end: number;
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
  objectiveChunk(h: AlsHalf, c: number, out: Float64Array, s: AlsScratch): void;
  /** Sums the objective's partials in chunk order: terms + reg * norms. */
  reduceObjective(partials: Float64Array, chunks: number, reg: number): number;
  /** This thread's share of the Gramian chunks of `h.y` (taken as in `work`); returns the chunks it summed. */
  gramWork(h: AlsHalf, control: Int32Array, partials: Float64Array, s: AlsScratch): { error: string | null; rows: number };
  /** Forgets what the SIMD kernel copied in for the last step: call before each step (Gramians, solves, objective) on every thread. */
  newStep(s: AlsScratch): void;
  /** 'simd' when this kernel runs the conjugate-gradient blocks on WebAssembly SIMD, else 'js'. */
  name: 'simd' | 'js';
  /** This thread's share of the objective chunks of `h` (taken as in `work`); returns the chunks it summed. */
  objectiveWork(h: AlsHalf, control: Int32Array, partials: Float64Array, s: AlsScratch): { error: string | null; rows: number };
}

/**
 * `simd`: the compiled `als-simd.wat` (`alsSimdModule()`); when given, conjugate-gradient
 * blocks are solved by it in float32 and the Gramian quads and xᵀGx summed by it in float64
 * (each thread instantiates its own), otherwise by the JS loops below. Exact (Cholesky)
 * solves always run in JS.
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
    const e = instance.exports as Pick<AlsWasm, 'cg' | 'gather' | 'gramQuads' | 'xGx' | 'pairTerms'>;
    const w: AlsWasm = {
      cg: e.cg,
      gather: e.gather,
      gramQuads: e.gramQuads,
      xGx: e.xGx,
      pairTerms: e.pairTerms,
      memory,
      f32: new Float32Array(0),
      i32: new Int32Array(0),
      fp,
      grams: null,
      tableCopied: false,
      objectiveGrams: false,
      masks,
      pairs,
      rr,
      live,
      x,
      r,
      p,
      ap,
      table: ap + block * fp * 4,
      tableFloats: 0,
      cols: 0,
      conf: 0,
      ys: 0,
      cap: 0,
      end: 0,
    };
    layout(w, 0, 1024);
    return w;
  }

  /** Grows the memory of `w` to at least `bytes` (views renewed). */
  function reserve(w: AlsWasm, bytes: number): void {
    const have = w.memory.buffer.byteLength;
    if (bytes > have) w.memory.grow(Math.ceil((bytes - have) / 65536));
    if (w.f32.buffer !== w.memory.buffer) {
      w.f32 = new Float32Array(w.memory.buffer);
      w.i32 = new Int32Array(w.memory.buffer);
    }
  }

  /**
   * Room for a table of `tableFloats` floats and `count` pairs after the block's vectors,
   * growing the memory as needed; the pair regions are zeroed (the padding of ys stays 0) and
   * the table (and the Gramians) must be copied in again.
   */
  function layout(w: AlsWasm, tableFloats: number, count: number): void {
    w.tableFloats = Math.max(tableFloats, w.tableFloats);
    w.cap = Math.max(count, w.cap);
    w.cols = Math.ceil((w.table + w.tableFloats * 4) / 16) * 16;
    w.conf = w.cols + w.cap * 4;
    w.ys = Math.ceil((w.conf + w.cap * 4) / 16) * 16;
    const end = w.ys + w.cap * w.fp * 4;
    const have = w.memory.buffer.byteLength;
    reserve(w, end);
    // Grown memory is zero already.
    w.f32.fill(0, w.cols >> 2, Math.min(end, have) >> 2);
    w.end = Math.ceil(end / 16) * 16;
    w.grams = null;
    w.tableCopied = false;
    w.objectiveGrams = false;
  }

  function newStep(s: AlsScratch): void {
    const w = s.wasm;
    if (!w) return;
    w.grams = null;
    w.tableCopied = false;
    w.objectiveGrams = false;
  }

  /** Copies `y` into the table region of `w` once per step (growing the layout if it outgrew it). */
  function copyTable(w: AlsWasm, y: Float32Array): void {
    if (y.length > w.tableFloats) layout(w, y.length, w.cap);
    if (!w.tableCopied) {
      w.f32.set(y, w.table >> 2);
      w.tableCopied = true;
    }
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
      Yb: new Float32Array(1024 * f),
      Cb: new Float64Array(1024),
      pairAt: new Int32Array(block + 1),
      list: new Int32Array(GRAM_ROWS),
      tri: new Float64Array(gramPartialSize(f)),
      wasm: simd ? createWasm(f, block) : null,
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
    const w = s.wasm;
    if (w && f % 2 === 0) {
      // Only this chunk's rows, at their places in the table region: the chunks of a step copy
      // the table once between the threads, not once per thread.
      if (y.length > w.tableFloats) layout(w, y.length, w.cap);
      if (!w.tableCopied) w.f32.set(y.subarray(start * f, end * f), (w.table >> 2) + start * f);
    }
    for (let mask = 1; mask <= 3; mask++) {
      let m = 0;
      for (let r = start; r < end; r++) if (domains[r] === mask) list[m++] = r;
      const g = (mask - 1) * tri;
      let j = 0;
      if (w && f % 2 === 0 && m >= 4) {
        // The quads on the SIMD kernel: the same float64 sums in the same order (from 0), into an f x f lower triangle.
        j = m - (m % 4);
        const listAt = w.end;
        const outAt = Math.ceil((listAt + GRAM_ROWS * 4) / 16) * 16;
        reserve(w, outAt + f * f * 8);
        w.i32.set(list.subarray(0, j), listAt >> 2);
        const out = new Float64Array(w.memory.buffer, outAt, f * f);
        out.fill(0);
        w.gramQuads(listAt, j, w.table, f, outAt);
        for (let a = 0; a < f; a++) {
          const base = g + (a * (a + 1)) / 2;
          for (let b = 0; b <= a; b++) acc[base + b] = out[a * f + b]!;
        }
      }
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
   * per row), and ‖x‖²; then the rows' pairs' (1 + c)(1 - s)² - s², summed apart in row and
   * pair order (on the SIMD kernel by `pairTerms`, the same float64 sum) and added last;
   * y chunks: ‖y‖².
   */
  function objectiveChunk(h: AlsHalf, c: number, out: Float64Array, s: AlsScratch): void {
    const { f, x, y, offsets, cols, confidence, domains, grams } = h;
    const xRows = offsets.length - 1;
    const xChunks = Math.ceil(xRows / OBJECTIVE_ROWS);
    let terms = 0;
    let pairTerms = 0;
    let norms = 0;
    if (c < xChunks) {
      const q = new Float64Array(4);
      const start = c * OBJECTIVE_ROWS;
      const end = Math.min(xRows, (c + 1) * OBJECTIVE_ROWS);
      const w = s.wasm;
      // On the SIMD kernel: each row's xᵀGx by one xGx call (the same float64 sums as quadratic,
      // from 0), and the chunk's pairs by one pairTerms call.
      let xAt = 0;
      let domainsAt = 0;
      if (w) {
        // The table first: growing the layout moves `end`.
        copyTable(w, y);
        const gramsAt = w.end;
        domainsAt = gramsAt + grams.length * 8;
        xAt = Math.ceil((domainsAt + OBJECTIVE_ROWS) / 16) * 16;
        const offsetsAt = xAt + OBJECTIVE_ROWS * f * 4;
        const first = offsets[start]!;
        const pairs = offsets[end]! - first;
        const colsAt = offsetsAt + (OBJECTIVE_ROWS + 1) * 4;
        const confAt = colsAt + pairs * 4;
        reserve(w, confAt + pairs * 4);
        if (!w.objectiveGrams) {
          new Float64Array(w.memory.buffer, gramsAt, grams.length).set(grams);
          w.objectiveGrams = true;
        }
        new Uint8Array(w.memory.buffer, domainsAt, end - start).set(domains.subarray(start, end));
        w.f32.set(x.subarray(start * f, end * f), xAt >> 2);
        for (let u = start; u <= end; u++) w.i32[(offsetsAt >> 2) + u - start] = offsets[u]! - first;
        w.i32.set(cols.subarray(first, first + pairs), colsAt >> 2);
        w.f32.set(confidence.subarray(first, first + pairs), confAt >> 2);
        pairTerms = w.pairTerms(xAt, offsetsAt, end - start, colsAt, confAt, w.table, f);
        xAt -= start * f * 4;
        domainsAt -= start;
      }
      for (let u = start; u < end; ) {
        const mask = domains[u]!;
        let n = 1;
        if (mask === 0) q[0] = 0;
        else if (w) q[0] = w.xGx(xAt + u * f * 4, domainsAt + u, 1, w.end, f);
        else if (u + 3 < end && domains[u + 1] === mask && domains[u + 2] === mask && domains[u + 3] === mask) {
          quadratic4(grams, mask * f * f, x, u * f, f, q);
          n = 4;
        } else q[0] = quadratic(grams, mask * f * f, x, u * f, f);
        for (let j = 0; j < n; j++, u++) {
          const o = u * f;
          terms += q[j]!;
          for (let a = 0; a < f; a++) norms += x[o + a]! * x[o + a]!;
        }
      }
      if (!w) {
        for (let u = start; u < end; u++) {
          const o = u * f;
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
            pairTerms += (1 + confidence[k]!) * (1 - s) * (1 - s) - s * s;
          }
        }
      }
    } else {
      const yRows = y.length / f;
      const start = (c - xChunks) * OBJECTIVE_ROWS * f;
      const end = Math.min(yRows, (c - xChunks + 1) * OBJECTIVE_ROWS) * f;
      for (let k = start; k < end; k++) norms += y[k]! * y[k]!;
    }
    out[2 * c] = terms + pairTerms;
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

  function objectiveWork(h: AlsHalf, control: Int32Array, partials: Float64Array, s: AlsScratch): { error: string | null; rows: number } {
    const chunks = objectiveChunks(h);
    let done = 0;
    for (let c = Atomics.add(control, 1, 1); c < chunks; c = Atomics.add(control, 1, 1)) {
      objectiveChunk(h, c, partials, s);
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

  /**
   * `cgBlock` by the SIMD kernel: the other side's table (and the Gramians, as padded float32)
   * are copied into the kernel's memory once per step, the block's rows of x, its pairs'
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
      copyTable(w, y);
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
    newStep,
    name: simd ? 'simd' : 'js',
  };
}
