import { describe, expect, it } from 'vitest';
import { hashToken, hashTokenBags, validateTokenBags } from './token-hash.js';

describe('hashToken', () => {
  it('is 32-bit FNV-1a over UTF-8 bytes', () => {
    // Published FNV-1a test vectors.
    expect(hashToken('', 2 ** 32 - 1)).toBe(0x811c9dc5 % (2 ** 32 - 1));
    expect(hashToken('a', 2 ** 32 - 1)).toBe(0xe40c292c);
    expect(hashToken('foobar', 2 ** 32 - 1)).toBe(0xbf9cf968);
    // Non-ASCII goes through its UTF-8 bytes (same as hashing Buffer.from(tag)).
    const fnv = (bytes: Uint8Array) => bytes.reduce((h, b) => Math.imul(h ^ b, 0x01000193) >>> 0, 0x811c9dc5);
    for (const tag of ['café', 'München', '日本', 'emoji😀']) expect(hashToken(tag, 1 << 14)).toBe(fnv(Buffer.from(tag)) % (1 << 14));
  });

  it('builds bags with one entry per distinct tag', () => {
    const bags = hashTokenBags({ offsets: Int32Array.of(0, 3, 3, 4), tokens: ['red', 'shoe', 'red', 'blue'] }, 64);
    expect(Array.from(bags.offsets)).toEqual([0, 2, 2, 3]);
    expect(Array.from(bags.ids)).toEqual([hashToken('red', 64), hashToken('shoe', 64), hashToken('blue', 64)]);
    expect(() => validateTokenBags(bags, 3, 64, 'item')).not.toThrow();
    expect(() => validateTokenBags(bags, 4, 64, 'item')).toThrow(/offsets have length 4/);
    expect(() => validateTokenBags({ offsets: Int32Array.of(0, 1), ids: Int32Array.of(70) }, 1, 64, 'item')).toThrow(/token id 70/);
  });
});
