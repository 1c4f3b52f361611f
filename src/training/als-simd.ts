import type { WasmApi, WasmMemory, WasmModule } from './als-kernel.js';
import { ALS_SIMD_WASM_BASE64 } from './als-simd-wasm.js';

let compiled: WasmModule | null | undefined;

/**
 * The ALS conjugate-gradient kernel in WebAssembly SIMD (`als-simd.wat`, float32 arithmetic),
 * compiled once per process; null when this runtime's WebAssembly has no SIMD
 * (`WebAssembly.validate` refuses the bytes), in which case the float64 JS kernel solves the rows.
 * A `WebAssembly.Module` can be handed to worker threads (`workerData`), each instantiating its own.
 * The environment variable `GRAFT_ALS_SIMD=0` turns it off (the JS kernel everywhere, e.g. to compare).
 */
export function alsSimdModule(): WasmModule | null {
  if (compiled === undefined) {
    if (process.env.GRAFT_ALS_SIMD === '0') return null;
    const bytes = Buffer.from(ALS_SIMD_WASM_BASE64, 'base64');
    const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
    compiled = wasm.validate(bytes) ? new wasm.Module(bytes) : null;
  }
  return compiled;
}

/** True when the SIMD kernel runs here (see `alsSimdModule`). */
export function alsSimdSupported(): boolean {
  return alsSimdModule() !== null;
}

interface GramInstance {
  gramQuads: (list: number, count: number, table: number, f: number, out: number) => void;
  xGx: (x: number, domains: number, users: number, grams: number, f: number) => number;
  memory: WasmMemory;
}
/** Weakly held: its memory (as large as the largest table seen) is reclaimed when no fit is using it. */
let gramInstance: WeakRef<GramInstance> | undefined;

/** This thread's instance of the kernel for the Gramians and the objective (null without SIMD). */
function mainInstance(): GramInstance | null {
  const module = alsSimdModule();
  if (!module) return null;
  let instance = gramInstance?.deref();
  if (!instance) {
    const e = new (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly.Instance(module, {}).exports as unknown as GramInstance;
    instance = { gramQuads: e.gramQuads, xGx: e.xGx, memory: e.memory };
    gramInstance = new WeakRef(instance);
  }
  return instance;
}

/** Grows `memory` to at least `bytes`. */
function reserveBytes(memory: WasmMemory, bytes: number): void {
  if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
}

/**
 * Σ_u x_uᵀ G(domains[u]) x_u, the first sum of `implicitObjective`, on the SIMD kernel (float64,
 * in the JS loop's order: bit-identical to it); null when SIMD is off. Calling thread only.
 */
export function simdXGx(x: Float32Array, f: number, domains: Uint8Array, grams: Float64Array): number | null {
  const instance = mainInstance();
  if (!instance || x.length > 2 ** 28) return null;
  const { memory, xGx } = instance;
  const domainsAt = grams.length * 8;
  const xAt = Math.ceil((domainsAt + domains.length) / 16) * 16;
  reserveBytes(memory, xAt + x.length * 4);
  new Float64Array(memory.buffer, 0, grams.length).set(grams);
  new Uint8Array(memory.buffer, domainsAt, domains.length).set(domains);
  new Float32Array(memory.buffer, xAt, x.length).set(x);
  return xGx(xAt, domainsAt, domains.length, 0, f);
}

/**
 * The four-rows-at-a-time part of `domainGramians` on the SIMD kernel (float64 sums in the JS
 * loop's order: bit-identical to it): copies `y` into the kernel's memory and returns a
 * function that sums the first `quads` rows of a row list (a multiple of 4) into `gram`
 * (`[f x f]`, lower triangle and diagonal; some upper entries get partial sums, which the
 * caller's mirror overwrites). Null when SIMD is off or f is odd. Calling thread only.
 */
export function simdGramians(y: Float32Array, f: number): ((list: number[], quads: number, gram: Float64Array) => void) | null {
  const instance = mainInstance();
  if (!instance || f % 2 !== 0 || y.length > 2 ** 28) return null;
  const { gramQuads, memory } = instance;
  const align = (n: number) => Math.ceil(n / 16) * 16;
  const listAt = align(f * f * 8);
  const tableAt = align(listAt + (y.length / f) * 4);
  const end = tableAt + y.length * 4;
  reserveBytes(memory, end);
  new Float32Array(memory.buffer, tableAt, y.length).set(y);
  return (list, quads, gram) => {
    const out = new Float64Array(memory.buffer, 0, f * f);
    out.fill(0);
    const rows = new Int32Array(memory.buffer, listAt, quads);
    for (let j = 0; j < quads; j++) rows[j] = list[j]!;
    gramQuads(listAt, quads, tableAt, f, 0);
    gram.set(out);
  };
}
