/** Weights are stored as the engine exports them (`model.exportWeights()`). */
export type { NamedWeight } from '../model/named-weight.js';

/** Float32Array -> bytes (little-endian, as on every platform Node runs on). */
export function float32ToBytes(data: Float32Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Bytes -> Float32Array, copying so the result is aligned and owns its memory. */
export function bytesToFloat32(bytes: Uint8Array): Float32Array {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
}

export function int32ToBytes(data: Int32Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export function bytesToInt32(bytes: Uint8Array): Int32Array {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new Int32Array(copy.buffer, 0, copy.byteLength / 4);
}
