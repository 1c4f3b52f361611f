/** A compiled WebAssembly module (opaque; this project's TS libs do not declare the WebAssembly API). */
export type WasmModule = object;

/** The parts of the WebAssembly API the SIMD kernels use (`als-simd.wat`, `tower-simd.wat`). */
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

/** This runtime's WebAssembly API. */
export function wasmApi(): WasmApi {
  return (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
}
