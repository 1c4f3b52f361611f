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
  memory: WasmMemory;
}
let gramInstance: GramInstance | undefined;

/**
 * The four-rows-at-a-time part of `domainGramians` on the SIMD kernel (float64 sums in the JS
 * loop's order: bit-identical to it): copies `y` into the kernel's memory and returns a
 * function that sums the first `quads` rows of a row list (a multiple of 4) into `gram`
 * (`[f x f]`, lower triangle and diagonal; some upper entries get partial sums, which the
 * caller's mirror overwrites). Null when SIMD is off or f is odd. Calling thread only.
 */
export function simdGramians(y: Float32Array, f: number): ((list: number[], quads: number, gram: Float64Array) => void) | null {
  const module = alsSimdModule();
  if (!module || f % 2 !== 0 || y.length > 2 ** 28) return null;
  if (!gramInstance) {
    const instance = new (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly.Instance(module, {});
    gramInstance = { gramQuads: instance.exports.gramQuads as GramInstance['gramQuads'], memory: instance.exports.memory as WasmMemory };
  }
  const { gramQuads, memory } = gramInstance;
  const align = (n: number) => Math.ceil(n / 16) * 16;
  const listAt = align(f * f * 8);
  const tableAt = align(listAt + (y.length / f) * 4);
  const end = tableAt + y.length * 4;
  if (end > memory.buffer.byteLength) memory.grow(Math.ceil((end - memory.buffer.byteLength) / 65536));
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
