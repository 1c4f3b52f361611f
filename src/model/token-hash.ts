import { GraftError } from '../errors.js';

/**
 * Hashed content tokens per entity in CSR form: the tokens of entity e are
 * `ids[offsets[e] .. offsets[e + 1])`, each in [0, tokenBuckets).
 */
export interface TokenBags {
  /** `[entities + 1]` */
  readonly offsets: Int32Array;
  readonly ids: Int32Array;
}

/**
 * Stable bucket of a token string: 32-bit FNV-1a over its UTF-8 bytes, modulo `buckets`.
 * The same tag lands in the same row of the shared token table in every domain and
 * process (and is easy to reproduce outside JS).
 *
 * @example
 * hashToken('category:running', 1 << 14); // always the same bucket
 */
export function hashToken(tag: string, buckets: number): number {
  if (!Number.isInteger(buckets) || buckets <= 0) {
    throw new GraftError('BAD_INPUT', `token buckets ${buckets} must be an integer > 0 (e.g. 16384)`);
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < tag.length; i++) {
    let c = tag.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < tag.length) {
      const low = tag.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    // Feed the code point's UTF-8 bytes.
    if (c < 0x80) {
      h = Math.imul(h ^ c, 0x01000193);
    } else if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), 0x01000193);
      h = Math.imul(h ^ (0x80 | (c & 63)), 0x01000193);
    } else if (c < 0x10000) {
      h = Math.imul(h ^ (0xe0 | (c >> 12)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 63)), 0x01000193);
      h = Math.imul(h ^ (0x80 | (c & 63)), 0x01000193);
    } else {
      h = Math.imul(h ^ (0xf0 | (c >> 18)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((c >> 12) & 63)), 0x01000193);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 63)), 0x01000193);
      h = Math.imul(h ^ (0x80 | (c & 63)), 0x01000193);
    }
  }
  return (h >>> 0) % buckets;
}

/**
 * Hashes string tokens in CSR form (e.g. a dataset's `itemTokens`) into `TokenBags`.
 * Repeated tags of one entity count once.
 *
 * @example
 * const bags = hashTokenBags({ offsets: Int32Array.of(0, 2, 2), tokens: ['red', 'shoe'] }, 1 << 14);
 */
export function hashTokenBags(tokens: { offsets: Int32Array; tokens: readonly string[] }, buckets: number): TokenBags {
  const entities = tokens.offsets.length - 1;
  const offsets = new Int32Array(entities + 1);
  const ids = new Int32Array(tokens.tokens.length);
  let n = 0;
  for (let e = 0; e < entities; e++) {
    const seen = new Set<string>();
    for (let t = tokens.offsets[e]; t < tokens.offsets[e + 1]; t++) {
      const tag = tokens.tokens[t];
      if (seen.has(tag)) continue;
      seen.add(tag);
      ids[n++] = hashToken(tag, buckets);
    }
    offsets[e + 1] = n;
  }
  return { offsets, ids: ids.slice(0, n) };
}

/** Checks that bags cover `entities` entities and every id is a bucket; throws BAD_INPUT naming the problem. */
export function validateTokenBags(bags: TokenBags, entities: number, buckets: number, what: string): void {
  if (bags.offsets.length !== entities + 1) {
    throw new GraftError('BAD_INPUT', `${what} token offsets have length ${bags.offsets.length} but there are ${entities} ${what}s; offsets need ${entities + 1} entries`);
  }
  if (bags.offsets[0] !== 0 || bags.offsets[entities] !== bags.ids.length) {
    throw new GraftError('BAD_INPUT', `${what} token offsets must start at 0 and end at ids.length (${bags.ids.length})`);
  }
  for (let e = 0; e < entities; e++) {
    if (bags.offsets[e + 1] < bags.offsets[e]) throw new GraftError('BAD_INPUT', `${what} token offsets decrease at ${what} ${e}; offsets must be non-decreasing`);
  }
  for (let i = 0; i < bags.ids.length; i++) {
    const id = bags.ids[i];
    if (!(id >= 0 && id < buckets)) {
      throw new GraftError('BAD_INPUT', `${what} token id ${id} is outside the token table (0..${buckets - 1}); hash tokens with hashToken(tag, ${buckets})`);
    }
  }
}
