import { wasmApi, type WasmModule } from '../model/wasm-api.js';
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
    const wasm = wasmApi();
    compiled = wasm.validate(bytes) ? new wasm.Module(bytes) : null;
  }
  return compiled;
}

/** True when the SIMD kernel runs here (see `alsSimdModule`). */
export function alsSimdSupported(): boolean {
  return alsSimdModule() !== null;
}
