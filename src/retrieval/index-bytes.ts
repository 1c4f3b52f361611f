import { GraftError } from '../errors.js';

/**
 * The envelope of a serialised candidate index: a fixed 40-byte header, then the kind's payload.
 * Layout (little-endian): magic "GRFTINDX" | u32 format | u32 kind | u32 dim | u32 size | u32 x 4 kind params.
 * The header is a multiple of 4 bytes so an exact index's Float32 payload can be read in place.
 */
export interface IndexHeader {
  kind: 'exact' | 'hnsw';
  dim: number;
  size: number;
  /** Kind-specific u32 values (hnsw: connectivity, expansionAdd, expansionSearch, vector fingerprint). */
  params: [number, number, number, number];
}

export const HEADER_BYTES = 40;
const MAGIC = 'GRFTINDX';
const FORMAT = 1;
const KINDS = ['exact', 'hnsw'] as const;

/** Allocates header + payload bytes with the header written; the caller fills bytes[HEADER_BYTES..]. */
export function allocateIndexBytes(header: IndexHeader, payloadBytes: number): Uint8Array {
  const bytes = new Uint8Array(HEADER_BYTES + payloadBytes);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < MAGIC.length; i++) bytes[i] = MAGIC.charCodeAt(i);
  view.setUint32(8, FORMAT, true);
  view.setUint32(12, KINDS.indexOf(header.kind), true);
  view.setUint32(16, header.dim, true);
  view.setUint32(20, header.size, true);
  header.params.forEach((value, i) => view.setUint32(24 + 4 * i, value >>> 0, true));
  return bytes;
}

/** Reads and checks the header; BAD_INPUT when the bytes are not a Graft index (or not of `expected` kind). */
export function readIndexHeader(bytes: Uint8Array, expected?: IndexHeader['kind']): IndexHeader {
  const magic = bytes.length >= HEADER_BYTES ? String.fromCharCode(...bytes.subarray(0, 8)) : '';
  if (magic !== MAGIC) {
    throw new GraftError('BAD_INPUT', `${bytes.length} bytes are not a serialised candidate index (no "${MAGIC}" header); pass the bytes from CandidateIndex.toBytes()`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const format = view.getUint32(8, true);
  if (format !== FORMAT) {
    throw new GraftError('BAD_INPUT', `candidate index format ${format} is not supported (this Graft reads format ${FORMAT}); rebuild the index from the model's embeddings`);
  }
  const kind = KINDS[view.getUint32(12, true)];
  if (kind === undefined) {
    throw new GraftError('BAD_INPUT', `candidate index kind #${view.getUint32(12, true)} is unknown; rebuild the index from the model's embeddings`);
  }
  if (expected !== undefined && kind !== expected) {
    throw new GraftError('BAD_INPUT', `the bytes hold a "${kind}" index, not "${expected}"; load them with loadCandidateIndex or the ${kind} loader`);
  }
  return {
    kind,
    dim: view.getUint32(16, true),
    size: view.getUint32(20, true),
    params: [view.getUint32(24, true), view.getUint32(28, true), view.getUint32(32, true), view.getUint32(36, true)],
  };
}

/**
 * A 32-bit FNV-1a hash of up to 4,096 evenly spaced values of `vectors`: enough to tell that an
 * index is being loaded with other embeddings than it was built from, at no measurable cost.
 */
export function vectorFingerprint(vectors: Float32Array): number {
  const bits = new Uint32Array(vectors.buffer, vectors.byteOffset, vectors.length);
  const step = Math.max(1, Math.floor(bits.length / 4096));
  let hash = 0x811c9dc5 ^ bits.length;
  for (let i = 0; i < bits.length; i += step) {
    hash = Math.imul(hash ^ bits[i], 0x01000193);
  }
  return hash >>> 0;
}
